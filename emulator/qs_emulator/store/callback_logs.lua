-- Webhook callback logs (what GET /v1/webhook_callback_logs lists): the entries deliveries.lua
-- writes (two per attempt, or one: config delivery.log_entries), all of them in order and
-- indexed by entity key and by webhook key. Kept after the webhook is deleted.
local collection = require "qs_emulator.collection"
local keys = require "qs_emulator.keys"
local clock = require "qs_emulator.clock"

local callback_logs = {}

local all, by_entity, by_webhook = collection.new(), {}, {}

function callback_logs.reset()
  all, by_entity, by_webhook = collection.new(), {}, {}
end

local function index(map, k, entry)
  local c = map[k]
  if not c then
    c = collection.new()
    map[k] = c
  end
  c:add(entry)
end

-- Records one entry: { entity_key, webhook_key, callback_event, log, subscriber_key }.
function callback_logs.add(e)
  local now = clock.now_ms()
  local entry = {
    key = keys.new("callback_log"),
    entity_key = e.entity_key,
    webhook_key = e.webhook_key,
    callback_event = e.callback_event,
    log = e.log,
    subscriber_key = e.subscriber_key,
    date_created = now,
    date_updated = clock.fractional(now),
  }
  all:add(entry)
  index(by_entity, e.entity_key, entry)
  index(by_webhook, e.webhook_key, entry)
  return entry
end

-- Every entry (the application's logs: the emulator has one application).
function callback_logs.all()
  return all
end

-- The collection for one filter (maybe empty).
function callback_logs.for_entity(entity_key)
  return by_entity[entity_key] or collection.new()
end

function callback_logs.for_webhook(webhook_key)
  return by_webhook[webhook_key] or collection.new()
end

return callback_logs
