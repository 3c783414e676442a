-- quicklysign worker | inbox stats|dead|retry|drop | reconcile: the durable inbox from the shell.
-- The inbox URL comes from --inbox or QUICKLYSIGN_INBOX (it may hold a Redis password, which
-- never appears in output). `worker --concurrency N` runs N worker processes under a small shell
-- supervisor that restarts one that died; each process runs one job at a time.
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"

local type, tostring, ipairs, pairs, pcall, require, format, concat =
  type, tostring, ipairs, pairs, pcall, require, string.format, table.concat

local commands = {
  INBOX = "QUICKLYSIGN_INBOX",
}

local function inbox_lib()
  local ok, inbox = pcall(require, "quicklysign.inbox")
  if not ok then status.raise(status.CONFIG, "cannot load quicklysign.inbox: " .. tostring(inbox)) end
  return inbox
end

-- The inbox named by --inbox or QUICKLYSIGN_INBOX, opened; a failure to reach it exits 5.
local function open(ctx)
  local url = ctx.options.inbox or ctx.getenv(commands.INBOX)
  if url == nil or url == "" then
    status.raise(status.USAGE, "which inbox? give --inbox URL or set " .. commands.INBOX
      .. " (sqlite:///path/file.db or redis://host:port/db)")
  end
  ctx.out:add_secret(url:match("^%a[%w+.-]*://[^/@]*:([^/@]+)@"))
  local box, err = inbox_lib().open(url)
  if not box then
    if err.reason == "bad_url" then status.raise(status.USAGE, tostring(err.message)) end
    status.raise(status.TEMPORARY, tostring(err.message))
  end
  ctx.box = box
  return box
end

local function iso(t) return t and output.iso8601(t * 1000) or nil end

function commands.stats(ctx)
  local out, box = ctx.out, open(ctx)
  local s, err = box:stats()
  if not s then return ctx:fail(err) end
  if out.json then
    out:document(s)
  elseif out.quiet then
    out:print(format("%d %d %d %d %d", s.queued, s.running, s.retrying, s.dead, s.done))
  else
    out:table({ "QUEUED", "RUNNING", "RETRYING", "DEAD", "DONE" },
      { { tostring(s.queued), tostring(s.running), tostring(s.retrying), tostring(s.dead), tostring(s.done) } })
  end
  return status.OK
end

function commands.dead(ctx)
  local out, box = ctx.out, open(ctx)
  local jobs, err = box:dead()
  if not jobs then return ctx:fail(err) end
  local plain = {}
  for i, j in ipairs(jobs) do
    plain[i] = { id = j.id, event = j.event, entity_key = j.entity_key, attempts = j.attempts,
      last_error = j.last_error, source = j.source, received = j.created_at, died = j.updated_at }
  end
  out:list(plain, { key = "id", empty = "no dead jobs", columns = { "ID", "EVENT", "ENTITY", "ATTEMPTS", "DIED",
    "LAST ERROR" },
    row = function(j) return { j.id, j.event, j.entity_key, tostring(j.attempts), iso(j.died), j.last_error } end })
  return status.OK
end

function commands.retry(ctx)
  local out = ctx.out
  local which = ctx.options.all and "all" or ctx.args[1]
  if which == nil then status.raise(status.USAGE, "give a job ID, or --all") end
  if ctx.options.all and ctx.args[1] then status.raise(status.USAGE, "give a job ID or --all, not both") end
  local box = open(ctx)
  local n, err = box:retry(which)
  if not n then return ctx:fail(err) end
  if n == 0 and which ~= "all" then
    out:error("no dead job has the id " .. tostring(which))
    return status.NOT_FOUND
  end
  if out.json then out:document{ retried = n } else out:print(format("%d job%s back in the queue", n,
    n == 1 and "" or "s")) end
  return status.OK
end

function commands.drop(ctx)
  local out, box = ctx.out, open(ctx)
  local dropped, err = box:drop(ctx.args[1])
  if dropped == nil then return ctx:fail(err) end
  if not dropped then
    out:error("no dead job has the id " .. tostring(ctx.args[1]))
    return status.NOT_FOUND
  end
  if out.json then out:document{ dropped = ctx.args[1] } else out:print("dropped job " .. ctx.args[1]) end
  return status.OK
end

-- events resend ID [--to URL]: a stored callback again. Without --to its handlers run again
-- (the job back in the queue, for the workers); with --to its body is POSTed, as QuicklySign
-- sent it, to URL (a receiver of yours), and the answer printed.
function commands.resend(ctx)
  local out, box = ctx.out, open(ctx)
  local id, to = ctx.args[1], ctx.options.to
  if to then
    local job, err = box:get(id)
    if err then return ctx:fail(err) end
    if not job then
      out:error("no stored callback has the id " .. tostring(id))
      return status.NOT_FOUND
    end
    local code, answer
    require("quicklysign.cli.loop").run(function()
      code, answer = require("quicklysign.cli.http_client").request{ method = "POST", url = to, body = job.body,
        headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "quicklysign-cli (events resend)" } }
    end)
    if not code then
      out:error("cannot resend to " .. to .. ": " .. tostring(answer))
      return status.TEMPORARY
    end
    if out.json then out:document{ id = id, url = to, status = code } else
      out:print(format("resent job %s (%s %s) to %s -> %d", id, output.clean(job.event), output.clean(job.entity_key),
        to, code))
    end
    return code == 200 and status.OK or status.FAILED
  end
  local requeued, err = box:replay(id)
  if requeued == nil then return ctx:fail(err) end
  if not requeued then
    out:error("no done or dead job has the id " .. tostring(id) .. " (a queued or running one runs anyway)")
    return status.NOT_FOUND
  end
  if out.json then out:document{ id = id, requeued = true } else out:print("job " .. id .. " back in the queue") end
  return status.OK
