--- openresty.worker: runs an inbox's jobs inside nginx, in timers, `concurrency` at a time per
-- nginx worker process (start it from init_worker_by_lua). The loop leases what is due, each
-- job runs in its own timer (its handlers' client calls go through the bounded thread pool, so
-- that "no available Lua vm" cannot happen), and a running job's lease is extended every third
-- of `lease` while it works. A push made by this nginx worker wakes the loop at once; otherwise it
-- looks every poll_interval. When nginx reloads or stops, the loop stops leasing; a job cut
-- short keeps its lease until it expires, then runs again elsewhere: nothing is lost.
local inbox_worker = require "quicklysign.inbox.worker"
local threads = require "quicklysign.openresty.threads"
local args = require "quicklysign.callbacks.args"

local ngx = ngx -- luacheck: ignore (set by nginx)
local pcall, setmetatable, tostring, ipairs, format = pcall, setmetatable, tostring, ipairs, string.format

local jobs = {
  DEFAULT_CONCURRENCY = 4,
}

local Runner = {}
Runner.__index = Runner

local function heartbeat(self, job)
  local every = self.lease / 3
  while true do
    ngx.sleep(every)
    local ok = self.inbox:extend(job, self.lease)
    if not ok then return end
  end
end

local function run_job(premature, self, job)
  if premature then   -- nginx is stopping before the job began: give it back now
    pcall(self.inbox.release, self.inbox, job)
    self.running = self.running - 1
    return
  end
  local hb = ngx.thread.spawn(heartbeat, self, job)
  local ok, outcome = pcall(inbox_worker.process, self.inbox, self.router, job, self, self.log)
  ngx.thread.kill(hb)
  if not ok then
    self.log("error", "quicklysign.inbox worker: " .. tostring(outcome))
    outcome = "lost"
  end
  local key = ({ done = "done", retrying = "retried", dead = "dead", lost = "lost" })[outcome] or "lost"
  self.counts[key] = self.counts[key] + 1
  self.running = self.running - 1
  self.wake:post(1)
end

local function loop(premature, self)
  if premature then return end
  while not ngx.worker.exiting() and not self.stopping do
    local free = self.concurrency - self.running
    local got = 0
    if free > 0 then
      local leased, err = self.inbox:lease(self.id, free, self.lease, self.max_attempts)
      if not leased then
        self.log("error", "quicklysign.inbox worker: " .. tostring(err))
      else
        for _, job in ipairs(leased) do
          self.running = self.running + 1
          local started, terr = ngx.timer.at(0, run_job, self, job)
          if not started then
            self.running = self.running - 1
            self.log("error", "quicklysign.inbox worker: cannot start a job: " .. tostring(terr))
            pcall(self.inbox.release, self.inbox, job)
          end
        end
        got = #leased
      end
    end
    if got == 0 or got < free then self.wake:wait(self.poll_interval) end
  end
end

--- openresty.worker{ inbox, router, concurrency = 4, lease, max_attempts, retry_delay,
--- max_retry_delay, poll_interval, id, log } --> runner; runner:start() in init_worker.
function jobs.new(opts)
  local s = inbox_worker.check(opts, "worker", { concurrency = jobs.DEFAULT_CONCURRENCY })
  local limit = threads.limit()
  args.option(s.concurrency < limit, 1, "worker", "concurrency", format("must be below the thread-call "
    .. "limit (%d; quicklysign.openresty.threads.configure{ limit = N }), so that every job's calls "
    .. "find a thread VM", limit), 1)
  s.id = opts.id or format("nginx:%d", ngx.worker.pid())
  s.running, s.counts = 0, { done = 0, retried = 0, dead = 0, lost = 0 }
  s.wake = require("ngx.semaphore").new(0)
  local self = setmetatable(s, Runner)
  local notify = self.inbox.store
  if notify then notify.on_push = function() self.wake:post(1) end end
  return self
end

--- runner:start() --> true | nil, err: starts the loop (call it from init_worker_by_lua).
function Runner:start()
  return ngx.timer.at(0, loop, self)
end

--- runner:stop(): leases no more; jobs under way finish.
function Runner:stop()
  self.stopping = true
  self.wake:post(1)
end

--- runner:stats() --> { running, done, retried, dead, lost } of this nginx worker
function Runner:stats()
  return { running = self.running, done = self.counts.done, retried = self.counts.retried,
    dead = self.counts.dead, lost = self.counts.lost }
end

return jobs
