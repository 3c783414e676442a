--- Test support: a program run in a real pseudo-terminal, a detached tmux session of a chosen
-- size on a tmux server of the spec's own (its own socket: other sessions are never touched),
-- with send-keys to type and capture-pane to read the screen.
local process = require "support.process"

local tty = {}
local quote = process.quote

local Session = {}
Session.__index = Session

local counter = 0

--- tty.start(command_line [, {width=, height=}]) -> session
function tty.start(line, opts)
  counter = counter + 1
  local self = setmetatable({
    socket = ("qs-spec-%d-%d-%d"):format(os.time(), math.random(1, 1e6), counter),
    width = opts and opts.width or 80, height = opts and opts.height or 24,
  }, Session)
  local code, out, err = process.run({ "tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d",
    "-x", tostring(self.width), "-y", tostring(self.height), line })
  assert(code == 0, "tmux did not start: " .. out .. err)
  return self
end

local function tmux(self, ...)
  local argv = { "tmux", "-L", self.socket, ... }
  return process.run(argv)
end

--- The screen, one string per line (wrapped lines joined when joined = true).
function Session:screen(joined)
  local _, out = tmux(self, "capture-pane", "-p", joined and "-J" or nil)
  return out
end

--- Types keys (tmux key names: "Tab", "Enter", or literal text with literal = true).
function Session:keys(keys, literal)
  if literal then tmux(self, "send-keys", "-l", "--", keys) else tmux(self, "send-keys", "--", keys) end
end

--- Waits until the screen contains text; returns the screen, or nil after timeout seconds.
function Session:wait_for(text, timeout)
  local deadline = os.time() + (timeout or 10)
  repeat
    local s = self:screen(true)
    if s:find(text, 1, true) then return s end
    os.execute("sleep 0.1")
  until os.time() > deadline
  return nil
end

--- Ends the session's tmux server (the spec's own).
function Session:close()
  tmux(self, "kill-server")
end

--- A folder with a `quicklysign` on it that runs this checkout's command on the Lua under test,
-- for shells started in a session (PATH=<dir>:$PATH).
function tty.command_dir(root, lua)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  local f = assert(io.open(dir .. "/quicklysign", "w"))
  f:write(("#!/bin/sh\nexec env LUA_PATH=%s LUA_CPATH=%s %s %s \"$@\"\n"):format(
    quote(os.getenv("LUA_PATH") or ""), quote(os.getenv("LUA_CPATH") or ""), quote(lua),
    quote(root .. "/bin/quicklysign")))
  f:close()
  assert(os.execute("chmod +x " .. quote(dir .. "/quicklysign")))
  return dir
end

return tty
