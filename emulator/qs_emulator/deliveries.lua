-- Webhook deliveries, like the vendor: for each webhook of an entity, POST the event to its
-- callback URL; anything but HTTP 200, or no answer, is retried with exponential backoff
-- (base_delay_ms * factor^(n-1), capped at max_delay_ms, up to max_attempts attempts).
-- One queue per webhook keeps its events in order: the next event is sent only after the
-- previous one was answered 200 or given up. Each attempt goes to the callback logs and to
-- /_emulator/deliveries.
--
-- Scheduling: a webhook whose head event is due sits in the `ready` FIFO; at most MAX_WORKERS
-- worker timers take webhooks from it and make one attempt each (so a fan-out to thousands of
-- webhooks never exceeds nginx's running-timer limit); a retry waits in a plain timer that
-- puts the webhook back in `ready`. A reset bumps `generation`, which stops everything queued.
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

local MAX_WORKERS = 64

local queues = {}     -- webhook key -> { items = {...}, head = n, tail = n }
local ready, ready_head, ready_tail = {}, 1, 0 -- FIFO of webhook keys due for an attempt
local workers = 0     -- worker timers running
local generation = 0  -- bumped by reset: timers of an older generation stop
local pending = 0     -- events queued and not yet delivered or given up

function deliveries.reset()
  generation = generation + 1
  queues = {}
  ready, ready_head, ready_tail = {}, 1, 0
  workers = 0
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

local function report(...)
  ngx.log(ngx.CRIT, "qs-emulator deliveries: ", ...)
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

local worker

local function push_ready(webhook_key)
  ready_tail = ready_tail + 1
  ready[ready_tail] = webhook_key
  -- start workers for what is waiting, up to the cap
  while workers < MAX_WORKERS and workers < ready_tail - ready_head + 1 do
    local ok, err = timer_at(0, worker, generation)
    if not ok then
      report("cannot start a delivery worker: ", err)
      break
    end
    workers = workers + 1
  end
end

local function pop_ready()
  if ready_head > ready_tail then return nil end
  local k = ready[ready_head]
  ready[ready_head] = nil
  ready_head = ready_head + 1
  return k
end

local function retry_due(premature, webhook_key, gen)
  if premature or gen ~= generation then return end
  if queues[webhook_key] then push_ready(webhook_key) end
end

local function record(item, webhook_key, url, status, err, started, duration, d, outcome, next_delay)
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
end

-- Forgets webhook_key's queue and what is still in it.
local function drop(webhook_key)
  local q = queues[webhook_key]
  if not q then return end
  pending = pending - (q.tail - q.head + 1)
  queues[webhook_key] = nil
end

-- One attempt for the head event of webhook_key's queue, then what follows from its outcome.
local function attempt(webhook_key, gen)
  local q = queues[webhook_key]
  if not q then return end
  local item = q.items[q.head]
  local w = webhooks.get(webhook_key)
  if not w then -- deleted meanwhile: what is still queued is dropped
    drop(webhook_key)
    return
  end
  local d = config.get().delivery
  item.attempt = item.attempt + 1
  local url = w.callback
  local started = clock.now_ms()
  local status, err = http_client.post(url, payload(item, webhook_key), d.timeout_ms)
  local duration = clock.now_ms() - started
  if gen ~= generation or queues[webhook_key] ~= q then return end -- reset or dropped meanwhile

  local outcome, next_delay
  if status == 200 then
    outcome = "delivered"
  elseif item.attempt >= d.max_attempts then
    outcome = "gave_up"
  else
    outcome = "retrying"
    next_delay = deliveries.backoff_ms(item.attempt, d)
  end
  record(item, webhook_key, url, status, err, started, duration, d, outcome, next_delay)

  if outcome == "retrying" then
    local ok, terr = timer_at(next_delay / 1000, retry_due, webhook_key, gen)
    if not ok then
      report("cannot schedule a retry, retrying now: ", terr)
      push_ready(webhook_key)
    end
    return
  end
  q.items[q.head] = nil
  q.head = q.head + 1
  pending = pending - 1
  if q.head <= q.tail then
    push_ready(webhook_key)
  else
    queues[webhook_key] = nil
  end
end

worker = function(premature, gen)
  if premature or gen ~= generation then return end
  while gen == generation do
    local webhook_key = pop_ready()
    if not webhook_key then break end
    local ok, err = pcall(attempt, webhook_key, gen)
    if not ok then
      report("attempt failed, queue dropped: ", err)
      if gen == generation then drop(webhook_key) end
    end
  end
  if gen == generation then workers = workers - 1 end
end

local function enqueue(webhook_key, item)
  local q = queues[webhook_key]
  local idle = not q
  if not q then
    q = { items = {}, head = 1, tail = 0 }
    queues[webhook_key] = q
  end
  q.tail = q.tail + 1
  q.items[q.tail] = item
  pending = pending + 1
  if idle then push_ready(webhook_key) end
end

-- Queues event for every webhook of entity_key (those existing now).
function deliveries.fire(entity_key, event)
  for _, w in ipairs(webhooks.list(entity_key):all()) do
    enqueue(w.key, { entity_key = entity_key, event = event, attempt = 0 })
  end
end

return deliveries
