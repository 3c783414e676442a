-- Error values of the callbacks side: plain tables with `kind`, `reason` (a stable short word
-- that programs can branch on), `message` (for humans) and a readable tostring.
local setmetatable, getmetatable, pairs, tostring = setmetatable, getmetatable, pairs, tostring

local errors = {}

local mt = {}
mt.__tostring = function(e)
  return "quicklysign.callbacks " .. tostring(e.kind) .. " error (" .. tostring(e.reason) .. "): "
    .. tostring(e.message)
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

function errors.is(value)
  return getmetatable(value) == mt
end

return errors
