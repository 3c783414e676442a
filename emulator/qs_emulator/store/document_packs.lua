-- Document packs and their documents and signatories (emulator state, in memory).
-- A pack: { key, name, status, version, date_created, date_updated, signatories = {...}, documents = {...} }
-- A signatory: { name, email, uuid, status, date_signed? }, status one of the vendor's
-- signatory statuses (Constants page): "setup" (request not sent), "awaiting_signatures"
-- (request sent), "complete" (signed).
-- A document: { key, name, pdf_bytes?, date_created, date_updated }
local collection = require "qs_emulator.collection"
local keys = require "qs_emulator.keys"
local clock = require "qs_emulator.clock"

local document_packs = {}

local packs = collection.new()

function document_packs.reset()
  packs = collection.new()
end

-- A new signatory record from { name, email }; status "setup", or "awaiting_signatures" when
-- added to a pack that was sent already.
function document_packs.new_signatory(s, pack_status)
  local status = pack_status == "awaiting_signatures" and "awaiting_signatures" or "setup"
  return { name = s.name, email = s.email, uuid = keys.uuid(), status = status }
end

-- A new document record from { name, pdf_bytes? }.
function document_packs.new_document(d)
  local now = clock.now_ms()
  return {
    key = keys.new("document"),
    name = d.name,
    pdf_bytes = d.pdf_bytes,
    date_created = now,
    date_updated = clock.fractional(now),
  }
end

-- spec: { key?, name, signatories = {{name,email}}, documents = {{name, pdf_bytes?}} } (validated)
function document_packs.create(spec)
  local now = clock.now_ms()
  local pack = {
    key = spec.key or keys.new("document_pack"),
    name = spec.name,
    status = "setup",
    version = 1, -- bumped on every change (the draft PDF is re-rendered)
    date_created = now,
    date_updated = clock.fractional(now),
    signatories = {},
    documents = {},
  }
  for i, s in ipairs(spec.signatories) do pack.signatories[i] = document_packs.new_signatory(s) end
  for i, d in ipairs(spec.documents) do pack.documents[i] = document_packs.new_document(d) end
  return packs:add(pack)
end

function document_packs.get(key)
  return packs:get(key)
end

function document_packs.exists(key)
  return packs:get(key) ~= nil
end

-- The document with doc_key inside pack (nil when absent).
function document_packs.document(pack, doc_key)
  for _, d in ipairs(pack.documents) do
    if d.key == doc_key then return d end
  end
  return nil
end

-- Marks the pack (and optionally its documents) as changed now.
function document_packs.touch(pack, documents_too)
  local now = clock.now_ms()
  pack.version = pack.version + 1
  pack.date_updated = clock.fractional(now)
  if documents_too then
    for _, d in ipairs(pack.documents) do d.date_updated = clock.fractional(now) end
  end
end

return document_packs
