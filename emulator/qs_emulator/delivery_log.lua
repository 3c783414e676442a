-- What delivery attempts write to the callback logs (GET /v1/webhook_callback_logs), by config
-- delivery.log_entries:
--   "vendor": two entries per attempt, worded like the vendor's Webhook Logs page:
--       "Calling callback url U."                              (before the POST)
--       "Successful call to url U. Received 200 response"      (after it)
--     a failed attempt (no vendor page shows one; this wording is the emulator's):
--       "Failed call to url U. Received 500 response"  or  "Failed call to url U. Error: <why>"
--     and the last one of a bounded delivery adds " Gave up after N attempts."
--   "per_attempt": one entry after each attempt, e.g.
--       "POST U -> HTTP 500 in 2 ms (attempt 1 of 10); next attempt in 500 ms"
local callback_logs = require "qs_emulator.store.callback_logs"
local credentials = require "qs_emulator.credentials"

local floor, tostring = math.floor, tostring

local delivery_log = {}

local function add(item, webhook_key, text)
  callback_logs.add({
    entity_key = item.entity_key,
    webhook_key = webhook_key,
    callback_event = item.event,
    subscriber_key = credentials.application_key,
    log = text,
  })
end

-- Before an attempt.
function delivery_log.calling(item, webhook_key, url, d)
  if d.log_entries == "vendor" then add(item, webhook_key, "Calling callback url " .. url .. ".") end
end

local function vendor_text(r, d)
  local text
  if r.outcome == "delivered" then
    text = "Successful call to url " .. r.url .. ". Received " .. r.status .. " response"
  elseif r.status then
    text = "Failed call to url " .. r.url .. ". Received " .. r.status .. " response"
  else
    text = "Failed call to url " .. r.url .. ". Error: " .. tostring(r.err)
  end
  if r.outcome == "gave_up" then text = text .. ". Gave up after " .. d.max_attempts .. " attempts." end
  return text
end

local function per_attempt_text(r, item, d)
  local result = r.status and ("HTTP " .. r.status) or ("error: " .. tostring(r.err))
  local of = d.max_attempts > 0 and (" of " .. d.max_attempts) or ""
  local text = "POST " .. r.url .. " -> " .. result .. " in " .. r.duration .. " ms (attempt "
    .. item.attempt .. of .. ")"
  if r.outcome == "retrying" then
    return text .. "; next attempt in " .. floor(r.next_delay) .. " ms"
  elseif r.outcome == "gave_up" then
    return text .. "; gave up"
  end
  return text .. "; delivered"
end

-- After an attempt: r = { url, status?, err?, duration, outcome, next_delay? }.
function delivery_log.result(item, webhook_key, r, d)
  if d.log_entries == "vendor" then
    add(item, webhook_key, vendor_text(r, d))
  else
    add(item, webhook_key, per_attempt_text(r, item, d))
  end
end

return delivery_log
