-- The two local authenticity checks: the secret token in the callback URL and the allow-list of
-- webhook or entity keys. (The third layer, asking the API, is confirm.lua.)
local url = require "quicklysign.callbacks.url"

local type, pairs, ipairs, byte = type, pairs, ipairs, string.byte

local auth = {
  -- A token presented longer than this is refused without comparing (bounds the work an
  -- unauthenticated request can cause; says nothing about the secret).
  MAX_PRESENTED_TOKEN = 4096,
}

-- Compares two strings in time that depends only on the longer length, never on where they
-- first differ: every byte pair is folded into one sum, no early exit. What timing can reveal is
-- the length of the secret, which carries no entropy: the entropy is in its (>= 16) characters.
function auth.equals(a, b)
  if type(a) ~= "string" or type(b) ~= "string" then return false end
  local la, lb = #a, #b
  local n = la > lb and la or lb
  local diff = (la - lb) * (la - lb)
  -- all bytes in one call each: on Lua 5.4, two byte() calls per character were most of the cost
  -- of a callback (bench/README.md); presented tokens are capped at MAX_PRESENTED_TOKEN
  local ba, bb = { byte(a, 1, -1) }, { byte(b, 1, -1) }
  for i = 1, n do
    local x = ba[i] or 256 -- past the end: a value no byte has, and unlike the other side's
    local y = bb[i] or 257
    diff = diff + (x - y) * (x - y)
  end
  return diff == 0
end

-- Whether `presented` equals one of the configured tokens (several allow rotation). All of them
-- are compared, whichever matches.
function auth.token_matches(presented, tokens)
  if type(presented) ~= "string" or #presented > auth.MAX_PRESENTED_TOKEN then return false end
  local matched = false
  for i = 1, #tokens do
    if auth.equals(presented, tokens[i]) then matched = true end
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
