-- POST /v1/access_tokens {"client_id","client_secret","api_key"} -> data.access_token
local credentials = require "qs_emulator.credentials"
local envelope = require "qs_emulator.envelope"
local access_tokens = require "qs_emulator.store.access_tokens"

local api = {}

function api.create(ctx)
  local body, reason = ctx:json()
  if not body then return envelope.bad_body(reason) end
  if not credentials.client_ok(body.client_id, body.client_secret)
    or not credentials.api_key_ok(body.api_key) then
    return envelope.error(401, "unauthorised", "client_id, client_secret or api_key is missing or wrong")
  end
  return envelope.ok({ access_token = access_tokens.mint() })
end

return api
