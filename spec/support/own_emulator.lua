--- Test support: an emulator of a spec's own, for server options the shared one does not play
-- (HTTP/2 on its TLS port, a short keep-alive timeout): started on free ports, stopped by stop().
--   local e = own_emulator.start{ "--http2" }   -- e.admin, e.base_url, e.tls_url, e.ca_file
local admin = require "emulator.admin"
local ports = require "support.ports"
local process = require "support.process"

local own_emulator = {}

--- own_emulator.start(flags) --> emulator: flags are qs-emulator start options, e.g. { "--http2" }
function own_emulator.start(flags)
  local port, tls_port = ports.free(2)
  local argv = { "emulator/qs-emulator", "start", "--port", port, "--tls-port", tls_port }
  for _, f in ipairs(flags or {}) do argv[#argv + 1] = f end
  local code, out, err = process.run(argv, process.NO_PRELOAD)
  assert(code == 0, "the emulator did not start: " .. out .. err)
  local e = admin.new("http://127.0.0.1:" .. port)
  e.tls_url = ("https://127.0.0.1:%d/v1"):format(tls_port)
  local _, ca = process.run({ "emulator/qs-emulator", "ca-file", "--port", port }, process.NO_PRELOAD)
  e.ca_file = ca:gsub("%s+$", "")
  e.port = port
  function e.stop() process.run({ "emulator/qs-emulator", "stop", "--port", port }, process.NO_PRELOAD) end
  return e
end

--- The distinct connections (nginx's serials) of the journal's requests under path.
function own_emulator.connections(e, path)
  local seen, n = {}, 0
  for _, r in ipairs(e:requests(path)) do
    if not seen[r.connection] then
      seen[r.connection] = true
      n = n + 1
    end
  end
  return n
end

return own_emulator
