-- The inbox's embedded store: one SQLite file (WAL), for receivers and workers on one machine.
-- Every state change is one IMMEDIATE transaction, so that two processes never both lease a
-- job; SQLite's own clock (julianday('now')) is the one clock all of them read.
--
-- A job's life (the same in the Redis store, redis.lua):
--   push -> queued -> lease -> running -> complete -> done
--                               |  \-> fail(delay) -> retrying -> (due) -> lease ...
--                               |  \-> fail(nil) / attempts used up -> dead -> retry -> queued
--                               \-> lease expired (its worker died) -> leased again, or dead
-- A job pushed under a once key (one-shot events) is stored once: a repeat answers "duplicate";
-- if the stored job waits for a retry it runs now, and if it is dead it is put back.
-- Needs LuaSQL's SQLite driver (Debian lua-sql-sqlite3; rock luasql-sqlite3).
local errors = require "quicklysign.callbacks.errors"

local type, tostring, tonumber, setmetatable, pcall, ipairs, pairs, floor =
  type, tostring, tonumber, setmetatable, pcall, ipairs, pairs, math.floor
local format, find, concat = string.format, string.find, table.concat

local sqlite = {
  DEFAULT_BUSY_TIMEOUT = 10000,   -- ms a statement waits for another process's write lock
  PURGE_EVERY = 60,               -- seconds between sweeps of done jobs past keep_done
  SCHEMA_VERSION = 1,
}

local NOW = "((julianday('now') - 2440587.5) * 86400.0)"

local SCHEMA = {
  [[CREATE TABLE IF NOT EXISTS quicklysign_inbox_meta (name TEXT PRIMARY KEY, value TEXT)]],
  [[CREATE TABLE IF NOT EXISTS quicklysign_inbox_jobs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      once_key TEXT,
      body TEXT NOT NULL,
      event TEXT NOT NULL,
      entity_key TEXT NOT NULL,
      source TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      run_at REAL NOT NULL,
      lease_until REAL,
      lease_token TEXT,
      last_error TEXT,
      created_at REAL NOT NULL,
      updated_at REAL NOT NULL)]],
  -- Partial indexes: each holds only the jobs its query looks for, so that a done job (most
  -- of the table, kept keep_done) costs no index at all, and a push touches one index.
  [[CREATE UNIQUE INDEX IF NOT EXISTS quicklysign_inbox_once ON quicklysign_inbox_jobs (once_key)
      WHERE once_key IS NOT NULL]],
  [[CREATE INDEX IF NOT EXISTS quicklysign_inbox_due ON quicklysign_inbox_jobs (run_at)
      WHERE state IN ('queued', 'retrying')]],
  [[CREATE INDEX IF NOT EXISTS quicklysign_inbox_leases ON quicklysign_inbox_jobs (lease_until)
      WHERE state = 'running']],
  [[CREATE INDEX IF NOT EXISTS quicklysign_inbox_done ON quicklysign_inbox_jobs (updated_at)
      WHERE state = 'done']],
}

local COLUMNS = "id, body, event, entity_key, source, state, attempts, lease_token, last_error, "
  .. "created_at, updated_at, once_key, run_at"

local Store = {}
Store.__index = Store

local function fail(reason, message, extra)
  return nil, errors.new("inbox", reason, message, extra)
end

local function store_error(what, detail)
  return fail("store_error", format("the SQLite inbox failed to %s: %s", what, tostring(detail)))
end

-- SQL literals. LuaSQL has no bound parameters: every value goes through these two.
function Store:_str(s)
  if s == nil then return "NULL" end
  s = tostring(s)
  if find(s, "\0", 1, true) then error("a NUL byte cannot be stored in the SQLite inbox", 0) end
  return "'" .. self.conn:escape(s) .. "'"
end

local function num(n)
  n = tonumber(n)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then error("not a finite number", 0) end
  return format("%.6f", n)
end

local function id_literal(id)
  local n = tonumber(id)
  if n == nil or n ~= floor(n) or n < 1 then return nil end
  return format("%d", n)
end

