-- luacheck: globals wrk done
--- wrk script for benchmark 5: POSTs the vendor's callback JSON (bench/fixtures/callback.json,
-- found through QS_BENCH_ROOT), then prints one machine-readable line:
-- RESULT requests= rps= p50_us= p99_us= non2xx= errors=
local f = assert(io.open((os.getenv("QS_BENCH_ROOT") or ".") .. "/bench/fixtures/callback.json", "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "QuicklySign-Emulator"
wrk.body = body

function done(summary, latency)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.2f p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.requests / summary.duration * 1e6, latency:percentile(50),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
