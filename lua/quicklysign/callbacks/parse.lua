-- Turns the body QuicklySign POSTs to a callback URL into an event table, or says precisely why
-- it cannot. Never raises: every failure is `nil, err` (see errors.lua, kind "parse").
local json = require "quicklysign.callbacks.json"
local errors = require "quicklysign.callbacks.errors"

local type, pairs, tostring, setmetatable = type, pairs, tostring, setmetatable
local find, match, lower, format = string.find, string.match, string.lower, string.format

local parse = {
  DEFAULT_MAX_BODY = 64 * 1024,
}

local function fail(reason, message)
  return nil, errors.new("parse", reason, message)
end

-- True when the media type (parameters and case ignored) is application/json.
function parse.is_json_content_type(content_type)
  if type(content_type) ~= "string" then return false end
  if content_type == "application/json" then return true end -- what the vendor sends: no patterns
  local media_type = match(content_type, "^[ \t]*([^;]-)[ \t]*;") or match(content_type, "^[ \t]*(.-)[ \t]*$")
  return lower(media_type) == "application/json"
end

-- Whether the JSON text nests arrays/objects deeper than max_depth. Strings are skipped so that
-- brackets inside them do not count. Stops at the first level past the limit.
local function nests_deeper_than(text, max_depth)
  local depth, pos = 0, 1
  while true do
    local i, _, c = find(text, '([%[%]{}"])', pos)
    if not i then return false end
    if c == '"' then
      local j = i + 1
      while true do
        local k, _, d = find(text, '(["\\])', j)
        if not k then return false end
        if d == "\\" then
          j = k + 2
        else
          j = k + 1
          break
        end
      end
      pos = j
    else
      if c == "[" or c == "{" then
        depth = depth + 1
        if depth > max_depth then return true end
      else
        depth = depth - 1
      end
      pos = i + 1
    end
  end
end

-- The vendor's documentation prints callbacks as Python dict reprs ({u'entity_type': u'Document'}).
-- Those are not JSON and we do not parse them, but we name them, so a log reader knows at once.
local function looks_like_python_repr(text)
  return find(text, "^%s*{%s*u?'") ~= nil
end

-- JSON null arrives as cjson's null sentinel: make it nil (absent), at every level.
local function strip_nulls(value)
  if type(value) ~= "table" then return value end
  for k, v in pairs(value) do
    if v == json.null then
      value[k] = nil
    elseif type(v) == "table" then
      strip_nulls(v)
    end
  end
  return value
end

-- Reads an optional string field: absent (or empty) gives nil; another type is an error.
local function optional_string(obj, name)
  local v = obj[name]
  if v == nil or v == "" then return true, nil end
  if type(v) ~= "string" then
    return false, format("field '%s' must be a string, got %s", name, type(v))
  end
  return true, v
end

local function required_string(obj, name)
  local v = obj[name]
  if v == nil or v == "" then
    return false, "missing_field", format("field '%s' is missing or empty", name)
  end
  if type(v) ~= "string" then
    return false, "bad_field", format("field '%s' must be a string, got %s", name, type(v))
  end
  return true, v
end

local event_mt = {
  __tostring = function(ev)
    return format("quicklysign callback %s on %s %s", ev.event, tostring(ev.entity_type), ev.entity_key)
  end,
}

local function positive_integer(v)
  return type(v) == "number" and v >= 1 and v == v and v < math.huge and v % 1 == 0
end

-- parse(body, content_type, opts)
--   content_type: the request's Content-Type; nil skips the check.
--   opts.max_body (bytes, default 64 KiB), opts.max_depth (default 32).
-- Returns the event { event, entity_type, entity_key, webhook_key, raw } or nil, err.
function parse.parse(body, content_type, opts)
  local max_body, max_depth = parse.DEFAULT_MAX_BODY, json.DEFAULT_MAX_DEPTH
  if type(opts) == "table" then
    if positive_integer(opts.max_body) then max_body = opts.max_body end
    if positive_integer(opts.max_depth) then max_depth = opts.max_depth end
  end

  if content_type ~= nil and not parse.is_json_content_type(content_type) then
    if type(content_type) == "string" then
      return fail("content_type", format("content type must be application/json, got '%s'",
        content_type:sub(1, 100)))
    end
    return fail("content_type", "content type must be one application/json string, got "
      .. type(content_type))
  end
  if body == nil or body == "" then
    return fail("no_body", "the request has no body")
  end
  if type(body) ~= "string" then
    return fail("not_json", "the body must be a string, got " .. type(body))
  end
  -- The cap is checked on the length alone: a huge body is refused before any decoding.
  if #body > max_body then
    return fail("too_large", format("the body is %d bytes, over the limit of %d", #body, max_body))
  end

  local obj, decode_err = json.decode(body, max_depth)
  if obj == nil then
    if nests_deeper_than(body, max_depth) then
      return fail("too_deep", format("the JSON nests deeper than %d levels", max_depth))
    end
    if looks_like_python_repr(body) then
      return fail("not_json", "the body looks like a Python dict repr ({u'key': u'value'}), "
        .. "not JSON; QuicklySign callbacks are JSON objects")
    end
    return fail("not_json", "the body is not valid JSON: " .. tostring(decode_err))
  end
  -- cjson decodes both {} and [] to a table: only the first character tells them apart.
  if type(obj) ~= "table" or not find(body, "^%s*{") then
    local what = type(obj) == "table" and "array" or (obj == json.null and "null" or type(obj))
    return fail("not_object", "the body must be a JSON object, got " .. what)
  end
  strip_nulls(obj)

  local ok, event, why
  ok, event, why = required_string(obj, "callback_event")
  if not ok then return fail(event, why) end
  local entity_key
  ok, entity_key, why = required_string(obj, "entity_key")
  if not ok then return fail(entity_key, why) end

  local entity_type, webhook_key, subscription_key
  ok, entity_type = optional_string(obj, "entity_type")
  if not ok then return fail("bad_field", entity_type) end
  ok, webhook_key = optional_string(obj, "webhook_key")
  if not ok then return fail("bad_field", webhook_key) end
  ok, subscription_key = optional_string(obj, "subscription_key")
  if not ok then return fail("bad_field", subscription_key) end

  return setmetatable({
    event = event,
    entity_type = entity_type,
    entity_key = entity_key,
    webhook_key = webhook_key or subscription_key, -- V1 name first, then the V0 name
    raw = obj,
  }, event_mt)
end

return parse
