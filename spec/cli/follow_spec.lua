-- quicklysign webhooks logs --follow: prints the log, then each new entry as it appears, until
-- Ctrl-C (exit 130).
local support = require "cli.support"
local emulator = require "support.emulator"

-- One log entry per delivery attempt (the emulator's log-per-attempt profile): these specs are
-- about following the log, not about the vendor's two entries per delivery.
before_each(function()
  emulator:reset()
  emulator:profile("log-per-attempt")
end)

-- A pack with a webhook on an emulator sink, and one delivered callback in its log.
local function pack_with_a_delivery()
  local entity = emulator.new_entity()
  local r = support.qs{ "webhooks", "create", "-q", "--entity", entity, "--callback",
    emulator.url .. "/_emulator/sinks/follow" }
  assert.are.equal(0, r.code, r.stderr)
  emulator:drive(entity, "update")
  assert.truthy(support.wait_until(function() return #emulator:deliveries() >= 1 end), "no delivery")
  return entity
end

local function count_lines(h)
  return #support.lines(h:stdout())
end

describe("quicklysign webhooks logs --follow", function()
  it("prints each new entry once, as JSON lines with --json, and exits 130 on Ctrl-C", function()
    local entity = pack_with_a_delivery()
    local h = support.start({ "webhooks", "logs", "--entity", entity, "--follow", "--interval", "0.2", "--json" },
      support.creds())
    finally(function() h:kill() end)
    assert.truthy(support.wait_until(function() return count_lines(h) >= 1 end), h:stderr())
    emulator:drive(entity, "send")
    assert.truthy(support.wait_until(function() return count_lines(h) >= 2 end), h:stdout() .. h:stderr())
    support.sleep(0.6)   -- three more polls: nothing is printed twice
    local lines = support.lines(h:stdout())
    assert.are.equal(2, #lines, h:stdout())
    assert.are.equal("entity_updated", support.json(lines[1]).callback_event)
    assert.are.equal("document_status_changed", support.json(lines[2]).callback_event)
    assert.are_not.equal(support.json(lines[1]).key, support.json(lines[2]).key)
    h:interrupt()
    assert.are.equal(130, h:wait(10))
  end)

  it("prints the header once and a row per entry for people", function()
    local entity = pack_with_a_delivery()
    local h = support.start({ "webhooks", "logs", "--entity", entity, "-f", "--interval", "0.2" }, support.creds())
    finally(function() h:kill() end)
    assert.truthy(support.wait_until(function() return count_lines(h) >= 2 end), h:stderr())
    emulator:drive(entity, "complete")
    assert.truthy(support.wait_until(function() return count_lines(h) >= 4 end), h:stdout() .. h:stderr())
    local lines = support.lines(h:stdout())
    assert.truthy(lines[1]:find("^CREATED +EVENT +WEBHOOK +LOG$"), lines[1])
    assert.truthy(lines[2]:find(support.ISO:sub(1, -2) .. " +entity_updated +"), lines[2])
    assert.truthy(lines[3]:find("document_status_changed", 1, true), lines[3])
    assert.truthy(lines[4]:find("final_document_generated", 1, true), lines[4])
    local headers = 0
    for _, l in ipairs(lines) do if l:find("^CREATED") then headers = headers + 1 end end
    assert.are.equal(1, headers)
  end)

  it("keeps following through a failure that may pass, and stops on one that will not", function()
    local entity = pack_with_a_delivery()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhook_callback_logs", count = 3, status = 503,
      retry_after = "0" }
    local h = support.start({ "webhooks", "logs", "--entity", entity, "--follow", "--interval", "0.2", "--json" },
      support.creds())
    finally(function() h:kill() end)
    assert.truthy(support.wait_until(function() return count_lines(h) >= 1 end), h:stderr())
    assert.truthy(h:stderr():find("(still following)", 1, true), h:stderr())
    local r = support.qs({ "webhooks", "logs", "--entity", entity, "--follow" },
      { QUICKLYSIGN_CLIENT_SECRET = "wrong" })
    assert.are.equal(3, r.code)
  end)

  it("takes --interval only with --follow", function()
    local r = support.qs{ "webhooks", "logs", "--entity", "e", "--interval", "1" }
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("--interval goes with --follow", 1, true))
  end)
end)
