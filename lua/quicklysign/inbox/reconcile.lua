-- Reconciliation: a webhook is a hint, and a callback the receiver never got (its URL was down
-- past the vendor's retries, a subscription made late) is work that never happens. This checks
-- each subscribed pack with the API and pushes a final_document_generated (ev.source =
-- "reconcile") for every complete pack whose final work is neither done nor underway in the
-- inbox. Run it from a timer or cron. One call never floods the API: packs are checked one
-- after another (at most max_packs per call), the client's own retries and Retry-After apply,
-- and a rate-limited answer (429) ends the round early, saying so.
local args = require "quicklysign.callbacks.args"
local dedupe = require "quicklysign.callbacks.dedupe"
local events = require "quicklysign.callbacks.events"
local json = require "quicklysign.inbox.json"

local type, ipairs, pcall = type, ipairs, pcall

local reconcile = {
  DEFAULT_MAX_PACKS = 1000,
}

local KNOWN = { client = true, inbox = true, entity_keys = true, router = true, max_packs = true }

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

--- reconcile.run{ client, inbox [, entity_keys = {...}] [, router] [, max_packs = 1000] }
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
  local max_packs = opts.max_packs or reconcile.DEFAULT_MAX_PACKS
  local keys = opts.entity_keys
  if keys == nil then
    local err
    keys, err = entities_of(client)
    if not keys then return nil, err end
  end
  local report = { checked = 0, pushed = 0, done = 0, underway = 0, incomplete = 0, failed = {} }
  for _, key in ipairs(keys) do
    if report.checked >= max_packs then
      report.stopped = "max_packs"
      break
    end
    local ev = final_event(key)
    local once = once_key_of(opts.router, ev)
    local state, serr = box:once_state(once)
    if serr then return nil, serr end
    if state == "done" then
      report.done = report.done + 1
    elseif state == "queued" or state == "running" or state == "retrying" then
      report.underway = report.underway + 1
    else
      report.checked = report.checked + 1
      local ok, pack, err = pcall(client.document_packs.get, client.document_packs, key)
      if not ok then
        report.failed[key] = pack
      elseif not pack then
        report.failed[key] = err
        if type(err) == "table" and err.status == 429 then
          report.stopped = "rate_limited"
          break
        end
      elseif pack.status ~= "complete" then
        report.incomplete = report.incomplete + 1
      else
        local id, pushed, perr = box:push(ev, { once_key = once, source = "reconcile", body = json.encode(ev.raw) })
        if not id then return nil, pushed or perr end
        report.pushed = report.pushed + 1
      end
    end
  end
  return report
end

return reconcile