-- Runs sql; for a SELECT returns every row (as tables keyed by column name).
function Store:_exec(sql)
  local res, err = self.conn:execute(sql)
  if res == nil then error({ sql_error = err }, 0) end
  if type(res) ~= "userdata" then return res end
  local rows = {}
  while true do
    local row = res:fetch({}, "a")
    if row == nil then break end
    rows[#rows + 1] = row
  end
  res:close()
  return rows
end

-- Runs fn(self, now) inside BEGIN IMMEDIATE .. COMMIT; any failure rolls back and comes back as
-- nil, err. A Lua error that is not ours (interrupt, out of memory) rolls back and propagates.
function Store:_tx(what, fn, ...)
  if self.conn == nil then return fail("closed", "the inbox is closed") end
  local began, why = self.conn:execute("BEGIN IMMEDIATE")
  if began == nil then return store_error(what, why) end
  local ok, a, b = pcall(function(...)
    local now = tonumber(self:_exec("SELECT " .. NOW .. " AS now")[1].now)
    return fn(self, now, ...)
  end, ...)
  if ok then
    local committed, cerr = self.conn:execute("COMMIT")
    if committed ~= nil then return a, b end
    self.conn:execute("ROLLBACK")
    return store_error(what, cerr)
  end
  self.conn:execute("ROLLBACK")
  if type(a) == "table" and a.sql_error then return store_error(what, a.sql_error) end
  if type(a) == "string" and not find(a, "interrupted") and not find(a, "memory") then
    return store_error(what, a)
  end
  error(a, 0)
end

-- Switches the file to WAL (once per file; it stays so). SQLite answers "database is locked"
-- at once, without waiting, when another connection holds a lock at that moment (seen with
-- eight processes opening a new file together): wait for that lock the way SQLite waits for
-- any (BEGIN IMMEDIATE honours busy_timeout), then try again.
function Store:_wal()
  for _ = 1, 20 do
    local res = self.conn:execute("PRAGMA journal_mode = WAL")
    if type(res) == "userdata" then
      local mode = res:fetch()
      res:close()
      if mode == "wal" then return end
    end
    if self.conn:execute("BEGIN IMMEDIATE") then self.conn:execute("ROLLBACK") end
  end
  error({ sql_error = "could not switch the file to WAL mode" }, 0)
end

--- sqlite.open(spec) --> store | nil, err
-- spec: { path, busy_timeout (ms), synchronous ("full"|"normal"), keep_done (s) }
function sqlite.open(spec)
  local ok, driver = pcall(require, "luasql.sqlite3")
  if not ok then
    return fail("unavailable", "the SQLite inbox needs LuaSQL's SQLite driver (Debian: "
      .. "apt-get install lua-sql-sqlite3; LuaRocks: luasql-sqlite3)")
  end
  local env = driver.sqlite3()
  local conn, err = env:connect(spec.path)
  if not conn then
    env:close()
    return fail("unavailable", format("cannot open the SQLite inbox %s: %s", spec.path, tostring(err)))
  end
  local self = setmetatable({ env = env, conn = conn, path = spec.path, keep_done = spec.keep_done,
    last_purge = 0, backend = "sqlite" }, Store)
  local sync = spec.synchronous == "normal" and "NORMAL" or "FULL"
  local setup_ok, setup_err = pcall(function()
    self:_exec(format("PRAGMA busy_timeout = %d", spec.busy_timeout or sqlite.DEFAULT_BUSY_TIMEOUT))
    self:_wal()
    self:_exec("PRAGMA synchronous = " .. sync)
    self:_exec("BEGIN IMMEDIATE")   -- two new connections creating tables would deadlock
    for _, statement in ipairs(SCHEMA) do self:_exec(statement) end
    self:_exec(format("INSERT OR IGNORE INTO quicklysign_inbox_meta VALUES ('schema', '%d')",
      sqlite.SCHEMA_VERSION))
    self:_exec("COMMIT")
  end)
  if not setup_ok then
    self:close()
    local detail = type(setup_err) == "table" and setup_err.sql_error or setup_err
    return fail("unavailable", format("cannot set up the SQLite inbox %s: %s", spec.path, tostring(detail)))
  end
  return self
end

-- Values of one new row, as SQL.
local function row_values(self, now, item)
  return format("(%s, %s, %s, %s, %s, 'queued', 0, %s, %s, %s)", self:_str(item.once_key), self:_str(item.body),
    self:_str(item.event), self:_str(item.entity_key), self:_str(item.source or "callback"), num(now), num(now),
    num(now))
end

-- The stored jobs of these once keys: { [key] = { id, state } }.
function Store:_by_once_key(keys)
  local found, list = {}, {}
  for key in pairs(keys) do list[#list + 1] = self:_str(key) end
  if #list == 0 then return found end
  for _, row in ipairs(self:_exec("SELECT id, state, once_key FROM quicklysign_inbox_jobs WHERE once_key IN ("
    .. concat(list, ",") .. ")")) do
    found[row.once_key] = { id = tostring(floor(tonumber(row.id))), state = row.state }
  end
  return found
end

-- A repeat of a stored one-shot event: a job waiting for its retry runs now, a dead one is put back.
function Store:_nudge(now, ids, state)
  if #ids == 0 then return end
  local set = state == "dead" and "state = 'queued', attempts = 0, " or ""
  self:_exec(format("UPDATE quicklysign_inbox_jobs SET %srun_at = %s, updated_at = %s WHERE state = '%s' "
    .. "AND id IN (%s)", set, num(now), num(now), state, concat(ids, ",")))
end

-- Stores a batch in a few statements whatever its size (one multi-row INSERT): the write lock
-- is held (BEGIN IMMEDIATE), so the new rows take consecutive ids, in order.
local function insert_all(self, now, items)
  local keys = {}
  for _, item in ipairs(items) do
    if item.once_key then keys[item.once_key] = true end
  end
  local stored = self:_by_once_key(keys)
  local results, values, fresh, nudge = {}, {}, {}, { retrying = {}, dead = {} }
  for i, item in ipairs(items) do
    local seen = item.once_key and stored[item.once_key]
    if seen and seen.first then   -- the same once key earlier in this batch
      results[i] = { first = seen.first }
    elseif seen then
      results[i] = { id = seen.id, state = "duplicate", was = seen.state }
      if nudge[seen.state] and not seen.nudged then
        seen.nudged = true
        local list = nudge[seen.state]
        list[#list + 1] = seen.id
      end
    else
      if item.once_key then stored[item.once_key] = { first = i } end
      values[#values + 1] = row_values(self, now, item)
      fresh[#fresh + 1] = i
    end
  end
  self:_nudge(now, nudge.retrying, "retrying")
  self:_nudge(now, nudge.dead, "dead")
  if #values > 0 then
    local stored_rows = tonumber(self:_exec("INSERT INTO quicklysign_inbox_jobs (once_key, body, event, entity_key, "
      .. "source, state, attempts, run_at, created_at, updated_at) VALUES " .. concat(values, ",")))
    if stored_rows ~= #fresh then
      error({ sql_error = "stored " .. tostring(stored_rows) .. " rows for " .. #fresh .. " callbacks" }, 0)
    end
    -- one statement under the write lock: its rows took consecutive ids, the last one this
    local last = floor(tonumber(self:_exec("SELECT last_insert_rowid() AS id")[1].id))
    for k, i in ipairs(fresh) do results[i] = { id = format("%d", last - #fresh + k), state = "queued" } end
  end
  for i, r in ipairs(results) do
    if r.first then results[i] = { id = results[r.first].id, state = "duplicate", was = "queued" } end
  end
  return results
end

--- store:push_many(items) --> results | nil, err   (one transaction: all stored, or none)
-- item: { body, event, entity_key, source, once_key }; result: { id, state = "queued" |
-- "duplicate", was = the stored job's state for a duplicate }.
function Store:push_many(items)
  return self:_tx("store the callbacks", insert_all, items)
end

local function job_of(row)
  return {
    id = tostring(floor(tonumber(row.id))), body = row.body, event = row.event,
    entity_key = row.entity_key, source = row.source, state = row.state,
    attempts = tonumber(row.attempts), token = row.lease_token, last_error = row.last_error,
    created_at = tonumber(row.created_at), updated_at = tonumber(row.updated_at),
    once_key = row.once_key, run_at = tonumber(row.run_at),
  }
end

function Store:_purge(now)
  if self.keep_done == nil or now - self.last_purge < sqlite.PURGE_EVERY then return end
  self.last_purge = now
  self:_exec(format("DELETE FROM quicklysign_inbox_jobs WHERE state = 'done' AND updated_at < %s",
    num(now - self.keep_done)))
end

--- store:lease(owner, n, lease, max_attempts) --> { job, ... } | nil, err
-- Takes up to n jobs that are due (queued, retrying and due, or running with an expired lease)
-- for `lease` seconds. A job whose lease expired after its last allowed attempt is dead.
function Store:lease(owner, n, lease, max_attempts)
  return self:_tx("lease jobs", function(s, now)
    s:_purge(now)
    s:_exec(format("UPDATE quicklysign_inbox_jobs SET state = 'dead', lease_token = NULL, updated_at = %s, "
      .. "last_error = 'its worker stopped during the last allowed attempt (the lease expired)' "
      .. "WHERE state = 'running' AND lease_until <= %s AND attempts >= %d", num(now), num(now), max_attempts))
    -- jobs whose worker died first, then the due ones, oldest first: each an index walk that
    -- stops after n (one query with OR would sort every due job to take n of them)
    local rows = s:_exec(format("SELECT id FROM quicklysign_inbox_jobs WHERE state = 'running' AND lease_until <= %s "
      .. "ORDER BY lease_until LIMIT %d", num(now), n))
    if #rows < n then
      for _, row in ipairs(s:_exec(format("SELECT id FROM quicklysign_inbox_jobs WHERE state IN ('queued', "
        .. "'retrying') AND run_at <= %s ORDER BY run_at LIMIT %d", num(now), n - #rows))) do
        rows[#rows + 1] = row
      end
    end
    if #rows == 0 then return {} end
    local ids = {}
    for i, row in ipairs(rows) do ids[i] = format("%d", tonumber(row.id)) end
    local list = concat(ids, ",")
    s:_exec(format("UPDATE quicklysign_inbox_jobs SET state = 'running', attempts = attempts + 1, "
      .. "lease_until = %s, lease_token = %s || ':' || id || ':' || (attempts + 1), updated_at = %s "
      .. "WHERE id IN (%s)", num(now + lease), s:_str(owner), num(now), list))
    local jobs = {}
    for i, row in ipairs(s:_exec("SELECT " .. COLUMNS .. " FROM quicklysign_inbox_jobs WHERE id IN ("
      .. list .. ") ORDER BY run_at, id")) do
      jobs[i] = job_of(row)
    end
    return jobs
  end)
end

-- Changes a running job held under job.token; a lease taken over by another worker answers
-- nil, err (reason "lease_lost").
function Store:_transition(what, job, set)
  local id = id_literal(job.id)
  if not id then return fail("no_such_job", "no job has the id " .. tostring(job.id)) end
  return self:_tx(what, function(s, now)
    local changed = s:_exec(format("UPDATE quicklysign_inbox_jobs SET %s, updated_at = %s WHERE id = %s "
      .. "AND state = 'running' AND lease_token = %s", set(s, now), num(now), id, s:_str(job.token)))
    if tonumber(changed) ~= 1 then
      return nil, errors.new("inbox", "lease_lost", format("job %s is no longer leased to this worker "
        .. "(its lease expired and another worker took it, or it was retried by hand)", job.id))
    end
    return true
  end)
end

--- store:complete(job) --> true | nil, err
function Store:complete(job)
  return self:_transition("complete a job", job, function()
    return "state = 'done', lease_token = NULL, last_error = NULL"
  end)
end

--- store:fail(job, message, delay) --> "retrying" | "dead" | nil, err   (delay nil: dead now)
function Store:fail(job, message, delay)
  local state = delay and "retrying" or "dead"
  local ok, err = self:_transition("record a failure", job, function(s, now)
    return format("state = '%s', lease_token = NULL, last_error = %s, run_at = %s", state,
      s:_str(message), num(now + (delay or 0)))
  end)
  if not ok then return nil, err end
  return state
end

--- store:extend(job, lease) --> true | nil, err: keeps a long job's lease.
function Store:extend(job, lease)
  return self:_transition("extend a lease", job, function(_, now)
    return "lease_until = " .. num(now + lease)
  end)
end

--- store:release(job) --> true | nil, err: gives a job back at once, its attempt not counted
-- (the worker is stopping; the handler was interrupted).
function Store:release(job)
  return self:_transition("release a job", job, function(_, now)
    return "state = 'queued', lease_token = NULL, attempts = MAX(attempts - 1, 0), run_at = " .. num(now)
  end)
end

--- store:stats() --> { queued, running, retrying, dead, done }, counted as a worker sees them:
-- a job due for its retry, or whose worker died (lease expired), is queued.
function Store:stats()
  return self:_tx("count jobs", function(s, now)
    local t = { queued = 0, running = 0, retrying = 0, dead = 0, done = 0 }
    local rows = s:_exec(format("SELECT CASE WHEN state = 'running' AND lease_until <= %s THEN 'queued' "
      .. "WHEN state = 'retrying' AND run_at <= %s THEN 'queued' ELSE state END AS s, COUNT(*) AS n "
      .. "FROM quicklysign_inbox_jobs GROUP BY s", num(now), num(now)))
    for _, row in ipairs(rows) do t[row.s] = (t[row.s] or 0) + floor(tonumber(row.n)) end
    return t
  end)
end

--- store:dead([limit]) --> { job, ... } oldest failure first
function Store:dead(limit)
  return self:_tx("list dead jobs", function(s)
    local jobs = {}
    for i, row in ipairs(s:_exec(format("SELECT %s FROM quicklysign_inbox_jobs WHERE state = 'dead' "
      .. "ORDER BY updated_at, id LIMIT %d", COLUMNS, limit or 1000))) do
      jobs[i] = job_of(row)
    end
    return jobs
  end)
end

--- store:get(id) --> job | nil (no such job) | nil, err
function Store:get(id)
  local literal = id_literal(id)
  if not literal then return nil end
  return self:_tx("read a job", function(s)
    local row = s:_exec(format("SELECT %s FROM quicklysign_inbox_jobs WHERE id = %s", COLUMNS, literal))[1]
    return row and job_of(row) or nil
  end)
end

--- store:retry(id | "all") --> number of dead jobs put back in the queue | nil, err
function Store:retry(which)
  local where = "state = 'dead'"
  if which ~= "all" then
    local literal = id_literal(which)
    if not literal then return 0 end
    where = where .. " AND id = " .. literal
  end
  return self:_tx("retry dead jobs", function(s, now)
    return floor(tonumber(s:_exec(format("UPDATE quicklysign_inbox_jobs SET state = 'queued', attempts = 0, "
      .. "run_at = %s, updated_at = %s WHERE %s", num(now), num(now), where))))
  end)
end

--- store:replay(id) --> true (a done or dead job back in the queue) | false (none such) | nil, err
function Store:replay(id)
  local literal = id_literal(id)
  if not literal then return false end
  return self:_tx("replay a job", function(s, now)
    return tonumber(s:_exec(format("UPDATE quicklysign_inbox_jobs SET state = 'queued', attempts = 0, run_at = %s, "
      .. "updated_at = %s WHERE id = %s AND state IN ('done', 'dead')", num(now), num(now), literal))) == 1
  end)
end

--- store:drop(id) --> true (a dead job deleted for good) | false (no dead job with that id) | nil, err
function Store:drop(id)
  local literal = id_literal(id)
  if not literal then return false end
  return self:_tx("drop a dead job", function(s)
    return tonumber(s:_exec("DELETE FROM quicklysign_inbox_jobs WHERE state = 'dead' AND id = " .. literal)) == 1
  end)
end

--- store:once_state(key) --> "queued"|"running"|"retrying"|"dead"|"done" | nil (never stored) | nil, err
function Store:once_state(key)
  return self:_tx("look up a once key", function(s)
    local row = s:_exec("SELECT state FROM quicklysign_inbox_jobs WHERE once_key = " .. s:_str(key))[1]
    return row and row.state or nil
  end)
end

--- store:close(): idempotent.
function Store:close()
  if self.conn then self.conn:close() end
  if self.env then self.env:close() end
  self.conn, self.env = nil, nil
  return true
end

return sqlite
