-- The example receiver on a Redis inbox, for real: stored callbacks survive redis-server being
-- killed; while it is down the receiver answers 503 (nothing acknowledged, the vendor retries),
-- and nginx's log never gets the callback token, not even from its own cosocket errors.
local emulator = require "support.emulator"
local receiver = require "support.receiver"
local redis_server = require "support.redis_server"
local scenarios = require "support.loss_scenarios"
local http = require "socket.http"
local ltn12 = require "ltn12"

local function post(url, body)
  local chunks = {}
  local _, status, headers = http.request{ url = url, method = "POST", sink = ltn12.sink.table(chunks),
    source = ltn12.source.string(body), headers = { ["content-type"] = "application/json",
    ["content-length"] = #body } }
  return status, headers
end

describe("the example receiver on a Redis inbox", function()
  local server, r

  setup(function()
    server = redis_server.start()
    r = receiver.start{ inbox = server.url, log_level = "info" }
  end)

  teardown(function()
    r:close()
    server:close()
  end)

  before_each(function()
    emulator:reset()
    emulator:config{ delivery = { base_delay_ms = 100, max_delay_ms = 1000, max_attempts = 1000 } }
  end)

  it("answers 503 while redis-server is down, stores nothing it acknowledged, and loses nothing", function()
    local keys = scenarios.packs(r, 3)
    local wh = assert(emulator.client().webhooks:list{ entity_key = keys[1] })[1]
    server:kill()
    local status, headers = post(r.callback, ('{"callback_event":"entity_updated","entity_key":"%s",'
      .. '"webhook_key":"%s"}'):format(keys[1], wh.key))
    assert.are.equal(503, status)
    assert.are.equal("30", headers["retry-after"])
    scenarios.complete(keys)   -- deliveries fail (503) and are retried by the vendor
    require("socket").sleep(1)
    assert.are.equal(0, scenarios.count(r, keys).answered)
    server:start_again()
    assert.truthy(receiver.wait(function() return scenarios.all_done(r, keys) end, 60))
    assert.are.equal(3, scenarios.count(r, keys).answered)
    local logs = r:logs()
    assert.falsy(logs:find(receiver.TOKEN, 1, true), "the callback token is in nginx's logs")
    assert.truthy(logs:find("push_failed", 1, true), "the failed pushes were not logged")
  end)
end)
