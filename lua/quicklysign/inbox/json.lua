-- The inbox's private lua-cjson instance (encoding stored events; decoding never raises).
local cjson_safe = require "cjson.safe"

local instance = cjson_safe.new()
instance.encode_invalid_numbers(false)

return {
  encode = instance.encode,
  decode = instance.decode,
  null = instance.null,
}
