--- scripts/loss-table's counting (see there): lua5.4 scripts/loss_table.lua RECEIVER_ROOT LABEL
local emulator = require "support.emulator"
local receiver = require "support.receiver"
local scenarios = require "support.loss_scenarios"
local socket = require "socket"

local root, label, only = assert(arg[1]), arg[2] or arg[1], arg[3]

local function pending()
  return emulator:call("GET", "/deliveries").pending or 0
end

-- Waits until every pack is done, or the deliveries are over and nothing changed for 5 s.
local function settle(r, keys, limit)
  local deadline, last, since = socket.gettime() + limit, -1, socket.gettime()
  while socket.gettime() < deadline do
    local c = scenarios.count(r, keys)
    if c.done == #keys and c.litter == 0 then return end
    if c.done ~= last then last, since = c.done, socket.gettime() end
    if pending() == 0 and socket.gettime() - since > 5 then return end
    socket.sleep(0.5)
  end
end

print(("loss table for the receiver of %s (%s)"):format(label, os.date("!%Y-%m-%d %H:%M UTC")))
print("| scenario | final events answered 200 | packs with their final PDFs | lost | files left over |")
print("|---|---|---|---|---|")
for _, scenario in ipairs(scenarios.list) do
  if only and not scenario.name:find(only, 1, true) then goto continue end
  emulator:reset()
  emulator:config{ delivery = { base_delay_ms = 500, factor = 2, max_delay_ms = 60000, max_attempts = 10 } }
  local mnt
  if scenario.disk_full then mnt = scenarios.small_disk() end
  if scenario.disk_full and not mnt then
    print(("| %s | (needs root to mount a small tmpfs) | | | |"):format(scenario.name))
  else
    local start = { root = root, pdf_dir = mnt }
    for k, v in pairs(scenario.start or {}) do start[k] = v end
    local r = receiver.start(start)
    local ok, keys, posted = pcall(scenario.run, r, mnt)
    if ok then
      settle(r, keys, scenario.settle or 90)
      local c = scenarios.count(r, keys, nil, posted)
      local lost = math.max(0, c.answered - c.done)
      print(("| %s | %d of %d | %d | %d | %d |"):format(scenario.name, c.answered, #keys, c.done, lost, c.litter))
    else
      print(("| %s | (the scenario failed: %s) | | | |"):format(scenario.name, tostring(keys)))
    end
    io.stdout:flush()
    r:close()
    emulator:clear_faults()
    if mnt then scenarios.unmount(mnt) end
  end
  ::continue::
end
