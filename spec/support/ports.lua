--- Test support: free TCP ports on 127.0.0.1, chosen by the kernel (each held open until all
-- are chosen, so that none is handed out twice in one call).
local socket = require "socket"

local ports = {}

--- ports.free([n]) --> port [, port ...]
function ports.free(n)
  local held, out = {}, {}
  for i = 1, n or 1 do
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    held[i], out[i] = s, tonumber(port)
  end
  for _, s in ipairs(held) do s:close() end
  return (table.unpack or unpack)(out)
end

return ports
