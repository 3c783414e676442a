-- The PDF of a document:
--   GET /v1/document_packs/<pk>/documents/<dk>/pdf   (the serve_pdf_url; access token when
--       config pdf_requires_token; or a 302 per config pdf_redirect)
--   GET /_emulator/storage/<pk>/<dk>.pdf              (where redirects point; no auth)
-- Serves the draft before the pack is complete, the final PDF after.
local auth = require "qs_emulator.auth"
local config = require "qs_emulator.config"
local envelope = require "qs_emulator.envelope"
local pdf_files = require "qs_emulator.pdf_files"
local document_packs = require "qs_emulator.store.document_packs"

local ngx = ngx
local escape_uri = ngx.escape_uri

local api = {}

local function find(pack_key, doc_key)
  local pack = document_packs.get(pack_key)
  local doc = pack and document_packs.document(pack, doc_key)
  return pack, doc
end

local function pdf_response(pack, doc)
  local bytes = pdf_files.get(pack, doc, pdf_files.current_variant(pack))
  return {
    kind = "raw",
    status = 200,
    content_type = "application/pdf",
    body = bytes,
    headers = { ["Cache-Control"] = "no-store" },
  }
end

local function storage_path(pack, doc)
  return "/_emulator/storage/" .. escape_uri(pack.key) .. "/" .. escape_uri(doc.key) .. ".pdf"
end

-- The same scheme and port on the other name of the loopback host.
local function other_origin(ctx)
  local host = ngx.var.host or ""
  local other = (host == "localhost") and "127.0.0.1" or "localhost"
  return ctx:scheme() .. "://" .. other .. ":" .. ctx:server_port()
end

local function redirect(location)
  return { kind = "raw", status = 302, headers = { Location = location }, content_type = "text/plain",
    body = "Found: " .. location .. "\n" }
end

function api.pdf(ctx, pack_key, doc_key)
  local cfg = config.get()
  if cfg.pdf_requires_token then
    local denied = auth.access_token()
    if denied then return denied end
  end
  local pack, doc = find(pack_key, doc_key)
  if not doc then return envelope.not_found("Document") end
  if cfg.pdf_redirect == "same_host" then
    return redirect(ctx:origin() .. storage_path(pack, doc))
  elseif cfg.pdf_redirect == "other_host" then
    return redirect(other_origin(ctx) .. storage_path(pack, doc))
  end
  return pdf_response(pack, doc)
end

function api.storage(_, pack_key, doc_key)
  local pack, doc = find(pack_key, doc_key)
  if not doc then return envelope.not_found("Document") end
  return pdf_response(pack, doc)
end

return api
