-- The last requests seen (GET /_emulator/requests), recorded in the log phase: what tests need
-- to count retries, check headers were sent and see keep-alive reuse. Names only: no header
-- values, no query values, no bodies (so no secrets).
local json = require "qs_emulator.json"

local ngx = ngx
local sort, sub, tonumber = table.sort, string.sub, tonumber

local request_log = {}

local CAP = 1000

local items, first, last = {}, 1, 0

function request_log.reset()
  items, first, last = {}, 1, 0
end

-- Control endpoints are not recorded (they would drown what tests look for); the API and
-- the PDF storage are.
function request_log.records(path)
  return sub(path, 1, 11) ~= "/_emulator/" or sub(path, 1, 19) == "/_emulator/storage/"
end

local function header_names(headers)
  local names = json.array()
  for k in pairs(headers) do names[#names + 1] = k end
  sort(names)
  return names
end

local function query_keys()
  local keys = json.array()
  local args = ngx.var.args
  if args then
    for pair in args:gmatch("[^&]+") do
      keys[#keys + 1] = ngx.unescape_uri(pair:match("^[^=]*"))
    end
  end
  return keys
end

-- Called in the log phase for every request.
function request_log.record(has_access_token)
  local var = ngx.var
  local path = var.uri
  if not request_log.records(path) then return end
  last = last + 1
  items[last] = {
    method = ngx.req.get_method(),
    path = path,
    query_keys = query_keys(),
    headers_present = header_names(ngx.req.get_headers(100)),
    has_access_token = has_access_token,
    connection = tonumber(var.connection),
    connection_requests = tonumber(var.connection_requests),
    status = ngx.status,
    scheme = var.scheme,
    host = var.server_addr, -- 127.0.0.1, or the storage host (127.0.0.2)
    http_version = ngx.req.http_version(),   -- 1.0, 1.1 or 2
    -- on https: whether the connection's TLS handshake resumed an earlier session
    tls_session_reused = nil,
  }
  if var.https == "on" then items[last].tls_session_reused = var.ssl_session_reused == "r" end
  if last - first + 1 > CAP then
    items[first] = nil
    first = first + 1
  end
end

function request_log.list()
  local out = json.array()
  for i = first, last do out[#out + 1] = items[i] end
  return out
end

return request_log
