-- The inbox's shared store: Redis, for many receivers and workers on many machines. Each state
-- change is one script (redis_scripts.lua) that Redis runs atomically; the job life is the same
-- as in the SQLite store (sqlite.lua). Inside nginx every call takes a connection from the
-- cosocket pool and gives it back (set_keepalive); elsewhere the store keeps one connection and
-- opens a new one after a failure. Durability is Redis's: with `appendonly yes` a stored job
-- survives a restart of Redis (appendfsync everysec: a power cut may lose the last second;
-- appendfsync always: nothing).
local errors = require "quicklysign.callbacks.errors"
local redis_client = require "quicklysign.inbox.redis_client"
local scripts = require "quicklysign.inbox.redis_scripts"

local tostring, tonumber, setmetatable, pcall, ipairs, floor =
  tostring, tonumber, setmetatable, pcall, ipairs, math.floor
local format, find = string.format, string.find
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1)

local redis = {
  DEFAULT_PREFIX = "quicklysign:inbox:",
  DEFAULT_TIMEOUT = 5000,      -- ms for connect, send and each read
  DEFAULT_POOL_SIZE = 32,      -- nginx: connections kept per worker
  DEFAULT_IDLE = 60000,        -- nginx: ms an idle pooled connection stays open
}

local Store = {}
Store.__index = Store

local function fail(reason, message)
  return nil, errors.new("inbox", reason, message)
end

--- redis.open(spec) --> store | nil, err
-- spec: { host, port, db, user, password, prefix, timeout (ms), pool_size, keep_done (s) }
function redis.open(spec)
  local module, null_or_err = redis_client.module()
  if not module then return fail("unavailable", null_or_err) end
  local self = setmetatable({
    module = module, null = null_or_err, host = spec.host, port = spec.port, db = spec.db or 0,
    user = spec.user, password = spec.password, prefix = spec.prefix or redis.DEFAULT_PREFIX,
    timeout = spec.timeout or redis.DEFAULT_TIMEOUT, pool_size = spec.pool_size or redis.DEFAULT_POOL_SIZE,
    keep_done = spec.keep_done, nginx = redis_client.in_nginx(), shas = {}, backend = "redis",
  }, Store)
  if not self.nginx then -- nginx cannot open cosockets in init phases: its first call connects
    local conn, err = self:_connect()
    if not conn then return nil, err end
    self.conn = conn
  end
  return self
end

function Store:_where()
  return format("redis://%s:%d/%d", self.host, self.port, self.db)
end

function Store:_connect()
  local red, err = self.module:new()
  if not red then return fail("unavailable", "cannot make a Redis connection: " .. tostring(err)) end
  red:set_timeout(self.timeout)
  local ok
  if self.nginx then
    ok, err = red:connect(self.host, self.port, { pool = format("qs:%s:%d:%d:%s", self.host, self.port,
      self.db, self.user or "") })
  else
    ok, err = red:connect(self.host, self.port)
  end
  if not ok then
    return fail("unavailable", format("cannot reach the Redis inbox %s: %s", self:_where(), tostring(err)))
  end
  local fresh = not self.nginx or (red:get_reused_times() or 0) == 0
  if fresh and self.password then
    if self.user then ok, err = red:auth(self.user, self.password) else ok, err = red:auth(self.password) end
    if not ok then
      red:close()
      return fail("unavailable", format("the Redis inbox %s refused the password: %s", self:_where(),
        tostring(err)))
    end
  end
  if fresh and self.db ~= 0 then
    ok, err = red:select(self.db)
    if not ok then
      red:close()
      return fail("unavailable", format("cannot select database %d: %s", self.db, tostring(err)))
    end
  end
  return red
end

-- Runs one script on a connection: EVALSHA, loading the script when Redis does not know it
-- (first use, or after Redis restarted); a NOSCRIPT answer means it did not run.
function Store:_eval(red, name, ...)
  local source = scripts[name]
  local sha = self.shas[name]
  if sha then
    local res, err = red:evalsha(sha, 1, self.prefix, ...)
    if res ~= false or not find(tostring(err), "NOSCRIPT", 1, true) then return res, err end
  end
  local loaded, err = red:script("load", source)
  if not loaded then return loaded, err end
  self.shas[name] = loaded
  return red:evalsha(loaded, 1, self.prefix, ...)
end

-- One script, on the kept connection (plain Lua) or a pooled one (nginx). Network failures
-- close the connection; the next call opens another.
function Store:_call(what, name, ...)
  local red = self.conn
  if self.closed then return fail("closed", "the inbox is closed") end
  if red == nil then
    local err
    red, err = self:_connect()
    if not red then return nil, err end
    if not self.nginx then self.conn = red end
  end
  local ok, res, err = pcall(self._eval, self, red, name, ...)
  if not ok then   -- an error raised under the client: drop the connection, then raise on
    pcall(red.close, red)
    self.conn = nil
    error(res, 0)
  end
  local network = res == nil   -- nil: the connection failed; false: Redis answered an error
  if network then
    pcall(red.close, red)
    self.conn = nil
  elseif self.nginx then
    red:set_keepalive(redis.DEFAULT_IDLE, self.pool_size)
  end
  if res == nil or res == false then
    return fail(network and "unavailable" or "store_error",
      format("the Redis inbox %s failed to %s: %s", self:_where(), what, tostring(err)))
  end
  return res
