-- Every delivery attempt (GET /_emulator/deliveries), oldest first, capped so that a long
-- benchmark cannot grow memory without bound (the oldest are dropped past the cap).
local delivery_attempts = {}

local CAP = 100000

local items, first, last = {}, 1, 0

function delivery_attempts.reset()
  items, first, last = {}, 1, 0
end

function delivery_attempts.add(entry)
  last = last + 1
  items[last] = entry
  if last - first + 1 > CAP then
    items[first] = nil
    first = first + 1
  end
end

-- Entries matching the optional filters, oldest first.
function delivery_attempts.list(webhook_key, entity_key)
  local out = {}
  for i = first, last do
    local e = items[i]
    if (not webhook_key or e.webhook_key == webhook_key)
      and (not entity_key or e.entity_key == entity_key) then
      out[#out + 1] = e
    end
  end
  return out
end

return delivery_attempts
