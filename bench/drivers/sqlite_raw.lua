--- Driver: the anchor of the SQLite worker: what two plain SQLite transactions per event cost on the
-- same file settings (WAL, synchronous=FULL): N INSERTs, then N DELETEs, each its own
-- transaction (as a worker's lease and completion are), timed together; prints "events_per_s=<x>".
--   lua5.4 bench/drivers/sqlite_raw.lua PATH N
local driver = require "luasql.sqlite3"
local socket = require "socket"

local path, n = arg[1], tonumber(arg[2])
for _, suffix in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. suffix) end
local env = driver.sqlite3()
local conn = assert(env:connect(path))
for _, s in ipairs({ "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
  "CREATE TABLE jobs (id INTEGER PRIMARY KEY, body TEXT)" }) do
  local cur = assert(conn:execute(s))
  if type(cur) == "userdata" then cur:close() end
end
local body = conn:escape('{"callback_event":"entity_updated","entity_key":"K"}')
local t0 = socket.gettime()
for i = 1, n do assert(conn:execute(("INSERT INTO jobs VALUES (%d, '%s')"):format(i, body))) end
for i = 1, n do assert(conn:execute(("DELETE FROM jobs WHERE id = %d"):format(i))) end
local dt = socket.gettime() - t0
conn:close()
env:close()
print(("events_per_s=%.3f"):format(n / dt))
