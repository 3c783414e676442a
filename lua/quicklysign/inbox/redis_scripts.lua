-- The Redis inbox's state changes, each one Lua script that Redis runs atomically (EVALSHA):
-- the same job life as the SQLite store (see sqlite.lua's header), on these keys under the
-- inbox's prefix P:
--   P.."seq"     the last job id (INCRBY)
--   P.."doc"     hash: id -> what never changes about a job, packed by the client: source,
--                once key, event, entity key, then the body, "\n" between
--   P.."st"      hash: id -> its state, packed: state, attempts, run_at, updated_at, created_at,
--                lease token (ms times), "\t" between
--   P.."err"     hash: id -> its last error
--   P.."once"    hash: once key -> the id of the job stored under it
--   P.."ready"   sorted set of queued and retrying jobs, by the time they are due (ms)
--   P.."running" sorted set of leased jobs, by the time their lease ends
--   P.."dead"    sorted set of dead jobs, by the time they died
--   P.."done"    sorted set of done jobs, by the time they were done (for keep_done)
-- A batch of pushes or leases is a handful of commands whatever its size (HMGET/HSET/ZADD with
-- many pairs), so that Redis spends little per callback. Every script reads Redis's own clock
-- (TIME), so receivers and workers on many machines share one clock. Scripts receive the prefix
-- as KEYS[1]; they are not for Redis Cluster unless the prefix holds a hash tag, e.g. "{qs}:".
local scripts = {}

local PRELUDE = [[
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function unpack_st(s)
  if not s then return nil end
  local state, attempts, run_at, updated, created, token =
    string.match(s, "^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return { state = state, attempts = tonumber(attempts), run_at = run_at, updated = updated, created = created,
    token = token }
end
local function pack_st(st)
  return st.state .. '\t' .. st.attempts .. '\t' .. st.run_at .. '\t' .. st.updated .. '\t' .. st.created .. '\t'
    .. (st.token or '')
end
local function once_of(id)
  local doc = redis.call('HGET', p .. 'doc', id)
  return doc and string.match(doc, "^[^\n]*\n([^\n]*)\n") or ''
end
-- HSET / ZADD / ZREM / HDEL over many pairs, in chunks (Lua's unpack has a limit)
local function many(cmd, key, list)
  for i = 1, #list, 4000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 3999, #list)))
  end
end
-- the reply for jobs: { id, doc, st, err } each
local function jobs_of(ids)
  if #ids == 0 then return {} end
  local docs = redis.call('HMGET', p .. 'doc', unpack(ids))
  local sts = redis.call('HMGET', p .. 'st', unpack(ids))
  local errs = redis.call('HMGET', p .. 'err', unpack(ids))
  local out = {}
  for i, id in ipairs(ids) do out[i] = { id, docs[i] or '', sts[i] or '', errs[i] or '' } end
  return out
end
]]

-- ARGV: count, then per item its once key ('' for none) and its doc (packed by the client).
-- Returns one string, a line per item: "id state was" (state "queued" | "duplicate"; was: the
-- stored job's state for a duplicate, "-" otherwise).
scripts.push = PRELUDE .. [[
local n = tonumber(ARGV[1])
local keys, stored = {}, {}
for i = 0, n - 1 do
  local once = ARGV[2 + i * 2]
  if once ~= '' and stored[once] == nil then keys[#keys + 1] = once; stored[once] = false end
end
if #keys > 0 then
  local ids = redis.call('HMGET', p .. 'once', unpack(keys))
  for i, key in ipairs(keys) do stored[key] = ids[i] or false end
end
local fresh = 0
for i = 0, n - 1 do
  local once = ARGV[2 + i * 2]
  if once == '' or stored[once] == false then
    fresh = fresh + 1
    if once ~= '' then stored[once] = 'new' end
  end
end
local id = fresh > 0 and redis.call('INCRBY', p .. 'seq', fresh) - fresh or 0
local docs, sts, ready, onces, out, new_ids, touched = {}, {}, {}, {}, {}, {}, {}
local st_new = 'queued\t0\t' .. now .. '\t' .. now .. '\t' .. now .. '\t'
for i = 0, n - 1 do
  local once = ARGV[2 + i * 2]
  local existing = once ~= '' and stored[once]
  if existing == 'new' and new_ids[once] then
    out[#out + 1] = new_ids[once] .. ' duplicate queued'
  elseif existing and existing ~= 'new' then
    local st = unpack_st(redis.call('HGET', p .. 'st', existing))
    local state = st and st.state or '-'
    if st and not touched[existing] and (state == 'retrying' or state == 'dead') then
      if state == 'dead' then
        st.state, st.attempts = 'queued', 0
        redis.call('ZREM', p .. 'dead', existing)
      end
      st.run_at, st.updated = now, now
      redis.call('HSET', p .. 'st', existing, pack_st(st))
      redis.call('ZADD', p .. 'ready', now, existing)
    end
    touched[existing] = true
    out[#out + 1] = existing .. ' duplicate ' .. state
  else
    id = id + 1
    local key = tostring(id)
    local k = #docs
    docs[k + 1], docs[k + 2] = key, ARGV[3 + i * 2]
    sts[k + 1], sts[k + 2] = key, st_new
    ready[k + 1], ready[k + 2] = now, key
    if once ~= '' then
      onces[#onces + 1] = once
      onces[#onces + 1] = key
      new_ids[once] = key
    end
    out[#out + 1] = key .. ' queued -'
  end
end
if #docs > 0 then
  many('HSET', p .. 'doc', docs)
  many('HSET', p .. 'st', sts)
  many('ZADD', p .. 'ready', ready)
end
if #onces > 0 then many('HSET', p .. 'once', onces) end
return table.concat(out, '\n')
]]

-- Forgets done jobs past keep_done (and their once keys): at most 100 a call.
local PURGE = [[
local function purge(keep)
  if keep <= 0 then return end
  local ids = redis.call('ZRANGEBYSCORE', p .. 'done', '-inf', now - keep, 'LIMIT', 0, 100)
  if #ids == 0 then return end
  for _, id in ipairs(ids) do
    local once = once_of(id)
    if once ~= '' and redis.call('HGET', p .. 'once', once) == id then redis.call('HDEL', p .. 'once', once) end
  end
  redis.call('HDEL', p .. 'doc', unpack(ids))
  redis.call('HDEL', p .. 'st', unpack(ids))
  redis.call('HDEL', p .. 'err', unpack(ids))
  redis.call('ZREM', p .. 'done', unpack(ids))
end
]]

-- ARGV: owner, n, lease_ms, max_attempts, keep_done_ms (0: keep for ever)
scripts.lease = PRELUDE .. PURGE .. [[
local owner, n, lease, max_attempts = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
purge(tonumber(ARGV[5]))
-- leases that ran out: their worker died; again, or dead after the last allowed attempt
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'running', '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', p .. 'running', id)
  local st = unpack_st(redis.call('HGET', p .. 'st', id))
  if st then
    st.updated, st.token = now, ''
    if st.attempts >= max_attempts then
      st.state = 'dead'
      redis.call('HSET', p .. 'err', id, 'its worker stopped during the last allowed attempt (the lease expired)')
      redis.call('ZADD', p .. 'dead', now, id)
    else
      st.state, st.run_at = 'queued', now
      redis.call('ZADD', p .. 'ready', now, id)
    end
    redis.call('HSET', p .. 'st', id, pack_st(st))
  end
end
local ids = redis.call('ZRANGEBYSCORE', p .. 'ready', '-inf', now, 'LIMIT', 0, n)
if #ids == 0 then return {} end
local sts = redis.call('HMGET', p .. 'st', unpack(ids))
local put, running = {}, {}
for i, id in ipairs(ids) do
  local st = unpack_st(sts[i])
  st.attempts = st.attempts + 1
  st.state, st.updated, st.token = 'running', now, owner .. ':' .. id .. ':' .. st.attempts
  put[#put + 1] = id
  put[#put + 1] = pack_st(st)
  running[#running + 1] = now + lease
  running[#running + 1] = id
end
many('HSET', p .. 'st', put)
redis.call('ZREM', p .. 'ready', unpack(ids))
many('ZADD', p .. 'running', running)
return jobs_of(ids)
]]

-- The start of every change to a leased job: ARGV[1] id, ARGV[2] token; st is its state.
local HELD = [[
local id, token = ARGV[1], ARGV[2]
local st = unpack_st(redis.call('HGET', p .. 'st', id))
if not st or st.state ~= 'running' or st.token ~= token then return 0 end
st.updated, st.token = now, ''
]]

scripts.complete = PRELUDE .. HELD .. [[
st.state = 'done'
redis.call('HSET', p .. 'st', id, pack_st(st))
redis.call('HDEL', p .. 'err', id)
redis.call('ZREM', p .. 'running', id)
redis.call('ZADD', p .. 'done', now, id)
return 1
]]

-- ARGV[3] message, ARGV[4] delay in ms, or -1 for dead now
scripts.fail = PRELUDE .. HELD .. [[
local delay = tonumber(ARGV[4])
redis.call('ZREM', p .. 'running', id)
redis.call('HSET', p .. 'err', id, ARGV[3])
if delay < 0 then
  st.state = 'dead'
  redis.call('ZADD', p .. 'dead', now, id)
else
  st.state, st.run_at = 'retrying', now + delay
  redis.call('ZADD', p .. 'ready', now + delay, id)
end
redis.call('HSET', p .. 'st', id, pack_st(st))
return 1
]]

-- ARGV[3] lease in ms
scripts.extend = PRELUDE .. [[
local id, token = ARGV[1], ARGV[2]
local st = unpack_st(redis.call('HGET', p .. 'st', id))
if not st or st.state ~= 'running' or st.token ~= token then return 0 end
st.updated = now
redis.call('HSET', p .. 'st', id, pack_st(st))
redis.call('ZADD', p .. 'running', now + tonumber(ARGV[3]), id)
return 1
]]

scripts.release = PRELUDE .. HELD .. [[
st.state, st.run_at, st.attempts = 'queued', now, math.max(st.attempts - 1, 0)
redis.call('HSET', p .. 'st', id, pack_st(st))
redis.call('ZREM', p .. 'running', id)
redis.call('ZADD', p .. 'ready', now, id)
return 1
]]

scripts.stats = PRELUDE .. [[
local due = redis.call('ZCOUNT', p .. 'ready', '-inf', now)
local stalled = redis.call('ZCOUNT', p .. 'running', '-inf', now)
return { due + stalled, redis.call('ZCARD', p .. 'running') - stalled,
  redis.call('ZCARD', p .. 'ready') - due, redis.call('ZCARD', p .. 'dead'), redis.call('ZCARD', p .. 'done') }
]]

-- ARGV[1] limit
scripts.dead = PRELUDE .. [[
return jobs_of(redis.call('ZRANGE', p .. 'dead', 0, tonumber(ARGV[1]) - 1))
]]

-- ARGV[1] id
scripts.get = PRELUDE .. [[
if redis.call('HEXISTS', p .. 'st', ARGV[1]) == 0 then return false end
return jobs_of({ ARGV[1] })[1]
]]

-- ARGV[1] id, or '' for every dead job
scripts.retry = PRELUDE .. [[
local ids = ARGV[1] == '' and redis.call('ZRANGE', p .. 'dead', 0, -1) or { ARGV[1] }
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', p .. 'dead', id) == 1 then
    local st = unpack_st(redis.call('HGET', p .. 'st', id))
    st.state, st.attempts, st.run_at, st.updated = 'queued', 0, now, now
    redis.call('HSET', p .. 'st', id, pack_st(st))
    redis.call('ZADD', p .. 'ready', now, id)
    n = n + 1
  end
end
return n
]]

-- ARGV[1] id: a done or dead job back in the queue, its attempts reset
scripts.replay = PRELUDE .. [[
local id = ARGV[1]
if redis.call('ZREM', p .. 'done', id) == 0 and redis.call('ZREM', p .. 'dead', id) == 0 then return 0 end
local st = unpack_st(redis.call('HGET', p .. 'st', id))
st.state, st.attempts, st.run_at, st.updated = 'queued', 0, now, now
redis.call('HSET', p .. 'st', id, pack_st(st))
redis.call('ZADD', p .. 'ready', now, id)
return 1
]]

-- ARGV[1] id
scripts.drop = PRELUDE .. [[
local id = ARGV[1]
if redis.call('ZREM', p .. 'dead', id) == 0 then return 0 end
local once = once_of(id)
if once ~= '' and redis.call('HGET', p .. 'once', once) == id then redis.call('HDEL', p .. 'once', once) end
redis.call('HDEL', p .. 'doc', id)
redis.call('HDEL', p .. 'st', id)
redis.call('HDEL', p .. 'err', id)
return 1
]]

-- ARGV[1] once key
scripts.once_state = PRELUDE .. [[
local id = redis.call('HGET', p .. 'once', ARGV[1])
if not id then return false end
local st = unpack_st(redis.call('HGET', p .. 'st', id))
return st and st.state or false
]]

return scripts
