-- URL pieces the callbacks side needs: building the callback URL that carries the secret token,
-- and reading a raw query string when the server hands us one unparsed.
local args = require "quicklysign.callbacks.args"

local type, tonumber = type, tonumber
local format, gsub, byte, char, find, sub =
  string.format, string.gsub, string.byte, string.char, string.find, string.sub

local url = {
  DEFAULT_TOKEN_PARAM = "token",
  MIN_TOKEN_LENGTH = 16,
}

-- Percent-encodes everything but RFC 3986 unreserved characters.
function url.escape(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end

function url.unescape(s)
  s = gsub(s, "+", " ")
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- Parses "a=1&b=2&a=3" into { a = {"1", "3"}, b = "2" } (repeated names give arrays, as
-- ngx.req.get_uri_args does).
function url.parse_query(query)
  local params = {}
  for pair in query:gmatch("[^&]+") do
    local eq = find(pair, "=", 1, true)
    local name, value
    if eq then
      name, value = url.unescape(sub(pair, 1, eq - 1)), url.unescape(sub(pair, eq + 1))
    else
      name, value = url.unescape(pair), true
    end
    local old = params[name]
    if old == nil then
      params[name] = value
    elseif type(old) == "table" then
      old[#old + 1] = value
    else
      params[name] = { old, value }
    end
  end
  return params
end

-- callback_url(base, token [, param]): base with `param=token` added to its query, before any
-- fragment, both percent-encoded. Raises on misuse, a short token, or a base that already carries
-- the parameter (two values would make the receiver reject every callback).
function url.callback_url(base, token, param)
  args.check(base, "string", 1, "callback_url")
  if base == "" then args.fail(1, "callback_url", "non-empty string expected") end
  args.check(token, "string", 2, "callback_url")
  if #token < url.MIN_TOKEN_LENGTH then
    args.fail(2, "callback_url", format("token must be at least %d characters", url.MIN_TOKEN_LENGTH))
  end
  if param == nil then param = url.DEFAULT_TOKEN_PARAM end
  args.check(param, "string", 3, "callback_url")
  if param == "" then args.fail(3, "callback_url", "non-empty string expected") end

  local hash = find(base, "#", 1, true)
  local before, fragment = base, ""
  if hash then before, fragment = sub(base, 1, hash - 1), sub(base, hash) end

  local q = find(before, "?", 1, true)
  local sep
  if not q then
    sep = "?"
  else
    local query = sub(before, q + 1)
    local params = url.parse_query(query)
    if params[param] ~= nil then
      args.fail(1, "callback_url", format("base already has a '%s' query parameter", param))
    end
    local last = sub(before, -1)
    sep = (last == "?" or last == "&") and "" or "&"
  end
  return before .. sep .. url.escape(param) .. "=" .. url.escape(token) .. fragment
end

return url
