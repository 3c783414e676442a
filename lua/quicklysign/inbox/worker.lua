-- Workers: lease stored callbacks from an inbox and run the router's handlers for them, at
-- least once, until they succeed or are parked as dead with their last error.
--   * A handler that raises or returns nil, err is retried after a jittered exponential delay
--     (retry_delay doubling up to max_retry_delay, "equal jitter": half fixed, half random).
--   * After max_attempts the job is dead: box:stats()/box:dead() show it, box:retry() puts it back.
--   * A worker that dies keeps its job leased for `lease` seconds; then any worker takes it again.
--   * An interrupt (Ctrl-C) gives the job back at once, its attempt not counted, and propagates.
-- Outside nginx a worker runs one job at a time (the C client blocks while it works): run more
-- worker processes for more at once (`quicklysign worker --concurrency N` starts N). Inside
-- nginx, openresty.worker runs `concurrency` jobs at a time in timers.
local args = require "quicklysign.callbacks.args"
local errors = require "quicklysign.callbacks.errors"
local log = require "quicklysign.callbacks.log"
local parse = require "quicklysign.callbacks.parse"

local type, tostring, pcall, error, setmetatable, pairs, floor, random, min =
  type, tostring, pcall, error, setmetatable, pairs, math.floor, math.random, math.min
local format = string.format

local worker = {
  DEFAULTS = {
    concurrency = 1, lease = 120, max_attempts = 25, retry_delay = 5, max_retry_delay = 3600,
    poll_interval = 1,
  },
  MAX_ERROR = 2000,   -- bytes of a failure's message kept with the job
}

--- worker.backoff(attempts, base, cap [, rand]) --> seconds before the next attempt
-- attempts: how many were made. base * 2^(attempts-1), at most cap; then half of it fixed and
-- half random, so that jobs that failed together do not all come back together.
function worker.backoff(attempts, base, cap, rand)
  local d = min(cap, base * 2 ^ (attempts - 1))
  return d / 2 + (rand or random)() * d / 2
end

local function is_interrupt(e)
  return type(e) == "string" and (e:find("interrupted!", 1, true) ~= nil or e == "not enough memory")
end

-- The event a job carries, as the router's handlers know it (callbacks.parse's shape), plus
-- where it came from: ev.id, ev.attempt, ev.source ("callback", "reconcile"), ev.received_at.
function worker.event_of(job)
  local ev, err = parse.parse(job.body, nil, { max_body = math.huge })
  if not ev then return nil, err end
  ev.id, ev.attempt, ev.source, ev.received_at = job.id, job.attempts, job.source, job.created_at
  return ev
end

--- worker.process(box, router, job, policy, logger) --> outcome, err
-- Runs one leased job. outcome: "done", "retrying", "dead", or "lost" (done, but another worker
-- had taken the job over: its work may run twice). err: the handlers' failure, or the store's.
-- policy: { max_attempts, retry_delay, max_retry_delay }.
function worker.process(box, router, job, policy, logger)
  local outcome, err = worker._process(box, router, job, policy, logger)
  local m = router.metrics
  if m then
    pcall(m.inc, m, "quicklysign_jobs_total", { outcome = outcome == "retrying" and "retried" or outcome })
  end
  return outcome, err
end

function worker._process(box, router, job, policy, logger)
  local ev, perr = worker.event_of(job)
  local ok, err
  if ev then
    ok, err = router:process(ev)
  else
    err = errors.new("inbox", "bad_job", "the stored callback no longer parses: " .. tostring(perr))
  end
  local where = format("job %s (%s %s, attempt %d)", tostring(job.id), tostring(job.event),
    tostring(job.entity_key), job.attempts or 0)
  if ok then
    local done, cerr = box:complete(job)
    if done then
      logger("info", "quicklysign.inbox " .. where .. " done")
      return "done"
    end
    if cerr and cerr.reason == "lease_lost" then
      logger("warn", "quicklysign.inbox " .. where .. " done, but " .. tostring(cerr.message))
      return "lost", cerr
    end
    logger("error", "quicklysign.inbox " .. where .. " done, but not recorded: " .. tostring(cerr))
    return "lost", cerr
  end
  local message = (router.scrub or tostring)(tostring(err))
  if #message > worker.MAX_ERROR then message = message:sub(1, worker.MAX_ERROR) .. " ..." end
  local delay
  if ev and (job.attempts or 0) < policy.max_attempts then
    delay = worker.backoff(job.attempts or 1, policy.retry_delay, policy.max_retry_delay)
  end
  local state, ferr = box:fail(job, message, delay)
  if not state then
    logger("error", "quicklysign.inbox " .. where .. " failed (" .. message .. "), and the failure was not "
      .. "recorded: " .. tostring(ferr) .. "; it runs again when its lease ends")
    return "lost", ferr
  end
  if state == "dead" then
    logger("error", "quicklysign.inbox " .. where .. " is dead after " .. tostring(job.attempts)
      .. " attempts: " .. message)
  else
    logger("warn", format("quicklysign.inbox %s failed, retrying in %.1fs: %s", where, delay, message))
  end
  return state, err
end

