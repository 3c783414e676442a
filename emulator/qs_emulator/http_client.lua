-- A tiny HTTP/1.1 client over ngx.socket.tcp, for webhook deliveries: one POST per
-- connection ("Connection: close"), http or https (TLS without certificate verification).
-- Works in timers and handlers (any cosocket context).
local ngx = ngx
local tcp = ngx.socket.tcp
local match, lower, find, tonumber = string.match, string.lower, string.find, tonumber

local http_client = {}

local MAX_BODY_READ = 1024 * 1024

-- Splits an absolute http(s) URL; returns { scheme, host, port, authority, target } or nil, err.
function http_client.parse_url(url)
  local scheme, authority, rest = match(url, "^([Hh][Tt][Tt][Pp][Ss]?)://([^/?#]+)(.*)$")
  if not scheme then return nil, "not an absolute http(s) URL" end
  scheme = lower(scheme)
  if find(authority, "@", 1, true) then return nil, "user info in URLs is not supported" end
  local host, port = match(authority, "^%[([%x:%.]+)%]:?(%d*)$")
  if host then
    host = "[" .. host .. "]"
  else
    host, port = match(authority, "^([^:]+):?(%d*)$")
    if not host then return nil, "bad host in URL" end
  end
  port = tonumber(port ~= "" and port or nil) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil, "bad port in URL" end
  local target = match(rest, "^([^#]*)") or ""
  if target == "" or target:sub(1, 1) == "?" then target = "/" .. target end
  return { scheme = scheme, host = host, port = port, authority = authority, target = target }
end

local function connect_host(host)
  if lower(host) == "localhost" then return "127.0.0.1" end -- no resolver is configured
  return host
end

local function is_ip(host)
  return find(host, "^[%d%.]+$") or find(host, "^%[")
end

-- POSTs body (JSON text) to url. Returns the response status (number), or nil and an error.
function http_client.post(url, body, timeout_ms, user_agent)
  local u, err = http_client.parse_url(url)
  if not u then return nil, err end
  local sock = tcp()
  sock:settimeouts(timeout_ms, timeout_ms, timeout_ms)
  local ok
  ok, err = sock:connect(connect_host(u.host), u.port)
  if not ok then return nil, "connect: " .. tostring(err) end
  if u.scheme == "https" then
    ok, err = sock:sslhandshake(nil, (not is_ip(u.host)) and u.host or nil, false)
    if not ok then
      sock:close()
      return nil, "tls: " .. tostring(err)
    end
  end
  local req = "POST " .. u.target .. " HTTP/1.1\r\n"
    .. "Host: " .. u.authority .. "\r\n"
    .. "User-Agent: " .. (user_agent or "QuicklySign-Emulator") .. "\r\n"
    .. "Content-Type: application/json\r\n"
    .. "Content-Length: " .. #body .. "\r\n"
    .. "Connection: close\r\n\r\n" .. body
  ok, err = sock:send(req)
  if not ok then
    sock:close()
    return nil, "send: " .. tostring(err)
  end
  local line
  line, err = sock:receive("*l")
  if not line then
    sock:close()
    return nil, "no answer: " .. tostring(err)
  end
  local status = tonumber(match(line, "^HTTP/%d%.%d (%d%d%d)"))
  if not status then
    sock:close()
    return nil, "not an HTTP answer"
  end
  -- read the headers, then a sized body, so the receiver sees a clean close
  local length
  while true do
    local h = sock:receive("*l")
    if not h or h == "" then break end
    local name, value = match(h, "^([^:]+):%s*(.-)%s*$")
    if name and lower(name) == "content-length" then length = tonumber(value) end
  end
  if length and length > 0 and length <= MAX_BODY_READ then sock:receive(length) end
  sock:close()
  return status
end

return http_client
