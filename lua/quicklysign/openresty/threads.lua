--- quicklysign.openresty.threads: calls into nginx's thread pools, bounded.
-- Work that would block nginx's event loop (libcurl in the C client, SQLite) runs through
-- ngx.run_worker_thread. Each call in flight holds one of the worker's thread VMs
-- (lua_worker_thread_vm_pool_size, one VM pool per nginx worker process, shared by every
-- thread_pool); past it a call fails at once with "no available Lua vm", which lost callbacks in
-- bursts. Every quicklysign call therefore takes a turn on one semaphore per nginx worker: at
-- most `limit` in flight (default 64, below the VM pool's default of 100), each waiting at most
-- `wait` seconds for its turn (then nil, err).
--
-- Inside that one bound, a thread pool may have a bound of its own (`pools`): the download pool
-- (`quicklysign_downloads`, at most 16 by default) can then never hold every VM, so that the
-- calls that verify callbacks always find one. A call takes its pool's turn first, then the
-- worker's, so a download waiting for its pool holds nothing the others need.
local ngx = ngx -- luacheck: ignore (set by nginx)
local select, type, error, tostring, pairs = select, type, error, tostring, pairs
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local threads = {
  DEFAULT_LIMIT = 64,
  DEFAULT_WAIT = 30,
  DEFAULT_POOLS = { quicklysign_downloads = 16 },   -- bounds of their own, within DEFAULT_LIMIT
}

local limit, wait = threads.DEFAULT_LIMIT, threads.DEFAULT_WAIT
local all = { sema = nil, in_flight = 0, waiting = 0 }   -- the worker's one bound
local pool_limits = {}
for k, v in pairs(threads.DEFAULT_POOLS) do pool_limits[k] = v end
local lanes = {}   -- pool name -> { sema, in_flight, waiting, limit }, for pools with a bound

local function bad(msg) error("bad argument #1 to 'configure' (" .. msg .. ")", 3) end

local function positive_integer(v) return type(v) == "number" and v >= 1 and v % 1 == 0 end

local function configure_pools(pools)
  if type(pools) ~= "table" then bad("option 'pools' must be a table of pool name = bound") end
  for name, n in pairs(pools) do
    if type(name) ~= "string" or not (n == false or positive_integer(n)) then
      bad("option 'pools': each entry is a thread pool's name = a positive integer (or false: no bound "
        .. "of its own)")
    end
    pool_limits[name] = n or nil
  end
  lanes = {}
end

--- threads.configure{ limit = N, wait = S, pools = { name = N } }: before the first call
-- (init_worker). `pools` sets a bound of a pool's own (false removes one).
function threads.configure(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'configure' (table expected)", 2) end
  if opts.limit ~= nil then
    if not positive_integer(opts.limit) then bad("option 'limit' must be a positive integer") end
    limit = opts.limit
    all.sema = nil
  end
  if opts.wait ~= nil then
    if type(opts.wait) ~= "number" or opts.wait <= 0 then
      bad("option 'wait' must be a positive number of seconds")
    end
    wait = opts.wait
  end
  if opts.pools ~= nil then configure_pools(opts.pools) end
end

function threads.limit() return limit end

--- threads.pool_limit(pool) --> the bound of that pool's own, or nil (only the worker's)
function threads.pool_limit(pool) return pool_limits[pool] end

--- threads.stats() --> { in_flight, waiting, limit, pools = { [name] = { in_flight, waiting, limit } } }
-- of this nginx worker (pools: those with a bound of their own that were used)
function threads.stats()
  local pools = {}
  for name, l in pairs(lanes) do
    pools[name] = { in_flight = l.in_flight, waiting = l.waiting, limit = l.limit }
  end
  return { in_flight = all.in_flight, waiting = all.waiting, limit = limit, pools = pools }
end

local function pack(...) return { n = select("#", ...), ... } end

local function lane_of(pool)
  local n = pool_limits[pool]
  if n == nil then return nil end
  local l = lanes[pool]
  if l == nil then
    l = { sema = require("ngx.semaphore").new(n), in_flight = 0, waiting = 0, limit = n }
    lanes[pool] = l
  end
  return l
end

-- Waits for a turn on s (counting in t.waiting) until deadline; true, or nil and why.
local function turn(s, t, deadline)
  t.waiting = t.waiting + 1
  local left = deadline - ngx.now()
  local ok, err = s:wait(left > 0 and left or 0)
  t.waiting = t.waiting - 1
  return ok, err
end

local function no_turn(where, err, busy)
  return false, "quicklysign: no thread-pool turn within " .. tostring(wait) .. "s (" .. tostring(err)
    .. "; " .. busy .. " calls in flight" .. where .. ")"
end

--- threads.run(pool, module, func, ...) --> what ngx.run_worker_thread returns:
-- true, results... ; or false, message (the thread raised, the pool does not exist, or no turn
-- came within `wait`).
function threads.run(pool, module, func, ...)
  if all.sema == nil then all.sema = require("ngx.semaphore").new(limit) end
  local deadline = ngx.now() + wait
  local lane = lane_of(pool)
  if lane then
    local ok, err = turn(lane.sema, lane, deadline)
    if not ok then return no_turn(" in pool " .. pool, err, lane.in_flight) end
  end
  local ok, err = turn(all.sema, all, deadline)
  if not ok then
    if lane then lane.sema:post(1) end
    return no_turn("", err, all.in_flight)
  end
  if lane then lane.in_flight = lane.in_flight + 1 end
  all.in_flight = all.in_flight + 1
  local res = pack(ngx.run_worker_thread(pool, module, func, ...))
  all.in_flight = all.in_flight - 1
  all.sema:post(1)
  if lane then
    lane.in_flight = lane.in_flight - 1
    lane.sema:post(1)
  end
  return unpack(res, 1, res.n)
end

return threads
