-- /_emulator/faults: queue (POST, one fault object or an array of them), list (GET), clear (DELETE).
local envelope = require "qs_emulator.envelope"
local faults = require "qs_emulator.faults"
local json = require "qs_emulator.json"

local admin = {}

function admin.add(ctx)
  local body = json.decode(ctx:body())
  if type(body) ~= "table" or json.is_null(body) then
    return envelope.bad_request("A JSON fault object (or an array of them) is expected")
  end
  local specs = body[1] ~= nil and body or { body }
  local parsed = {}
  for i, spec in ipairs(specs) do
    local f, field, why = faults.parse(spec)
    if not f then return envelope.invalid_field(field, "expected " .. why) end
    parsed[i] = f
  end
  for _, f in ipairs(parsed) do faults.add(f) end
  return envelope.ok({ faults = faults.list() })
end

function admin.list()
  return envelope.ok({ faults = faults.list() })
end

function admin.clear()
  faults.reset()
  return envelope.ok({ faults = faults.list() })
end

return admin
