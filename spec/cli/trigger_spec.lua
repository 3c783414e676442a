-- quicklysign trigger EVENT --entity PACK: drives the emulator's pack so that the real event
-- fires and is delivered to the pack's webhooks.
local support = require "cli.support"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local function trigger(event, entity, extra)
  local argv = { "trigger", event, "--entity", entity }
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return support.qs(argv)
end

-- The events the sink received, in order.
local function received(name)
  local out = {}
  for _, r in ipairs(emulator:call("GET", "/sinks/" .. name).received) do out[#out + 1] = r.json.callback_event end
  return out
end

describe("quicklysign trigger", function()
  it("fires each event for real: the pack's webhooks receive them", function()
    local pack = emulator:create_pack{ name = "T", signatories = { { name = "A", email = "a@example.com" } },
      documents = { { name = "D" } } }
    local r = support.qs{ "webhooks", "create", "-q", "--entity", pack.key, "--callback",
      emulator.url .. "/_emulator/sinks/trigger" }
    assert.are.equal(0, r.code, r.stderr)

    r = trigger("entity_updated", pack.key)
    assert.are.equal(0, r.code, r.stderr)
    local want = "triggered entity_updated on " .. pack.key .. " (update: setup -> setup)\n"
    assert.are.equal(want, r.stdout)
    r = trigger("document_status_changed", pack.key, { "--json" })   -- setup: send
    assert.are.equal(0, r.code, r.stderr)
    local doc = support.json(r.stdout)
    assert.are.same({ "send", "setup", "awaiting_signatures" }, { doc.step, doc.status_before, doc.status_after })
    r = trigger("document_status_changed", pack.key, { "--json" })   -- one signatory left: sign
    assert.are.equal("sign", support.json(r.stdout).step)
    r = trigger("final_document_generated", pack.key)
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stderr:find("document_status_changed, final_document_generated", 1, true), r.stderr)
    assert.truthy(support.wait_until(function() return #received("trigger") >= 5 end), "not all delivered")
    assert.are.same({ "entity_updated", "document_status_changed", "document_status_changed",
      "document_status_changed", "final_document_generated" }, received("trigger"))
  end)

  it("says why an event cannot happen to the pack any more", function()
    local pack = emulator:create_pack()
    emulator:drive(pack.key, "complete")
    for _, event in ipairs{ "final_document_generated", "document_status_changed" } do
      local r = trigger(event, pack.key)
      assert.are.equal(1, r.code)
      assert.truthy(r.stderr:find("the pack is complete", 1, true), r.stderr)
    end
    assert.are.equal(0, trigger("entity_updated", pack.key).code)
  end)

  it("refuses events the emulator never sends, suggesting the one meant", function()
    local r = trigger("document_updated", "k")
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("older name", 1, true), r.stderr)
    r = trigger("final_document_generatd", "k")
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("Did you mean 'final_document_generated'?", 1, true), r.stderr)
  end)

  it("exits 4 for a pack the emulator does not have", function()
    local r = trigger("entity_updated", "no-such-pack")
    assert.are.equal(4, r.code)
    assert.truthy(r.stderr:find("no document pack no-such-pack", 1, true), r.stderr)
  end)

  it("works against the emulator only", function()
    local r = support.qs({ "trigger", "entity_updated", "--entity", "k" }, { QUICKLYSIGN_BASE_URL = false })
    assert.are.equal(3, r.code)
    assert.truthy(r.stderr:find("drives the local emulator", 1, true), r.stderr)
    r = support.qs({ "trigger", "entity_updated", "--entity", "k" }, { QUICKLYSIGN_BASE_URL = emulator.tls_url })
    assert.are.equal(3, r.code)
    -- something that answers, but is not the emulator
    local port = support.free_port()
    local h = support.start({ "listen", "--port", tostring(port) })
    finally(function() h:kill() end)
    assert.truthy(h:wait_for("stderr", "ready on", 10))
    r = support.qs({ "trigger", "entity_updated", "--entity", "k" },
      { QUICKLYSIGN_BASE_URL = "http://127.0.0.1:" .. port .. "/v1" })
    assert.are.equal(3, r.code)
    assert.truthy(r.stderr:find("is not the local emulator", 1, true), r.stderr)
  end)
end)
