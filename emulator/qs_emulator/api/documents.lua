-- The PDF of a document:
--   GET /v1/document_packs/<pk>/documents/<dk>/pdf   (the serve_pdf_url by default; access
--       token when config pdf_requires_token; or a 302 per config pdf_redirect)
--   GET /_emulator/storage/<pk>/<dk>.pdf              (storage: on the API host and on the
--       storage host 127.0.0.2; where redirects point, or the serve_pdf_url itself with
--       config serve_pdf_host "storage"; no auth)
-- Serves the draft before the pack is complete, the final PDF after; or, with config pdf_body,
-- a 200 that is not a PDF (an HTML page, a JSON envelope, HTML labelled application/pdf).
local auth = require "qs_emulator.auth"
local config = require "qs_emulator.config"
local envelope = require "qs_emulator.envelope"
local json = require "qs_emulator.json"
local pdf_files = require "qs_emulator.pdf_files"
local views = require "qs_emulator.views"
local document_packs = require "qs_emulator.store.document_packs"

local ngx = ngx

local api = {}

local function find(pack_key, doc_key)
  local pack = document_packs.get(pack_key)
  local doc = pack and document_packs.document(pack, doc_key)
  return pack, doc
end

-- What a storage service or a proxy in front of it might answer instead of the file.
local SIGN_IN_PAGE = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>QuicklySign - Sign in</title>'
  .. '</head>\n<body><h1>Sign in</h1><form method="post" action="/login"><input name="email">'
  .. '<input name="password" type="password"><button>Sign in</button></form></body></html>\n'

local function raw(content_type, body)
  return { kind = "raw", status = 200, content_type = content_type, body = body,
    headers = { ["Cache-Control"] = "no-store" } }
end

local function pdf_response(pack, doc)
  local kind = config.get().pdf_body
  if kind == "html" then return raw("text/html; charset=utf-8", SIGN_IN_PAGE) end
  if kind == "html_as_pdf" then return raw("application/pdf", SIGN_IN_PAGE) end
  if kind == "json" then
    return raw("application/json", json.encode({ status = { status_code = 200 },
      data = { document = { key = doc.key, document_name = doc.name, document_pack_key = pack.key } } }))
  end
  return raw("application/pdf", pdf_files.get(pack, doc, pdf_files.current_variant(pack)))
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

local REDIRECT_ORIGIN = {
  same_host = function(ctx) return ctx:origin() end,
  other_host = other_origin,
  storage = function(ctx) return ctx:storage_origin() end,
}

function api.pdf(ctx, pack_key, doc_key)
  local cfg = config.get()
  if cfg.pdf_requires_token then
    local denied = auth.access_token()
    if denied then return denied end
  end
  local pack, doc = find(pack_key, doc_key)
  if not doc then return envelope.not_found("Document") end
  local origin = REDIRECT_ORIGIN[cfg.pdf_redirect]
  if origin then return redirect(origin(ctx) .. views.storage_path(pack, doc)) end
  return pdf_response(pack, doc)
end

function api.storage(_, pack_key, doc_key)
  local pack, doc = find(pack_key, doc_key)
  if not doc then return envelope.not_found("Document") end
  return pdf_response(pack, doc)
end

return api
