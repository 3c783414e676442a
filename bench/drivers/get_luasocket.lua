--- Driver: the same GET N times with luasocket's socket.http (a new connection for each).
--   lua5.4 bench/drivers/get_luasocket.lua URL N
local http = require "socket.http"
local ltn12 = require "ltn12"

local url, n = arg[1], tonumber(arg[2])
for _ = 1, n do
  local chunks = {}
  local _, status = http.request{
    url = url, headers = { accept = "application/json" }, sink = ltn12.sink.table(chunks),
  }
  if status ~= 200 then error("HTTP " .. tostring(status)) end
end
