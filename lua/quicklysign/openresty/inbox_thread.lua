--- Runs inside nginx's worker threads (ngx.run_worker_thread) for the SQLite inbox: each thread
-- VM keeps one open store per inbox, so that calls reuse their connection. Only plain values
-- cross between VMs: errors go back as plain tables (openresty/inbox.lua gives them their
-- metatable again).
local sqlite = require "quicklysign.inbox.sqlite"

local thread_vm = require "quicklysign.openresty.thread_vm"

local type = type

local inbox_thread = {}

local stores = {}

--- call(spec, method, ...) --> what store:method(...) returns
function inbox_thread.call(spec, method, ...)
  local id = thread_vm.fingerprint(spec)
  local store = stores[id]
  if store == nil then
    local err
    store, err = sqlite.open(spec)
    if not store then return nil, thread_vm.plain(err) end
    stores[id] = store
  end
  local a, b, c = store[method](store, ...)
  if a == nil then
    if type(b) == "table" and b.reason == "unavailable" then
      store:close()
      stores[id] = nil
    end
    return nil, thread_vm.plain(b)
  end
  return a, b, c
end

return inbox_thread
