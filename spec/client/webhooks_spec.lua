-- client.webhooks against the emulator: every method, pagination, escaping,
-- the envelope-over-HTTP rule, warnings.
local quicklysign = require "quicklysign"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local CALLBACK = "https://app.example.com/quicklysign?token=abc"

describe("client.webhooks", function()
  local client, entity

  before_each(function()
    client = emulator.client()
    entity = emulator.new_entity()
  end)

  after_each(function()
    client:close()
  end)

  it("creates a webhook and returns the server's fields", function()
    local wh, err = client.webhooks:create{ entity_key = entity, callback = CALLBACK }
    assert.is_nil(err)
    assert.are.equal(entity, wh.entity_key)
    assert.are.equal(CALLBACK, wh.callback)
    assert.is_string(wh.key)
    assert.is_number(wh.date_created)
    assert.is_number(wh.date_updated)
    assert.is_nil(wh.webhook_key)          -- JSON null becomes nil
  end)

  it("keeps fractional timestamps as they are", function()
    local wh = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK })
    assert.are_not.equal(math.floor(wh.date_updated), wh.date_updated)
  end)

  it("gets a webhook by key", function()
    local wh = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK })
    local got, err = client.webhooks:get(wh.key)
    assert.is_nil(err)
    assert.are.same(wh, got)
  end)

  it("lists all webhooks, or those of one entity", function()
    local other = emulator.new_entity()
    local a = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK })
    local b = assert(client.webhooks:create{ entity_key = other, callback = CALLBACK })
    local all = assert(client.webhooks:list())
    assert.are.equal(2, #all)
    local mine = assert(client.webhooks:list{ entity_key = entity })
    assert.are.equal(1, #mine)
    assert.are.equal(a.key, mine[1].key)
    local theirs = assert(client.webhooks:list{ entity_key = other })
    assert.are.equal(b.key, theirs[1].key)
  end)

  for _, style in ipairs{ "cursor", "url" } do
    it("follows every page of a list (" .. style .. " pagination)", function()
      emulator:config{ page_size = 3, pagination_style = style }
      local made = {}
      for i = 1, 10 do
        made[i] = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }).key
      end
      emulator:clear_requests()
      local list = assert(client.webhooks:list{ entity_key = entity })
      local got = {}
      for i, wh in ipairs(list) do got[i] = wh.key end
      assert.are.same(made, got)
      assert.are.equal(4, #emulator:requests("/v1/webhooks"))
    end)
  end

  -- what the API answers for a webhook key it does not know (404, or 400 under unknown-key-400)
  local function unknown_status()
    return emulator:setting("unknown_webhook") == "bad_request" and 400 or 404
  end

  it("deletes one webhook, trying the Webhooks page's singular /webhook first", function()
    local wh = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK })
    emulator:clear_requests()
    assert.is_true(client.webhooks:delete(wh.key))
    local seen = emulator:requests("/v1/webhook/")
    assert.are.equal(1, #seen)
    assert.are.equal("DELETE", seen[1].method)
    assert.are.equal(emulator:setting("delete_path") == "plural" and 2 or 1, #emulator:requests("/v1/webhook"))
    local gone, err = client.webhooks:get(wh.key)
    assert.is_nil(gone)
    assert.are.equal("api", err.kind)
    assert.are.equal(unknown_status(), err.status)
  end)

  it("deletes every webhook of an entity", function()
    local other = emulator.new_entity()
    for i = 1, 3 do assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }) end
    assert(client.webhooks:create{ entity_key = other, callback = CALLBACK })
    assert.is_true(client.webhooks:delete_by_entity(entity))
    assert.are.same({}, assert(client.webhooks:list{ entity_key = entity }))
    assert.are.equal(1, #assert(client.webhooks:list{ entity_key = other }))
  end)

  it("ensures one subscription per entity and callback", function()
    local first, created = client.webhooks:ensure{ entity_key = entity, callback = CALLBACK }
    assert.is_true(created)
    local again, created_again = client.webhooks:ensure{ entity_key = entity, callback = CALLBACK }
    assert.is_false(created_again)
    assert.are.equal(first.key, again.key)
    local other_cb, created_other = client.webhooks:ensure{ entity_key = entity, callback = CALLBACK .. "x" }
    assert.is_true(created_other)
    assert.are_not.equal(first.key, other_cb.key)
    assert.are.equal(2, #assert(client.webhooks:list{ entity_key = entity }))
  end)

  it("reads callback logs by entity or by webhook", function()
    local wh = assert(client.webhooks:create{ entity_key = entity, callback = "http://127.0.0.1:1/nowhere" })
    emulator:config{ delivery = { base_delay_ms = 10, max_attempts = 2, timeout_ms = 500 } }
    emulator:drive(entity, "update")
    -- two entries per attempt in the vendor's words, or one (log-per-attempt); oldest or newest first
    local vendor = emulator:setting("delivery.log_entries") == "vendor"
    local expected = vendor and 4 or 2
    local logs
    for _ = 1, 100 do   -- deliveries are asynchronous: wait for both attempts
      logs = assert(client.webhooks:logs{ webhook_key = wh.key })
      if #logs >= expected then break end
      require("socket").sleep(0.05)
    end
    assert.are.equal(expected, #logs)
    if emulator:setting("callback_logs_order") == "newest_first" then
      local reversed = {}
      for i = #logs, 1, -1 do reversed[#reversed + 1] = logs[i] end
      logs = reversed
    end
    assert.are.equal("entity_updated", logs[1].callback_event)
    assert.are.equal(entity, logs[1].entity_key)
    if vendor then
      assert.are.equal("Calling callback url http://127.0.0.1:1/nowhere.", logs[1].log)   -- the vendor's words
      assert.truthy(logs[2].log:find("Failed call to url http://127.0.0.1:1/nowhere. Error: ", 1, true), logs[2].log)
    else
      assert.truthy(logs[1].log:find("^POST http://127.0.0.1:1/nowhere %-> error"), logs[1].log)
    end
    local by_entity = assert(client.webhooks:logs{ entity_key = entity })
    assert.are.equal(expected, #by_entity)
  end)

  it("percent-encodes keys in paths and queries", function()
    local odd = "a/b?c=d&e f%g#h"
    local wh, err = client.webhooks:get(odd)
    assert.is_nil(wh)
    assert.are.equal(unknown_status(), err.status)
    assert.are.equal(unknown_status() == 404 and "Webhook not found" or "No webhook has this key",
      err.message)   -- one path segment, not a route miss
    local seen = emulator:requests("/v1/webhooks/")
    assert.are.equal("/v1/webhooks/" .. odd, seen[#seen].path)   -- as the server decoded it
    assert.are.same({}, assert(client.webhooks:list{ entity_key = odd }))
  end)

  it("trusts the envelope's status_code over HTTP 200", function()
    local c = emulator.client{ client_secret = "wrong", always_use_http_status_code_200 = true, api_key = false }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("api", err.kind)
    assert.are.equal(401, err.status)
    assert.are.equal("unauthorised", err.code)
    local seen = emulator:requests("/v1/webhooks")
    assert.are.equal(200, seen[#seen].status)
    local ok = emulator.client{ always_use_http_status_code_200 = true }
    assert.is_table(ok.webhooks:create{ entity_key = entity, callback = CALLBACK })
  end)

  it("records the last response and hands warnings to on_warning", function()
    local warnings = {}
    local c = emulator.client{ on_warning = function(w, info) warnings[#warnings + 1] = { w, info } end }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = '{"status":{"status_code":200,"warnings":[{"code":"deprecated","message":"use v2"}]},'
        .. '"data":{"webhooks":[]}}' }
    assert.are.same({}, assert(c.webhooks:list()))
    assert.are.equal(1, #warnings)
    assert.are.equal("deprecated", warnings[1][1].code)
    assert.are.equal("GET", warnings[1][2].method)
    local last = c:last_response()
    assert.are.equal(200, last.status)
    assert.are.equal("use v2", last.warnings[1].message)
    assert.falsy(last.url:find(emulator.client_secret, 1, true))
  end)

  it("refuses re-entry from on_warning, and passes the hook's own errors on", function()
    local warn_body = '{"status":{"status_code":200,"warnings":[{"code":"w","message":"m"}]},'
      .. '"data":{"webhooks":[]}}'
    local c
    c = emulator.client{ on_warning = function() c:close() end }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = warn_body }
    assert.has_error(function() c.webhooks:list() end,
      "attempt to close a quicklysign client from its own on_warning hook")
    assert.is_false(c:is_closed())
    local d
    d = emulator.client{ on_warning = function() d.webhooks:list() end }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = warn_body }
    assert.has_error(function() d.webhooks:list() end,
      "attempt to use a quicklysign client from its own on_warning hook")
    assert.are.same({}, assert(d.webhooks:list()))   -- usable again afterwards
    local e = emulator.client{ on_warning = function() error("hook failed") end }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = warn_body }
    local ok, err = pcall(e.webhooks.list, e.webhooks)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("hook failed", 1, true))
  end)

  it("refuses a plain-http callback unless the API itself is plain http", function()
    local c = quicklysign.new{ client_id = "id", client_secret = "s", base_url = "https://127.0.0.1:1/v1" }
    assert.has_error(function() c.webhooks:create{ entity_key = entity, callback = "http://x/cb" } end)
    local ok, err = pcall(c.webhooks.ensure, c.webhooks, { entity_key = entity, callback = "http://x/cb" })
    assert.is_false(ok)
    assert.truthy(err:find("allow_insecure_callbacks", 1, true))
    local dev = emulator.client()
    assert.is_table(dev.webhooks:create{ entity_key = entity, callback = "http://127.0.0.1:9/cb" })
  end)

  it("raises on misuse, naming the argument", function()
    local w = client.webhooks
    assert.has_error(function() w:create() end, "bad argument #1 to 'create' (table expected, got nil)")
    assert.has_error(function() w:create{ callback = CALLBACK } end,
      "bad argument #1 to 'create' (field 'entity_key': non-empty string expected, got nil)")
    assert.has_error(function() w:create{ entity_key = entity, callback = 42 } end,
      "bad argument #1 to 'create' (field 'callback': non-empty string expected, got number)")
    assert.has_error(function() w:create{ entity_key = entity, callback = CALLBACK, callbak = 1 } end,
      "bad argument #1 to 'create' (unknown field 'callbak')")
    assert.has_error(function() w:get() end,
      "bad argument #1 to 'get' (webhook_key: non-empty string expected, got nil)")
    assert.has_error(function() w:delete("") end)
    assert.has_error(function() w:delete_by_entity({}) end)
    assert.has_error(function() w:list("x") end, "bad argument #1 to 'list' (table expected, got string)")
    assert.has_error(function() w:logs{ entity_key = "a", webhook_key = "b" } end,
      "bad argument #1 to 'logs' (give at most one of 'entity_key' and 'webhook_key')")
    assert.has_error(function() w:list{ page_size = 0 } end,
      "bad argument #1 to 'list' (field 'page_size': a positive integer expected)")
    assert.has_error(function() w:logs{ page_size = 2.5 } end,
      "bad argument #1 to 'logs' (field 'page_size': a positive integer expected)")
    assert.has_error(function() w:list{ after = "x" } end, "bad argument #1 to 'list' (unknown field 'after')")
    assert.has_error(function() w:page{ after = "http://elsewhere.example/v1/webhooks" } end,
      "bad argument #1 to 'page' (field 'after': the position an earlier page returned expected)")
    assert.has_error(function() w:pages{ entity_key = 1 } end,
      "bad argument #1 to 'pages' (field 'entity_key': non-empty string expected, got number)")
    local ok, err = pcall(w.get, {}, "k")   -- called with a dot
    assert.is_false(ok)
    assert.truthy(err:find("call it with a colon: webhooks:get", 1, true))
  end)
end)
