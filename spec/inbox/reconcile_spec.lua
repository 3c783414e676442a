-- inbox.reconcile against the emulator and a real SQLite inbox: it queues the final events
-- nobody stored, skips what is done or underway, and never floods the API.
local emulator = require "support.emulator"
local inbox = require "quicklysign.inbox"

local function box()
  local path = os.tmpname()
  os.remove(path)
  return assert(inbox.open("sqlite://" .. path .. ".db"))
end

describe("inbox.reconcile", function()
  local client

  before_each(function()
    emulator:reset()
    client = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
  end)
  after_each(function() client:close() end)

  local function subscribed_pack(complete)
    local pack = emulator:create_pack()
    assert(client.webhooks:create{ entity_key = pack.key, callback = "http://127.0.0.1:9/never" })
    if complete then emulator:drive(pack.key, "complete") end
    return pack.key
  end

  it("pushes a final event, with source reconcile, for each complete pack, once", function()
    local b = box()
    local done, open = subscribed_pack(true), subscribed_pack(false)
    local report = assert(inbox.reconcile{ client = client, inbox = b })
    assert.are.equal(2, report.checked)
    assert.are.equal(1, report.pushed)
    assert.are.equal(1, report.incomplete)
    local job = b:lease("spec", 5, 30, 5)[1]
    assert.are.equal(done, job.entity_key)
    assert.are.equal("final_document_generated", job.event)
    assert.are.equal("reconcile", job.source)
    -- underway: not checked again
    report = assert(inbox.reconcile{ client = client, inbox = b })
    assert.are.equal(1, report.underway)
    assert.are.equal(0, report.pushed)
    b:complete(job)
    report = assert(inbox.reconcile{ client = client, inbox = b, entity_keys = { done, open } })
    assert.are.equal(1, report.done)
    assert.are.equal(1, report.checked)   -- only the open one asked the API
    b:close()
  end)

  it("stops the round at a 429, saying so, and checks at most max_packs", function()
    local b = box()
    for _ = 1, 3 do subscribed_pack(true) end
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 429, retry_after = "1" }
    local report = assert(inbox.reconcile{ client = client, inbox = b, concurrency = 1 })
    assert.are.equal("rate_limited", report.stopped)
    assert.are.equal(1, report.checked)
    assert.are.equal(0, report.pushed)
    report = assert(inbox.reconcile{ client = client, inbox = b, max_packs = 2 })
    assert.are.equal("max_packs", report.stopped)
    assert.are.equal(2, report.pushed)
    b:close()
  end)

  it("asks for the packs in batches: a 429 ends the round after its batch, the others of it stand", function()
    local b = box()
    local keys = {}
    for i = 1, 5 do keys[i] = subscribed_pack(true) end
    emulator:clear_requests()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. keys[2], count = 1, status = 429 }
    local report = assert(inbox.reconcile{ client = client, inbox = b, entity_keys = keys, concurrency = 3 })
    assert.are.equal("rate_limited", report.stopped)
    assert.are.equal(3, report.checked)             -- the first batch of three, no more
    assert.are.equal(2, report.pushed)
    assert.are.equal(429, report.failed[keys[2]].status)
    report = assert(inbox.reconcile{ client = client, inbox = b, entity_keys = keys })
    assert.are.equal(3, report.pushed)              -- the rest, in one batch
    assert.are.equal(2, report.underway)
    b:close()
  end)

  it("returns the list's error when the webhooks cannot be listed", function()
    local b = box()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 503 }
    local report, err = inbox.reconcile{ client = client, inbox = b }
    assert.is_nil(report)
    assert.are.equal(503, err.status)
    b:close()
  end)
end)
