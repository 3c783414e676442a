--- Driver: worker throughput. Pushes N callbacks into a fresh inbox (not timed), then drains them
-- with inbox.worker and an empty handler, timed; prints "events_per_s=<x>".
--   lua5.4 bench/drivers/worker.lua INBOX_URL N
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local socket = require "socket"

local url, n = arg[1], tonumber(arg[2])
local box = assert(inbox.open(url))
local batch = {}
for i = 1, n do
  batch[#batch + 1] = { { event = "entity_updated", entity_key = "K" .. i } }
  if #batch == 200 or i == n then
    assert(box:push_many(batch))
    batch = {}
  end
end
local router = callbacks.router{ inbox = box, log = false }
router:on_any(function() end)
local worker = inbox.worker{ inbox = box, router = router }
local t0 = socket.gettime()
local counts = worker:run{ until_idle = true }
local dt = socket.gettime() - t0
assert(counts.done == n, "drained " .. counts.done .. " of " .. n)
box:close()
print(("events_per_s=%.3f"):format(n / dt))
