--- What the thread side of the OpenResty glue shares (client_thread.lua, inbox_thread.lua): a
-- key for a set of options, so that a thread VM keeps one open object per set, and plain
-- copies of errors, since only plain values cross between Lua VMs.
local pairs, ipairs, type, tostring, table_sort, table_concat =
  pairs, ipairs, type, tostring, table.sort, table.concat

local thread_vm = {}

--- thread_vm.fingerprint(opts) --> one string per set of options (keys sorted)
function thread_vm.fingerprint(opts)
  local keys = {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table_sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(opts[k]) end
  return table_concat(parts, "\0")
end

--- thread_vm.plain(err) --> err's fields in a table of its own (no metatable; functions and
-- userdata, which cannot cross, left out), or err itself when it is not a table
function thread_vm.plain(err)
  if type(err) ~= "table" then return err end
  local t = {}
  for k, v in pairs(err) do
    local kind = type(v)
    if kind ~= "userdata" and kind ~= "function" and kind ~= "thread" then t[k] = v end
  end
  return t
end

return thread_vm
