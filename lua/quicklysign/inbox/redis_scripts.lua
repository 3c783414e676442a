-- The Redis inbox's state changes, each one Lua script that Redis runs atomically (EVALSHA):
-- the same job life as the SQLite store (see sqlite.lua's header), on these keys under the
-- inbox's prefix P:
--   P.."seq"          the last job id (INCR)
--   P.."job:"..id     a hash: body event entity source once state attempts run_at lease_until
--                     token last_error created_at updated_at
--   P.."ready"        sorted set of queued and retrying jobs, by the time they are due (ms)
--   P.."running"      sorted set of leased jobs, by the time their lease ends (ms)
--   P.."dead"         sorted set of dead jobs, by the time they died
--   P.."done"         sorted set of done jobs, by the time they were done (for keep_done)
--   P.."once:"..key   the id of the job stored under a once key
-- Every script reads Redis's own clock (TIME), so receivers and workers on many machines share
-- one clock. Scripts receive the prefix as KEYS[1]; they are not for Redis Cluster unless the
-- prefix holds a hash tag, e.g. "{qs}:".
local scripts = {}

local NOW = [[
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
]]

-- ARGV: count, then per item body, event, entity, source, once ('' for none).
-- Returns per item: id, state ("queued" | "duplicate"), was (the stored state of a duplicate).
scripts.push = NOW .. [[
local out = {}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local body, event, entity, source, once = ARGV[2 + i * 5], ARGV[3 + i * 5], ARGV[4 + i * 5],
    ARGV[5 + i * 5], ARGV[6 + i * 5]
  local existing = once ~= '' and redis.call('GET', p .. 'once:' .. once)
  if existing then
    local jk = p .. 'job:' .. existing
    local state = redis.call('HGET', jk, 'state')
    if state == 'retrying' then
      redis.call('HSET', jk, 'run_at', now, 'updated_at', now)
      redis.call('ZADD', p .. 'ready', now, existing)
    elseif state == 'dead' then
      redis.call('HSET', jk, 'state', 'queued', 'attempts', 0, 'run_at', now, 'updated_at', now)
      redis.call('ZREM', p .. 'dead', existing)
      redis.call('ZADD', p .. 'ready', now, existing)
    end
    out[#out + 1] = existing
    out[#out + 1] = 'duplicate'
    out[#out + 1] = state or ''
  else
    local id = tostring(redis.call('INCR', p .. 'seq'))
    redis.call('HSET', p .. 'job:' .. id, 'body', body, 'event', event, 'entity', entity,
      'source', source, 'once', once, 'state', 'queued', 'attempts', 0, 'run_at', now,
      'created_at', now, 'updated_at', now)
    redis.call('ZADD', p .. 'ready', now, id)
    if once ~= '' then redis.call('SET', p .. 'once:' .. once, id) end
    out[#out + 1] = id
    out[#out + 1] = 'queued'
    out[#out + 1] = ''
  end
end
return out
]]

local FIELDS = [[
local FIELDS = { 'body', 'event', 'entity', 'source', 'state', 'attempts', 'token', 'last_error',
  'created_at', 'updated_at', 'once', 'run_at' }
local function job(id)
  local v = redis.call('HMGET', p .. 'job:' .. id, unpack(FIELDS))
  local out = { id }
  for i = 1, #FIELDS do out[i + 1] = v[i] or '' end
  return out
end
]]
scripts.FIELDS = { "id", "body", "event", "entity", "source", "state", "attempts", "token",
  "last_error", "created_at", "updated_at", "once", "run_at" }

-- ARGV: owner, n, lease_ms, max_attempts, keep_done_ms (0: keep for ever)
scripts.lease = NOW .. FIELDS .. [[
local owner, n, lease, max_attempts, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5])
if keep > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'done', '-inf', now - keep, 'LIMIT', 0, 100)) do
    local once = redis.call('HGET', p .. 'job:' .. id, 'once')
    if once and once ~= '' and redis.call('GET', p .. 'once:' .. once) == id then
      redis.call('DEL', p .. 'once:' .. once)
    end
    redis.call('DEL', p .. 'job:' .. id)
    redis.call('ZREM', p .. 'done', id)
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'running', '-inf', now, 'LIMIT', 0, 100)) do
  local jk = p .. 'job:' .. id
  redis.call('ZREM', p .. 'running', id)
  if tonumber(redis.call('HGET', jk, 'attempts') or 0) >= max_attempts then
    redis.call('HSET', jk, 'state', 'dead', 'token', '', 'updated_at', now, 'last_error',
      'its worker stopped during the last allowed attempt (the lease expired)')
    redis.call('ZADD', p .. 'dead', now, id)
  else
    redis.call('HSET', jk, 'state', 'queued', 'token', '', 'updated_at', now)
    redis.call('ZADD', p .. 'ready', now, id)
  end
end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'ready', '-inf', now, 'LIMIT', 0, n)) do
  local jk = p .. 'job:' .. id
  local attempts = redis.call('HINCRBY', jk, 'attempts', 1)
  redis.call('HSET', jk, 'state', 'running', 'token', owner .. ':' .. id .. ':' .. attempts,
    'lease_until', now + lease, 'updated_at', now)
  redis.call('ZREM', p .. 'ready', id)
  redis.call('ZADD', p .. 'running', now + lease, id)
  out[#out + 1] = job(id)
end
return out
]]

