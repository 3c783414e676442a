-- An error that unwinds a call half-way (an interrupt, out of memory) must
-- not leave the client unusable; and an interrupt is never taken for a
-- server's bad JSON.
local emulator = require "support.emulator"
local process = require "support.process"

before_each(function() emulator:reset() end)

describe("an error that unwinds a call", function()
  it("leaves the client usable, wherever it strikes", function()
    local c = emulator.client{ max_retries = 0 }
    local interrupted = 0
    for n = 1, 12 do
      local calls, armed = 0, true
      -- like lua.c's SIGINT handler: a hook that raises at a call event,
      -- armed only inside the protected call, so that it never strikes outside it
      local ok, err = pcall(function()
        debug.sethook(function()
          if not armed then return end
          calls = calls + 1
          if calls == n then
            armed = false
            error("interrupted!")
          end
        end, "c")
        local list = c.webhooks:list()
        armed = false
        return list
      end)
      armed = false
      debug.sethook()
      if not ok then
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        interrupted = interrupted + 1
      end
      local list, err2 = c.webhooks:list()
      assert.is_nil(err2)
      assert.are.same({}, list)
    end
    assert.truthy(interrupted >= 2, "the hook never struck inside a call")
  end)

  it("leaves the client usable from a deeper Lua frame than the one that was unwound", function()
    local c = emulator.client{ max_retries = 0 }
    -- calls list from `depth` more nested Lua frames (no tail call: each one stays a frame)
    local function deeper(depth)
      local a, b
      if depth == 0 then a, b = c.webhooks:list() else a, b = deeper(depth - 1) end
      return a, b
    end
    local struck = 0
    for n = 1, 8 do
      local calls, armed = 0, true
      local ok, err = pcall(function()
        debug.sethook(function()
          if not armed then return end
          calls = calls + 1
          if calls == n then
            armed = false
            error("interrupted!")
          end
        end, "c")
        local list = c.webhooks:list()
        armed = false
        return list
      end)
      armed = false
      debug.sethook()
      if not ok then
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        struck = struck + 1
        for _, depth in ipairs{ 5, 20, 1 } do   -- the first call after it comes from deeper down
          local list, err2 = deeper(depth)
          assert.is_nil(err2)
          assert.are.same({}, list)
        end
      end
    end
    assert.truthy(struck >= 2, "the hook never struck inside a call")
  end)

  it("Ctrl-C during an API call exits the CLI with 130", function()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, delay_ms = 1500 }
    local script = ("%s bin/quicklysign webhooks list & pid=$!; sleep 0.5; kill -INT $pid; wait $pid")
      :format(process.lua)
    local code, _, err = process.run({ "sh", "-c", script }, {
      QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
      QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert.are.equal(130, code, err)
    assert.falsy(err:find("not JSON", 1, true), err)
  end)
end)
