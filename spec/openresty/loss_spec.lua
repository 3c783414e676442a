-- "Answered 200" means "will be done": every way the old receiver lost acknowledged work, for
-- real (spec/support/loss_scenarios.lua). The example OpenResty receiver (examples/openresty,
-- SQLite inbox by default) runs in nginx; the emulator delivers the callbacks; faults are
-- injected into the emulator, the disk, nginx's processes. After each: every pack whose
-- final_document_generated was answered 200 has its final PDFs on disk, whole, with nothing else
-- in its folder (no draft, no temp file); nothing is dead; no log holds a secret.
local emulator = require "support.emulator"
local receiver = require "support.receiver"
local scenarios = require "support.loss_scenarios"

local function no_secrets(r)
  local logs = r:logs()
  assert.truthy(#logs > 0)
  assert.falsy(logs:find(receiver.TOKEN, 1, true), "the callback token is in the receiver's logs")
  assert.falsy(logs:find(emulator.client_secret, 1, true), "client_secret is in the receiver's logs")
  assert.falsy(logs:find(emulator.api_key, 1, true), "api_key is in the receiver's logs")
end

describe("the receiver loses nothing it answered 200 for", function()
  before_each(function()
    emulator:reset()
    emulator:config{ delivery = { base_delay_ms = 100, max_delay_ms = 1000, max_attempts = 100 } }
  end)
  after_each(function() emulator:clear_faults() end)

  for _, scenario in ipairs(scenarios.list) do
    it("when " .. scenario.name, function()
      local mnt
      if scenario.disk_full then
        mnt = scenarios.small_disk()
        if not mnt then
          pending("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
          return
        end
        finally(function() scenarios.unmount(mnt) end)
      end
      local start = {}
      for k, v in pairs(scenario.start or {}) do start[k] = v end
      start.pdf_dir = mnt
      local r = receiver.start(start)
      finally(function() r:close() end)
      local keys, posted = scenario.run(r, mnt)
      local done = receiver.wait(function() return scenarios.all_done(r, keys) end, scenario.settle or 60)
      local c = scenarios.count(r, keys, nil, posted)
      assert.truthy(done, ("%d of %d packs have their final PDFs (%d files left over)"):format(c.done, #keys, c.litter))
      assert.are.equal(#keys, c.answered)
      assert.are.equal(0, r:stats().dead)
      no_secrets(r)
    end)
  end
end)
