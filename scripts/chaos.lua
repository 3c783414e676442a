--- A chaos run of durable receiving, on real parts only: the emulator delivers the callbacks of
-- N completed packs (a fifth of them subscribed through both receivers, so delivered twice
-- through different receivers); receivers (the example OpenResty receiver, receive-only) store
-- them in one inbox; `quicklysign worker --concurrency K` processes download the final PDFs,
-- and are killed with SIGKILL at random intervals (their supervisor starts them again). On
-- Redis, redis-server is also killed with SIGKILL once in the middle and started again (AOF on).
--   redis:  2 receivers, 3 workers        sqlite: 1 receiver, 2 workers
-- At the end: every pack answered 200 has its PDF on disk (0 lost), nothing is dead, and the
-- one-shot events processed twice are counted: those whose first run was cut short by a kill,
-- and any other (which would be a bug, or a completion the store could not record).
local admin_lib = require "emulator.admin"
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local quicklysign = require "quicklysign"
local socket = require "socket"

local opts = { backend = "redis", callbacks = 2000, seconds = 300 }
local i = 1
while arg[i] do
  local name = arg[i]:match("^%-%-(.+)$")
  if not name or opts[name] == nil or not arg[i + 1] then
    io.stderr:write("usage: scripts/chaos [--backend redis|sqlite] [--callbacks N] [--seconds S]\n")
    os.exit(2)
  end
  opts[name] = tonumber(arg[i + 1]) or arg[i + 1]
  i = i + 2
