-- The terminal the command prints to: whether standard output is one, and how wide it is. Asked
-- once, and only when a table is about to be printed: `test -t 1` (the shell that os.execute
-- starts inherits our standard output) and `stty size` on the controlling terminal.
local tonumber, floor, setmetatable = tonumber, math.floor, setmetatable
local execute, popen, match = os.execute, io.popen, string.match

local terminal = {
  MIN_WIDTH = 20,      -- narrower than this is not a width to fit a table into
  MAX_WIDTH = 1000,
}

local Terminal = {}
Terminal.__index = Terminal

-- terminal.new(getenv [, isatty]): isatty() overrides the question to the system (embedding).
function terminal.new(getenv, isatty)
  return setmetatable({ getenv = getenv or os.getenv, isatty = isatty }, Terminal)
end

local function valid(w)
  w = tonumber(w)
  if w and w >= terminal.MIN_WIDTH and w <= terminal.MAX_WIDTH then return floor(w) end
  return nil
end

-- Whether standard output is a terminal.
function Terminal:is_tty()
  if self._tty == nil then
    if self.isatty then
      self._tty = self.isatty() == true
    else
      local a, _, c = execute("test -t 1")
      self._tty = a == 0 or (a == true and (c == nil or c == 0))   -- 5.1 and LuaJIT: a number
    end
  end
  return self._tty
end

local function stty_columns()
  local p = popen("stty size </dev/tty 2>/dev/null")
  if not p then return nil end
  local line = p:read("*l")
  p:close()
  return valid(line and match(line, "^%d+ (%d+)"))
end

-- The width output should fit: $COLUMNS when set, else the terminal's when standard output is
-- one, else nil (a pipe or a file: no limit).
function Terminal:width()
  if self._width == nil then
    local w = valid(self.getenv("COLUMNS"))
    if not w and self:is_tty() then w = stty_columns() end
    self._width = w or false
  end
  return self._width or nil
end

return terminal
