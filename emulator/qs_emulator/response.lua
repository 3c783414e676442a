-- Writes a response table to the client:
--   { kind = "envelope", status_code, data?, pagination?, errors?, headers? }  (JSON envelope)
--   { kind = "raw", status, body?, headers?, content_type? }                  (PDFs, redirects)
local json = require "qs_emulator.json"
local envelope = require "qs_emulator.envelope"

local ngx = ngx
local pairs = pairs

local response = {}

local function set_headers(headers)
  if not headers then return end
  for k, v in pairs(headers) do ngx.header[k] = v end
end

-- force_200: answer HTTP 200 whatever the envelope's status_code (always_use_http_status_code_200).
function response.send(res, force_200)
  if res.kind == "raw" then
    ngx.status = res.status or 200
    set_headers(res.headers)
    local body = res.body or ""
    if res.content_type then ngx.header["Content-Type"] = res.content_type end
    ngx.header["Content-Length"] = #body
    if body ~= "" then ngx.print(body) end
    return
  end
  local text = json.encode(envelope.body(res))
  ngx.status = force_200 and 200 or res.status_code
  set_headers(res.headers)
  ngx.header["Content-Type"] = "application/json"
  ngx.header["Content-Length"] = #text
  ngx.print(text)
end

return response
