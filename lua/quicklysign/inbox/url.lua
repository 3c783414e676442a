-- Inbox URLs: which store an inbox lives in, and where.
--   sqlite:///var/lib/app/quicklysign.db     an absolute path (three slashes, then the path)
--   sqlite://quicklysign.db                  a path relative to the working directory
--   redis://[[user]:password@]host[:port][/db]   e.g. redis://127.0.0.1:6379/0
-- A query string carries options of the store (`?prefix=app:`, `?synchronous=normal`), which
-- inbox.open's own options override. The password of a Redis URL is kept out of every printed
-- form (url.redact).
local url_escape = require "quicklysign.callbacks.url"

local type, tonumber, tostring, pairs, format = type, tonumber, tostring, pairs, string.format
local match, find, sub, gsub = string.match, string.find, string.sub, string.gsub

local url = {
  DEFAULT_REDIS_PORT = 6379,
}

local function unescape(s)
  return (gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_query(query)
  if query == nil or query == "" then return {} end
  local out = url_escape.parse_query(query)
  for k, v in pairs(out) do
    if type(v) == "table" then return nil, format("query parameter '%s' is given twice", k) end
  end
  return out
end

local function parse_sqlite(rest, query)
  local path = unescape(match(rest, "^//(.*)$") or rest)
  if path == "" then return nil, "an sqlite URL needs a path: sqlite:///absolute/path.db" end
  if find(path, "\0", 1, true) then return nil, "the path holds a NUL byte" end
  return { backend = "sqlite", path = path, options = query }
end

local function parse_redis(rest, query)
  local authority, path = match(rest, "^//([^/]*)(.*)$")
  if not authority or authority == "" then
    return nil, "a redis URL needs a host: redis://127.0.0.1:6379/0"
  end
  local user, password
  local at = find(authority, "@[^@]*$")
  if at then
    local userinfo = sub(authority, 1, at - 1)
    authority = sub(authority, at + 1)
    local colon = find(userinfo, ":", 1, true)
    if colon then
      user, password = unescape(sub(userinfo, 1, colon - 1)), unescape(sub(userinfo, colon + 1))
    else
      password = unescape(userinfo)
    end
    if user == "" then user = nil end
  end
  local host, port = match(authority, "^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
  if not host then return nil, "the redis URL's host:port is malformed" end
  port = port ~= "" and tonumber(port) or url.DEFAULT_REDIS_PORT
  if port < 1 or port > 65535 then return nil, "the redis URL's port is out of range" end
  local db = match(path, "^/(%d+)$")
  if path ~= "" and path ~= "/" and not db then
    return nil, "the redis URL's path must be a database number, like /0"
  end
  return { backend = "redis", host = host, port = port, db = tonumber(db or "0"), user = user,
    password = password, options = query }
end

--- url.parse(text) --> { backend = "sqlite"|"redis", ... } or nil, message
function url.parse(text)
  if type(text) ~= "string" then return nil, "a URL string expected, got " .. type(text) end
  local scheme, rest = match(text, "^(%a[%w+.-]*):(.*)$")
  if not scheme then return nil, "not a URL (expected sqlite:///path.db or redis://host:port/db)" end
  local body, query = match(rest, "^([^?]*)%??(.*)$")
  local options, why = parse_query(query)
  if not options then return nil, why end
  scheme = scheme:lower()
  if scheme == "sqlite" or scheme == "sqlite3" then return parse_sqlite(body, options) end
  if scheme == "redis" then return parse_redis(body, options) end
  return nil, format("unknown inbox scheme '%s:' (sqlite: or redis:)", scheme)
end

--- url.redact(text) --> the URL with any password replaced: safe to print or log.
function url.redact(text)
  text = tostring(text)
  local scheme, authority, rest = match(text, "^(%a[%w+.-]*://)([^/?#]*)(.*)$")
  if not scheme then return text end
  local at = find(authority, "@[^@]*$")
  if not at then return text end
  local userinfo = sub(authority, 1, at - 1)
  local user = match(userinfo, "^([^:]*):") or ""
  return scheme .. user .. ":REDACTED" .. sub(authority, at) .. rest
end

return url