-- The start of every change to a leased job: ARGV[1] id, ARGV[2] token.
local HELD = [[
local id, token = ARGV[1], ARGV[2]
local jk = p .. 'job:' .. id
if redis.call('HGET', jk, 'state') ~= 'running' or redis.call('HGET', jk, 'token') ~= token then
  return 0
end
]]

scripts.complete = NOW .. HELD .. [[
redis.call('HSET', jk, 'state', 'done', 'token', '', 'last_error', '', 'updated_at', now)
redis.call('ZREM', p .. 'running', id)
redis.call('ZADD', p .. 'done', now, id)
return 1
]]

-- ARGV[3] message, ARGV[4] delay in ms, or -1 for dead now
scripts.fail = NOW .. HELD .. [[
local delay = tonumber(ARGV[4])
redis.call('ZREM', p .. 'running', id)
if delay < 0 then
  redis.call('HSET', jk, 'state', 'dead', 'token', '', 'last_error', ARGV[3], 'updated_at', now)
  redis.call('ZADD', p .. 'dead', now, id)
else
  redis.call('HSET', jk, 'state', 'retrying', 'token', '', 'last_error', ARGV[3], 'run_at', now + delay,
    'updated_at', now)
  redis.call('ZADD', p .. 'ready', now + delay, id)
end
return 1
]]

-- ARGV[3] lease in ms
scripts.extend = NOW .. HELD .. [[
redis.call('HSET', jk, 'lease_until', now + tonumber(ARGV[3]), 'updated_at', now)
redis.call('ZADD', p .. 'running', now + tonumber(ARGV[3]), id)
return 1
]]

scripts.release = NOW .. HELD .. [[
local attempts = tonumber(redis.call('HGET', jk, 'attempts') or 1)
redis.call('HSET', jk, 'state', 'queued', 'token', '', 'attempts', math.max(attempts - 1, 0), 'run_at', now,
  'updated_at', now)
redis.call('ZREM', p .. 'running', id)
redis.call('ZADD', p .. 'ready', now, id)
return 1
]]

scripts.stats = NOW .. [[
local due = redis.call('ZCOUNT', p .. 'ready', '-inf', now)
local stalled = redis.call('ZCOUNT', p .. 'running', '-inf', now)
return { due + stalled, redis.call('ZCARD', p .. 'running') - stalled,
  redis.call('ZCARD', p .. 'ready') - due, redis.call('ZCARD', p .. 'dead'), redis.call('ZCARD', p .. 'done') }
]]

-- ARGV[1] limit
scripts.dead = NOW .. FIELDS .. [[
local out = {}
for _, id in ipairs(redis.call('ZRANGE', p .. 'dead', 0, tonumber(ARGV[1]) - 1)) do out[#out + 1] = job(id) end
return out
]]

-- ARGV[1] id
scripts.get = NOW .. FIELDS .. [[
if redis.call('EXISTS', p .. 'job:' .. ARGV[1]) == 0 then return false end
return job(ARGV[1])
]]

-- ARGV[1] id, or '' for every dead job
scripts.retry = NOW .. [[
local ids = ARGV[1] == '' and redis.call('ZRANGE', p .. 'dead', 0, -1) or { ARGV[1] }
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', p .. 'dead', id) == 1 then
    redis.call('HSET', p .. 'job:' .. id, 'state', 'queued', 'attempts', 0, 'run_at', now, 'updated_at', now)
    redis.call('ZADD', p .. 'ready', now, id)
    n = n + 1
  end
end
return n
]]

-- ARGV[1] id
scripts.drop = NOW .. [[
local id = ARGV[1]
if redis.call('ZREM', p .. 'dead', id) == 0 then return 0 end
local once = redis.call('HGET', p .. 'job:' .. id, 'once')
if once and once ~= '' and redis.call('GET', p .. 'once:' .. once) == id then
  redis.call('DEL', p .. 'once:' .. once)
end
redis.call('DEL', p .. 'job:' .. id)
return 1
]]

-- ARGV[1] once key
scripts.once_state = NOW .. [[
local id = redis.call('GET', p .. 'once:' .. ARGV[1])
if not id then return false end
return redis.call('HGET', p .. 'job:' .. id, 'state') or false
]]

return scripts
