-- How stored records look in API answers (the JSON objects clients see).
local json = require "qs_emulator.json"
local config = require "qs_emulator.config"

local ngx = ngx
local escape_uri = ngx.escape_uri

local views = {}

function views.webhook(w)
  return {
    key = w.key,
    entity_key = w.entity_key,
    callback = w.callback,
    webhook_key = json.null, -- the vendor's create example shows null here (docs/vendor-api.md)
    date_created = w.date_created,
    date_updated = w.date_updated,
  }
end

function views.callback_log(e)
  return {
    key = e.key,
    entity_key = e.entity_key,
    callback_event = e.callback_event,
    log = e.log,
    subscriber_key = e.subscriber_key,
    subscription_key = e.webhook_key,
    webhook_key = e.webhook_key,
    date_created = e.date_created,
    date_updated = e.date_updated,
  }
end

-- The path of a document's PDF under /v1 (keys percent-encoded though they are URL-safe).
function views.pdf_path(pack, doc)
  return "/v1/document_packs/" .. escape_uri(pack.key) .. "/documents/" .. escape_uri(doc.key) .. "/pdf"
end

-- Where the storage host serves a document's PDF (also served on the API host).
function views.storage_path(pack, doc)
  return "/_emulator/storage/" .. escape_uri(pack.key) .. "/" .. escape_uri(doc.key) .. ".pdf"
end

-- A document's serve_pdf_url: on the API's origin (the request's), or with config
-- serve_pdf_host "storage" on the storage host's.
function views.serve_pdf_url(pack, doc, origin, storage_origin)
  if config.get().serve_pdf_host == "storage" then
    return storage_origin .. views.storage_path(pack, doc)
  end
  return origin .. views.pdf_path(pack, doc)
end

-- origin: "scheme://host:port" the request came in on; storage_origin: the storage host's,
-- same scheme and port (request:storage_origin()); for absolute serve_pdf_url values.
function views.document_pack(pack, origin, storage_origin)
  local signatories = json.array()
  for i, s in ipairs(pack.signatories) do
    signatories[i] = {
      name = s.name, email = s.email, uuid = s.uuid, status = s.status,
      date_signed = s.date_signed or json.null,
    }
  end
  local documents = json.array()
  for i, d in ipairs(pack.documents) do
    documents[i] = {
      key = d.key,
      document_name = d.name,
      serve_pdf_url = views.serve_pdf_url(pack, d, origin, storage_origin),
      date_created = d.date_created,
      date_updated = d.date_updated,
    }
  end
  return {
    key = pack.key,
    document_pack_name = pack.name,
    status = pack.status,
    signatories = signatories,
    documents = documents,
    date_created = pack.date_created,
    date_updated = pack.date_updated,
  }
end

return views
