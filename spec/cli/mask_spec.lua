-- Callback tokens in the command's output: masked in every form (human, table, --json, logs,
-- errors) unless --show-secrets, which prints them whole.
local support = require "cli.support"
local emulator = require "support.emulator"
local output = require "quicklysign.cli.output"

before_each(function() emulator:reset() end)

local TOKEN = "s3cr3t-callback-token-0123456789"
local CALLBACK = "https://app.example.com/qs?pack=1&token=" .. TOKEN
local MASKED = "https://app.example.com/qs?pack=1&token=****"

local function qs(argv)
  local r = support.qs(argv)
  assert.are.equal(0, r.code, r.stderr)
  return r
end

local function no_token(r)
  assert.falsy(r.stdout:find(TOKEN, 1, true), "token on stdout: " .. r.stdout)
  assert.falsy(r.stderr:find(TOKEN, 1, true), "token on stderr: " .. r.stderr)
  return r
end

describe("quicklysign masks callback tokens", function()
  it("in create, ensure, get and list, in every output form", function()
    local entity = emulator.new_entity()
    local r = no_token(qs{ "webhooks", "create", "--entity", entity, "--callback", CALLBACK })
    assert.truthy(r.stdout:find(MASKED, 1, true), r.stdout)
    local key = r.stdout:match("key +(%S+)")
    no_token(qs{ "webhooks", "ensure", "--entity", entity, "--callback", CALLBACK })
    no_token(qs{ "webhooks", "ensure", "--entity", entity, "--callback", CALLBACK, "--json" })
    assert.are.equal(MASKED, support.json(no_token(qs{ "webhooks", "get", key, "--json" }).stdout).callback)
    no_token(qs{ "webhooks", "get", key })
    r = no_token(qs{ "webhooks", "list", "--wide" })
    assert.truthy(r.stdout:find(MASKED, 1, true), r.stdout)
    assert.are.equal(MASKED, support.json(no_token(qs{ "webhooks", "list", "--json" }).stdout)[1].callback)
  end)

  it("prints them whole with --show-secrets", function()
    local entity = emulator.new_entity()
    local wh = support.json(qs{ "--show-secrets", "--json", "webhooks", "create", "--entity", entity,
      "--callback", CALLBACK }.stdout)
    assert.are.equal(CALLBACK, wh.callback)
    assert.truthy(qs{ "webhooks", "list", "--show-secrets", "--wide" }.stdout:find(CALLBACK, 1, true))
    assert.truthy(qs{ "webhooks", "get", wh.key, "--show-secrets" }.stdout:find(CALLBACK, 1, true))
  end)

  it("in the callback log, which quotes the URL it called", function()
    local entity = emulator.new_entity()
    local sink = emulator.url .. "/_emulator/sinks/mask?token=" .. TOKEN
    qs{ "webhooks", "create", "--entity", entity, "--callback", sink }
    emulator:drive(entity, "update")
    assert.truthy(support.wait_until(function() return #emulator:deliveries() > 0 end), "no delivery")
    local r = no_token(qs{ "webhooks", "logs", "--entity", entity, "--wide" })
    assert.truthy(r.stdout:find("sinks/mask?token=****", 1, true), r.stdout)
    no_token(qs{ "webhooks", "logs", "--entity", entity, "--json" })
    assert.truthy(qs{ "webhooks", "logs", "--entity", entity, "--json", "--show-secrets" }.stdout:find(TOKEN, 1, true))
  end)

  it("in errors that name a callback URL", function()
    local r = support.qs{ "webhooks", "create", "--entity", "no-such-pack", "--callback", CALLBACK }
    assert.are.equal(1, r.code)
    no_token(r)
  end)
end)

describe("output.mask", function()
  it("masks secret-looking query values and URL passwords, and nothing else", function()
    local cases = {
      { "https://a.test/cb?token=abc", "https://a.test/cb?token=****" },
      { "https://a.test/cb?x=1&callback_token=abc&y=2", "https://a.test/cb?x=1&callback_token=****&y=2" },
      { "https://a.test/cb?Secret=abc#frag", "https://a.test/cb?Secret=****#frag" },
      { "https://a.test/cb?sig=abc;key=def", "https://a.test/cb?sig=****;key=****" },
      { "https://user:hunter2@a.test/cb", "https://user:****@a.test/cb" },
      { "POST https://a.test/cb?token=abc -> HTTP 500", "POST https://a.test/cb?token=**** -> HTTP 500" },
      { '{"callback":"https://a.test/?token=abc"}', '{"callback":"https://a.test/?token=****"}' },
      { "GET https://api.test/v1/webhooks?client_id=i&client_secret=REDACTED&entity_key=E",
        "GET https://api.test/v1/webhooks?client_id=i&client_secret=REDACTED&entity_key=E" },
      { "https://a.test/cb?token=$QUICKLYSIGN_LISTEN_TOKEN", "https://a.test/cb?token=$QUICKLYSIGN_LISTEN_TOKEN" },
      { "https://a.test/cb?pack=P&token=", "https://a.test/cb?pack=P&token=" },
      { "https://a.test/cb?page=2", "https://a.test/cb?page=2" },
    }
    for _, c in ipairs(cases) do assert.are.equal(c[2], output.mask(c[1])) end
  end)
end)
