-- Authentication of API calls:
--  * webhook calls: client_id + client_secret, in the JSON body of a POST, in the query otherwise;
--  * document packs (and PDFs when configured): an access token, in the header
--    "access_token: T" or "Authorization: Bearer T".
-- Each check returns nil when fine, else the error response to send.
local credentials = require "qs_emulator.credentials"
local access_tokens = require "qs_emulator.store.access_tokens"
local envelope = require "qs_emulator.envelope"

local ngx = ngx
local type, match = type, string.match

local auth = {}

local function as_string(v)
  if type(v) == "string" then return v end
  return nil
end

function auth.client(ctx)
  local id, secret
  if ctx.method == "POST" then
    local body, reason = ctx:json()
    if not body then return envelope.bad_body(reason) end
    id, secret = as_string(body.client_id), as_string(body.client_secret)
  else
    id, secret = ctx:arg("client_id"), ctx:arg("client_secret")
  end
  if not credentials.client_ok(id, secret) then return envelope.unauthorised() end
  return nil
end

-- The access token the request carries, or nil.
function auth.token_of_request()
  local h = ngx.req.get_headers(100)
  local t = h["access_token"]
  if type(t) == "table" then t = t[1] end
  if type(t) == "string" and t ~= "" then return t end
  local a = h["authorization"]
  if type(a) == "table" then a = a[1] end
  if type(a) == "string" then
    local bearer = match(a, "^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
    if bearer then return bearer end
  end
  return nil
end

function auth.access_token()
  if access_tokens.valid(auth.token_of_request()) then return nil end
  return envelope.invalid_access_token()
end

return auth
