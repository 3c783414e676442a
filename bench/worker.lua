--- Benchmark 6: worker throughput with an empty handler, each inbox against the raw rate of its
-- store on the same machine. Ours: bench/drivers/worker.lua drains N stored callbacks (one lease
-- and one completion per event, each a round trip / a transaction). Anchors: for Redis,
-- redis-benchmark (one connection, like one worker) running XREADGROUP COUNT 1 on a filled stream
-- and XACK, the two calls a Streams consumer makes per event, combined as 1/(1/r1 + 1/r2); for
-- SQLite, bench/drivers/sqlite_raw.lua: one INSERT and one DELETE transaction per event on the
-- same settings. events/s ratios (ours/anchor: below 1 = ours slower).
local env = require "lib.env"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format = stats.fmt, string.format

local ROUNDS = env.pick(5, 1)
local N_SQLITE, N_REDIS = env.pick(2000, 300), env.pick(10000, 1000)
local redis_port = assert(os.getenv("QS_BENCH_REDIS_PORT"), "QS_BENCH_REDIS_PORT is not set")
local round = 0

local function events_per_s(out)
  return assert(tonumber(out:match("events_per_s=([%d.]+)")), "no events_per_s in:\n" .. out)
end

local function redis_rate(command)
  local out = proc.output(format("redis-benchmark -p %s -c 1 -n %d -q %s", redis_port, N_REDIS, command))
  -- "XREADGROUP ...: 23809.52 requests per second, p50=0.031 msec"
  return assert(tonumber(out:match("([%d.]+) requests per second")), "no rate in:\n" .. out)
end

local function redis_anchor()
  local cli = "redis-cli -p " .. redis_port
  proc.run(cli .. " del qs_bench_stream >/dev/null")
  proc.run(format("%s xgroup create qs_bench_stream g $ mkstream >/dev/null", cli))
  proc.run(format("redis-benchmark -p %s -c 4 -n %d -q xadd qs_bench_stream '*' body x >/dev/null", redis_port,
    N_REDIS + 1000))
  local read = redis_rate("xreadgroup group g c count 1 streams qs_bench_stream '>'")
  local ack = redis_rate("xack qs_bench_stream g 0-1")
  return 1 / (1 / read + 1 / ack)
end

local contenders = {
  { name = "ours_sqlite", run = function()
    round = round + 1
    local path = env.tmp .. "/worker-" .. round .. ".db"
    return events_per_s(proc.output(env.driver("lua5.4", "worker.lua", "sqlite://" .. path, N_SQLITE)))
  end },
  { name = "raw_sqlite", run = function()
    return events_per_s(proc.output(env.driver("lua5.4", "sqlite_raw.lua", env.tmp .. "/raw.db", N_SQLITE)))
  end },
  { name = "ours_redis", run = function()
    round = round + 1
    local url = format("redis://127.0.0.1:%s/0?prefix=qsbench%d:", redis_port, round)
    return events_per_s(proc.output(env.driver("lua5.4", "worker.lua", url, N_REDIS)))
  end },
  { name = "raw_redis", run = redis_anchor },
}

print(format("worker: %d rounds; %d events on SQLite, %d on Redis", ROUNDS, N_SQLITE, N_REDIS))
local s = paired.rounds(contenders, ROUNDS)
rows.raw("worker", "events/s per run", paired.lines(s, { "ours_sqlite", "raw_sqlite", "ours_redis", "raw_redis" }))
rows.add{ bench = "6 worker, SQLite inbox (events/s)", flavour = "lua5.4",
  ours = fmt(stats.median(s.ours_sqlite)) .. " events/s", anchor = fmt(stats.median(s.raw_sqlite)) .. " events/s",
  summary = stats.ratios(s.ours_sqlite, s.raw_sqlite), ratio_note = "(events/s; <1 = slower)",
  anchor_is = "one INSERT + one DELETE transaction per event, same file settings (WAL, synchronous=FULL)" }
rows.add{ bench = "6 worker, Redis inbox (events/s)", flavour = "lua5.4",
  ours = fmt(stats.median(s.ours_redis)) .. " events/s", anchor = fmt(stats.median(s.raw_redis)) .. " events/s",
  summary = stats.ratios(s.ours_redis, s.raw_redis), ratio_note = "(events/s; <1 = slower)",
  anchor_is = "redis-benchmark -c 1: XREADGROUP COUNT 1 + XACK per event, same redis-server" }

