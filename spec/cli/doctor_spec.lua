-- quicklysign doctor against the emulator: under each profile (a reading of the vendor's pages),
-- the matching verdict; read-only; nothing secret in what it prints.
local support = require "cli.support"
local emulator = require "support.emulator"

local CHECK = {
  token = "webhook calls", list = "list answer", pages = "pagination", logs = "callback log filter",
  unknown = "unknown webhook key", pdf = "serve_pdf_url", body = "PDF body",
}

-- Runs doctor --json (plus args) under the profile: its exit code, readings and whole answer.
local function doctor(profile, args, env)
  emulator:profile(profile)
  local argv = { "doctor", "--json" }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local r = support.qs(argv, env)
  local answer = support.json(r.stdout)
  return r.code, answer.readings, answer, r
end

local pack

before_each(function()
  emulator:reset()
  -- two webhooks, so that a page of one has a next page
  pack = emulator:create_pack{ name = "Doctor", documents = { { name = "Contract" } } }
  local c = emulator.client{ api_key = emulator.api_key }
  for i = 1, 2 do
    assert(c.webhooks:create{ entity_key = pack.key, callback = "https://app.example/cb" .. i })
  end
  c:close()
end)

after_each(function() emulator:reset() end)

describe("quicklysign doctor", function()
  it("finds whether webhook calls need a token, and in which header", function()
    for _, p in ipairs{ "token-none", "token-access-token", "token-bearer", "token-either" } do
      local code, readings, answer = doctor(p)
      assert.are.equal(0, code, p)
      assert.are.equal(p, readings[CHECK.token])
      local advised = table.concat(answer.configure, "\n")
      if p == "token-access-token" or p == "token-bearer" then
        local header = p == "token-bearer" and "authorization" or "access_token"
        assert.truthy(advised:find('token_header = "' .. header .. '"', 1, true), advised)
      else
        assert.falsy(advised:find("token_header", 1, true), advised)
      end
    end
  end)

  it("says to set QUICKLYSIGN_API_KEY when webhook calls need a token and there is none (exit 3)", function()
    local code, readings, answer = doctor("token-bearer", nil, { QUICKLYSIGN_API_KEY = false })
    assert.are.equal(3, code)
    assert.is_nil(readings[CHECK.token])
    assert.truthy(table.concat(answer.configure, "\n"):find("QUICKLYSIGN_API_KEY", 1, true))
    local code2, readings2 = doctor("token-none", nil, { QUICKLYSIGN_API_KEY = false })
    assert.are.equal(0, code2)
    assert.are.equal("token-none", readings2[CHECK.token])
  end)

  it("finds the list's shape and its pagination", function()
    for _, p in ipairs{ "list-webhooks", "list-data-array", "list-webhook-array", "list-items" } do
      local _, readings = doctor(p)
      assert.are.equal(p, readings[CHECK.list])
    end
    for _, p in ipairs{ "pages-cursor", "pages-absolute", "pages-relative" } do
      local _, readings = doctor(p)
      assert.are.equal(p, readings[CHECK.pages])
    end
  end)

  it("finds the callback log's filter and the answer for an unknown webhook key", function()
    for _, p in ipairs{ "logs-filter-optional", "logs-filter-required" } do
      local _, readings, answer = doctor(p)
      assert.are.equal(p, readings[CHECK.logs])
      local advised = table.concat(answer.configure, "\n")
      assert.are.equal(p == "logs-filter-required", advised:find("--entity", 1, true) ~= nil)
    end
    for _, p in ipairs{ "unknown-key-404", "unknown-key-400" } do
      local _, readings = doctor(p)
      assert.are.equal(p, readings[CHECK.unknown])
    end
  end)

  it("with --pack, finds where the PDF lives and what it answers", function()
    for _, p in ipairs{ "pdf-api", "pdf-no-token", "pdf-redirect-same-host", "pdf-redirect-storage",
      "pdf-storage-url" } do
      local code, readings = doctor(p, { "--pack", pack.key })
      assert.are.equal(0, code, p)
      assert.are.equal(p, readings[CHECK.pdf])
      assert.are.equal("pdf-body-pdf", readings[CHECK.body])
    end
    for _, p in ipairs{ "pdf-body-html", "pdf-body-json", "pdf-body-mislabelled" } do
      local code, readings = doctor(p, { "--pack", pack.key })
      assert.are.equal(1, code, p)
      assert.are.equal(p, readings[CHECK.body])
      assert.are.equal("pdf-api", readings[CHECK.pdf])
    end
  end)

  it("changes nothing, and prints no secret, in either form", function()
    emulator:profile("token-bearer")
    emulator:clear_requests()
    local plain = support.qs{ "doctor", "--pack", pack.key }
    local json = support.qs{ "doctor", "--json", "--pack", pack.key }
    for _, r in ipairs{ plain, json } do
      assert.are.equal(0, r.code, r.stderr)
      local text = r.stdout .. r.stderr
      assert.falsy(text:find(emulator.client_secret, 1, true))
      assert.falsy(text:find(emulator.api_key, 1, true))
      assert.falsy(text:find("/_emulator/storage/", 1, true), text)   -- hosts, never a PDF's URL
    end
    assert.truthy(plain.stdout:find("token-bearer", 1, true), plain.stdout)
    assert.truthy(plain.stdout:find("configure:", 1, true), plain.stdout)
    for _, r in ipairs(emulator:requests("/v1/")) do
      assert.truthy(r.method == "GET" or r.path == "/v1/access_tokens", r.method .. " " .. r.path)
    end
    assert.are.equal(2, #assert(emulator.client{ api_key = emulator.api_key }.webhooks:list{ entity_key = pack.key }))
  end)

  it("says what failed when the credentials are refused (exit 3)", function()
    local r = support.qs({ "doctor" }, { QUICKLYSIGN_CLIENT_SECRET = "wrong-secret-123" })
    assert.are.equal(3, r.code)
    assert.truthy(r.stdout:find("PROBLEM", 1, true), r.stdout)
    assert.falsy((r.stdout .. r.stderr):find("wrong-secret-123", 1, true))
  end)
end)
