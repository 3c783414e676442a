-- How stored records look in API answers (the JSON objects clients see).
local json = require "qs_emulator.json"

local ngx = ngx
local escape_uri = ngx.escape_uri

local views = {}

function views.webhook(w)
  return {
    key = w.key,
    entity_key = w.entity_key,
    callback = w.callback,
    webhook_key = json.null, -- the seed's create answer shows null here
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

-- origin: "scheme://host:port" the request came in on, for absolute serve_pdf_url values.
function views.document_pack(pack, origin)
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
      serve_pdf_url = origin .. views.pdf_path(pack, d),
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