---------------------------------------------------------------------------------------------

local Worker = {}
Worker.__index = Worker

local KNOWN = { inbox = true, router = true, concurrency = true, lease = true, max_attempts = true,
  retry_delay = true, max_retry_delay = true, poll_interval = true, id = true, log = true, sleep = true }

local function positive(v) return type(v) == "number" and v > 0 and v == v and v < math.huge end

--- worker.check(opts, fname [, defaults]) --> the settings, defaults filled in (shared with
-- openresty.worker, whose defaults differ)
function worker.check(opts, fname, defaults)
  args.check(opts, "table", 1, fname, 2)
  args.known_options(opts, KNOWN, 1, fname, 2)
  local box = opts.inbox
  args.option(type(box) == "table" and type(box.lease) == "function", 1, fname, "inbox",
    "must be an inbox made by quicklysign.inbox.open", 2)
  args.option(type(opts.router) == "table" and type(opts.router.process) == "function", 1, fname, "router",
    "must be a router made by quicklysign.callbacks.router", 2)
  local s = {}
  for k, v in pairs(worker.DEFAULTS) do
    if defaults and defaults[k] ~= nil then v = defaults[k] end
    local given = opts[k]
    if given ~= nil then
      args.option(positive(given), 1, fname, k, "must be a positive number", 2)
      if k == "concurrency" or k == "max_attempts" then
        args.option(given % 1 == 0, 1, fname, k, "must be a positive integer", 2)
      end
      v = given
    end
    s[k] = v
  end
  s.inbox, s.router = box, opts.router
  args.option(opts.id == nil or type(opts.id) == "string", 1, fname, "id", "must be a string", 2)
  s.id = opts.id or format("%s:%d", os.getenv("HOSTNAME") or "worker", floor(random() * 1e9))
  args.option(opts.log == nil or args.is_callable(opts.log), 1, fname, "log", "must be a function", 2)
  s.log = opts.log and log.writer(opts.log, opts.router.scrub) or opts.router.log
  args.option(opts.sleep == nil or args.is_callable(opts.sleep), 1, fname, "sleep", "must be a function", 2)
  s.sleep = opts.sleep
  return s
end

local function default_sleep()
  local ok, socket = pcall(require, "socket")
  if ok and type(socket.sleep) == "function" then return socket.sleep end
  return function(s) os.execute(format("sleep %.3f", s)) end
end

--- worker.new{ inbox, router, concurrency = 1, lease = 120, max_attempts = 25, retry_delay = 5,
--- max_retry_delay = 3600, poll_interval = 1, id, log } --> worker
function worker.new(opts)
  local s = worker.check(opts, "worker")
  if s.concurrency ~= 1 then
    args.fail(1, "worker", "option 'concurrency' must be 1 outside nginx: the C client blocks while "
      .. "it works, so one process runs one job at a time; run more worker processes "
      .. "(quicklysign worker --concurrency N starts N), or use openresty.worker in nginx")
  end
  s.sleep = s.sleep or default_sleep()
  s.counts = { done = 0, retried = 0, dead = 0, lost = 0 }
  return setmetatable(s, Worker)
end

local COUNT = { done = "done", retrying = "retried", dead = "dead", lost = "lost" }

--- worker:run_once() --> jobs run (0 when none was due) | nil, err (the inbox failed)
function Worker:run_once()
  local jobs, err = self.inbox:lease(self.id, self.concurrency, self.lease, self.max_attempts)
  if not jobs then return nil, err end
  for i = 1, #jobs do
    local job = jobs[i]
    local ok, outcome = pcall(worker.process, self.inbox, self.router, job, self, self.log)
    if not ok then
      if is_interrupt(outcome) then
        self.inbox:release(job)
        for j = i + 1, #jobs do self.inbox:release(jobs[j]) end
        error(outcome, 0)
      end
      self.log("error", "quicklysign.inbox worker: " .. tostring(outcome))
      outcome = "lost"   -- its lease runs out, then it runs again
    end
    local key = COUNT[outcome]
    self.counts[key] = self.counts[key] + 1
  end
  return #jobs
end

--- worker:run([opts]) --> counts { done, retried, dead, lost }
-- Until worker:stop() (from a handler or hook), or with opts.until_idle = true until no job is
-- due (jobs waiting for a later retry are left for later), or opts.max_jobs jobs. An inbox that
-- cannot be reached is logged and tried again after poll_interval.
function Worker:run(opts)
  opts = opts or {}
  args.check(opts, "table", 1, "run")
  self.stopping = false
  local ran = 0
  while not self.stopping do
    local n, err = self:run_once()
    if n == nil then
      self.log("error", "quicklysign.inbox worker: " .. tostring(err))
      if opts.until_idle then return self.counts, err end
      self.sleep(self.poll_interval)
    elseif n == 0 then
      if opts.until_idle then break end
      self.sleep(self.poll_interval)
    else
      ran = ran + n
      if opts.max_jobs and ran >= opts.max_jobs then break end
    end
  end
  return self.counts
end

--- worker:stop(): the loop ends after the job under way.
function Worker:stop()
  self.stopping = true
end

return worker