end

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end
local function output(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("*a")
  p:close()
  return s
end
local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end
local function say(fmt, ...) io.stderr:write(("chaos: " .. fmt .. "\n"):format(...)) end

local dir = output("mktemp -d"):gsub("%s+$", "")
local run_dir, pdf_dir, log = dir .. "/run", dir .. "/pdfs", dir .. "/handlers.log"
sh("mkdir -p " .. run_dir .. " " .. pdf_dir)
local started = {}
local function cleanup()
  for i2 = #started, 1, -1 do pcall(started[i2]) end
end

-- the emulator
local emu_port = free_port()
local base_url = output(("QUICKLYSIGN_RUN_DIR=%s emulator/qs-emulator start --port %d"):format(run_dir, emu_port))
  :gsub("%s+$", "")
started[#started + 1] = function() sh(("QUICKLYSIGN_RUN_DIR=%s emulator/qs-emulator stop --port %d >/dev/null 2>&1")
  :format(run_dir, emu_port)) end
local admin = admin_lib.new("http://127.0.0.1:" .. emu_port)
admin:config{ delivery = { base_delay_ms = 200, max_delay_ms = 2000, max_attempts = 1000, timeout_ms = 5000 } }

-- the inbox
local url, redis_port
if opts.backend == "redis" then
  redis_port = free_port()
  local function start_redis()
    assert(sh(("redis-server --port %d --bind 127.0.0.1 --dir %s --appendonly yes --appendfsync everysec --save '' "
      .. "--daemonize yes --pidfile %s/redis.pid --logfile %s/redis.log"):format(redis_port, dir, dir, dir)))
    for _ = 1, 100 do
      if output("redis-cli -p " .. redis_port .. " ping 2>/dev/null"):find("PONG") then return end
      socket.sleep(0.05)
    end
    error("redis-server did not start")
  end
  start_redis()
  opts.start_redis = start_redis
  started[#started + 1] = function() sh("redis-cli -p " .. redis_port .. " shutdown nosave >/dev/null 2>&1") end
  url = "redis://127.0.0.1:" .. redis_port .. "/0"
else
  url = "sqlite://" .. dir .. "/inbox.db"
end

local creds = ("QUICKLYSIGN_CLIENT_ID=qs_test_client_id QUICKLYSIGN_CLIENT_SECRET=qs_test_client_secret "
  .. "QUICKLYSIGN_API_KEY=qs_test_api_key QUICKLYSIGN_BASE_URL=%s"):format(base_url)
local token = "chaos-callback-token-0123456789abcdef"

-- the receivers: receive only
local receivers = {}
for r = 1, opts.backend == "redis" and 2 or 1 do
  local port = free_port()
  local cmd = ("%s QUICKLYSIGN_RUN_DIR=%s QUICKLYSIGN_CALLBACK_TOKEN=%s QUICKLYSIGN_PDF_DIR=%s QUICKLYSIGN_INBOX=%s "
    .. "QUICKLYSIGN_WORKER_CONCURRENCY=0 examples/openresty/run %%s --port %d"):format(creds, run_dir, token, pdf_dir,
    url, port)
  assert(sh(cmd:format("start") .. " >/dev/null"), "a receiver did not start")
  started[#started + 1] = function() sh(cmd:format("stop") .. " >/dev/null 2>&1") end
  receivers[r] = ("http://127.0.0.1:%d/quicklysign"):format(port)
end

-- the workers
local n_workers = opts.backend == "redis" and 3 or 2
local worker_cmd = ("%s CHAOS_LOG=%s CHAOS_PDF_DIR=%s lua5.4 bin/quicklysign worker --inbox %s --handlers "
  .. "scripts/chaos_handlers.lua --concurrency %d --lease 3 --retry-delay 0.2 >%s/workers.log 2>&1 & echo $!")
  :format(creds, log, pdf_dir, url, n_workers, dir)
local workers_pid = output(worker_cmd):gsub("%s+$", "")
started[#started + 1] = function() sh("kill -TERM " .. workers_pid .. " 2>/dev/null; sleep 1") end

local ok, err = pcall(function()
  -- the packs, subscribed through one receiver (through both for every fifth)
  local client = quicklysign.new{ client_id = "qs_test_client_id", client_secret = "qs_test_client_secret",
    base_url = base_url }
  local keys, twice = {}, 0
  for p = 1, opts.callbacks do
    local pack = admin:create_pack{ name = "Chaos " .. p, documents = { { name = "Doc" } } }
    keys[p] = pack.key
    local first = receivers[(p % #receivers) + 1]
    assert(client.webhooks:create{ entity_key = pack.key, callback = callbacks.callback_url(first, token) })
    if #receivers > 1 and p % 5 == 0 then
      local other = receivers[#receivers - (p % #receivers)]
      assert(client.webhooks:create{ entity_key = pack.key, callback = callbacks.callback_url(other, token) })
      twice = twice + 1
    end
  end
  say("%d packs subscribed (%d through both receivers); completing them", #keys, twice)
  local t0 = socket.gettime()
  for _, key in ipairs(keys) do admin:drive(key, "complete") end

  -- chaos: kill a worker every 0.5-2 s; on Redis, kill redis-server once, then start it again
  math.randomseed(os.time())
  local kills, redis_restarts, next_kill = 0, 0, socket.gettime() + 0.5 + math.random() * 1.5
  local killed = {}
  local box = assert(inbox.open(url))
  local function done_count()
    local n, seen = 0, {}
    local f = io.open(log)
    if not f then return 0 end
    for line in f:lines() do
      local what, key = line:match("^(%a+) (%S+)")
      if what == "end" and not seen[key] then seen[key] = true; n = n + 1 end
    end
    f:close()
    return n
  end
  while socket.gettime() - t0 < opts.seconds do
    local done = done_count()
    if done >= #keys then break end
    if socket.gettime() >= next_kill and done < #keys * 0.9 then
      local pids = {}
      for pid in output("pgrep -f -- '" .. url .. " .*[-]-worker-id'"):gmatch("%d+") do pids[#pids + 1] = pid end
      if #pids > 0 then
        local victim = pids[math.random(#pids)]
        sh("kill -9 " .. victim)
        killed[victim] = true
        kills = kills + 1
      end
      next_kill = socket.gettime() + 0.5 + math.random() * 1.5
    end
    if opts.start_redis and redis_restarts == 0 and done >= #keys * 0.4 then
      sh("kill -9 $(cat " .. dir .. "/redis.pid)")
      socket.sleep(1)
      opts.start_redis()
      redis_restarts = 1
      say("redis-server killed with SIGKILL and started again at %d of %d done", done, #keys)
    end
    socket.sleep(0.2)
  end
  local elapsed = socket.gettime() - t0

  -- the verdict
  local answered = {}
  for _, d in ipairs(admin:deliveries()) do
    if d.event == "final_document_generated" and d.status == 200 then answered[d.entity_key] = true end
  end
  local first_pid, starts, ended_by = {}, {}, {}
  for line in io.lines(log) do
    local what, key, pid = line:match("^(%a+) (%S+) (%S+)")
    if what == "start" then
      starts[key] = (starts[key] or 0) + 1
      first_pid[key] = first_pid[key] or pid
    elseif what == "end" then
      ended_by[key .. " " .. pid] = true
    end
  end
  local lost, on_disk, answered_n = 0, 0, 0
  for _, key in ipairs(keys) do
    local f = io.open(pdf_dir .. "/" .. key .. "/Doc.pdf", "rb")
    local whole = f and f:read(5) == "%PDF-"
    if f then f:close() end
    if whole then on_disk = on_disk + 1 end
    if answered[key] then
      answered_n = answered_n + 1
      if not whole then lost = lost + 1 end
    end
  end
  -- a one-shot event processed twice: its first run's process was killed (in its handler, or
  -- after it and before the inbox recorded it done), or the inbox could not record it done
  local mid, after, other_dups = 0, 0, 0
  for key, n in pairs(starts) do
    if n > 1 then
      local pid = first_pid[key]
      if killed[pid] and ended_by[key .. " " .. pid] then
        after = after + 1
      elseif killed[pid] then
        mid = mid + 1
      else
        other_dups = other_dups + 1
      end
    end
  end
  local unrecorded = 0   -- handlers that succeeded while the store could not record it (redis-server down)
  for line in io.lines(dir .. "/workers.log") do
    if line:find("done, but not recorded", 1, true) or line:find("done, but job", 1, true) then
      unrecorded = unrecorded + 1
    end
  end
  local stats = box:stats() or assert(box:stats())   -- its connection may have died with redis-server
  box:close()
  print(("chaos run on %s: %d callbacks (%d delivered through both receivers), %d receiver(s), %d worker "
    .. "processes"):format(opts.backend, #keys, twice, #receivers, n_workers))
  print(("  %.1f s; workers killed with SIGKILL: %d; redis-server killed and restarted: %d"):format(elapsed, kills,
    redis_restarts))
  print(("  final events answered 200: %d; final PDFs on disk: %d; lost: %d; dead: %d; still queued/running/"
    .. "retrying: %d"):format(answered_n, on_disk, lost, stats.dead, stats.queued + stats.running + stats.retrying))
  print(("  one-shot events processed twice: %d whose worker was killed in the handler, %d killed after it and "
    .. "before the inbox recorded it; %d after a completion the inbox could not record (redis-server down; %d "
    .. "such completions); %d others"):format(mid, after, math.min(other_dups, unrecorded), unrecorded,
    math.max(0, other_dups - unrecorded)))
  return lost == 0 and stats.dead == 0 and answered_n == #keys and on_disk == #keys
    and other_dups <= unrecorded
end)

cleanup()
sh("rm -rf " .. dir)
if not ok then
  io.stderr:write("chaos: ", tostring(err), "\n")
  os.exit(1)
end
os.exit(err and 0 or 1)
