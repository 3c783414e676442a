--- Test support for the `quicklysign` command: runs bin/quicklysign as a subprocess of the same
-- interpreter the specs run on (QUICKLYSIGN_TEST_LUA), in the foreground or in the background,
-- with an environment the test spells out, and talks raw HTTP to `quicklysign listen`.
local socket = require "socket"
local cjson = require("cjson.safe").new()
local emulator = require "support.emulator"
local process = require "support.process"

local support = {}

support.lua = os.getenv("QUICKLYSIGN_TEST_LUA") or "lua5.4"
support.root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/cli/support%.lua$"))
if support.root == nil or support.root == "" then support.root = "." end
support.bin = support.root .. "/bin/quicklysign"

-- Every variable the command reads; each run starts with none of them set.
support.VARS = {
  "QUICKLYSIGN_CLIENT_ID", "QUICKLYSIGN_CLIENT_SECRET", "QUICKLYSIGN_API_KEY",
  "QUICKLYSIGN_BASE_URL", "QUICKLYSIGN_ENVIRONMENT", "QUICKLYSIGN_LISTEN_TOKEN", "QUICKLYSIGN_DEBUG", "COLUMNS",
  "QUICKLYSIGN_INBOX",
}

--- The emulator's credentials and address, as the environment of a run.
function support.creds(extra)
  local env = {
    QUICKLYSIGN_CLIENT_ID = emulator.client_id,
    QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
    QUICKLYSIGN_API_KEY = emulator.api_key,
    QUICKLYSIGN_BASE_URL = emulator.base_url,
  }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

function support.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local quote = support.quote

local function tmpname()
  local path = os.tmpname()
  return path
end

support.read, support.tmpdir, support.listing = process.read, process.tmpdir, process.listing

