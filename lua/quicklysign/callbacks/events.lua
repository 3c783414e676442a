-- The callback event names. Indexing an unknown constant raises, so a typo in
-- `events.FINAL_DOCUMENT_GENERATD` fails loudly instead of registering a handler for nil.
-- Unknown event names still pass through `parse`: this table is only a list of names we know.
local error, setmetatable, tostring = error, setmetatable, tostring

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

return setmetatable(events, {
  __index = function(_, name)
    error("quicklysign.callbacks.events has no constant '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function()
    error("quicklysign.callbacks.events is read-only", 2)
  end,
})
