-- The callback event names. Indexing an unknown constant raises, so a typo in
-- `events.FINAL_DOCUMENT_GENERATD` fails loudly instead of registering a handler for nil.
-- Unknown event names still pass through `parse`: this table is only a list of names we know.
local error, setmetatable, tostring, pairs, ipairs = error, setmetatable, tostring, pairs, ipairs

local events = {
  -- documented V1 events
  ENTITY_UPDATED = "entity_updated",
  DOCUMENT_STATUS_CHANGED = "document_status_changed",
  FINAL_DOCUMENT_GENERATED = "final_document_generated",
  -- older names shown in the vendor's callback examples
  DOCUMENT_UPDATED = "document_updated",
  SIGNATORY_UPDATED = "signatory_updated",
  AUDIT_TRAIL_UPDATED = "audit_trail_updated",
}

local NAMES = {}
for _, name in pairs(events) do NAMES[#NAMES + 1] = name end
table.sort(NAMES)
local KNOWN = {}
for _, name in ipairs(NAMES) do KNOWN[name] = true end

local functions = {
  --- events.list() --> the event names quicklysign knows, sorted (a new table each time).
  list = function()
    local out = {}
    for i, name in ipairs(NAMES) do out[i] = name end
    return out
  end,
  --- events.is_known(name) --> whether name is one of them.
  is_known = function(name) return KNOWN[name] == true end,
}

-- The functions come through __index, so that pairs(events) still gives the constants only.
return setmetatable(events, {
  __index = function(_, name)
    local f = functions[name]
    if f then return f end
    error("quicklysign.callbacks.events has no constant '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function()
    error("quicklysign.callbacks.events is read-only", 2)
  end,
})
