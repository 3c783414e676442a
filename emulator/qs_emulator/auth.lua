-- Authentication of API calls:
--  * webhook calls (and callback logs): client_id + client_secret, in the JSON body of a POST,
--    in the query otherwise; plus an access token when config webhook_token asks for one
--    ("access_token" header, "bearer" Authorization header, or "either");
--  * document packs (and PDFs when configured): an access token, in the header
--    "access_token: T" or "Authorization: Bearer T".
-- Each check returns nil when fine, else the error response to send.
local credentials = require "qs_emulator.credentials"
local config = require "qs_emulator.config"
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

local function first(v)
  if type(v) == "table" then return v[1] end
  return v
end

-- The token of the "access_token" header, or nil.
local function header_token(h)
  local t = first(h["access_token"])
  if type(t) == "string" and t ~= "" then return t end
  return nil
end

-- The token of an "Authorization: Bearer T" header, or nil.
local function bearer_token(h)
  local a = first(h["authorization"])
  if type(a) ~= "string" then return nil end
  return match(a, "^[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
end

-- The access token the request carries in the given header kind ("access_token", "bearer",
-- or "either", the default), or nil.
function auth.token_of_request(kind)
  local h = ngx.req.get_headers(100)
  if kind == "access_token" then return header_token(h) end
  if kind == "bearer" then return bearer_token(h) end
  return header_token(h) or bearer_token(h)
end

function auth.access_token()
  if access_tokens.valid(auth.token_of_request()) then return nil end
  return envelope.invalid_access_token()
end

-- Webhook calls: the client credentials, then the token when config webhook_token wants one.
function auth.webhook(ctx)
  local denied = auth.client(ctx)
  if denied then return denied end
  local kind = config.get().webhook_token
  if kind == "none" then return nil end
  if access_tokens.valid(auth.token_of_request(kind)) then return nil end
  return envelope.invalid_access_token()
end

return auth
