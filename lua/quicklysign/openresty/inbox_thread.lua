--- Runs inside nginx's worker threads (ngx.run_worker_thread) for the SQLite inbox: each thread
-- VM keeps one open store per inbox, so that calls reuse their connection. Only plain values
-- cross between VMs: errors go back as plain tables (openresty/inbox.lua gives them their
-- metatable again).
local sqlite = require "quicklysign.inbox.sqlite"

local pairs, type, tostring, table_sort, table_concat, ipairs = pairs, type, tostring, table.sort,
  table.concat, ipairs

local inbox_thread = {}

local stores = {}

local function fingerprint(spec)
  local keys = {}
  for k in pairs(spec) do keys[#keys + 1] = k end
  table_sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(spec[k]) end
  return table_concat(parts, "\0")
end

local function plain(err)
  if type(err) ~= "table" then return err end
  local t = {}
  for k, v in pairs(err) do
    if type(v) ~= "table" and type(v) ~= "userdata" and type(v) ~= "function" then t[k] = v end
  end
  return t
end

--- call(spec, method, ...) --> what store:method(...) returns
function inbox_thread.call(spec, method, ...)
  local id = fingerprint(spec)
  local store = stores[id]
  if store == nil then
    local err
    store, err = sqlite.open(spec)
    if not store then return nil, plain(err) end
    stores[id] = store
  end
  local a, b, c = store[method](store, ...)
  if a == nil then
    if type(b) == "table" and b.reason == "unavailable" then
      store:close()
      stores[id] = nil
    end
    return nil, plain(b)
  end
  return a, b, c
end

return inbox_thread
