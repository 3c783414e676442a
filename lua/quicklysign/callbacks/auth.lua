-- The two local authenticity checks: the secret token in the callback URL and the allow-list of
-- webhook or entity keys. (The third layer, asking the API, is confirm.lua.)
local url = require "quicklysign.callbacks.url"

local type, pairs, ipairs, byte, rawget = type, pairs, ipairs, string.byte, rawget

local auth = {
  -- A token presented longer than this is refused without comparing (bounds the work an
  -- unauthenticated request can cause; says nothing about the secret).
  MAX_PRESENTED_TOKEN = 4096,
}

-- Folds the byte pairs of `a` and of `secret_bytes` (the secret's bytes, as an array, read once
-- ahead) into one sum: time depends only on the longer length, never on where they first
-- differ (no early exit). What timing can reveal is the length of the secret, which carries no
-- entropy: the entropy is in its (>= 16) characters.
-- Two forms of the same loop, chosen once (bench/README.md): LuaJIT compiles byte(a, i) per
-- character but cannot compile byte(a, 1, -1), which is what is cheap on PUC Lua.
local fold
if rawget(_G, "jit") then
  fold = function(a, secret_bytes)
    local la, lb = #a, #secret_bytes
    local n = la > lb and la or lb
    local diff = (la - lb) * (la - lb)
    for i = 1, n do
      local x = byte(a, i) or 256 -- past the end: a value no byte has, and unlike the other side's
      local y = secret_bytes[i] or 257
      diff = diff + (x - y) * (x - y)
    end
    return diff == 0
  end
else
  fold = function(a, secret_bytes)
    local presented = { byte(a, 1, -1) } -- a is at most MAX_PRESENTED_TOKEN bytes
    local la, lb = #presented, #secret_bytes
    local n = la > lb and la or lb
    local diff = (la - lb) * (la - lb)
    for i = 1, n do
      local x = presented[i] or 256
      local y = secret_bytes[i] or 257
      diff = diff + (x - y) * (x - y)
    end
    return diff == 0
  end
end

local function bytes_of(s)
  local t = {}
  for i = 1, #s do t[i] = byte(s, i) end
  return t
end

-- The bytes of each configured token, computed once (when the router is made).
function auth.prepare_tokens(tokens)
  local prepared = {}
  for i = 1, #tokens do prepared[i] = bytes_of(tokens[i]) end
  return prepared
end

-- Compares two strings in constant time (see fold).
function auth.equals(a, b)
  if type(a) ~= "string" or type(b) ~= "string" then return false end
  return fold(a, bytes_of(b))
end

-- Whether `presented` equals one of the prepared tokens (several allow rotation). All of them
-- are compared, whichever matches.
function auth.token_matches(presented, prepared)
  if type(presented) ~= "string" or #presented > auth.MAX_PRESENTED_TOKEN then return false end
  local matched = false
  for i = 1, #prepared do
    if fold(presented, prepared[i]) then matched = true end
  end
  return matched
end

-- The value of query parameter `name`, from a table of decoded parameters (as
-- ngx.req.get_uri_args gives: a repeated name is an array) or from a raw query string.
-- Returns nil when absent; a non-string (repeated, valueless) is returned as is and won't match.
function auth.query_param(query, name)
  if type(query) == "string" then
    query = url.parse_query((query:gsub("^%?", "")))
  end
  if type(query) ~= "table" then return nil end
  return query[name]
end

-- Turns the `allow` option into a predicate on events, or returns nil and why it is invalid.
--   set    {[key] = true}: kept by reference, so keys added later count;
--   array  {"key1", "key2"}: copied;
--   function(ev) -> boolean.
-- An event passes when its webhook key or its entity key is listed.
function auth.compile_allow(spec)
  if type(spec) == "function" then return spec end
  if type(spec) ~= "table" then return nil, "must be a table or a function" end
  local is_array = spec[1] ~= nil
  if is_array then
    local set, n = {}, 0
    for _, key in ipairs(spec) do
      if type(key) ~= "string" then return nil, "must list strings" end
      set[key] = true
      n = n + 1
    end
    for _ in pairs(spec) do n = n - 1 end
    if n ~= 0 then return nil, "mixes an array with other keys" end
    spec = set
  else
    for key, value in pairs(spec) do
      if type(key) ~= "string" or value ~= true then
        return nil, "must be a set {[key] = true}, an array of keys or a function"
      end
    end
  end
  local set = spec
  return function(ev)
    return (ev.webhook_key ~= nil and set[ev.webhook_key] == true) or set[ev.entity_key] == true
  end
end

return auth