end

---------------------------------------------------------------------------------------------
-- worker

-- The handlers module: a module name on LUA_PATH, or a .lua file; it returns
-- function(router, client) that registers the handlers.
local function load_handlers(name)
  local ok, setup
  if name:match("%.lua$") then
    ok, setup = pcall(dofile, name)
  else
    ok, setup = pcall(require, name)
  end
  if not ok then status.raise(status.CONFIG, "cannot load the handlers " .. name .. ": " .. tostring(setup)) end
  if type(setup) ~= "function" then
    status.raise(status.CONFIG, "the handlers " .. name .. " must return function(router, client), got "
      .. type(setup))
  end
  return setup
end

-- The N-process form: this command again, --concurrency 1, under a shell loop that restarts a
-- process that died (a crash, SIGKILL) and stops them all on SIGINT/SIGTERM, or when the
-- quicklysign process that started it is gone (its $PPID: Lua waits in os.execute meanwhile).
local SUPERVISOR = [[
parent=$PPID children=""
stop() { kill -TERM $children 2>/dev/null; wait; exit "$1"; }
trap 'stop 130' INT
trap 'stop 143' TERM
for i in $(seq "$QS_N"); do
  ( trap 'kill -TERM $child 2>/dev/null; wait; exit 143' TERM
    while :; do
      "$@" --worker-id "$QS_ID-$i" & child=$!
      wait "$child"; rc=$?
      case $rc in 0|2|3|130|143) exit $rc ;; esac
      echo "quicklysign worker $i: exited with $rc; starting it again" >&2
      sleep 1
    done ) &
  children="$children $!"
done
while :; do
  kill -0 "$parent" 2>/dev/null || stop 143
  alive=0
  for pid in $children; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive -eq 1 ] || break
  sleep 0.5
done
status=0
for pid in $children; do wait "$pid" || status=$?; done
exit $status
]]

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function supervise(ctx, n)
  local argv = ctx.argv or {}
  local lua, script = argv[-1], argv[0]
  if not (lua and script) then
    status.raise(status.USAGE, "--concurrency above 1 needs the quicklysign command itself (it starts "
      .. "itself N times)")
  end
  local words = { quote(lua), quote(script) }
  for i = 1, #argv do
    local a = argv[i]
    if a:match("^%-%-concurrency=") then a = "--concurrency=1" end
    words[#words + 1] = quote(a)
    if argv[i - 1] == "--concurrency" then words[#words] = "1" end
  end
  local line = format("QS_N=%d QS_ID=%s exec bash -c %s quicklysign-workers %s", n,
    quote(ctx.options.worker_id or "worker"), quote(SUPERVISOR), concat(words, " "))
  local ok, how, code = os.execute(line)
  if type(ok) == "number" then return ok % 255 end   -- Lua 5.1
  if how == "signal" then return 128 + code end
  return code or (ok and 0 or 1)
end

function commands.worker(ctx)
  local out, opts = ctx.out, ctx.options
  local n = opts.concurrency or 1
  if n > 1 then return supervise(ctx, n) end
  local setup = load_handlers(opts.handlers)
  local callbacks = require "quicklysign.callbacks"
  local inbox = inbox_lib()
  local box = open(ctx)
  local client = ctx:client{ api_key = ctx.getenv("QUICKLYSIGN_API_KEY") ~= nil }
  local router = callbacks.router{ inbox = box, log = function(level, msg)
    if level == "error" then out:error(msg) elseif level ~= "debug" then out:notice(msg) end
  end }
  local ok, err = pcall(setup, router, client)
  if not ok then status.raise(status.CONFIG, "the handlers " .. opts.handlers .. " raised: " .. tostring(err)) end
  local worker = inbox.worker{ inbox = box, router = router, lease = opts.lease, max_attempts = opts.max_attempts,
    retry_delay = opts.retry_delay, id = opts.worker_id }
  local counts = worker:run{ until_idle = opts.until_idle }
  if opts.until_idle then
    if out.json then
      out:document(counts)
    else
      out:notice(format("worker: %d done, %d retried, %d dead, %d lost leases", counts.done, counts.retried,
        counts.dead, counts.lost))
    end
  end
  return status.OK
end

---------------------------------------------------------------------------------------------
-- reconcile

function commands.reconcile(ctx)
  local out = ctx.out
  local box = open(ctx)
  local client = ctx:client{ api_key = true }
  local keys = ctx.options.entity
  local report, err = inbox_lib().reconcile{ client = client, inbox = box, entity_keys = keys }
  if not report then return ctx:fail(err) end
  local failed = {}
  for key, e in pairs(report.failed) do failed[#failed + 1] = { entity_key = key, error = tostring(e) } end
  table.sort(failed, function(a, b) return a.entity_key < b.entity_key end)
  if out.json then
    out:document{ checked = report.checked, pushed = report.pushed, done = report.done, underway = report.underway,
      incomplete = report.incomplete, failed = failed, stopped = report.stopped }
  else
    local function n(count, what) return format("%d %s%s", count, what, count == 1 and "" or "s") end
    out:print(format("reconcile: %s checked with the API, %s queued; %d already done, %d underway, "
      .. "%d not complete yet", n(report.checked, "pack"), n(report.pushed, "final event"), report.done,
      report.underway, report.incomplete))
    for _, f in ipairs(failed) do out:error("could not check " .. f.entity_key .. ": " .. f.error) end
    if report.stopped then out:notice("stopped early: " .. report.stopped) end
  end
  if #failed > 0 then return status.TEMPORARY end
  return status.OK
end

return commands