-- "env -u ... NAME=value ... <lua> bin/quicklysign args..."; env values false mean unset.
local function command_line(argv, env)
  local parts = { "env" }
  for _, name in ipairs(support.VARS) do parts[#parts + 1] = "-u " .. name end
  for name, value in pairs(env or {}) do
    if value ~= false then parts[#parts + 1] = quote(name .. "=" .. value) end
  end
  parts[#parts + 1] = quote(support.lua)
  parts[#parts + 1] = quote(support.bin)
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  return table.concat(parts, " ")
end
support.command_line = command_line

--- Runs the command to its end: { code=, stdout=, stderr= }.
function support.run(argv, env)
  local out, err, rc = tmpname(), tmpname(), tmpname()
  os.execute(command_line(argv, env) .. " >" .. quote(out) .. " 2>" .. quote(err)
    .. " </dev/null; echo $? >" .. quote(rc))
  local result = {
    code = tonumber(support.read(rc):match("%d+")),
    stdout = support.read(out) or "",
    stderr = support.read(err) or "",
  }
  os.remove(out)
  os.remove(err)
  os.remove(rc)
  return result
end

--- Runs it with the emulator's credentials (plus extra env).
function support.qs(argv, extra_env)
  return support.run(argv, support.creds(extra_env))
end

--- Decodes one JSON document, failing the test when it is not one.
function support.json(text)
  local value, err = cjson.decode(text)
  assert(value ~= nil, "not JSON (" .. tostring(err) .. "): " .. text)
  return value
end

--- The lines of a text, without the empty last one.
function support.lines(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  return lines
end

function support.sleep(seconds)
  socket.sleep(seconds)
end

--- Waits until fn() is truthy; returns its value, or nil after timeout seconds.
function support.wait_until(fn, timeout)
  local deadline = socket.gettime() + (timeout or 10)
  repeat
    local v = fn()
    if v then return v end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return nil
end

--- A TCP port nobody listens on right now.
function support.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

---------------------------------------------------------------------------------------------
-- background runs

local Background = {}
Background.__index = Background

--- Starts the command in the background: a handle with pid, stdout(), stderr(), wait(),
--- interrupt() and kill(). The shell records the command's own exit status when it ends.
function support.start(argv, env)
  local self = setmetatable({ out = tmpname(), err = tmpname(), pidfile = tmpname(), rc = tmpname() }, Background)
  os.remove(self.rc)
  os.execute("(" .. command_line(argv, env) .. " >" .. quote(self.out) .. " 2>" .. quote(self.err)
    .. " </dev/null & echo $! >" .. quote(self.pidfile) .. "; wait $!; echo $? >" .. quote(self.rc .. ".tmp")
    .. "; mv " .. quote(self.rc .. ".tmp") .. " " .. quote(self.rc) .. ") >/dev/null 2>&1 &")
  self.pid = support.wait_until(function()
    return (support.read(self.pidfile) or ""):match("%d+")
  end, 5)
  assert(self.pid, "the background command did not start")
  return self
end

function Background:stdout() return support.read(self.out) or "" end
function Background:stderr() return support.read(self.err) or "" end

--- The exit code once the command has ended (waits up to timeout seconds), else nil.
function Background:wait(timeout)
  local text = support.wait_until(function() return support.read(self.rc) end, timeout or 10)
  return text and tonumber(text:match("%d+")) or nil
end

function Background:running()
  return support.read(self.rc) == nil
end

--- Ctrl-C.
function Background:interrupt()
  os.execute("kill -INT " .. self.pid .. " 2>/dev/null")
end

--- Stops it for good (cleanup) and removes its files.
function Background:kill()
  if self:running() then os.execute("kill -KILL " .. self.pid .. " 2>/dev/null") end
  self:wait(5)
  for _, f in ipairs{ self.out, self.err, self.pidfile, self.rc } do os.remove(f) end
end

--- Waits until stderr (or stdout) contains plain text; returns the whole stream then.
function Background:wait_for(stream, text, timeout)
  return support.wait_until(function()
    local s = stream == "stdout" and self:stdout() or self:stderr()
    return s:find(text, 1, true) and s
  end, timeout or 10)
end

---------------------------------------------------------------------------------------------
-- raw HTTP to the listener

--- Sends raw bytes to 127.0.0.1:port and reads the answer to its end.
--- Returns status (number or nil), headers (lower-case names), body, and the raw answer.
function support.raw_request(port, data, opts)
  local c = assert(socket.tcp())
  c:settimeout((opts and opts.timeout) or 10)
  assert(c:connect("127.0.0.1", port))
  if data and #data > 0 then c:send(data) end
  if opts and opts.half_close then c:shutdown("send") end
  local chunks = {}
  while true do
    local chunk, err, partial = c:receive(8192)
    chunk = chunk or partial
    if chunk and #chunk > 0 then chunks[#chunks + 1] = chunk end
    if err then break end
  end
  c:close()
  local raw = table.concat(chunks)
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  local status = tonumber((head or raw):match("^HTTP/1%.1 (%d%d%d)"))
  local headers = {}
  for name, value in (head or ""):gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return status, headers, body, raw
end

--- POSTs a callback body (a table is encoded as JSON) to the listener.
function support.post(port, path, body, headers)
  if type(body) == "table" then body = assert(cjson.encode(body)) end
  local lines = { "POST " .. path .. " HTTP/1.1", "Host: 127.0.0.1:" .. port }
  local h = { ["Content-Type"] = "application/json", ["Content-Length"] = tostring(#body) }
  for k, v in pairs(headers or {}) do h[k] = v end
  for k, v in pairs(h) do
    if v ~= false then lines[#lines + 1] = k .. ": " .. v end
  end
  return support.raw_request(port, table.concat(lines, "\r\n") .. "\r\n\r\n" .. body)
end

--- A callback body as QuicklySign sends it.
function support.callback(event, entity_key, webhook_key)
  return {
    entity_type = "Document", entity_key = entity_key, callback_event = event,
    webhook_key = webhook_key, subscription_key = webhook_key,
  }
end

support.ISO = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"

return support
