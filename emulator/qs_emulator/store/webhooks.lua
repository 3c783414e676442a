-- Webhooks (emulator state, in memory): every webhook in creation order, plus an index per
-- entity (document pack) key. A webhook: { key, entity_key, callback, date_created, date_updated }.
local collection = require "qs_emulator.collection"
local keys = require "qs_emulator.keys"
local clock = require "qs_emulator.clock"

local webhooks = {}

local all = collection.new()
local by_entity = {}

function webhooks.reset()
  all = collection.new()
  by_entity = {}
end

function webhooks.create(entity_key, callback)
  local now = clock.now_ms()
  local w = {
    key = keys.new("webhook"),
    entity_key = entity_key,
    callback = callback,
    date_created = now,
    date_updated = clock.fractional(now),
  }
  all:add(w)
  local c = by_entity[entity_key]
  if not c then
    c = collection.new()
    by_entity[entity_key] = c
  end
  c:add(w)
  return w
end

function webhooks.get(key)
  return all:get(key)
end

-- The collection to page through: every webhook, or those of one entity (maybe empty).
function webhooks.list(entity_key)
  if entity_key then return by_entity[entity_key] or collection.new() end
  return all
end

function webhooks.delete(key)
  local w = all:remove(key)
  if not w then return nil end
  local c = by_entity[w.entity_key]
  if c then
    c:remove(key)
    if c.count == 0 then by_entity[w.entity_key] = nil end
  end
  return w
end

-- Deletes every webhook of entity_key; returns how many.
function webhooks.delete_entity(entity_key)
  local c = by_entity[entity_key]
  if not c then return 0 end
  local n = 0
  for _, w in ipairs(c:all()) do
    all:remove(w.key)
    n = n + 1
  end
  by_entity[entity_key] = nil
  return n
end

return webhooks
