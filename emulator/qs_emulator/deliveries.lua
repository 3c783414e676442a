-- Webhook deliveries, like the vendor: for each webhook of an entity, POST the event to its
-- callback URL; anything but HTTP 200, or no answer, is retried with exponential backoff
-- (base_delay_ms * factor^(n-1), capped at max_delay_ms, up to max_attempts attempts).
-- One queue per webhook keeps its events in order: the next event is sent only after the
-- previous one was answered 200 or given up. Each attempt goes to the callback logs and to
-- /_emulator/deliveries. Timers (ngx.timer.at) drive the queues; a reset stops them.
local config = require "qs_emulator.config"
local clock = require "qs_emulator.clock"
local json = require "qs_emulator.json"
local http_client = require "qs_emulator.http_client"
local credentials = require "qs_emulator.credentials"
local webhooks = require "qs_emulator.store.webhooks"
local callback_logs = require "qs_emulator.store.callback_logs"
local delivery_attempts = require "qs_emulator.store.delivery_attempts"

local ngx = ngx
local timer_at = ngx.timer.at
local min, floor = math.min, math.floor

local deliveries = {}

local queues = {}     -- webhook key -> { items = {...}, head = n, tail = n, busy = bool }
local generation = 0  -- bumped by reset: timers of an older generation stop
local pending = 0     -- events queued and not yet delivered or given up

function deliveries.reset()
  generation = generation + 1
  queues = {}
  pending = 0
end

-- Events not yet delivered or given up (tests wait for 0).
function deliveries.pending()
  return pending
end

-- The delay after the n-th failed attempt, in ms.
function deliveries.backoff_ms(n, d)
  return min(d.base_delay_ms * d.factor ^ (n - 1), d.max_delay_ms)
end

local run

local function schedule(webhook_key, delay_ms)
  local ok, err = timer_at(delay_ms / 1000, run, webhook_key, generation)
  if not ok then
    ngx.log(ngx.ERR, "qs-emulator: cannot schedule a delivery: ", err)
    local q = queues[webhook_key]
    if q then q.busy = false end
  end
end

local function payload(item, webhook_key)
  return json.encode({
    entity_type = "Document",
    entity_key = item.entity_key,
    callback_event = item.event,
    webhook_key = webhook_key,
    subscription_key = webhook_key, -- the V0 name, which V1 still sends
  })
end

local function log_text(url, status, err, duration, attempt, max_attempts, outcome, next_delay)
  local result = status and ("HTTP " .. status) or ("error: " .. tostring(err))
  local text = "POST " .. url .. " -> " .. result .. " in " .. duration .. " ms (attempt "
    .. attempt .. " of " .. max_attempts .. ")"
  if outcome == "retrying" then
    return text .. "; next attempt in " .. floor(next_delay) .. " ms"
  elseif outcome == "gave_up" then
    return text .. "; gave up"
  end
  return text .. "; delivered"
end

local function drop_queue(webhook_key, q)
  pending = pending - (q.tail - q.head + 1)
  queues[webhook_key] = nil
end

run = function(premature, webhook_key, gen)
  if premature or gen ~= generation then return end
  local q = queues[webhook_key]
  if not q then return end
  local item = q.items[q.head]
  if not item then
    queues[webhook_key] = nil
    return
  end
  local w = webhooks.get(webhook_key)
  if not w then -- deleted meanwhile: what is still queued is dropped
    drop_queue(webhook_key, q)
    return
  end
  local d = config.get().delivery
  item.attempt = item.attempt + 1
  local url = w.callback
  local started = clock.now_ms()
  local status, err = http_client.post(url, payload(item, webhook_key), d.timeout_ms)
  local duration = clock.now_ms() - started
  if gen ~= generation then return end -- reset while the attempt was in flight

  local outcome, next_delay
  if status == 200 then
    outcome = "delivered"
  elseif item.attempt >= d.max_attempts then
    outcome = "gave_up"
  else
    outcome = "retrying"
    next_delay = deliveries.backoff_ms(item.attempt, d)
  end
  callback_logs.add({
    entity_key = item.entity_key,
    webhook_key = webhook_key,
    callback_event = item.event,
    subscriber_key = credentials.application_key,
    log = log_text(url, status, err, duration, item.attempt, d.max_attempts, outcome, next_delay),
  })
  delivery_attempts.add({
    webhook_key = webhook_key,
    entity_key = item.entity_key,
    event = item.event,
    attempt = item.attempt,
    url = url,
    status = status,
    error = (not status) and tostring(err) or nil,
    at_ms = started,
    duration_ms = duration,
    outcome = outcome,
    next_delay_ms = next_delay,
  })

  if outcome == "retrying" then
    schedule(webhook_key, next_delay)
    return
  end
  q.items[q.head] = nil
  q.head = q.head + 1
  pending = pending - 1
  if q.items[q.head] then
    schedule(webhook_key, 0)
  else
    queues[webhook_key] = nil
  end
end

local function enqueue(webhook_key, item)
  local q = queues[webhook_key]
  if not q then
    q = { items = {}, head = 1, tail = 0, busy = false }
    queues[webhook_key] = q
  end
  q.tail = q.tail + 1
  q.items[q.tail] = item
  pending = pending + 1
  if not q.busy then
    q.busy = true
    schedule(webhook_key, 0)
  end
end

-- Queues event for every webhook of entity_key (those existing now).
function deliveries.fire(entity_key, event)
  for _, w in ipairs(webhooks.list(entity_key):all()) do
    enqueue(w.key, { entity_key = entity_key, event = event, attempt = 0 })
  end
end

return deliveries
