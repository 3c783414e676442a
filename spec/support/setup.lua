-- busted helper, loaded before every spec file (scripts/run-tests passes it).
-- Specs that use the emulator call emulator.reset() in their own before_each:
-- busted announces a test only after its before_each hooks have run, so a
-- reset hooked on that event would wipe what the hooks had just set up.
require "support.emulator"
