-- QuicklySign's answer envelope:
--   success {"status":{"status_code":200},"data":{...},"pagination":{"next":...}?}
--   error   {"status":{"status_code":N,"errors":[{"code":"...","message":"..."}]}}
-- Builders return a response table for response.send; nothing here touches ngx.
local envelope = {}

-- 200 with data (a table, or nil for "no data") and an optional pagination table.
function envelope.ok(data, pagination)
  return { kind = "envelope", status_code = 200, data = data, pagination = pagination }
end

function envelope.error(status_code, code, message)
  return {
    kind = "envelope",
    status_code = status_code,
    errors = { { code = code, message = message } },
  }
end

-- The common errors, named once.
function envelope.bad_request(message)
  return envelope.error(400, "bad_request", message)
end

function envelope.invalid_field(field, why)
  return envelope.error(400, "invalid_field", "Invalid field " .. field .. ": " .. why)
end

function envelope.unauthorised()
  return envelope.error(401, "unauthorised", "client_id and client_secret are missing or wrong")
end

function envelope.invalid_access_token()
  return envelope.error(401, "invalid_access_token",
    "The access token is missing, unknown or expired")
end

function envelope.not_found(what)
  return envelope.error(404, "not_found", (what or "Resource") .. " not found")
end

function envelope.method_not_allowed(allowed)
  local r = envelope.error(405, "method_not_allowed", "Method not allowed on this path")
  r.headers = { Allow = allowed }
  return r
end

-- The message of a body that could not be read as a JSON object.
function envelope.bad_body(reason)
  if reason == "empty" then return envelope.bad_request("The request body is empty; a JSON object is expected") end
  if reason == "not_object" then return envelope.bad_request("The request body must be a JSON object") end
  return envelope.bad_request("The request body is not valid JSON")
end

-- The body table of an envelope response (what json.encode writes).
function envelope.body(res)
  local status = { status_code = res.status_code }
  if res.errors then status.errors = res.errors end
  local body = { status = status }
  if res.data ~= nil then body.data = res.data end
  if res.pagination ~= nil then body.pagination = res.pagination end
  return body
end

return envelope
