local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local callbacks = require "quicklysign.callbacks"

local TOKEN = support.TOKEN

local function request_for(entity_key, webhook_key)
  return support.request{ body = support.body{ entity_key = entity_key, webhook_key = webhook_key } }
end

-- A router with a confirm layer, a hand-moved clock, and records of what happened.
local function make_router(confirm, opts)
  local clock = support.clock()
  local log, lines = support.recorder()
  local o = { token = TOKEN, confirm = confirm, now = clock.now, log = log }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r = callbacks.router(o)
  local seen = { handled = 0, errors = {} }
  r:on_any(function() seen.handled = seen.handled + 1 end)
  r:on_error(function(err, ev) seen.errors[#seen.errors + 1] = { err = err, ev = ev } end)
  return r, seen, clock, lines
end

-- A confirm function that answers from a script and counts its calls.
local function scripted(answer)
  local f = { calls = 0 }
  setmetatable(f, { __call = function(self, ev)
    self.calls = self.calls + 1
    self.last = ev
    return answer(ev)
  end })
  return f
end

describe("the confirm layer, function form", function()
  it("lets a confirmed callback through, handing the event to the function", function()
    local f = scripted(function() return true end)
    local r, seen = make_router(f)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(1, f.calls)
    assert.equal("E1", f.last.entity_key)
    assert.equal("W1", f.last.webhook_key)
    assert.equal(1, seen.handled)
  end)

  it("refuses with 403 not_confirmed when the function says false, with its reason", function()
    local f = scripted(function() return false, "pack belongs to another tenant" end)
    local r, seen = make_router(f)
    local status, body = r:handle(request_for("E1", "W1"))
    assert.equal(403, status)
    assert.equal("forbidden", body)
    assert.equal(0, seen.handled)
    assert.equal("auth", seen.errors[1].err.kind)
    assert.equal("not_confirmed", seen.errors[1].err.reason)
    assert.matches("pack belongs to another tenant", seen.errors[1].err.message, 1, true)
    assert.equal("E1", seen.errors[1].ev.entity_key)
  end)

  it("answers 503 with Retry-After when the function cannot tell (nil, err), and does not cache it", function()
    local f = scripted(function() return nil, { kind = "network", message = "connection refused" } end)
    local r, seen = make_router(f)
    local status, body, headers = r:handle(request_for("E1", "W1"))
    assert.equal(503, status)
    assert.equal("unavailable", body)
    assert.equal("60", headers["Retry-After"])
    assert.equal("confirm", seen.errors[1].err.kind)
    assert.equal("unavailable", seen.errors[1].err.reason)
    assert.equal("network", seen.errors[1].err.cause.kind)
    assert.equal(503, (r:handle(request_for("E1", "W1"))))
    assert.equal(2, f.calls)
    assert.equal(0, seen.handled)
  end)

  it("treats a bare nil as 'could not tell' too", function()
    local f = scripted(function() end)
    local r = make_router(f)
    assert.equal(503, (r:handle(request_for("E1", "W1"))))
  end)

  it("answers 500 confirm_error when the function raises, uncached", function()
    local f = scripted(function() error("bug in confirm") end)
    local r, seen = make_router(f)
    assert.equal(500, (r:handle(request_for("E1", "W1"))))
    assert.equal(500, (r:handle(request_for("E1", "W1"))))
    assert.equal(2, f.calls)
    assert.equal("confirm_error", seen.errors[1].err.reason)
    assert.matches("bug in confirm", seen.errors[1].err.message, 1, true)
  end)

  it("is not asked when the allow-list already refused", function()
    local f = scripted(function() return true end)
    local r, seen = make_router(f, { allow = { E1 = true } })
    assert.equal(403, (r:handle(request_for("E2", "W1"))))
    assert.equal(0, f.calls)
    assert.equal("not_allowed", seen.errors[1].err.reason)
  end)
end)

describe("the confirmation cache", function()
  it("keeps a yes for confirm_ttl seconds", function()
    local f = scripted(function() return true end)
    local r, seen, clock = make_router(f, { confirm_ttl = 100, confirm_negative_ttl = 10 })
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    clock.advance(99)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(1, f.calls)
    clock.advance(1)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(2, f.calls)
    assert.equal(3, seen.handled)
  end)

  it("keeps a no for confirm_negative_ttl seconds, separately", function()
    local answer = false
    local f = scripted(function() return answer, "not yet" end)
    local r, seen, clock = make_router(f, { confirm_ttl = 100, confirm_negative_ttl = 10 })
    assert.equal(403, (r:handle(request_for("E1", "W1"))))
    answer = true
    clock.advance(9)
    assert.equal(403, (r:handle(request_for("E1", "W1"))))
    assert.equal(1, f.calls)
    assert.matches("not yet", seen.errors[2].err.message, 1, true) -- the cached reason is kept
    clock.advance(1)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(2, f.calls)
  end)

  it("keys on webhook key and entity key together", function()
    local f = scripted(function(ev) return ev.entity_key == "E1" end)
    local r = make_router(f)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(403, (r:handle(request_for("E2", "W1"))))
    assert.equal(200, (r:handle(request_for("E1", "W2"))))
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(3, f.calls)
  end)

  it("caches nothing with TTLs of 0", function()
    local f = scripted(function() return true end)
    local r = make_router(f, { confirm_ttl = 0, confirm_negative_ttl = 0 })
    for _ = 1, 3 do assert.equal(200, (r:handle(request_for("E1", "W1")))) end
    assert.equal(3, f.calls)
  end)

  it("is bounded by confirm_cache_size, dropping the oldest", function()
    local f = scripted(function() return true end)
    local r = make_router(f, { confirm_cache_size = 2 })
    r:handle(request_for("E1", "W1"))
    r:handle(request_for("E2", "W1"))
    r:handle(request_for("E3", "W1")) -- pushes E1 out
    assert.equal(3, f.calls)
    r:handle(request_for("E3", "W1"))
    r:handle(request_for("E2", "W1"))
    assert.equal(3, f.calls)
    r:handle(request_for("E1", "W1"))
    assert.equal(4, f.calls)
  end)

  it("refuses bad cache options", function()
    local f = function() return true end
    for _, bad in ipairs({ { confirm_ttl = -1 }, { confirm_negative_ttl = "x" }, { confirm_cache_size = 0 },
      { confirm_cache_size = 1.5 } }) do
      bad.confirm, bad.token, bad.log = f, TOKEN, false
      assert.has_error(function() callbacks.router(bad) end)
    end
  end)
end)

describe("the confirm layer, client form", function()
  -- A stand-in with the real client's shape: client.webhooks:get(key) -> webhook | nil, err.
  local function fake_client(webhooks_by_key, failure)
    local client = { calls = 0 }
    client.webhooks = {
      get = function(self, key)
        assert(self == client.webhooks, "called with a colon")
        client.calls = client.calls + 1
        if failure then return failure() end
        local w = webhooks_by_key[key]
        if w then return w end
        return nil, { kind = "api", status = 404, code = "not_found", message = "Webhook not found" }
      end,
    }
    return client
  end

  local WEBHOOKS = {
    W1 = { key = "W1", entity_key = "E1", callback = "https://app.example/cb" },
    WX = { key = "W-other", entity_key = "E1" },
  }

  it("confirms a webhook that exists and watches the callback's entity", function()
    local client = fake_client(WEBHOOKS)
    local r, seen = make_router(client)
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(200, (r:handle(request_for("E1", "W1"))))
    assert.equal(1, client.calls)
    assert.equal(2, seen.handled)
  end)

  it("accepts the V0 subscription_key as the webhook key", function()
    local client = fake_client(WEBHOOKS)
    local r = make_router(client)
    local body = '{"callback_event":"entity_updated","entity_key":"E1","subscription_key":"W1"}'
    assert.equal(200, (r:handle(support.request{ body = body })))
  end)

  for _, case in ipairs({
    { "an unknown webhook (API 404)", "E1", "W404", 1, "knows no webhook" },
    { "a webhook of another entity", "E2", "W1", 1, "another entity" },
    { "an answer about another webhook key", "E1", "WX", 1, "another webhook key" },
    { "a callback without a webhook key", "E1", nil, 0, "no webhook_key" },
  }) do
    it("refuses " .. case[1] .. " with 403 not_confirmed, cached", function()
      local client = fake_client(WEBHOOKS)
      local r, seen = make_router(client)
      assert.equal(403, (r:handle(request_for(case[2], case[3]))))
      assert.equal(403, (r:handle(request_for(case[2], case[3]))))
      assert.equal(case[4], client.calls)
      assert.equal("not_confirmed", seen.errors[1].err.reason)
      assert.matches(case[5], seen.errors[1].err.message, 1, true)
      assert.equal(0, seen.handled)
    end)
  end

  for _, kind in ipairs({ "network", "timeout", "tls", "decode" }) do
    it("answers 503 when the client fails with kind " .. kind .. ", and does not cache it", function()
      local fail = true
      local client = fake_client(WEBHOOKS, function()
        if fail then return nil, { kind = kind, message = "it broke" } end
        return WEBHOOKS.W1
      end)
      local r, seen = make_router(client)
      assert.equal(503, (r:handle(request_for("E1", "W1"))))
      assert.equal(kind, seen.errors[1].err.cause.kind)
      fail = false
      assert.equal(200, (r:handle(request_for("E1", "W1"))))
      assert.equal(2, client.calls)
      assert.equal(1, seen.handled)
    end)
  end

  it("answers 503 for API errors other than not-found (e.g. 401, 500)", function()
    for _, status in ipairs({ 401, 500, 502 }) do
      local client = fake_client(WEBHOOKS, function() return nil, { kind = "http", status = status } end)
      local r = make_router(client)
      assert.equal(503, (r:handle(request_for("E1", "W1"))))
    end
  end)

  it("answers 503 when the client raises or returns garbage", function()
    for _, failure in ipairs({ function() error("segfault-ish") end, function() return "yes" end,
      function() return nil end }) do
      local client = fake_client(WEBHOOKS, failure)
      local r, seen = make_router(client)
      assert.equal(503, (r:handle(request_for("E1", "W1"))))
      assert.equal("unavailable", seen.errors[1].err.reason)
    end
  end)

  it("refuses a confirm option that is neither a client nor a function", function()
    for _, bad in ipairs({ "yes", 1, {}, { webhooks = {} } }) do
      assert.has_error(function() callbacks.router{ token = TOKEN, confirm = bad, log = false } end)
    end
  end)
end)

describe("the confirm layer against the real client and the emulator", function()
  local ok_require, quicklysign = pcall(require, "quicklysign")
  local emulator = os.getenv("QUICKLYSIGN_EMULATOR_URL")

  local function emulator_post(path, json_body)
    local root = emulator:gsub("/+$", ""):gsub("/v1$", "")
    assert(not json_body:find("'", 1, true) and not (root .. path):find("'", 1, true))
    local cmd = "curl -sS -X POST -H 'Content-Type: application/json' --data-binary '" .. json_body
      .. "' '" .. root .. path .. "'"
    local pipe = assert(io.popen(cmd))
    local out = pipe:read("*a")
    pipe:close()
    return require("cjson").decode(out)
  end

  it("answers 503 when the real client cannot reach the API, and asks again next time", function()
    if not ok_require or type(quicklysign) ~= "table" then
      pending("needs require('quicklysign') (the built C core)")
      return
    end
    -- port 1 on the loopback: connection refused, at once
    local client = quicklysign.new{ client_id = "qs_test_client_id", client_secret = "qs_test_client_secret",
      base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    local r, seen = make_router(client)
    assert.equal(503, (r:handle(request_for("E1", "W1"))))
    assert.equal(503, (r:handle(request_for("E1", "W1"))))
    assert.equal(2, #seen.errors)
    assert.equal("unavailable", seen.errors[2].err.reason)
    assert.equal("network", seen.errors[2].err.cause.kind)
    assert.not_matches("qs_test_client_secret", tostring(seen.errors[2].err), 1, true)
    assert.equal(0, seen.handled)
  end)

  it("confirms a real webhook, refuses a wrong entity and an unknown webhook", function()
    if not ok_require or type(quicklysign) ~= "table" or not emulator then
      pending("needs require('quicklysign') and QUICKLYSIGN_EMULATOR_URL")
      return
    end
    local base_url = emulator:gsub("/+$", ""):gsub("/v1$", "") .. "/v1"
    local client = quicklysign.new{ client_id = "qs_test_client_id",
      client_secret = "qs_test_client_secret", base_url = base_url }
    local created = emulator_post("/_emulator/document_packs", '{"name":"x","documents":[{"name":"a"}]}')
    local data = created.data or created
    local pack = data.document_pack or data
    local pack_key = assert(pack.key, "the emulator's answer names no document pack key")
    local webhook = assert(client.webhooks:create{ entity_key = pack_key,
      callback = callbacks.callback_url("https://app.example/cb", TOKEN) })

    local r, seen = make_router(client)
    assert.equal(200, (r:handle(request_for(pack_key, webhook.key))))
    assert.equal(403, (r:handle(request_for(pack_key .. "x", webhook.key))))
    assert.equal("not_confirmed", seen.errors[1].err.reason)
    assert.equal(403, (r:handle(request_for(pack_key, "ahNkZXZ-unknown-webhook-key-0000000000000000000000000000"))))
    assert.equal("not_confirmed", seen.errors[2].err.reason)
    assert.matches("knows no webhook", seen.errors[2].err.message, 1, true)
    assert.equal(1, seen.handled)
  end)
end)
