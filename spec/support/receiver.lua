--- Test support: the example OpenResty receiver (examples/openresty) started for real, on a free
-- port, with its own run folder, PDF folder and inbox, against the emulator that
-- scripts/run-tests started; plus what the loss specs look at afterwards (PDFs on disk, the
-- inbox's counts, the logs).
--   local r = receiver.start{ inbox = "sqlite://...", lease = 2, retry_delay = 0.2 }
--   r.callback, r.pdf_dir, r:records(), r:stats(), r:kill_worker(), r:reload(), r:stop()
local emulator = require "support.emulator"
local ports = require "support.ports"
local process = require "support.process"
local http = require "socket.http"
local socket = require "socket"
local cjson = require("cjson.safe").new()

local receiver = {
  TOKEN = "loss-spec-callback-token-0123456789abcdef",
}

local Receiver = {}
Receiver.__index = Receiver

local tmpdir = process.tmpdir

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- receiver.start{ inbox, lease, retry_delay, max_attempts, concurrency, pdf_dir, log_level, root } --> r
-- root: the checkout whose examples/openresty/run to start (default: this one).
function receiver.start(opts)
  opts = opts or {}
  local self = setmetatable({ port = ports.free(), run_dir = tmpdir(), root = opts.root or "." }, Receiver)
  self.pdf_dir = opts.pdf_dir or (self.run_dir .. "/pdfs")
  self.inbox = opts.inbox or ("sqlite://" .. self.run_dir .. "/inbox.db")
  self.env = {
    QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
    QUICKLYSIGN_API_KEY = emulator.api_key, QUICKLYSIGN_BASE_URL = emulator.base_url,
    QUICKLYSIGN_CALLBACK_TOKEN = receiver.TOKEN, QUICKLYSIGN_PDF_DIR = self.pdf_dir,
    QUICKLYSIGN_INBOX = self.inbox, QUICKLYSIGN_RUN_DIR = self.run_dir,
    QUICKLYSIGN_WORKER_LEASE = tostring(opts.lease or 5),
    QUICKLYSIGN_WORKER_RETRY_DELAY = tostring(opts.retry_delay or 0.2),
    QUICKLYSIGN_WORKER_MAX_ATTEMPTS = tostring(opts.max_attempts or 25),
    QUICKLYSIGN_WORKER_MAX_RETRY_DELAY = tostring(opts.max_retry_delay or 1),
    QUICKLYSIGN_WORKER_CONCURRENCY = tostring(opts.concurrency or 4),
    QUICKLYSIGN_LOG_LEVEL = opts.log_level or "info",
  }
  for k, v in pairs(opts.env or {}) do self.env[k] = v end
  self.dir = self.run_dir .. "/receiver-" .. self.port
  self.url = ("http://127.0.0.1:%d/quicklysign"):format(self.port)
  self.callback = self.url .. "?token=" .. receiver.TOKEN
  self:start_again()
  return self
end

function Receiver:run(cmd)
  return process.run({ self.root .. "/examples/openresty/run", cmd, "--port", tostring(self.port) }, self.env)
end

function Receiver:start_again()
  local code, out, err = self:run("start")
  assert(code == 0, "the receiver did not start: " .. out .. err)
end

function Receiver:stop()
  local code, out, err = self:run("stop")
  assert(code == 0, "the receiver did not stop: " .. out .. err)
end

function Receiver:close()
  self:run("stop")
  os.execute("rm -rf " .. process.quote(self.run_dir))
end

function Receiver:get(path)
  local body, status = http.request(("http://127.0.0.1:%d%s"):format(self.port, path))
  return status, body and cjson.decode(body)
end

function Receiver:records()
  local _, list = self:get("/events")
  return list or {}
end

--- The inbox's counts { queued, running, retrying, dead, done }.
function Receiver:stats()
  local status, t = self:get("/stats")
  assert(status == 200, "no /stats from the receiver")
  return t.inbox
end

function Receiver:master_pid()
  return tonumber(read(self.dir .. "/nginx.pid"))
end

--- The pids of nginx's worker processes.
function Receiver:worker_pids()
  local pids = {}
  local f = assert(io.popen("pgrep -P " .. self:master_pid()))
  for line in f:lines() do pids[#pids + 1] = tonumber(line) end
  f:close()
  return pids
end

--- SIGKILL to every nginx worker (the master starts new ones).
function Receiver:kill_workers()
  local before = self:worker_pids()
  for _, pid in ipairs(before) do os.execute("kill -9 " .. pid) end
  for _ = 1, 100 do   -- until the master has replaced them
    local now = self:worker_pids()
    if #now >= #before and now[1] ~= before[1] then return end
    socket.sleep(0.05)
  end
end

function Receiver:reload()
  assert(os.execute("nginx -p " .. process.quote(self.dir) .. " -c " .. process.quote(self.dir .. "/nginx.conf")
    .. " -e " .. process.quote(self.dir .. "/logs/error.log") .. " -s reload"))
end

--- Every log file nginx wrote for this receiver, concatenated.
function Receiver:logs()
  return (read(self.dir .. "/logs/error.log") or "") .. (read(self.dir .. "/logs/access.log") or "")
end

--- The final PDFs on disk for a pack: { name = bytes } of files that are whole final PDFs, and
-- how many files are not (drafts, temp files, anything else).
function Receiver:pdfs(pack_key)
  local finals, others = {}, 0
  local f = io.popen("ls -A " .. process.quote(self.pdf_dir .. "/" .. pack_key) .. " 2>/dev/null")
  for name in f:lines() do
    local body = read(self.pdf_dir .. "/" .. pack_key .. "/" .. name) or ""
    if name:match("%.pdf$") and body:sub(1, 5) == "%PDF-" and body:find("FINAL signed document", 1, true) then
      finals[name] = #body
    else
      others = others + 1
    end
  end
  f:close()
  return finals, others
end

--- Waits until pred() is true (checked every 0.1 s), up to `seconds`; returns pred's last value.
function receiver.wait(pred, seconds)
  local deadline = socket.gettime() + (seconds or 30)
  local v
  repeat
    v = pred()
    if v then return v end
    socket.sleep(0.1)
  until socket.gettime() > deadline
  return v
end

return receiver
