-- A small HTTP/1.1 client on LuaSocket for the command's own requests: `listen --forward-to`
-- (POST a callback to the developer's receiver) and `trigger` (the emulator's endpoints).
-- Plain http only, one request per connection ("Connection: close"), every wait in loop.lua
-- (so forwarding never holds up other connections), one deadline for the whole exchange, and a
-- bounded answer. Not the API's client: that is the C core.
local socket = require "socket"
local loop = require "quicklysign.cli.loop"
local http_server = require "quicklysign.cli.http_server"

local tonumber, tostring, pairs, type = tonumber, tostring, pairs, type
local match, find, lower, format, concat, sub = string.match, string.find, string.lower, string.format,
  table.concat, string.sub
local gettime = socket.gettime

local http_client = {
  TIMEOUT = 10,             -- seconds for a whole exchange
  MAX_BODY = 64 * 1024,     -- bytes of an answer's body kept (the rest is not read)
  MAX_HEAD = 32 * 1024,     -- bytes of an answer's status line and headers
}

-- http_client.parse_url(url) -> { host=, port=, target= } for an http:// URL, or nil, why.
function http_client.parse_url(url)
  local rest = match(url, "^[Hh][Tt][Tt][Pp]://(.+)$")
  if not rest then return nil, "an http:// URL is expected" end
  local authority, target = match(rest, "^([^/?#]+)(.*)$")
  if not authority or find(authority, "@", 1, true) then return nil, "a host is expected (no user info)" end
  if find(url, "[%s%c]") then return nil, "blanks and control characters are not allowed" end
  local host, port = match(authority, "^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
  if not host then return nil, "a host[:port] is expected" end
  port = port ~= "" and tonumber(port) or 80
  if port < 1 or port > 65535 then return nil, "the port must be 1..65535" end
  target = match(target, "^[^#]*")
  if target == "" then target = "/" elseif sub(target, 1, 1) == "?" then target = "/" .. target end
  return { host = host, port = port, target = target, authority = authority }
end

local function connect(host, port, deadline)
  local sock, err = (find(host, ":", 1, true) and socket.tcp6 or socket.tcp4)()
  if not sock then return nil, err end
  sock:settimeout(0)
  local ok
  ok, err = sock:connect(host, port)
  if not ok and err == "timeout" then
    if not loop.wait(sock, "w", deadline) then
      sock:close()
      return nil, "timeout"
    end
    ok, err = sock:connect(host, port)     -- tells how the connect ended
    if err == "already connected" then ok, err = true, nil end
  end
  if not ok then
    sock:close()
    return nil, err
  end
  return sock
end

-- Reads the status line and the headers: status, headers (lower-case names), or nil, why.
local function read_head(sock, deadline)
  local lines, bytes = {}, 0
  local line = {}
  while true do
    local c, err = http_server.receive(sock, 1, deadline)
    if not c then return nil, err == "timeout" and "timeout" or "the connection closed before an answer" end
    bytes = bytes + 1
    if bytes > http_client.MAX_HEAD then return nil, "an answer's headers are too large" end
    if c == "\n" then
      local text = concat(line)
      if sub(text, -1) == "\r" then text = sub(text, 1, -2) end
      if text == "" and #lines > 0 then break end
      if text ~= "" then lines[#lines + 1] = text end
      line = {}
    else
      line[#line + 1] = c
    end
  end
  local status = tonumber(match(lines[1], "^HTTP/%d%.%d (%d%d%d)"))
  if not status then return nil, "not an HTTP answer" end
  local headers = {}
  for i = 2, #lines do
    local name, value = match(lines[i], "^([^:]+):%s*(.-)%s*$")
    if name then headers[lower(name)] = value end
  end
  return status, headers
end

-- Reads a chunked body (RFC 9112 7.1), up to MAX_BODY bytes.
local function read_chunked(sock, deadline)
  local parts, got = {}, 0
  while got < http_client.MAX_BODY do
    local size_line = {}
    while true do
      local c, err = http_server.receive(sock, 1, deadline)
      if not c then return concat(parts), err end
      if c == "\n" then break end
      size_line[#size_line + 1] = c
    end
    local size = tonumber(match(concat(size_line), "^%s*(%x+)"), 16)
    if not size then return concat(parts), "a malformed chunk" end
    if size == 0 then break end
    local data, err = http_server.receive(sock, size + 2, deadline)   -- the chunk and its CRLF
    if not data then return concat(parts), err end
    parts[#parts + 1] = sub(data, 1, size)
    got = got + size
  end
  return concat(parts)
end

-- Reads the body: by Content-Length, chunked, or to the end of the connection (bounded).
local function read_body(sock, headers, deadline, method, status)
  if method == "HEAD" or status == 204 or status == 304 or (status >= 100 and status < 200) then return "" end
  local te = headers["transfer-encoding"]
  if te and find(lower(te), "chunked", 1, true) then return read_chunked(sock, deadline) end
  local length = tonumber(headers["content-length"] or "")
  local want = length and (length < http_client.MAX_BODY and length or http_client.MAX_BODY) or http_client.MAX_BODY
  local data, err, partial = http_server.receive(sock, want, deadline)
  if data then return data end
  if not length and err == "closed" then return partial end
  return partial, err
end

-- http_client.request{ method=, url=, headers={...}, body=, timeout= } -> status, headers, body
-- or nil, why. Must run inside a loop task (loop.run makes one).
function http_client.request(req)
  local u, why = http_client.parse_url(req.url)
  if not u then return nil, why end
  local deadline = gettime() + (req.timeout or http_client.TIMEOUT)
  local body = req.body or ""
  local method = req.method or "GET"
  local lines = { format("%s %s HTTP/1.1", method, u.target), "Host: " .. u.authority, "Connection: close" }
  local has = {}
  for name, value in pairs(req.headers or {}) do
    local l = lower(tostring(name))
    if l ~= "host" and l ~= "connection" and l ~= "content-length" and l ~= "transfer-encoding" then
      has[l] = true
      lines[#lines + 1] = tostring(name) .. ": " .. tostring(value):gsub("[%c]", " ")
    end
  end
  if not has["user-agent"] then lines[#lines + 1] = "User-Agent: quicklysign-cli" end
  if #body > 0 or method == "POST" or method == "PUT" then lines[#lines + 1] = "Content-Length: " .. #body end
  local sock, err = connect(u.host, u.port, deadline)
  if not sock then return nil, "cannot connect to " .. u.authority .. ": " .. tostring(err) end
  local ok
  ok, err = http_server.send(sock, concat(lines, "\r\n") .. "\r\n\r\n" .. body, deadline)
  if not ok then
    sock:close()
    return nil, "cannot send the request: " .. tostring(err)
  end
  local status, headers = read_head(sock, deadline)
  if not status then
    sock:close()
    return nil, headers == "timeout" and ("no answer within " .. (req.timeout or http_client.TIMEOUT) .. " s")
      or headers
  end
  local answer, berr = read_body(sock, headers, deadline, method, status)
  sock:close()
  if type(answer) ~= "string" then answer = "" end
  return status, headers, answer, berr
end

return http_client
