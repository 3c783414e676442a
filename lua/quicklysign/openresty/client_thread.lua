--- Runs inside nginx's worker threads (ngx.run_worker_thread) for openresty.client: each thread
-- has its own Lua VM, where this module keeps one client per set of options,
-- so that calls reuse their connection (keep-alive) from one task to the next.
-- Only plain values cross between VMs: errors go back as plain tables.
local quicklysign = require "quicklysign"

local thread_vm = require "quicklysign.openresty.thread_vm"

local client_thread = {}

local clients = {}

local function client_for(opts)
  local id = thread_vm.fingerprint(opts)
  local c = clients[id]
  if c == nil or c:is_closed() then
    c = quicklysign.new(opts)
    clients[id] = c
  end
  return c
end

--- call(opts, resource, method, ...): client[resource]:method(...), or
-- client:method(...) when resource is false. Returns what the method returns.
function client_thread.call(opts, resource, method, ...)
  local c = client_for(opts)
  local target = resource and c[resource] or c
  local a, b = target[method](target, ...)
  if a == nil then return nil, thread_vm.plain(b) end
  return a, b
end

return client_thread
