-- Webhook deliveries, like the vendor: for each webhook of an entity, POST the event to its
-- callback URL; what does not count as delivered (config delivery.success: HTTP 200 only, or
-- any 2xx), or no answer, is retried with exponential backoff (base_delay_ms * factor^(n-1),
-- capped at max_delay_ms) until it is delivered, or for at most max_attempts attempts when
-- that is not 0. Each attempt goes to the callback logs (delivery_log.lua) and to
-- /_emulator/deliveries.
--
-- Queues: with delivery.order "per_webhook" one queue per webhook keeps its events in order
-- (the next event is sent only after the previous one was delivered or given up); with
-- "none" every event has a queue of its own, so a later event can overtake a failing one.
-- Scheduling: a queue whose head event is due sits in the `ready` FIFO; at most MAX_WORKERS
-- worker timers take queues from it and make one attempt each (so a fan-out to thousands of
-- webhooks never exceeds nginx's running-timer limit); a retry waits in a plain timer that
-- puts the queue back in `ready`. A reset bumps `generation`, which stops everything queued.
local config = require "qs_emulator.config"
local clock = require "qs_emulator.clock"
local json = require "qs_emulator.json"
local http_client = require "qs_emulator.http_client"
local delivery_log = require "qs_emulator.delivery_log"
local webhooks = require "qs_emulator.store.webhooks"
local delivery_attempts = require "qs_emulator.store.delivery_attempts"

local ngx = ngx
local timer_at = ngx.timer.at
local min, tostring = math.min, tostring

local deliveries = {}

local MAX_WORKERS = 64

local queues = {}     -- queue id -> { webhook_key, items = {...}, head = n, tail = n }
local ready, ready_head, ready_tail = {}, 1, 0 -- FIFO of queue ids due for an attempt
local workers = 0     -- worker timers running
local generation = 0  -- bumped by reset: timers of an older generation stop
local pending = 0     -- events queued and not yet delivered or given up
local serial = 0      -- for the ids of one-event queues (order "none")

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

local worker

local function push_ready(qid)
  ready_tail = ready_tail + 1
  ready[ready_tail] = qid
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

local function retry_due(premature, qid, gen)
  if premature or gen ~= generation then return end
  if queues[qid] then push_ready(qid) end
end

local function record(item, webhook_key, r, d)
  delivery_log.result(item, webhook_key, r, d)
  delivery_attempts.add({
    webhook_key = webhook_key,
    entity_key = item.entity_key,
    event = item.event,
    attempt = item.attempt,
    url = r.url,
    status = r.status,
    error = (not r.status) and tostring(r.err) or nil,
    at_ms = r.started,
    duration_ms = r.duration,
    outcome = r.outcome,
    next_delay_ms = r.next_delay,
  })
end

-- Forgets queue qid and what is still in it.
local function drop(qid)
  local q = queues[qid]
  if not q then return end
  pending = pending - (q.tail - q.head + 1)
  queues[qid] = nil
end

local function delivered(status, d)
  if status == 200 then return true end
  return d.success == "any_2xx" and status ~= nil and status >= 200 and status < 300
end

-- What follows an attempt: "delivered", "gave_up" or "retrying" (and the delay).
local function outcome_of(status, item, d)
  if delivered(status, d) then return "delivered" end
  if d.max_attempts > 0 and item.attempt >= d.max_attempts then return "gave_up" end
  return "retrying", deliveries.backoff_ms(item.attempt, d)
end

-- One attempt for the head event of queue qid, then what follows from its outcome.
local function attempt(qid, gen)
  local q = queues[qid]
  if not q then return end
  local item = q.items[q.head]
  local webhook_key = q.webhook_key
  local w = webhooks.get(webhook_key)
  if not w then -- deleted meanwhile: what is still queued is dropped
    drop(qid)
    return
  end
  local d = config.get().delivery
  item.attempt = item.attempt + 1
  local url = w.callback
  delivery_log.calling(item, webhook_key, url, d)
  local started = clock.now_ms()
  local status, err = http_client.post(url, payload(item, webhook_key), d.timeout_ms)
  local duration = clock.now_ms() - started
  if gen ~= generation or queues[qid] ~= q then return end -- reset or dropped meanwhile

  local outcome, next_delay = outcome_of(status, item, d)
  record(item, webhook_key, { url = url, status = status, err = err, started = started,
    duration = duration, outcome = outcome, next_delay = next_delay }, d)

  if outcome == "retrying" then
    local ok, terr = timer_at(next_delay / 1000, retry_due, qid, gen)
    if not ok then
      report("cannot schedule a retry, retrying now: ", terr)
      push_ready(qid)
    end
    return
  end
  q.items[q.head] = nil
  q.head = q.head + 1
  pending = pending - 1
  if q.head <= q.tail then
    push_ready(qid)
  else
    queues[qid] = nil
  end
end

worker = function(premature, gen)
  if premature or gen ~= generation then return end
  while gen == generation do
    local qid = pop_ready()
    if not qid then break end
    local ok, err = pcall(attempt, qid, gen)
    if not ok then
      report("attempt failed, queue dropped: ", err)
      if gen == generation then drop(qid) end
    end
  end
  if gen == generation then workers = workers - 1 end
end

local function enqueue(webhook_key, item)
  local qid = webhook_key
  if config.get().delivery.order == "none" then
    serial = serial + 1
    qid = webhook_key .. "#" .. serial
  end
  local q = queues[qid]
  local idle = not q
  if not q then
    q = { webhook_key = webhook_key, items = {}, head = 1, tail = 0 }
    queues[qid] = q
  end
  q.tail = q.tail + 1
  q.items[q.tail] = item
  pending = pending + 1
  if idle then push_ready(qid) end
end

-- Queues event for every webhook of entity_key (those existing now).
function deliveries.fire(entity_key, event)
  for _, w in ipairs(webhooks.list(entity_key):all()) do
    enqueue(w.key, { entity_key = entity_key, event = event, attempt = 0 })
  end
end

return deliveries
