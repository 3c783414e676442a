--- Driver: cjson.decode of saved page bodies, M times over all of them: the decoding part of a
-- list, without any transfer (an anchor for what a list must spend on JSON anyway).
--   lua5.4|luajit bench/drivers/decode_pages.lua M FILE...
local cjson = require "cjson"

local m = tonumber(arg[1])
local bodies = {}
for i = 2, #arg do
  local f = assert(io.open(arg[i], "rb"))
  bodies[#bodies + 1] = f:read("a")
  f:close()
end
local decode = cjson.decode
for _ = 1, m do
  for i = 1, #bodies do
    if type(decode(bodies[i])) ~= "table" then error("not a JSON object") end
  end
end
