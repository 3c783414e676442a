-- The confirm layer of the callbacks router with the real client, under both readings of the
-- answer to an unknown webhook key (unknown-key-404, unknown-key-400): a forged or stale key is
-- refused (403, loud in the log), never accepted and never answered 503 forever.
local emulator = require "support.emulator"
local callbacks = require "quicklysign.callbacks"
local cjson = require "cjson"

local TOKEN = "s3cret-token-0123456789abcdef"

local function request_for(entity_key, webhook_key)
  return {
    method = "POST",
    headers = { ["Content-Type"] = "application/json" },
    body = cjson.encode{ callback_event = "entity_updated", entity_type = "Document",
      entity_key = entity_key, webhook_key = webhook_key },
    query = { token = TOKEN },
  }
end

before_each(function() emulator:reset() end)
after_each(function() emulator:reset() end)

describe("confirming callbacks with the API", function()
  for _, p in ipairs{ "unknown-key-404", "unknown-key-400" } do
    it("accepts a real webhook's callback and refuses forged, stale and misdirected ones (" .. p .. ")",
      function()
        emulator:profile(p)
        local client = emulator.client{ api_key = emulator.api_key }
        local entity, other = emulator.new_entity(), emulator.new_entity()
        local wh = assert(client.webhooks:create{ entity_key = entity, callback = "https://app.example/cb" })
        local stale = assert(client.webhooks:create{ entity_key = entity, callback = "https://app.example/old" })
        assert(client.webhooks:delete(stale.key))
        local errors, handled = {}, 0
        local r = callbacks.router{ token = TOKEN, confirm = client, log = false }
        r:on_any(function() handled = handled + 1 end)
        r:on_error(function(err) errors[#errors + 1] = err end)
        assert.are.equal(200, (r:handle(request_for(entity, wh.key))))
        for _, case in ipairs{ { entity, "forged-webhook-key" }, { entity, stale.key }, { other, wh.key } } do
          local before = #errors
          assert.are.equal(403, (r:handle(request_for(case[1], case[2]))))
          assert.are.equal("not_confirmed", errors[before + 1].reason)
          if p == "unknown-key-400" and case[1] == entity then
            assert.truthy(errors[before + 1].message:find("answered 400", 1, true), errors[before + 1].message)
          end
        end
        assert.are.equal(1, handled)
      end)
  end

  it("answers 503 when the 400 cannot be settled, never accepting the callback (unknown-key-400)", function()
    emulator:profile("unknown-key-400")
    local client = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    local entity = emulator.new_entity()
    local r = callbacks.router{ token = TOKEN, confirm = client, log = false }
    local handled = 0
    r:on_any(function() handled = handled + 1 end)
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 400,
      body = '{"status":{"status_code":400,"errors":[{"code":"bad_request","message":"?"}]}}' }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 503, body = "busy" }
    assert.are.equal(503, (r:handle(request_for(entity, "forged-webhook-key"))))
    assert.are.equal(0, handled)
    assert.are.equal(403, (r:handle(request_for(entity, "forged-webhook-key"))))   -- settled once it can be
  end)
end)
