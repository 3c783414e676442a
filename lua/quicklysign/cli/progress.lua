-- The progress bar of downloads on a terminal: the client's on_event download_progress records
-- (bytes so far, the size announced) summed over the downloads under way, drawn on one line of
-- stderr, redrawn at most every REDRAW seconds: bytes, rate and time left. Nothing when stderr is
-- no terminal, with -q or --json: then no records are asked for at all.
local floor, format, max, execute = math.floor, string.format, math.max, os.execute
local setmetatable, pairs, type, pcall, require = setmetatable, pairs, type, pcall, require

local progress = {
  REDRAW = 0.2,     -- seconds between two drawings of the bar
  WIDTH = 24,       -- cells of the bar itself
}

local Bar = {}
Bar.__index = Bar

-- Whether stderr is a terminal (`test -t 2` in the shell os.execute starts: it inherits it).
local function stderr_is_tty()
  local a, _, c = execute("test -t 2")
  return a == 0 or (a == true and (c == nil or c == 0))   -- 5.1 and LuaJIT: a number
end

--- progress.new(out, clock) --> a bar, or nil when none is to be drawn (not a terminal, -q, --json).
-- clock() gives seconds (socket.gettime or os.clock); out is the command's output.
function progress.new(out, clock, is_tty)
  if out.quiet or out.json then return nil end
  if is_tty == nil then is_tty = stderr_is_tty() end
  if not is_tty then return nil end
  return setmetatable({ out = out, clock = clock, bytes = {}, totals = {}, done = 0, drawn = false,
    started = nil, last = -1 }, Bar)
end

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

--- progress.size(n) --> "1.5 MiB"
function progress.size(n)
  local i = 1
  while n >= 1024 and i < #UNITS do
    n = n / 1024
    i = i + 1
  end
  if i == 1 then return format("%d B", n) end
  return format(n < 10 and "%.1f %s" or "%.0f %s", n, UNITS[i])
end

--- progress.duration(s) --> "42 s", "3 min 05 s"
function progress.duration(s)
  s = floor(s + 0.5)
  if s < 60 then return format("%d s", s) end
  if s < 3600 then return format("%d min %02d s", floor(s / 60), s % 60) end
  return format("%d h %02d min", floor(s / 3600), floor(s % 3600 / 60))
end

-- The bar's line: "[#####-----]  1.2 MiB of 4.0 MiB  850 KiB/s  3 s left  (2 of 5 files)".
function Bar:line(now)
  local bytes, total, known = 0, 0, true
  for k, b in pairs(self.bytes) do
    bytes = bytes + b
    if self.totals[k] then total = total + self.totals[k] else known = false end
  end
  local elapsed = max(now - (self.started or now), 0.001)
  local rate = bytes / elapsed
  local parts = {}
  if known and total > 0 then
    local cells = floor(progress.WIDTH * bytes / total + 0.5)
    parts[#parts + 1] = "[" .. ("#"):rep(cells) .. ("-"):rep(progress.WIDTH - cells) .. "]"
    parts[#parts + 1] = format("%s of %s", progress.size(bytes), progress.size(total))
  else
    parts[#parts + 1] = progress.size(bytes)
  end
  parts[#parts + 1] = progress.size(rate) .. "/s"
  if known and total > bytes and rate > 0 then
    parts[#parts + 1] = progress.duration((total - bytes) / rate) .. " left"
  end
  local files = 0
  for _ in pairs(self.bytes) do files = files + 1 end
  if files > 1 or self.done > 0 then parts[#parts + 1] = format("(%d of %d files)", self.done, files) end
  return table.concat(parts, "  ")
end

--- The client's on_event, for the downloads of one command.
function Bar:hook()
  return function(record)
    if record.method ~= "GET" then return end
    local key = record.index or 0
    if record.type == "download_progress" then
      self.started = self.started or self.clock()
      self.bytes[key] = record.bytes or 0
      if record.total then self.totals[key] = record.total end
    elseif record.type == "response" and record.bytes and self.bytes[key] ~= nil then
      self.bytes[key] = record.bytes
      if record.ok then
        self.totals[key] = record.bytes
        self.done = self.done + 1
      end
    else
      return
    end
    local now = self.clock()
    if now - self.last >= progress.REDRAW then
      self.last = now
      self.drawn = true
      self.out.stderr:write("\r\27[K", self:line(now))
      self.out.stderr:flush()
    end
  end
end

--- Clears the bar's line, so that what the command prints next starts clean.
function Bar:finish()
  if self.drawn then
    self.out.stderr:write("\r\27[K")
    self.out.stderr:flush()
  end
  self.drawn = false
  self.bytes, self.totals, self.done, self.started = {}, {}, 0, nil
end

--- progress.clock() --> a function giving seconds: LuaSocket's gettime when it is there, else os.time.
function progress.clock()
  local ok, socket = pcall(require, "socket")
  if ok and type(socket) == "table" and socket.gettime then return socket.gettime end
  return os.time
end

--- progress.for_command(ctx) --> on_event (or nil) and the bar (or nil): for a command that downloads.
function progress.for_command(ctx, clock)
  local bar = progress.new(ctx.out, clock)
  if type(bar) ~= "table" then return nil, nil end
  return bar:hook(), bar
end

return progress
