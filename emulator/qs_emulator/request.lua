-- The request being handled, read lazily: method, path, query arguments (first value of each
-- name, and the raw pairs in order), the JSON body, and the base URL it came in on.
local json = require "qs_emulator.json"
local selection = require "qs_emulator.selection"

local ngx = ngx
local ngx_var, ngx_req = ngx.var, ngx.req
local type, setmetatable = type, setmetatable
local find, gmatch, lower, match, gsub, char = string.find, string.gmatch, string.lower, string.match,
  string.gsub, string.char

local request = {}
request.__index = request

-- path: the decoded, normalised path (ngx.var.uri); raw_path: the path as sent, still
-- percent-encoded, so that an encoded "/" inside a key stays inside its segment.
function request.new()
  local method = ngx_req.get_method()
  local raw_path = match(ngx_var.request_uri or "", "^[^?#]*")
  return setmetatable({ method = method, path = ngx_var.uri, raw_path = raw_path }, request)
end

-- Decodes %XX escapes (and nothing else: "+" stays "+" in paths).
function request.percent_decode(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- Query arguments: name -> first value (a valueless "?flag" gives true).
function request:args()
  local a = self._args
  if a then return a end
  a = ngx_req.get_uri_args(200)
  for k, v in pairs(a) do
    if type(v) == "table" then a[k] = v[1] end
  end
  self._args = a
  return a
end

-- A query argument as a non-empty string, or nil.
function request:arg(name)
  local v = self:args()[name]
  if type(v) ~= "string" or v == "" then return nil end
  return v
end

-- Raw "name=value" pairs of the query string, in order, still percent-encoded.
function request:raw_arg_pairs()
  local out = {}
  local qs = ngx_var.args
  if not qs then return out end
  for pair in gmatch(qs, "[^&]+") do
    local eq = find(pair, "=", 1, true)
    local name = eq and pair:sub(1, eq - 1) or pair
    out[#out + 1] = { name = ngx.unescape_uri(name), raw = pair }
  end
  return out
end

-- The raw request body (string, maybe empty).
function request:body()
  if self._body ~= nil then return self._body end
  ngx_req.read_body()
  local data = ngx_req.get_body_data()
  if not data then
    local file = ngx_req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then
        data = f:read("*a")
        f:close()
      end
    end
  end
  self._body = data or ""
  return self._body
end

-- The body decoded as a JSON object; or nil and a reason ("empty" | "not_json" | "not_object").
function request:json()
  if self._json ~= nil then return self._json end
  local body = self:body()
  if body == "" then return nil, "empty" end
  local v = json.decode(body)
  if v == nil then return nil, "not_json" end
  if type(v) ~= "table" or (v[1] ~= nil) or json.is_null(v) then return nil, "not_object" end
  self._json = v
  return v
end

local function truthy(v)
  if v == true then return true end
  if type(v) == "string" then
    v = lower(v)
    return v == "true" or v == "1" or v == "yes"
  end
  return v == 1
end

-- True when the caller asked always_use_http_status_code_200 (query, or top-level JSON body field).
function request:wants_http_200()
  if truthy(self:args().always_use_http_status_code_200) then return true end
  if self.method == "POST" then
    local body = self:json()
    if body and truthy(body.always_use_http_status_code_200) then return true end
  end
  return false
end

-- "scheme://host[:port]" as the client addressed us (Host header when sane).
function request:origin()
  local host = ngx_var.http_host
  if not host or host == "" or find(host, "[^%w%.%-%[%]:]") then
    host = ngx_var.server_addr .. ":" .. ngx_var.server_port
  end
  return ngx_var.scheme .. "://" .. host
end

-- "scheme://<storage host>:port": the storage host, on the scheme and port of this request.
function request:storage_origin()
  return ngx_var.scheme .. "://" .. selection.storage_host() .. ":" .. ngx_var.server_port
end

-- True when the request came in on the storage host's address.
function request:on_storage_host()
  return ngx_var.server_addr == selection.storage_host()
end

-- The port the request came in on (number).
function request:server_port()
  return tonumber(ngx_var.server_port)
end

function request:scheme()
  return ngx_var.scheme
end

return request
