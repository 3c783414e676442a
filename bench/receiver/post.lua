-- luacheck: globals wrk done
--- wrk script for benchmark 5: POSTs the vendor's callback JSON (as the emulator sends it), then
-- prints one machine-readable line: RESULT requests= rps= p50_us= p99_us= non2xx= errors=
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "QuicklySign-Emulator"
wrk.body = '{"callback_event":"document_status_changed",'
  .. '"entity_key":"Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Pk7_x-Q2Ab3_zX",'
  .. '"entity_type":"Document",'
  .. '"subscription_key":"Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Cd5_wY",'
  .. '"webhook_key":"Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Wh9-y_R4Cd5_wY"}'

function done(summary, latency)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.2f p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.requests / summary.duration * 1e6, latency:percentile(50),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
