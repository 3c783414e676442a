-- busted helper: every spec starts from an emulator with no state, no
-- faults and the default config, so that specs never depend on each other.
local emulator = require "support.emulator"

local busted = require "busted"
busted.subscribe({ "test", "start" }, function()
  emulator.reset()
  return nil, true
end)
