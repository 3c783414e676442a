-- quicklysign.metrics: the router's and the workers' counters, as Prometheus text.
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local metrics = require "quicklysign.metrics"

local TOKEN = "s3cret-token-0123456789abcdef"

local function request(event, token)
  return { method = "POST", headers = { ["content-type"] = "application/json" },
    body = ('{"callback_event":"%s","entity_key":"K"}'):format(event), query = { token = token or TOKEN } }
end

describe("quicklysign.metrics", function()
  it("counts callbacks by outcome and reason, jobs by outcome, and the inbox by state", function()
    local path = os.tmpname()
    os.remove(path)
    local box = assert(inbox.open("sqlite://" .. path .. ".db"))
    local m = metrics.new()
    local r = callbacks.router{ token = TOKEN, inbox = box, metrics = m, log = false }
    local fail = true
    r:on("entity_updated", function() if fail then fail = false; return nil, "once" end end)
    r:handle(request("final_document_generated"))
    r:handle(request("final_document_generated"))
    r:handle(request("entity_updated"))
    r:handle(request("entity_updated", "wrong-token-0123456789"))
    local w = inbox.worker{ inbox = box, router = r, retry_delay = 0.01 }
    w:run{ until_idle = true }
    require("socket").sleep(0.05)
    w:run{ until_idle = true }
    local text = m:render{ inbox = box }
    box:close()
    assert.truthy(text:find('# TYPE quicklysign_callbacks_total counter\n', 1, true), text)
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="stored"} 2\n', 1, true), text)
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="duplicate"} 1\n', 1, true), text)
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="refused",reason="token_mismatch"} 1\n', 1, true),
      text)
    assert.truthy(text:find('quicklysign_jobs_total{outcome="done"} 2\n', 1, true), text)
    assert.truthy(text:find('quicklysign_jobs_total{outcome="retried"} 1\n', 1, true), text)
    assert.truthy(text:find('quicklysign_inbox_jobs{state="done"} 2\n', 1, true), text)
    assert.truthy(text:find('quicklysign_inbox_jobs{state="dead"} 0\n', 1, true), text)
  end)

  it("counts handled and failed callbacks without an inbox", function()
    local m = metrics.new()
    local r = callbacks.router{ token = TOKEN, metrics = m, log = false }
    r:on("entity_updated", function(ev) if ev.raw.fail then error("no") end end)
    r:handle(request("entity_updated"))
    local bad = request("entity_updated")
    bad.body = '{"callback_event":"entity_updated","entity_key":"K","fail":true}'
    r:handle(bad)
    local text = m:render()
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="handled"} 1', 1, true), text)
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="failed",reason="handler_error"} 1', 1, true), text)
  end)

  it("escapes label values and refuses what is not a shared dict", function()
    local m = metrics.new()
    m:inc("quicklysign_callbacks_total", { outcome = "refused", reason = 'a"b\\c\nd' })
    assert.truthy(m:render():find('reason="a\\"b\\\\c\\nd"', 1, true))
    assert.has_error(function() metrics.new{ dict = "x" } end,
      "bad argument #1 to 'metrics' (option 'dict' must be an nginx shared dict (ngx.shared.NAME))")
    assert.has_error(function() callbacks.router{ token = TOKEN, metrics = {} } end,
      "bad argument #1 to 'router' (option 'metrics' must be counters made by quicklysign.metrics.new)")
  end)
end)
