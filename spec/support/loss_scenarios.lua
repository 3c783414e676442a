--- The ways the old receiver lost work it had answered 200 for, each as a scenario run against
-- a real receiver (spec/support/receiver.lua) with the emulator delivering. Shared by
-- spec/openresty/loss_spec.lua (which asserts that nothing is lost) and scripts/loss-table
-- (which counts, for this checkout's receiver or another revision's).
-- A scenario: { name, n (packs), start = receiver options, run = function(r, keys, s) }, where
-- s offers packs(), complete(), wait(), fault helpers; the caller then counts.
local callbacks = require "quicklysign.callbacks"
local emulator = require "support.emulator"
local process = require "support.process"
local receiver = require "support.receiver"
local socket = require "socket"

local scenarios = {}

local function packs(r, n, documents)
  local client = emulator.client()
  local keys = {}
  for i = 1, n do
    local pack = emulator:create_pack{ name = "Loss " .. i, documents = documents or { { name = "Contract" } } }
    assert(client.webhooks:ensure{ entity_key = pack.key, callback = callbacks.callback_url(r.url, receiver.TOKEN) })
    keys[i] = pack.key
  end
  client:close()
  return keys
end
scenarios.packs = packs

local function complete(keys)
  for _, key in ipairs(keys) do emulator:drive(key, "complete") end
end
scenarios.complete = complete