end

local function ms(seconds) return format("%d", floor(seconds * 1000 + 0.5)) end

-- The fields of a packed doc are "\n"-separated: "%" and "\n" inside one are percent-encoded
-- (once keys too, wherever they are used, so that the script's copies match).
local function enc(s)
  return (tostring(s):gsub("[%%\n]", { ["%"] = "%25", ["\n"] = "%0A" }))
end
local function dec(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- A job from the script's { id, doc, st, err } (redis_scripts.lua: doc and st are packed).
function Store:_job(values)
  local id, doc, st, err = values[1], values[2], values[3], values[4]
  local source, once, event, entity, body = tostring(doc):match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n(.*)$")
  local state, attempts, run_at, updated, created, token = tostring(st):match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t"
    .. "([^\t]*)\t([^\t]*)\t(.*)$")
  local function seconds(t) return t and tonumber(t) and tonumber(t) / 1000 end
  return {
    id = tostring(id), body = body, event = event and dec(event), entity_key = entity and dec(entity),
    source = source and dec(source), once_key = once and once ~= "" and dec(once) or nil, state = state,
    attempts = tonumber(attempts) or 0,
    token = token ~= "" and token or nil, last_error = (err ~= "" and err ~= self.null) and err or nil,
    created_at = seconds(created), updated_at = seconds(updated), run_at = seconds(run_at),
  }
end

function Store:push_many(items)
  local argv, n = { #items }, 1
  for _, item in ipairs(items) do   -- two arguments an item: its once key, and its packed doc
    local once = item.once_key and enc(item.once_key) or ""
    argv[n + 1] = once
    argv[n + 2] = enc(item.source or "callback") .. "\n" .. once .. "\n" .. enc(item.event) .. "\n"
      .. enc(item.entity_key) .. "\n" .. item.body
    n = n + 2
  end
  local res, err = self:_call("store the callbacks", "push", unpack(argv))
  if not res then return nil, err end
  local results = {}
  for id, state, was in tostring(res):gmatch("(%d+) (%a+) (%S+)") do
    results[#results + 1] = { id = id, state = state, was = was ~= "-" and was or nil }
  end
  if #results ~= #items then
    return fail("store_error", format("the Redis inbox answered %d results for %d callbacks", #results, #items))
  end
  return results
end

function Store:lease(owner, n, lease, max_attempts)
  owner = tostring(owner):gsub("[%s:]", "_")   -- the lease token is owner:id:attempt, tab-free
  local res, err = self:_call("lease jobs", "lease", owner, n, ms(lease), max_attempts,
    ms(self.keep_done or 0))
  if not res then return nil, err end
  local jobs = {}
  for i, values in ipairs(res) do jobs[i] = self:_job(values) end
  return jobs
end

local function lost(job)
  return nil, errors.new("inbox", "lease_lost", format("job %s is no longer leased to this worker "
    .. "(its lease expired and another worker took it, or it was retried by hand)", tostring(job.id)))
end

function Store:_held(what, name, job, ...)
  local res, err = self:_call(what, name, tostring(job.id), job.token or "", ...)
  if res == nil then return nil, err end
  if tonumber(res) ~= 1 then return lost(job) end
  return true
end

function Store:complete(job) return self:_held("complete a job", "complete", job) end

function Store:fail(job, message, delay)
  local ok, err = self:_held("record a failure", "fail", job, tostring(message), delay and ms(delay) or "-1")
  if not ok then return nil, err end
  return delay and "retrying" or "dead"
end

function Store:extend(job, lease) return self:_held("extend a lease", "extend", job, ms(lease)) end

function Store:release(job) return self:_held("release a job", "release", job) end

function Store:stats()
  local res, err = self:_call("count jobs", "stats")
  if not res then return nil, err end
  return { queued = res[1], running = res[2], retrying = res[3], dead = res[4], done = res[5] }
end

function Store:dead(limit)
  local res, err = self:_call("list dead jobs", "dead", limit or 1000)
  if not res then return nil, err end
  local jobs = {}
  for i, values in ipairs(res) do jobs[i] = self:_job(values) end
  return jobs
end

function Store:get(id)
  local res, err = self:_call("read a job", "get", tostring(id))
  if res == nil then return nil, err end
  if res == self.null or res == false then return nil end
  return self:_job(res)
end

function Store:retry(which)
  return self:_call("retry dead jobs", "retry", which == "all" and "" or tostring(which))
end

function Store:drop(id)
  local res, err = self:_call("drop a dead job", "drop", tostring(id))
  if res == nil then return nil, err end
  return res == 1
end

function Store:replay(id)
  local res, err = self:_call("replay a job", "replay", tostring(id))
  if res == nil then return nil, err end
  return res == 1
end

function Store:once_state(key)
  local res, err = self:_call("look up a once key", "once_state", enc(key))
  if res == nil then return nil, err end
  if res == self.null or res == false then return nil end
  return res
end

function Store:close()
  if self.conn then pcall(self.conn.close, self.conn) end
  self.conn, self.closed = nil, true
  return true
end

return redis
