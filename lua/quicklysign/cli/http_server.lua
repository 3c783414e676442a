-- A small, strict HTTP/1.1 server on LuaSocket for `quicklysign listen`: one request per
-- connection, every answer "Connection: close", many connections at once (each one a task of
-- loop.lua: every read and write that would block waits there, never here).
--
-- The reader bounds everything a client controls: the request line and each header line
-- (MAX_LINE), the header block (MAX_HEADER_BYTES, MAX_HEADERS), the body (max_body, announced by
-- Content-Length, which POST must carry), and the time the whole request may take
-- (READ_TIMEOUT, a deadline, not a per-read timeout, so a client trickling bytes is cut off).
-- Chunked bodies are not supported: they get 411, as does a POST with no length; a request with
-- both Transfer-Encoding and Content-Length gets 400 (the classic smuggling ambiguity).
local socket = require "socket"
local loop = require "quicklysign.cli.loop"

local type, tonumber, tostring, pairs, ipairs, setmetatable =
  type, tonumber, tostring, pairs, ipairs, setmetatable
local find, match, sub, lower, upper, format, gsub, concat =
  string.find, string.match, string.sub, string.lower, string.upper, string.format, string.gsub,
  table.concat
local gettime = socket.gettime

local http_server = {
  MAX_LINE = 8192,           -- bytes of the request line or of one header line
  MAX_HEADER_BYTES = 32768,  -- bytes of all header lines together
  MAX_HEADERS = 100,
  READ_TIMEOUT = 10,         -- seconds for a whole request, from accept to the body's last byte
  WRITE_TIMEOUT = 10,        -- seconds to write an answer
  DRAIN_BYTES = 65536,       -- unread request bytes swallowed before close, so the client reads
  DRAIN_TIMEOUT = 0.5,       -- our answer instead of a connection reset
}

local REASONS = {
  [100] = "Continue", [200] = "OK", [400] = "Bad Request", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [408] = "Request Timeout",
  [411] = "Length Required", [413] = "Content Too Large", [414] = "URI Too Long",
  [415] = "Unsupported Media Type", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [501] = "Not Implemented", [503] = "Service Unavailable",
  [505] = "HTTP Version Not Supported",
}
http_server.REASONS = REASONS

---------------------------------------------------------------------------------------------
-- the listening socket

local Server = {}
Server.__index = Server

-- http_server.open(host, port [, backlog]) -> server or nil, err. Port 0 picks a free port;
-- server.port is the real one.
function http_server.open(host, port, backlog)
  local make = find(host, ":", 1, true) and socket.tcp6 or socket.tcp4
  local sock, err = make()
  if not sock then return nil, err end
  sock:setoption("reuseaddr", true)
  local ok
  ok, err = sock:bind(host, port)
  if ok then ok, err = sock:listen(backlog or 32) end
  if not ok then
    sock:close()
    return nil, err
  end
  local _, real_port = sock:getsockname()
  return setmetatable({ sock = sock, host = host, port = tonumber(real_port) }, Server)
end

-- The next connection, non-blocking, or nil and "timeout" (or another error) when none is
-- waiting. A task waits for one with loop.wait(server.sock, "r").
function Server:accept()
  self.sock:settimeout(0)
  local conn, err = self.sock:accept()
  if conn then conn:settimeout(0) end
  return conn, err
end

function Server:close()
  self.sock:close()
end

---------------------------------------------------------------------------------------------
-- reading a request

