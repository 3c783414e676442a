-- Secrets never reach the terminal: every failing command here runs with a client secret and an
-- API key that the test knows, and neither may appear anywhere in stdout or stderr, whether the
-- secret travelled in a URL, in a body, came back in the server's answer, or was typed by mistake.
local support = require "cli.support"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local function random_hex(n)
  local t = {}
  for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(t)
end

describe("quicklysign never prints a secret", function()
  local secret, api_key, env

  before_each(function()
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    secret = "s3cr3t-" .. random_hex(24)
    api_key = "k3y-" .. random_hex(24)
    env = support.creds{ QUICKLYSIGN_CLIENT_SECRET = secret, QUICKLYSIGN_API_KEY = api_key }
  end)

  -- Runs the command, checks that it failed with a message, and that neither secret shows.
  local function check(argv, expected_code, extra_env)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(extra_env or {}) do e[k] = v end
    local r = support.run(argv, e)
    assert.are.equal(expected_code, r.code, r.stdout .. r.stderr)
    assert.truthy(r.stderr:find("quicklysign: ", 1, true), "no error message: " .. r.stderr)
    for _, s in ipairs{ secret, api_key } do
      assert.falsy(r.stdout:find(s, 1, true), "secret on stdout: " .. r.stdout)
      assert.falsy(r.stderr:find(s, 1, true), "secret on stderr: " .. r.stderr)
    end
    return r
  end

  it("when the API refuses them (secret in the query string)", function()
    -- without an API key: with one, a webhook call mints a token first (secret in the body)
    local no_key = { QUICKLYSIGN_API_KEY = false }
    local r = check({ "webhooks", "list" }, 3, no_key)
    assert.truthy(r.stderr:find("client_secret=REDACTED", 1, true), r.stderr)
    check({ "webhooks", "get", "some-webhook-key" }, 3, no_key)
    check({ "webhooks", "delete", "--entity", "some-pack" }, 3, no_key)
    check({ "webhooks", "logs", "--entity", "some-pack" }, 3, no_key)
    check({ "--json", "webhooks", "list" }, 3, no_key)
    check({ "webhooks", "list" }, 3)   -- refused while minting the token
  end)

  it("when the API refuses them (secret in the JSON body)", function()
    check({ "webhooks", "create", "--entity", "some-pack", "--callback", "https://x.example/cb" }, 3)
    check({ "webhooks", "ensure", "--entity", "some-pack", "--callback", "https://x.example/cb" }, 3)
  end)

  it("when the API key is refused while minting a token", function()
    check({ "packs", "get", "some-pack" }, 3)
    check({ "packs", "download", "some-pack", support.tmpdir() }, 3)
  end)

  it("when the server echoes them back in an error envelope", function()
    local body = '{"status":{"status_code":400,"errors":[{"code":"invalid_field","message":'
      .. '"client_secret ' .. secret .. ' and api_key ' .. api_key .. ' are odd"}]}}'
    -- a webhook call mints a token first: the echo comes from there
    emulator:fault{ method = "POST", path_prefix = "/v1/access_tokens", count = 10, status = 400, body = body }
    local r = check({ "webhooks", "list" }, 1)
    assert.truthy(r.stderr:find("[REDACTED]", 1, true), r.stderr)
    check({ "packs", "get", "some-pack" }, 1)
  end)

  it("when the server echoes them in a body that is not an envelope", function()
    for _, path in ipairs{ "/v1/webhooks", "/v1/access_tokens" } do
      emulator:fault{ path_prefix = path, count = 10, status = 502,
        content_type = "text/plain", body = "upstream said " .. secret .. " " .. api_key }
    end
    check({ "webhooks", "list" }, 5)
  end)

  it("when they are typed where an argument or a command goes", function()
    check({ "webhooks", "get", "a", secret }, 2)
    check({ secret }, 2)
    check({ "webhooks", secret }, 2)
    check({ "webhooks", "create", "--entity", "k", "--callback", secret }, 2)
    check({ "--client-secret=" .. secret, "webhooks", "list" }, 2)
    check({ "webhooks", "list", "--api-key", api_key }, 2)
    check({ "webhooks", "list", "--environment", secret }, 2)
  end)

  it("when a secret the command does not know is pasted as a command or an extra argument", function()
    local stranger = "other-" .. random_hex(32)
    for _, argv in ipairs{ { stranger }, { "packs", stranger }, { "webhooks", "get", "k", stranger } } do
      local r = support.run(argv, env)
      assert.are.equal(2, r.code)
      assert.falsy((r.stdout .. r.stderr):find(stranger, 1, true), r.stderr)
    end
  end)

  it("when the configuration is wrong", function()
    check({ "webhooks", "list" }, 3, { QUICKLYSIGN_CLIENT_ID = false })
    check({ "webhooks", "list" }, 3, { QUICKLYSIGN_BASE_URL = "not a url " .. secret })
  end)
end)
