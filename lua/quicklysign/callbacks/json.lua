-- The private lua-cjson instance used to decode callback bodies. It is our own `cjson.safe.new()`
-- so that whatever an application sets on the shared `cjson` module (depth, number handling)
-- neither weakens nor breaks callback parsing, and decoding never raises.
local cjson_safe = require "cjson.safe"

local instance = cjson_safe.new()
instance.decode_invalid_numbers(false) -- no NaN, Infinity or hex: callbacks never carry them

local json = {
  null = instance.null,
  DEFAULT_MAX_DEPTH = 32,
}

local current_depth
local function set_depth(depth)
  if depth ~= current_depth then
    instance.decode_max_depth(depth)
    current_depth = depth
  end
end
set_depth(json.DEFAULT_MAX_DEPTH)

-- Decodes `text` refusing nesting deeper than `max_depth` (cjson stops as soon as it descends
-- past the limit, so a nesting bomb costs no more than `max_depth` characters of work).
-- Returns value, or nil and cjson's message. Setting the depth and decoding cannot be split by a
-- coroutine switch (no yield in between), so one instance serves all callers.
function json.decode(text, max_depth)
  set_depth(max_depth or json.DEFAULT_MAX_DEPTH)
  return instance.decode(text)
end

return json