-- conn:receive(n), waiting in the loop for data until the deadline. Returns data, or nil and
-- "timeout" | "closed" | another error, and what had arrived.
local function receive(conn, n, deadline)
  local parts, got = {}, 0
  while got < n do
    local data, err, partial = conn:receive(n - got)
    data = data or partial
    if data and #data > 0 then
      parts[#parts + 1] = data
      got = got + #data
    end
    if got >= n then break end
    if err ~= "timeout" then return nil, err, concat(parts) end
    if not loop.wait(conn, "r", deadline) then return nil, "timeout", concat(parts) end
  end
  return concat(parts)
end
http_server.receive = receive

-- Reads one line (CRLF or LF) of at most `limit` bytes before the deadline.
-- Returns line, or nil and "timeout" | "closed" | "too_long".
local function read_line(conn, deadline, limit)
  local chars, n = {}, 0
  while true do
    if gettime() >= deadline then return nil, "timeout" end
    local c, err = receive(conn, 1, deadline) -- byte by byte: luasocket's "*l" has no length limit
    if not c then return nil, err end
    if c == "\n" then
      if chars[n] == "\r" then chars[n] = nil end
      return concat(chars)
    end
    n = n + 1
    if n > limit then return nil, "too_long" end
    chars[n] = c
  end
end

-- Reads exactly n bytes before the deadline: data, or nil and "timeout" | "closed".
local function read_exactly(conn, deadline, n)
  local data, err = receive(conn, n, deadline)
  if not data then return nil, err end
  return data
end

-- Sends all of data before the deadline: true, or nil and the socket's error.
local function send(conn, data, deadline)
  local sent = 0
  while sent < #data do
    local last, err, partial = conn:send(data, sent + 1)
    last = last or partial
    if last then sent = last end
    if sent >= #data then break end
    if err and err ~= "timeout" then return nil, err end
    if not loop.wait(conn, "w", deadline) then return nil, "timeout" end
  end
  return true
end
http_server.send = send

-- Splits the request target into path and query (origin-form, or absolute-form by a proxy).
local function split_target(target)
  if find(target, "^[Hh][Tt][Tt][Pp][Ss]?://") then
    target = match(target, "^[^:]+://[^/?#]*(.*)$")
    if target == "" or sub(target, 1, 1) == "?" then target = "/" .. target end
  end
  if sub(target, 1, 1) ~= "/" and target ~= "*" then return nil end
  target = match(target, "^[^#]*")
  local path, query = match(target, "^([^?]*)%?(.*)$")
  if not path then path, query = target, nil end
  return path, query
end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$" -- RFC 9110 token characters

local function refuse(status, why, request)
  return nil, status, why, request
end

-- http_server.read_request(conn, {max_body=}) -> request, or nil, status, why [, request]
-- request = { method, target, path, query (string, without "?", or nil), version,
--             headers = {lower-case name = value, or an array of values when repeated}, body }
-- status is the answer to send (nil when there is no one to answer: the peer left).
-- `why` is a short text for the log.
function http_server.read_request(conn, opts)
  local max_body = opts and opts.max_body or 65536
  local deadline = gettime() + (opts and opts.timeout or http_server.READ_TIMEOUT)

  local line, err = read_line(conn, deadline, http_server.MAX_LINE)
  if not line then
    if err == "too_long" then return refuse(414, "request line too long") end
    if err == "timeout" then return refuse(408, "no request before the timeout") end
    return refuse(nil, "the connection closed before a request")
  end
  local method, target, version = match(line, "^(%S+) (%S+) HTTP/(%d%.%d)$")
  if not method or not find(method, TOKEN) then return refuse(400, "malformed request line") end
  local request = { method = method, target = target, version = version, headers = {} }
  if version ~= "1.1" and version ~= "1.0" then
    return refuse(505, "HTTP version " .. version .. " is not supported", request)
  end
  request.path, request.query = split_target(target)
  if not request.path then return refuse(400, "malformed request target", request) end

  local headers, count, bytes = request.headers, 0, 0
  local lengths = {}
  while true do
    line, err = read_line(conn, deadline, http_server.MAX_LINE)
    if not line then
      if err == "too_long" then return refuse(431, "header line too long", request) end
      if err == "timeout" then return refuse(408, "headers incomplete at the timeout", request) end
      return refuse(nil, "the connection closed in the headers", request)
    end
    if line == "" then break end
    count, bytes = count + 1, bytes + #line
    if count > http_server.MAX_HEADERS or bytes > http_server.MAX_HEADER_BYTES then
      return refuse(431, "too many header bytes", request)
    end
    if find(line, "^[ \t]") then return refuse(400, "obsolete header line folding", request) end
    local name, value = match(line, "^([^:]+):[ \t]*(.-)[ \t]*$")
    if not name or not find(name, TOKEN) then return refuse(400, "malformed header line", request) end
    if find(value, "[%z\1-\8\10-\31\127]") then
      return refuse(400, "control characters in a header value", request)
    end
    name = lower(name)
    if name == "content-length" then lengths[#lengths + 1] = value end
    local old = headers[name]
    if old == nil then
      headers[name] = value
    elseif type(old) == "table" then
      old[#old + 1] = value
    else
      headers[name] = { old, value }
    end
  end

  if version == "1.1" and headers.host == nil then
    return refuse(400, "HTTP/1.1 request without Host", request)
  end
  if headers["transfer-encoding"] ~= nil then
    if #lengths > 0 then return refuse(400, "both Transfer-Encoding and Content-Length", request) end
    return refuse(411, "chunked or encoded bodies are not supported; send Content-Length", request)
  end
  local length
  for _, text in ipairs(lengths) do
    -- "5, 5" from a merged repeat is as bad as two different values: refuse anything but digits
    if not find(text, "^%d+$") or #text > 15 then return refuse(400, "bad Content-Length", request) end
    if length ~= nil and tonumber(text) ~= length then
      return refuse(400, "conflicting Content-Length headers", request)
    end
    length = tonumber(text)
  end
  if length == nil then
    if upper(method) == "POST" then return refuse(411, "POST without Content-Length", request) end
    length = 0
  end
  if length > max_body then
    return refuse(413, format("a body of %d bytes is over the limit of %d", length, max_body), request)
  end

  local expect = headers.expect
  if type(expect) == "string" and lower(expect) == "100-continue" and length > 0 then
    send(conn, "HTTP/1.1 100 Continue\r\n\r\n", gettime() + http_server.WRITE_TIMEOUT)
  end
  if length > 0 then
    local body
    body, err = read_exactly(conn, deadline, length)
    if not body then
      if err == "timeout" then return refuse(408, "body incomplete at the timeout", request) end
      return refuse(nil, "the connection closed in the body", request)
    end
    request.body = body
  else
    request.body = ""
  end
  request.complete = true
  return request
end

---------------------------------------------------------------------------------------------
-- answering

local function header_safe(s)
  return (gsub(tostring(s), "[%c]", " "))
end

-- Writes the answer; headers (a table) are added to Content-Length and Connection: close.
-- Returns true, or nil and the socket's error.
function http_server.respond(conn, status, body, headers, method)
  body = body or ""
  local lines = { format("HTTP/1.1 %d %s", status, REASONS[status] or "Unknown") }
  local has_type = false
  for name, value in pairs(headers or {}) do
    local lname = lower(tostring(name))
    if lname ~= "content-length" and lname ~= "connection" and find(tostring(name), TOKEN) then
      if lname == "content-type" then has_type = true end
      lines[#lines + 1] = tostring(name) .. ": " .. header_safe(value)
    end
  end
  if not has_type then lines[#lines + 1] = "Content-Type: text/plain; charset=utf-8" end
  lines[#lines + 1] = "Content-Length: " .. #body
  lines[#lines + 1] = "Connection: close"
  local data = concat(lines, "\r\n") .. "\r\n\r\n" .. ((method == "HEAD") and "" or body)

  return send(conn, data, gettime() + http_server.WRITE_TIMEOUT)
end

-- Closes the connection. When the request was not read to its end, half-closes first and
-- swallows what the client is still sending (bounded), so that it sees our answer rather than
-- a reset.
function http_server.finish(conn, unread)
  if unread then
    conn:shutdown("send")
    local deadline = gettime() + http_server.DRAIN_TIMEOUT
    local drained = 0
    while drained < http_server.DRAIN_BYTES and gettime() < deadline do
      local data, err, partial = conn:receive(4096)
      data = data or partial
      drained = drained + (data and #data or 0)
      if err == "timeout" then
        if not loop.wait(conn, "r", deadline) then break end
      elseif err then
        break
      end
    end
  end
  conn:close()
end

return http_server
