-- Injected faults (POST /_emulator/faults): the next `count` API requests whose method and path
-- match get a chosen answer instead of the real one, after an optional delay; or are delayed
-- and then answered normally; or see their connection dropped, before they are handled or
-- after (the work done, the answer never sent). Only API paths (/v1/...) and
-- the PDF storage (/_emulator/storage/...) can be faulted, never the control endpoints.
local json = require "qs_emulator.json"

local ngx = ngx
local type, floor, upper, sub, rep, tonumber = type, math.floor, string.upper, string.sub, string.rep, tonumber

local faults = {}

local queue = {}

function faults.reset()
  queue = {}
end

local MAX_BODY_BYTES = 512 * 1024 * 1024

local function is_int(v, lo, hi)
  return type(v) == "number" and floor(v) == v and v >= lo and v <= hi
end

-- Validates one fault spec; returns the normalised fault or nil, field, why.
function faults.parse(spec)
  if type(spec) ~= "table" then return nil, "fault", "a JSON object" end
  local f = {
    method = spec.method,
    path_prefix = spec.path_prefix or "/v1",
    remaining = spec.count or 1,
    status = spec.status,
    retry_after = spec.retry_after,
    delay_ms = spec.delay_ms or 0,
    body = spec.body,
    body_bytes = spec.body_bytes,
    close = spec.close or false,
    close_after = spec.close_after or false,
    reused_only = spec.reused_only or false,
    content_type = spec.content_type or "application/json",
    headers = spec.headers,
    truncate_at = spec.truncate_at,
  }
  if f.method ~= nil then
    if type(f.method) ~= "string" then return nil, "method", "a string such as GET" end
    f.method = upper(f.method)
  end
  if type(f.path_prefix) ~= "string" or sub(f.path_prefix, 1, 1) ~= "/" then
    return nil, "path_prefix", "a path starting with /"
  end
  if not is_int(f.remaining, 1, 1000000) then return nil, "count", "an integer >= 1" end
  if f.status ~= nil and not is_int(f.status, 100, 599) then return nil, "status", "an HTTP status 100..599" end
  if f.retry_after ~= nil then
    if type(f.retry_after) == "number" then f.retry_after = tostring(f.retry_after) end
    if type(f.retry_after) ~= "string" then return nil, "retry_after", "a string or number" end
  end
  if type(f.delay_ms) ~= "number" or f.delay_ms < 0 or f.delay_ms > 600000 then
    return nil, "delay_ms", "a number of ms 0..600000"
  end
  if f.body ~= nil and type(f.body) ~= "string" then return nil, "body", "a string (sent raw)" end
  if f.body_bytes ~= nil and not is_int(f.body_bytes, 0, MAX_BODY_BYTES) then
    return nil, "body_bytes", "an integer 0..536870912"
  end
  if type(f.close) ~= "boolean" then return nil, "close", "a boolean" end
  if type(f.close_after) ~= "boolean" then return nil, "close_after", "a boolean" end
  if type(f.reused_only) ~= "boolean" then return nil, "reused_only", "a boolean" end
  if f.close_after and (f.close or f.status) then
    return nil, "close_after", "alone (the request is handled, then its connection dropped), "
      .. "not with close or status"
  end
  if type(f.content_type) ~= "string" then return nil, "content_type", "a string" end
  if f.headers ~= nil then
    if type(f.headers) ~= "table" then return nil, "headers", "an object of strings" end
    for k, v in pairs(f.headers) do
      if type(k) ~= "string" or type(v) ~= "string" then return nil, "headers", "an object of strings" end
    end
  end
  if f.truncate_at ~= nil and not is_int(f.truncate_at, 0, MAX_BODY_BYTES) then
    return nil, "truncate_at", "an integer >= 0"
  end
  if not f.close and not f.close_after and not f.status and f.delay_ms == 0 then
    return nil, "status", "a status, close:true, close_after:true or delay_ms"
  end
  return f
end

function faults.add(f)
  queue[#queue + 1] = f
end

-- The queued faults as JSON-friendly tables.
function faults.list()
  local out = json.array()
  for i, f in ipairs(queue) do
    out[i] = {
      method = f.method, path_prefix = f.path_prefix, count = f.remaining, status = f.status,
      retry_after = f.retry_after, delay_ms = f.delay_ms, close = f.close,
      close_after = f.close_after, reused_only = f.reused_only,
      body_bytes = f.body_bytes, has_body = f.body ~= nil, truncate_at = f.truncate_at,
    }
  end
  return out
end

-- Whether the path can be faulted at all.
function faults.applies_to(path)
  return sub(path, 1, 4) == "/v1/" or path == "/v1" or sub(path, 1, 19) == "/_emulator/storage/"
end

-- Whether the request came on a connection that served an earlier one (keep-alive reuse; on
-- HTTP/2, an earlier stream).
local function reused_connection()
  return (tonumber(ngx.var.connection_requests) or 1) > 1
end

-- Takes (consumes one use of) the first fault matching method and path, or returns nil.
function faults.take(method, path)
  for i, f in ipairs(queue) do
    if (not f.method or f.method == method) and sub(path, 1, #f.path_prefix) == f.path_prefix
        and (not f.reused_only or reused_connection()) then
      f.remaining = f.remaining - 1
      if f.remaining <= 0 then table.remove(queue, i) end
      return f
    end
  end
  return nil
end

-- Drops the connection without an answer (nginx's 444; on HTTP/2, the stream is reset).
function faults.drop()
  return ngx.exit(444) or true
end

local DEFAULT_CODES = {
  [400] = "bad_request", [401] = "unauthorised", [403] = "forbidden", [404] = "not_found",
  [408] = "timeout", [409] = "conflict", [429] = "too_many_requests",
  [500] = "internal_error", [502] = "bad_gateway", [503] = "service_unavailable",
  [504] = "gateway_timeout",
}

local function default_body(status)
  if status < 400 then return json.encode({ status = { status_code = status } }) end
  return json.encode({ status = { status_code = status, errors = { {
    code = DEFAULT_CODES[status] or "error", message = "Injected fault (emulator)",
  } } } })
end

-- N bytes that look like a valid JSON envelope (exactly N bytes).
local function padded_body(status, n)
  local head = '{"status":{"status_code":' .. status .. '},"data":{"padding":"'
  local tail = '"}}'
  local pad = n - #head - #tail
  if pad < 0 then return rep(" ", n) end
  return head .. rep("x", pad) .. tail
end

-- Carries out fault f for the current request. Returns true when it answered (or dropped the
-- connection); false when the request should now be handled normally (a delay, or close_after,
-- for which the caller drops the connection once the request was handled: faults.drop).
function faults.apply(f)
  if f.delay_ms > 0 then ngx.sleep(f.delay_ms / 1000) end
  if f.close then return faults.drop() end
  if not f.status then return false end
  local body = f.body or (f.body_bytes and padded_body(f.status, f.body_bytes)) or default_body(f.status)
  ngx.status = f.status
  ngx.header["Content-Type"] = f.content_type
  if f.retry_after then ngx.header["Retry-After"] = f.retry_after end
  if f.headers then
    for k, v in pairs(f.headers) do ngx.header[k] = v end
  end
  ngx.header["Content-Length"] = #body
  if f.truncate_at and f.truncate_at < #body then
    ngx.print(sub(body, 1, f.truncate_at))
    ngx.flush(true)
    return faults.drop()
  end
  ngx.print(body)
  return true
end

return faults
