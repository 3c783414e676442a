--- Prints N distinct free TCP ports on 127.0.0.1, one a line (the kernel picks them; all are
-- held open until every one is chosen, so that none is picked twice).
--   lua5.4 scripts/free-ports.lua N   (the test harness, the demo and the benchmarks use it)
local socket = require "socket"

local held = {}
for i = 1, tonumber(arg[1] or 1) do
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  held[i] = s
  print(port)
end
for _, s in ipairs(held) do s:close() end
