-- "Answered 200" means "will be done": every way the old receiver lost acknowledged work, for
-- real. The example OpenResty receiver (examples/openresty, SQLite inbox by default) runs in
-- nginx; the emulator delivers the callbacks; faults are injected into the emulator, the disk,
-- nginx's processes. After each: every final_document_generated answered 200 has its final
-- PDFs on disk, whole, with nothing else in the folder, or sits in the inbox's dead set.
local callbacks = require "quicklysign.callbacks"
local emulator = require "support.emulator"
local process = require "support.process"
local receiver = require "support.receiver"

local wait = receiver.wait

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

local function complete(keys)
  for _, key in ipairs(keys) do emulator:drive(key, "complete") end
end

-- Every pack has all its final PDFs and nothing else in its folder.
local function all_done(r, keys, per_pack)
  for _, key in ipairs(keys) do
    local finals, others = r:pdfs(key)
    local n = 0
    for _ in pairs(finals) do n = n + 1 end
    if n ~= (per_pack or 1) or others ~= 0 then return false end
  end
  return true
end

local function final_deliveries_answered_200(keys)
  local wanted, n = {}, 0
  for _, key in ipairs(keys) do wanted[key] = true end
  for _, d in ipairs(emulator:deliveries()) do
    if d.event == "final_document_generated" and d.status == 200 and wanted[d.entity_key] then
      wanted[d.entity_key] = nil
      n = n + 1
    end
  end
  return n
end

local function no_secrets(r)
  local logs = r:logs()
  assert.truthy(#logs > 0)
  assert.falsy(logs:find(receiver.TOKEN, 1, true), "the callback token is in the receiver's logs")
  assert.falsy(logs:find(emulator.client_secret, 1, true), "client_secret is in the receiver's logs")
  assert.falsy(logs:find(emulator.api_key, 1, true), "api_key is in the receiver's logs")
end

describe("the receiver loses nothing it answered 200 for", function()
  local r

  before_each(function()
    emulator:reset()
    emulator:config{ delivery = { base_delay_ms = 100, max_delay_ms = 1000, max_attempts = 100 } }
  end)

  after_each(function()
    if r then
      no_secrets(r)
      r:close()
      r = nil
    end
    emulator:clear_faults()
  end)

  it("when the API answers 503 while the handler downloads", function()
    r = receiver.start()
    local keys = packs(r, 10)
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 40, status = 503 }
    complete(keys)
    assert.truthy(wait(function() return all_done(r, keys) end, 60), "not every pack's PDFs were written")
    assert.are.equal(10, final_deliveries_answered_200(keys))
    assert.are.equal(0, r:stats().dead)
  end)

  it("when the API is unreachable for 8 s", function()
    r = receiver.start()
    local keys = packs(r, 10)
    emulator:fault{ path_prefix = "/v1/document_packs", count = 1000000, close = true }
    complete(keys)
    require("socket").sleep(8)
    assert.are.equal(false, all_done(r, keys))
    emulator:clear_faults()
    assert.truthy(wait(function() return all_done(r, keys) end, 60))
    assert.are.equal(0, r:stats().dead)
  end)

  it("when the API goes down after confirm cached a yes", function()
    r = receiver.start()
    local keys = packs(r, 9)
    for _, key in ipairs(keys) do emulator:drive(key, "update") end   -- entity_updated: confirmed, cached
    assert.truthy(wait(function() return r:stats().done >= 9 end, 30))
    emulator:fault{ path_prefix = "/v1", count = 1000000, close = true }
    complete(keys)
    assert.truthy(wait(function() return final_deliveries_answered_200(keys) == 9 end, 30))
    emulator:clear_faults()
    assert.truthy(wait(function() return all_done(r, keys) end, 60))
  end)

  it("when the disk is full, until there is room again", function()
    local mnt = os.tmpname()
    os.remove(mnt)
    assert(os.execute("mkdir -p " .. mnt))
    if not os.execute("mount -t tmpfs -o size=1m tmpfs " .. mnt .. " 2>/dev/null") then
      pending("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
      return
    end
    finally(function() os.execute("umount " .. mnt .. "; rmdir " .. mnt) end)
    r = receiver.start{ pdf_dir = mnt }
    local keys = packs(r, 3, { { name = "Big", pdf_bytes = 2 * 1024 * 1024 } })
    complete(keys)
    assert.truthy(wait(function() return r:stats().retrying + r:stats().queued + r:stats().running > 0 end, 10))
    require("socket").sleep(2)
    assert.are.equal(false, all_done(r, keys))
    assert(os.execute("mount -o remount,size=16m tmpfs " .. mnt))
    assert.truthy(wait(function() return all_done(r, keys) end, 60), "the PDFs were not written once there was room")
    assert.are.equal(0, r:stats().dead)
  end)

  it("when nginx's workers are killed with SIGKILL in the middle of a download", function()
    r = receiver.start{ lease = 2 }
    local keys = packs(r, 5)
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. keys[1] .. "/documents", count = 1,
      delay_ms = 5000 }
    complete(keys)
    assert.truthy(wait(function() return r:stats().running >= 1 end, 10))
    require("socket").sleep(0.5)
    r:kill_workers()
    assert.truthy(wait(function() return all_done(r, keys) end, 60), "the killed job was not run again")
  end)

  it("across nginx -s reload and a restart in the middle of deliveries", function()
    r = receiver.start()
    local keys = packs(r, 30)
    complete(keys)
    r:reload()
    require("socket").sleep(0.3)
    r:stop()
    require("socket").sleep(0.5)
    r:start_again()
    assert.truthy(wait(function() return all_done(r, keys) end, 90))
    assert.are.equal(30, final_deliveries_answered_200(keys))
  end)

  it("in a burst of 1000 distinct final events", function()
    r = receiver.start{ concurrency = 8 }
    local keys = packs(r, 1000)
    complete(keys)
    assert.truthy(wait(function() return all_done(r, keys) end, 240), "not all 1000 packs' PDFs were written")
    assert.are.equal(1000, final_deliveries_answered_200(keys))
    assert.are.equal(0, r:stats().dead)
  end)

  it("when a final_document_generated comes early: never a draft, the signed PDFs later", function()
    r = receiver.start()
    local keys = packs(r, 1)
    emulator:drive(keys[1], "send")
    local wh = assert(emulator.client().webhooks:list{ entity_key = keys[1] })[1]
    local body = ('{"callback_event":"final_document_generated","entity_key":"%s","webhook_key":"%s"}')
      :format(keys[1], wh.key)
    local code, out = process.run({ "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
      "Content-Type: application/json", "--data-binary", body, r.callback })
    assert.are.equal(0, code)
    assert.are.equal("200", out)
    assert.truthy(wait(function() return r:stats().retrying == 1 end, 10))
    local finals, others = r:pdfs(keys[1])
    assert.are.same({}, finals)
    assert.are.equal(0, others)
    emulator:drive(keys[1], "complete")   -- the genuine event: the waiting job runs at once
    assert.truthy(wait(function() return all_done(r, keys) end, 30))
    assert.are.equal(0, r:stats().dead)
  end)
end)
