-- GET /v1/document_packs/<key> (access token required) -> data.document_pack
local auth = require "qs_emulator.auth"
local envelope = require "qs_emulator.envelope"
local views = require "qs_emulator.views"
local document_packs = require "qs_emulator.store.document_packs"

local api = {}

function api.get(ctx, key)
  local denied = auth.access_token()
  if denied then return denied end
  local pack = document_packs.get(key)
  if not pack then return envelope.not_found("Document pack") end
  return envelope.ok({ document_pack = views.document_pack(pack, ctx:origin(), ctx:storage_origin()) })
end

return api
