--- Runs inside nginx's worker threads (ngx.run_worker_thread) for openresty.client: each thread
-- has its own Lua VM, where this module keeps one client per set of options,
-- so that calls reuse their connection (keep-alive) from one task to the next.
-- Only plain values cross between VMs: errors go back as plain tables, and the client's
-- on_event records (collected here when asked: a function cannot cross) go back with the
-- results, for the caller's VM to hand on.
local quicklysign = require "quicklysign"

local thread_vm = require "quicklysign.openresty.thread_vm"

local select, type, pairs = select, type, pairs
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local client_thread = {
  EVENTS = "_collect_events",   -- the option (never quicklysign.new's) that asks for the records
}

local clients = {}
local records = false   -- the records of the call under way, when collected

local function collect(record) records[#records + 1] = record end

local function client_for(opts)
  local id = thread_vm.fingerprint(opts)
  local c = clients[id]
  if c == nil or c:is_closed() then
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    if o[client_thread.EVENTS] then o.on_event = collect end
    o[client_thread.EVENTS] = nil
    c = quicklysign.new(o)
    clients[id] = c
  end
  return c
end

-- The results made plain: a failure's error, and a batch call's errors (the second value).
local function plain(method, ...)
  local out = { n = select("#", ...), ... }
  if out[1] == nil then
    out[2] = thread_vm.plain(out[2])
  elseif type(out[2]) == "table" and method:find("_many$") then
    local errs = {}
    for k, e in pairs(out[2]) do errs[k] = thread_vm.plain(e) end
    out[2] = errs
  end
  return out
end

--- call(opts, resource, method, ...): client[resource]:method(...), or client:method(...) when
-- resource is false. Returns the call's records (false when not collected), then what the method
-- returns.
function client_thread.call(opts, resource, method, ...)
  local c = client_for(opts)
  local target = resource and c[resource] or c
  records = opts[client_thread.EVENTS] and {} or false
  local out = plain(method, target[method](target, ...))
  local mine = records
  records = false
  return mine, unpack(out, 1, out.n)
end

return client_thread
