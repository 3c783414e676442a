-- Many connections at once for `quicklysign listen`, on LuaSocket alone: each connection (and
-- each request it forwards) runs in a coroutine, every socket is non-blocking, and a coroutine
-- that would have to wait for one yields; the loop resumes it when socket.select says the socket
-- is ready, or when its deadline has passed. So a client that trickles its request, or a slow
-- receiver behind --forward-to, holds up nobody else.
--
-- Inside a task, loop.wait(sock, "r"|"w", deadline) waits (a nil sock: just sleep until the
-- deadline) and returns true, or nil and "timeout". Nothing may wait inside a pcall: Lua 5.1
-- cannot yield across one.
local socket = require "socket"

local setmetatable, pairs, next, error, huge = setmetatable, pairs, next, error, math.huge
local create, resume, yield, status, running =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.running
local gettime, sselect = socket.gettime, socket.select

local loop = {}

local Loop = {}
Loop.__index = Loop

function loop.new()
  return setmetatable({ waiting = {}, count = 0 }, Loop)
end

-- Waits for a socket (see the header). Must run inside a task.
function loop.wait(sock, mode, deadline)
  local co, main = running()
  if co == nil or main then error("quicklysign.cli.loop: wait outside a task", 2) end
  return yield(sock, mode, deadline or huge)
end

-- Sleeps inside a task.
function loop.sleep(seconds)
  return loop.wait(nil, nil, gettime() + seconds)
end

-- Runs co until it waits or ends; an error in a task is raised here, as it is.
function Loop:resume(co, ...)
  local ok, sock, mode, deadline = resume(co, ...)
  if not ok then
    if self.waiting[co] then self.count = self.count - 1 end
    self.waiting[co] = nil
    error(sock, 0)
  end
  if status(co) == "dead" then
    if self.waiting[co] then self.count = self.count - 1 end
    self.waiting[co] = nil
  else
    if not self.waiting[co] then self.count = self.count + 1 end
    self.waiting[co] = { sock = sock, mode = mode, deadline = deadline }
  end
end

-- Starts fn(...) as a task; it runs until its first wait.
function Loop:spawn(fn, ...)
  self:resume(create(fn), ...)
end

-- How many tasks wait.
function Loop:size()
  return self.count
end

-- Waits at most max_wait seconds for a socket to be ready or a deadline to pass, and resumes
-- those tasks. Returns after one round, so that the caller can look at Ctrl-C and its flags.
function Loop:step(max_wait)
  local recvt, sendt, now = {}, {}, gettime()
  local timeout = max_wait
  for _, w in pairs(self.waiting) do
    if w.sock then
      if w.mode == "w" then sendt[#sendt + 1] = w.sock else recvt[#recvt + 1] = w.sock end
    end
    if w.deadline - now < timeout then timeout = w.deadline - now end
  end
  if timeout < 0 then timeout = 0 end
  local readable, writable = {}, {}
  if next(recvt) or next(sendt) then
    readable, writable = sselect(recvt, sendt, timeout)
  elseif timeout > 0 then
    socket.sleep(timeout)
  end
  now = gettime()
  local ready = {}
  for co, w in pairs(self.waiting) do
    if w.sock and ((w.mode == "w" and writable[w.sock]) or (w.mode ~= "w" and readable[w.sock])) then
      ready[co] = true
    elseif now >= w.deadline then
      ready[co] = false
    end
  end
  for co, ok in pairs(ready) do
    if self.waiting[co] then
      if ok then self:resume(co, true) else self:resume(co, nil, "timeout") end
    end
  end
end

-- Runs fn(a, b) as the only task, to its end (requests outside `listen`, e.g. trigger's).
-- Returns its first three results.
function loop.run(fn, a, b)
  local l, done, r1, r2, r3 = loop.new(), false, nil, nil, nil
  l:spawn(function()
    r1, r2, r3 = fn(a, b)
    done = true
  end)
  while not done do l:step(0.5) end
  return r1, r2, r3
end

return loop
