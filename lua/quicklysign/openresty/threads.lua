--- quicklysign.openresty.threads: calls into nginx's thread pool, bounded.
-- Work that would block nginx's event loop (libcurl in the C client, SQLite) runs through
-- ngx.run_worker_thread. Each call in flight holds one of the worker's thread VMs
-- (lua_worker_thread_vm_pool_size); past the pool a call fails at once with "no available Lua
-- vm", which lost callbacks in bursts. Every quicklysign call therefore takes a turn on one
-- semaphore per nginx worker: at most `limit` in flight (default 64, below the pool's default
-- of 100), each waiting at most `wait` seconds for its turn (then nil, err).
local ngx = ngx -- luacheck: ignore (set by nginx)
local select, type, error, tostring = select, type, error, tostring
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local threads = {
  DEFAULT_LIMIT = 64,
  DEFAULT_WAIT = 30,
}

local limit, wait = threads.DEFAULT_LIMIT, threads.DEFAULT_WAIT
local sema, in_flight, waiting = nil, 0, 0

--- threads.configure{ limit = N, wait = S }: before the first call (init_worker).
function threads.configure(opts)
  if type(opts) ~= "table" then error("bad argument #1 to 'configure' (table expected)", 2) end
  if opts.limit ~= nil then
    if type(opts.limit) ~= "number" or opts.limit < 1 or opts.limit % 1 ~= 0 then
      error("bad argument #1 to 'configure' (option 'limit' must be a positive integer)", 2)
    end
    limit = opts.limit
    sema = nil
  end
  if opts.wait ~= nil then
    if type(opts.wait) ~= "number" or opts.wait <= 0 then
      error("bad argument #1 to 'configure' (option 'wait' must be a positive number of seconds)", 2)
    end
    wait = opts.wait
  end
end

function threads.limit() return limit end

--- threads.stats() --> { in_flight, waiting, limit } of this nginx worker
function threads.stats()
  return { in_flight = in_flight, waiting = waiting, limit = limit }
end

local function pack(...) return { n = select("#", ...), ... } end

--- threads.run(pool, module, func, ...) --> what ngx.run_worker_thread returns:
-- true, results... ; or false, message (the thread raised, or no turn came within `wait`).
function threads.run(pool, module, func, ...)
  if sema == nil then sema = require("ngx.semaphore").new(limit) end
  waiting = waiting + 1
  local ok, err = sema:wait(wait)
  waiting = waiting - 1
  if not ok then
    return false, "quicklysign: no thread-pool turn within " .. tostring(wait) .. "s (" .. tostring(err)
      .. "; " .. in_flight .. " calls in flight)"
  end
  in_flight = in_flight + 1
  local res = pack(ngx.run_worker_thread(pool, module, func, ...))
  in_flight = in_flight - 1
  sema:post(1)
  return unpack(res, 1, res.n)
end

return threads
