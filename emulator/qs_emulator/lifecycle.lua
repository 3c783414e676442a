-- A document pack's life, driven by the emulator's control endpoints, and the callback events
-- each step fires (in this order, per webhook):
--   update   -> entity_updated
--   send     -> document_status_changed            (setup -> awaiting_signatures; so are the
--                                                   signatories)
--   sign     -> document_status_changed            (one signatory: complete)
--   complete -> document_status_changed, final_document_generated
--               (all signed, status complete; the final PDFs exist before the second event)
--   fail     -> document_status_changed            (status conversion_error)
-- Each step returns nil, or an error message when the pack's status does not allow it.
local document_packs = require "qs_emulator.store.document_packs"
local deliveries = require "qs_emulator.deliveries"
local pdf_files = require "qs_emulator.pdf_files"
local clock = require "qs_emulator.clock"

local type = type

local lifecycle = {}

-- patch (validated): { name?, add_signatories?, add_documents? }
function lifecycle.update(pack, patch)
  if patch.name then pack.name = patch.name end
  for _, s in ipairs(patch.add_signatories or {}) do
    pack.signatories[#pack.signatories + 1] = document_packs.new_signatory(s, pack.status)
  end
  for _, d in ipairs(patch.add_documents or {}) do
    pack.documents[#pack.documents + 1] = document_packs.new_document(d)
  end
  document_packs.touch(pack, true)
  deliveries.fire(pack.key, "entity_updated")
  return nil
end

function lifecycle.send(pack)
  if pack.status ~= "setup" then
    return "only a pack in status setup can be sent (this one is " .. pack.status .. ")"
  end
  pack.status = "awaiting_signatures"
  for _, s in ipairs(pack.signatories) do
    if s.status == "setup" then s.status = "awaiting_signatures" end
  end
  document_packs.touch(pack)
  deliveries.fire(pack.key, "document_status_changed")
  return nil
end

local function find_signatory(pack, who)
  if who == nil then -- the first one who has not signed
    for _, s in ipairs(pack.signatories) do
      if s.status ~= "complete" then return s end
    end
    return nil
  end
  if type(who) == "number" then return pack.signatories[who + 1] end
  if type(who) == "string" then
    for _, s in ipairs(pack.signatories) do
      if s.email == who then return s end
    end
  end
  return nil
end

local function mark_signed(s)
  if s.status ~= "complete" then
    s.status = "complete"
    s.date_signed = clock.now_ms()
  end
end

-- who: 0-based index into signatories, an email, or nil for the first who has not signed.
function lifecycle.sign(pack, who)
  if pack.status ~= "awaiting_signatures" then
    return "only a pack in status awaiting_signatures can be signed (this one is " .. pack.status .. ")"
  end
  local s = find_signatory(pack, who)
  if not s then
    return who == nil and "no signatory is left to sign"
      or "no such signatory (give a 0-based index or an email)"
  end
  mark_signed(s)
  document_packs.touch(pack)
  deliveries.fire(pack.key, "document_status_changed")
  return nil
end

function lifecycle.complete(pack)
  if pack.status ~= "setup" and pack.status ~= "awaiting_signatures" then
    return "only a pack in status setup or awaiting_signatures can be completed (this one is "
      .. pack.status .. ")"
  end
  for _, s in ipairs(pack.signatories) do mark_signed(s) end
  pack.status = "complete"
  document_packs.touch(pack, true)
  for _, d in ipairs(pack.documents) do pdf_files.get(pack, d, "final") end
  deliveries.fire(pack.key, "document_status_changed")
  deliveries.fire(pack.key, "final_document_generated")
  return nil
end

function lifecycle.fail(pack)
  if pack.status == "complete" then return "a complete pack cannot fail conversion" end
  pack.status = "conversion_error"
  document_packs.touch(pack)
  deliveries.fire(pack.key, "document_status_changed")
  return nil
end

return lifecycle
