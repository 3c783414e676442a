-- JSON text for --json output. Our own encoder rather than lua-cjson's, for three reasons that
-- matter to scripts: numbers round-trip exactly (cjson 2.1.0 stops at 14 significant digits and
-- would cut the fraction off timestamps like 1659513665796.916), keys come out sorted (stable,
-- diffable output), and empty tables print as [] (lua-cjson decodes [] and {} alike, and the API's
-- empty containers are lists: signatories, documents, webhooks) unless marked with json.object.
local type, pairs, ipairs, tostring, tonumber, setmetatable, getmetatable, error =
  type, pairs, ipairs, tostring, tonumber, setmetatable, getmetatable, error
local format, gsub, byte, concat, sort, floor, huge =
  string.format, string.gsub, string.byte, table.concat, table.sort, math.floor, math.huge

local json = {}

local OBJECT_MT = { __name = "quicklysign.cli.json.object" }

-- Marks t as an object, so that it encodes as {} even when empty. Returns t.
function json.object(t)
  return setmetatable(t or {}, OBJECT_MT)
end

local ESCAPES = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    return ESCAPES[c] or format("\\u%04x", byte(c))
  end) .. '"'
end

-- The shortest text that reads back as the same double (integers without a fraction).
local function encode_number(n)
  if n ~= n or n == huge or n == -huge then return "null" end
  if n == floor(n) and n > -2 ^ 53 and n < 2 ^ 53 then return format("%d", n) end
  for digits = 15, 17 do
    local s = format("%." .. digits .. "g", n)
    if tonumber(s) == n then return s end
  end
  return format("%.17g", n)
end

-- The length of t when it is a sequence 1..n with nothing else (0 when empty and not marked as
-- an object), else nil.
local function array_length(t)
  if getmetatable(t) == OBJECT_MT then return nil end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return nil end
    if k > n then n = k end
  end
  for i = 1, n do
    if t[i] == nil then return nil end
  end
  return n
end

local encode_value

local function encode_table(t, depth, seen)
  if seen[t] then error("quicklysign.cli.json: cannot encode a cycle", 0) end
  if depth > 64 then error("quicklysign.cli.json: nesting too deep", 0) end
  seen[t] = true
  local out = {}
  local n = array_length(t)
  local text
  if n then
    for i = 1, n do out[i] = encode_value(t[i], depth + 1, seen) end
    text = "[" .. concat(out, ",") .. "]"
  else
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    for i, k in ipairs(keys) do
      local v = t[k]
      if v == nil then v = t[tonumber(k)] end
      out[i] = encode_string(k) .. ":" .. encode_value(v, depth + 1, seen)
    end
    text = "{" .. concat(out, ",") .. "}"
  end
  seen[t] = nil
  return text
end

encode_value = function(v, depth, seen)
  local t = type(v)
  if t == "string" then return encode_string(v) end
  if t == "number" then return encode_number(v) end
  if t == "boolean" then return tostring(v) end
  if t == "table" then return encode_table(v, depth, seen) end
  return "null" -- nil, cjson.null (lightuserdata), functions: nothing a script could use
end

-- json.encode(value) -> one line of JSON text.
function json.encode(value)
  return encode_value(value, 0, {})
end

return json
