-- Callback sinks: named in-memory receivers for webhook callbacks, so that the emulator can be
-- driven end to end without a server of one's own (callback URL
-- http://127.0.0.1:<port>/_emulator/sinks/<name>). Each remembers what it received.
local sinks = {}

local CAP = 10000 -- per sink; the oldest are dropped past it

local by_name = {}

function sinks.reset()
  by_name = {}
end

local function sink(name)
  local s = by_name[name]
  if not s then
    s = { received = {}, total = 0 }
    by_name[name] = s
  end
  return s
end

-- Records one callback; returns how many this sink has received, this one included.
function sinks.record(name, entry)
  local s = sink(name)
  s.total = s.total + 1
  local r = s.received
  r[#r + 1] = entry
  if #r > CAP then table.remove(r, 1) end
  return s.total
end

-- What the sink received (oldest first) and its total count.
function sinks.get(name)
  local s = by_name[name]
  if not s then return {}, 0 end
  return s.received, s.total
end

function sinks.clear(name)
  by_name[name] = nil
end

return sinks
