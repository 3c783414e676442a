-- JSON for the emulator. Decoding uses cjson.safe; encoding is our own because Debian's cjson
-- 2.1.0 can neither encode an empty array nor keep 16 significant digits (date_updated values
-- like 1659513665796.916 must survive). Object keys are sorted, so answers are deterministic.
local cjson_safe = require "cjson.safe"
local utf8 = require "qs_emulator.utf8"

local type, pairs, tostring, tonumber = type, pairs, tostring, tonumber
local format, gsub, byte, sort, concat = string.format, string.gsub, string.byte, table.sort, table.concat
local floor, huge = math.floor, math.huge
local getmetatable, setmetatable = getmetatable, setmetatable

local json = {}

-- Sentinel for JSON null (cjson decodes null to its own sentinel; both encode as null).
json.null = setmetatable({}, { __tostring = function() return "null" end })
local cjson_null = cjson_safe.null

local array_mt = { __json_array = true }

-- Marks t (or a new table) as a JSON array, so that it encodes as [] even when empty.
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

function json.is_null(v)
  return v == nil or v == json.null or v == cjson_null
end

-- Decodes text; returns value or nil, error message.
function json.decode(text)
  if type(text) ~= "string" then return nil, "no body" end
  local v, err = cjson_safe.decode(text)
  if v == nil and err then return nil, err end
  return v
end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}
local function escape_char(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

local function encode_string(s)
  s = utf8.repair(s)
  return '"' .. gsub(s, '[%c"\\]', escape_char) .. '"'
end

local function encode_number(n)
  if n ~= n or n == huge or n == -huge then return "null" end
  if floor(n) == n and n > -9007199254740992 and n < 9007199254740992 then
    return format("%.0f", n)
  end
  -- shortest representation that reads back exactly
  for precision = 15, 17 do
    local s = format("%." .. precision .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

local encode_value

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  return t[1] ~= nil
end

local function encode_table(t, out)
  if is_array(t) then
    local n = #t
    out[#out + 1] = "["
    for i = 1, n do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  out[#out + 1] = "{"
  for i = 1, #keys do
    local k = keys[i]
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(k)
    out[#out + 1] = ":"
    encode_value(v, out)
  end
  out[#out + 1] = "}"
end

encode_value = function(v, out)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    out[#out + 1] = encode_number(v)
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == json.null or v == cjson_null then
    out[#out + 1] = "null"
  elseif tv == "table" then
    encode_table(v, out)
  else
    error("cannot encode a " .. tv .. " as JSON")
  end
end

function json.encode(v)
  local out = {}
  encode_value(v, out)
  return concat(out)
end

return json
