--- Test support: a real redis-server (Debian redis-server 7) on a free port of 127.0.0.1, in
-- its own folder, started and stopped by the spec that needs it. AOF is on, as the README
-- tells users to run it, so a restart keeps what was stored.
--   local server = redis_server.start()   -- server.url, server.port, server:restart(), server:stop()
local ports = require "support.ports"
local process = require "support.process"
local socket = require "socket"

local redis_server = {}

local Server = {}
Server.__index = Server

local tmpdir = process.tmpdir

local function ping(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  if not c:connect("127.0.0.1", port) then c:close(); return false end
  c:send("PING\r\n")
  local line = c:receive("*l")
  c:close()
  return line == "+PONG"
end

function Server:_launch()
  local code, out, err = process.run({ "redis-server", "--port", tostring(self.port), "--bind", "127.0.0.1",
    "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
    "--daemonize", "yes", "--pidfile", self.dir .. "/redis.pid", "--logfile", self.dir .. "/redis.log" })
  assert(code == 0, "redis-server did not start: " .. out .. err)
  for _ = 1, 100 do
    if ping(self.port) then return end
    socket.sleep(0.05)
  end
  error("redis-server did not answer on port " .. self.port)
end

function Server:pid()
  local f = io.open(self.dir .. "/redis.pid")
  if not f then return nil end
  local pid = tonumber(f:read("*l"))
  f:close()
  return pid
end

--- Stops it (SHUTDOWN, which writes the AOF) and waits until the port is closed.
function Server:stop()
  process.run({ "redis-cli", "-p", tostring(self.port), "shutdown" })
  for _ = 1, 100 do
    if not ping(self.port) then return end
    socket.sleep(0.05)
  end
end

--- Kills it with SIGKILL (what a crash looks like), waiting until it is gone.
function Server:kill()
  local pid = self:pid()
  if pid then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
  for _ = 1, 100 do
    if not ping(self.port) then return end
    socket.sleep(0.05)
  end
end

--- Stops it and removes its folder.
function Server:close()
  self:stop()
  os.execute("rm -rf " .. process.quote(self.dir))
end

function Server:restart()
  self:stop()
  self:_launch()
end

function Server:start_again()
  self:_launch()
end

--- redis_server.start() --> server
function redis_server.start()
  local self = setmetatable({ port = ports.free(), dir = tmpdir() }, Server)
  self.url = "redis://127.0.0.1:" .. self.port .. "/0"
  self:_launch()
  return self
end

return redis_server