--- Counts for keys: how many final events the vendor had answered 200 (and those in `posted`,
--- the keys of callbacks the scenario posted itself and got 200 for), how many packs have all
--- their final PDFs (whole, nothing else in the folder), and the temp/draft files left.
function scenarios.count(r, keys, per_pack, posted)
  local answered, seen = 0, {}
  for key in pairs(posted or {}) do seen[key] = true end   -- 200s to callbacks the scenario posted itself
  for _, d in ipairs(emulator:deliveries()) do
    if d.event == "final_document_generated" and d.status == 200 and not seen[d.entity_key] then
      seen[d.entity_key] = true
    end
  end
  local done, litter = 0, 0
  for _, key in ipairs(keys) do
    if seen[key] then answered = answered + 1 end
    local finals, others = r:pdfs(key)
    local n = 0
    for _ in pairs(finals) do n = n + 1 end
    if n == (per_pack or 1) then done = done + 1 end
    litter = litter + others
  end
  return { packs = #keys, answered = answered, done = done, litter = litter }
end

local function all_done(r, keys, per_pack)
  local c = scenarios.count(r, keys, per_pack)
  return c.done == #keys and c.litter == 0
end
scenarios.all_done = all_done

-- Each run returns the pack keys and the PDFs each pack should have; `settle` is how long to
-- wait for the work (the caller waits until all_done or settle seconds).
scenarios.list = {
  {
    name = "API answers 503 while the handler downloads", n = 10,
    run = function(r)
      local keys = packs(r, 10)
      emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 40, status = 503 }
      complete(keys)
      return keys
    end,
  },
  {
    name = "API unreachable for 8 s", n = 10,
    run = function(r)
      local keys = packs(r, 10)
      emulator:fault{ path_prefix = "/v1/document_packs", count = 1000000, close = true }
      complete(keys)
      socket.sleep(8)
      emulator:clear_faults()
      return keys
    end,
  },
  {
    name = "API down after confirm cached a yes", n = 9,
    run = function(r)
      local keys = packs(r, 9)
      for _, key in ipairs(keys) do emulator:drive(key, "update") end   -- entity_updated: confirmed, cached
      socket.sleep(2)
      emulator:fault{ path_prefix = "/v1", count = 1000000, close = true }
      complete(keys)
      receiver.wait(function() return scenarios.count(r, keys).answered == #keys end, 30)
      emulator:clear_faults()
      return keys
    end,
  },
  {
    name = "disk full", n = 3, disk_full = true,
    run = function(r, mnt)
      local keys = packs(r, 3, { { name = "Big", pdf_bytes = 2 * 1024 * 1024 } })
      complete(keys)
      socket.sleep(4)
      assert(os.execute("mount -o remount,size=16m tmpfs " .. mnt))
      return keys
    end,
  },
  {
    name = "kill -9 of nginx's workers mid-download", n = 10, start = { lease = 2 },
    run = function(r)
      local keys = packs(r, 10)
      emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. keys[1] .. "/documents", count = 1,
        delay_ms = 5000 }
      complete(keys)
      socket.sleep(1.5)
      r:kill_workers()
      return keys
    end,
  },
  {
    name = "nginx -s reload and a restart mid-delivery", n = 30,
    run = function(r)
      local keys = packs(r, 30)
      complete(keys)
      r:reload()
      socket.sleep(0.3)
      r:stop()
      socket.sleep(0.5)
      r:start_again()
      return keys
    end,
  },
  {
    name = "a burst of 1000 distinct final events", n = 1000, settle = 240, start = { concurrency = 8 },
    run = function(r)
      local keys = packs(r, 1000)
      complete(keys)
      return keys
    end,
  },
  {
    -- the vendor's deliveries, all at once: 600 final events POSTed on 300 connections at once
    -- (the emulator delivers 64 at a time, so this one posts them itself; the packs complete
    -- before they are subscribed, so that the emulator sends nothing)
    name = "600 final events posted at once on 300 connections", n = 600, settle = 180,
    run = function(r)
      local client = emulator.client()
      local keys, cfg = {}, os.tmpname()
      local f = assert(io.open(cfg, "w"))
      for i = 1, 600 do
        local pack = emulator:create_pack{ name = "Burst " .. i, documents = { { name = "Contract" } } }
        emulator:drive(pack.key, "complete")
        local wh = assert(client.webhooks:create{ entity_key = pack.key,
          callback = callbacks.callback_url(r.url, receiver.TOKEN) })
        keys[i] = pack.key
        f:write((i > 1 and "next\n" or "") .. ('url = "%s"\nheader = "Content-Type: application/json"\n'
          .. 'output = "/dev/null"\nwrite-out = "%%{http_code} %s\\n"\ndata-binary = "{\\"callback_event\\":'
          .. '\\"final_document_generated\\",\\"entity_key\\":\\"%s\\",\\"webhook_key\\":\\"%s\\"}"\n')
          :format(r.callback, pack.key, pack.key, wh.key))
      end
      f:close()
      client:close()
      local p = assert(io.popen("curl -s --no-progress-meter --parallel --parallel-immediate"
        .. " --parallel-max 300 -K " .. cfg))
      local answered = {}
      for line in p:lines() do
        local code, key = line:match("^(%d+) (%S+)")
        if code == "200" then answered[key] = true end
      end
      p:close()
      os.remove(cfg)
      return keys, answered
    end,
  },
  {
    name = "an early final event on an incomplete pack", n = 1,
    run = function(r)
      local keys = packs(r, 1)
      emulator:drive(keys[1], "send")
      local wh = assert(emulator.client().webhooks:list{ entity_key = keys[1] })[1]
      local body = ('{"callback_event":"final_document_generated","entity_key":"%s","webhook_key":"%s"}')
        :format(keys[1], wh.key)
      process.run({ "curl", "-s", "-o", "/dev/null", "-H", "Content-Type: application/json", "--data-binary", body,
        r.callback })
      socket.sleep(2)
      emulator:drive(keys[1], "complete")   -- the genuine event follows
      return keys
    end,
  },
}

--- Mounts a 1 MiB tmpfs for the disk-full scenario: its path, or nil when not allowed here.
function scenarios.small_disk()
  local mnt = os.tmpname()
  os.remove(mnt)
  assert(os.execute("mkdir -p " .. mnt))
  if not os.execute("mount -t tmpfs -o size=1m tmpfs " .. mnt .. " 2>/dev/null") then
    os.execute("rmdir " .. mnt)
    return nil
  end
  return mnt
end

function scenarios.unmount(mnt)
  os.execute("umount " .. mnt .. " 2>/dev/null; rmdir " .. mnt .. " 2>/dev/null")
end

return scenarios
