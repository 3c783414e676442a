-- Runs busted, then exits without closing the Lua state (after collecting
-- garbage, so every unreachable object is finalised). For memory checkers:
-- closing the state would dlclose the C modules, and valgrind could no longer
-- name their frames; what is really lost is still reported as lost.
--   QUICKLYSIGN_BUSTED=$(command -v busted) valgrind lua5.4 scripts/busted-noclose.lua [busted args]
local exit = os.exit
local function finish(code)
  collectgarbage()
  collectgarbage()
  io.stdout:flush()
  exit(code, false)
end
os.exit = function(code) finish(code) end   -- luacheck: ignore (on purpose)
dofile(os.getenv("QUICKLYSIGN_BUSTED") or "/usr/bin/busted")   -- scripts/run-tests sets it from PATH
finish(0)
