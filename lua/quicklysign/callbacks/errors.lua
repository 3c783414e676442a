-- Error values of the callbacks side: plain tables with `kind`, `reason` (a stable short word
-- that programs can branch on), `message` (for humans). They share the client's (C core's)
-- error shape: the metatable name that is_error checks, and the one-line tostring
--   quicklysign: KIND error[ STATUS][ CODE or REASON]: MESSAGE[ (METHOD URL)]
local setmetatable, getmetatable, pairs, tostring, tonumber, type =
  setmetatable, getmetatable, pairs, tostring, tonumber, type
local gsub = string.gsub

local errors = {}

local NAME = "quicklysign.error"   -- as the C core names its error metatable

local function word(v)
  local t = type(v)
  if t == "string" or t == "number" then return tostring(v) end
  return nil
end

local mt = { __name = NAME }
mt.__tostring = function(e)
  local line = "quicklysign: " .. (word(e.kind) or "unknown") .. " error"
  if tonumber(e.status) then line = line .. " " .. word(e.status) end
  local id = word(e.code) or word(e.reason)
  if id then line = line .. " " .. id end
  local message = word(e.message)
  if message then line = line .. ": " .. gsub(message, "[\r\n]", " ") end
  if word(e.method) and word(e.url) then line = line .. " (" .. word(e.method) .. " " .. word(e.url) .. ")" end
  return line
end

-- kind: "parse", "request", "auth", "confirm", "dedupe", "handler", "internal".
-- extra: optional table of further fields (status, cause, event...).
function errors.new(kind, reason, message, extra)
  local e = { kind = kind, reason = reason, message = message }
  if extra then
    for k, v in pairs(extra) do e[k] = v end
  end
  return setmetatable(e, mt)
end

-- Whether value is an error of quicklysign, the callbacks' or the client's.
function errors.is(value)
  if type(value) ~= "table" then return false end
  local m = getmetatable(value)
  return type(m) == "table" and m.__name == NAME
end

return errors
