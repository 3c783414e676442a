-- Reconciliation: a webhook is a hint, and a callback the receiver never got (its URL was down
-- past the vendor's retries, a subscription made late) is work that never happens. This checks
-- each subscribed pack with the API and pushes a final_document_generated (ev.source =
-- "reconcile") for every complete pack whose final work is neither done nor underway in the
-- inbox. Run it from a timer or cron. Packs are asked for in batches (document_packs:get_many,
-- `concurrency` at once: the client's, or the option), so that a thousand packs cost a few
-- round trips rather than a thousand; one call never floods the API: at most max_packs per
-- call, the client's own retries and Retry-After apply, and a rate-limited answer (429) ends
-- the round after its batch, saying so. A client without get_many (one of your own) is asked
-- one pack at a time.
local args = require "quicklysign.callbacks.args"
local dedupe = require "quicklysign.callbacks.dedupe"
local events = require "quicklysign.callbacks.events"
local json = require "quicklysign.inbox.json"

local type, ipairs, pcall, math_min = type, ipairs, pcall, math.min

local reconcile = {
  DEFAULT_MAX_PACKS = 1000,
  DEFAULT_CONCURRENCY = 8,   -- packs asked for at once, when the client does not say
}

local KNOWN = { client = true, inbox = true, entity_keys = true, router = true, max_packs = true,
  concurrency = true }

-- The once key the router gives this pack's final event (the router's own key function when given).
local function once_key_of(router, ev)
  local key = router and type(router.once_key) == "function" and router:once_key(ev)
  return key or (dedupe.DEFAULT_PREFIX .. dedupe.default_key(ev))
end

local function entities_of(client)
  local list, err = client.webhooks:list{}
  if not list then return nil, err end
  local seen, keys = {}, {}
  for _, webhook in ipairs(list) do
    local key = type(webhook) == "table" and webhook.entity_key
    if type(key) == "string" and not seen[key] then
      seen[key] = true
      keys[#keys + 1] = key
    end
  end
  return keys
end

local function final_event(key)
  local raw = { callback_event = events.FINAL_DOCUMENT_GENERATED, entity_key = key, entity_type = "Document" }
  return { event = raw.callback_event, entity_key = key, entity_type = "Document", raw = raw, source = "reconcile" }
end

-- Asks for the packs of a batch's items: packs, errors (by position in the batch). Batched when
-- the client has get_many; a raise is reported as that pack's error.
local function fetch(client, batch, concurrency)
  local packs_api, keys = client.document_packs, {}
  for i, item in ipairs(batch) do keys[i] = item.key end
  if type(packs_api.get_many) == "function" then
    local ok, packs, errs = pcall(packs_api.get_many, packs_api, keys, { concurrency = concurrency })
    if ok then return packs, errs end
    errs = {}
    for i = 1, #keys do errs[i] = packs end
    return {}, errs
  end
  local packs, errs = {}, {}
  for i, key in ipairs(keys) do
    local ok, pack, err = pcall(packs_api.get, packs_api, key)
    if not ok then errs[i] = pack elseif pack then packs[i] = pack else errs[i] = err end
  end
  return packs, errs
end

-- The packs of one batch into the report: pushed, incomplete or failed; true when one was rate-limited.
local function settle(report, box, batch, packs, errs)
  local limited = false
  for i, item in ipairs(batch) do
    local pack, err = packs[i], errs[i]
    report.checked = report.checked + 1
    if pack == nil then
      report.failed[item.key] = err
      if type(err) == "table" and err.status == 429 then limited = true end
    elseif pack.status ~= "complete" then
      report.incomplete = report.incomplete + 1
    else
      local id, pushed, perr = box:push(item.ev, { once_key = item.once, source = "reconcile",
        body = json.encode(item.ev.raw) })
      if not id then return nil, pushed or perr end
      report.pushed = report.pushed + 1
    end
  end
  return limited
end

-- The packs to ask about: not done, not underway; the rest counted in the report.
local function to_check(opts, box, keys, report)
  local items = {}
  for _, key in ipairs(keys) do
    local ev = final_event(key)
    local once = once_key_of(opts.router, ev)
    local state, serr = box:once_state(once)
    if serr then return nil, serr end
    if state == "done" then
      report.done = report.done + 1
    elseif state == "queued" or state == "running" or state == "retrying" then
      report.underway = report.underway + 1
    else
      items[#items + 1] = { key = key, ev = ev, once = once }
    end
  end
  return items
end

--- reconcile.run{ client, inbox [, entity_keys = {...}] [, router] [, max_packs = 1000] [, concurrency] }
-- --> report { checked, pushed, done, underway, incomplete, failed = { [key] = err }, stopped }
-- | nil, err (the webhook list could not be read). `stopped` is "rate_limited" or "max_packs"
-- when the round ended early.
function reconcile.run(opts)
  args.check(opts, "table", 1, "reconcile")
  args.known_options(opts, KNOWN, 1, "reconcile")
  local client, box = opts.client, opts.inbox
  args.option(type(client) == "table" or type(client) == "userdata", 1, "reconcile", "client",
    "must be a quicklysign client")
  args.option(type(box) == "table" and type(box.push) == "function", 1, "reconcile", "inbox",
    "must be an inbox made by quicklysign.inbox.open")
  args.option(opts.entity_keys == nil or type(opts.entity_keys) == "table", 1, "reconcile", "entity_keys",
    "must be an array of pack keys")
  local concurrency = opts.concurrency or reconcile.DEFAULT_CONCURRENCY
  args.option(type(concurrency) == "number" and concurrency >= 1 and concurrency % 1 == 0, 1, "reconcile",
    "concurrency", "must be a positive integer")
  local max_packs = opts.max_packs or reconcile.DEFAULT_MAX_PACKS
  local keys = opts.entity_keys
  if keys == nil then
    local err
    keys, err = entities_of(client)
    if not keys then return nil, err end
  end
  local report = { checked = 0, pushed = 0, done = 0, underway = 0, incomplete = 0, failed = {} }
  local items, serr = to_check(opts, box, keys, report)
  if not items then return nil, serr end
  local first = 1
  while first <= #items do
    if report.checked >= max_packs then break end
    local last = math_min(#items, first + concurrency - 1, first + max_packs - report.checked - 1)
    local batch = {}
    for i = first, last do batch[#batch + 1] = items[i] end
    first = last + 1
    local packs, errs = fetch(client, batch, concurrency)
    local limited, perr = settle(report, box, batch, packs, errs)
    if limited == nil then return nil, perr end
    if limited then
      report.stopped = "rate_limited"
      break
    end
  end
  if report.stopped == nil and first <= #items then report.stopped = "max_packs" end
  return report
end

return reconcile
