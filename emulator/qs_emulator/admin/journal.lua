-- What the emulator saw and did: /_emulator/requests and /_emulator/deliveries (GET lists,
-- DELETE clears).
local envelope = require "qs_emulator.envelope"
local json = require "qs_emulator.json"
local request_log = require "qs_emulator.request_log"
local deliveries = require "qs_emulator.deliveries"
local delivery_attempts = require "qs_emulator.store.delivery_attempts"

local admin = {}

function admin.requests()
  return envelope.ok({ requests = request_log.list() })
end

function admin.clear_requests()
  request_log.reset()
  return envelope.ok({ requests = json.array() })
end

-- GET /_emulator/deliveries[?webhook_key=][&entity_key=]
function admin.deliveries(ctx)
  local list = delivery_attempts.list(ctx:arg("webhook_key"), ctx:arg("entity_key"))
  return envelope.ok({ deliveries = json.array(list), pending = deliveries.pending() })
end

function admin.clear_deliveries()
  delivery_attempts.reset()
  return envelope.ok({ deliveries = json.array(), pending = deliveries.pending() })
end

return admin
