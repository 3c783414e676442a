--- A network for the benchmarks on loopback: emulators of their own (https, HTTP/1.1 or HTTP/2)
-- behind bench/tools/delay_proxy, which delays every byte by half a round trip in each direction
-- and counts connections and round trips. The tools are built by bench/run (build/bench/).
-- Every process started here is written to <tmp>/pids and <tmp>/emulators, which bench/run's
-- cleanup stops if the benchmark itself could not.
local socket = require "socket"
local env = require "lib.env"
local proc = require "lib.proc"

package.path = env.root .. "/emulator/?.lua;" .. package.path
local admin = require "admin"

local format, tonumber = string.format, tonumber

local net = {}

net.TOOLS = env.root .. "/build/bench"
net.RTT_MS = tonumber(os.getenv("QS_BENCH_RTT_MS") or "20")

local started = {}   -- what stop_all stops: functions

local function free_ports(n)
  local out = proc.output("lua5.4 " .. proc.quote(env.root .. "/scripts/free-ports.lua") .. " " .. n)
  local ports = {}
  for p in out:gmatch("%d+") do ports[#ports + 1] = tonumber(p) end
  return ports
end

local function append(file, line)
  local f = assert(io.open(env.tmp .. "/" .. file, "a"))
  f:write(line, "\n")
  f:close()
end

--- An emulator of its own: net.emulator{ http2 = bool } --> { admin, url (plain http root),
-- tls_port, ca_file, stop() }. Its TLS port is what a proxy puts the delay in front of.
function net.emulator(opts)
  local ports = free_ports(2)
  local qs = proc.quote(env.root .. "/emulator/qs-emulator")
  local flags = format("--port %d --tls-port %d %s", ports[1], ports[2], opts.http2 and "--http2" or "--no-http2")
  append("emulators", tostring(ports[1]))
  proc.output(qs .. " start " .. flags)
  local e = {
    url = format("http://127.0.0.1:%d", ports[1]), port = ports[1], tls_port = ports[2],
    ca_file = (proc.output(qs .. " ca-file --port " .. ports[1]):gsub("%s+$", "")),
  }
  e.admin = admin.new(e.url)
  function e.stop() os.execute(qs .. " stop --port " .. ports[1] .. " >/dev/null 2>&1") end
  started[#started + 1] = e.stop
  return e
end

--- A delay proxy to 127.0.0.1:target_port, each direction delayed by rtt_ms / 2:
-- net.proxy(target_port[, rtt_ms]) --> { port, rtt_ms, stats(), stop() }
function net.proxy(target_port, rtt_ms)
  rtt_ms = rtt_ms or net.RTT_MS
  local ports = free_ports(2)
  local log = format("%s/proxy-%d.log", env.tmp, ports[1])
  local cmd = format("%s %d 127.0.0.1:%d %s %d >%s 2>&1 & echo $!", proc.quote(net.TOOLS .. "/delay_proxy"),
    ports[1], target_port, tostring(rtt_ms / 2), ports[2], proc.quote(log))
  local pid = assert(tonumber(proc.output(cmd):match("%d+")), "cannot start the delay proxy")
  append("pids", tostring(pid))
  for _ = 1, 100 do
    local f = io.open(log)
    local text = f and f:read("a") or ""
    if f then f:close() end
    if text:find("ready") then break end
    socket.sleep(0.02)
  end
  local p = { port = ports[1], stats_port = ports[2], rtt_ms = rtt_ms, pid = pid }
  --- The proxy's counters: { connections, open, round_trips, up_bytes, down_bytes }.
  function p.stats()
    local c = assert(socket.connect("127.0.0.1", p.stats_port))
    local line = assert(c:receive("*l"))
    c:close()
    local t = {}
    for k, v in line:gmatch("([%w_]+)=(%d+)") do t[k] = tonumber(v) end
    return t
  end
  function p.stop() os.execute("kill " .. pid .. " 2>/dev/null") end
  started[#started + 1] = p.stop
  return p
end

--- Runs fn() and returns its result and what the proxy counted meanwhile (a table of deltas).
function net.counted(proxy, fn)
  local before = proxy.stats()
  local result = fn()
  socket.sleep(proxy.rtt_ms * 2 / 1000)   -- let the last goodbyes cross, so open is settled
  local after = proxy.stats()
  local d = {}
  for k, v in pairs(after) do d[k] = v - (before[k] or 0) end
  return result, d
end

--- Stops every emulator and proxy started here.
function net.stop_all()
  for i = #started, 1, -1 do pcall(started[i]) end
  started = {}
end

return net
