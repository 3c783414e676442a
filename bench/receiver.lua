--- Benchmark 5: OpenResty receiver throughput. nginx (our own, on a free port, under the temp
-- dir) serves the callbacks router through quicklysign.openresty.handler (token checked, empty
-- handler), the same with a durable inbox (SQLite, and a redis-server bench/run started), and
-- two anchors: `return 200 "ok"` and a content_by_lua_block that reads the body and
-- cjson-decodes it. wrk -t2 -c16 (and -c64 for the inboxes, whose writes group the callbacks
-- that arrive together) POSTs the callback JSON to each in turn (order rotating per round);
-- req/s ratios (ours/anchor: below 1 = ours slower) and p99 latency are reported.
local env = require "lib.env"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format, quote = stats.fmt, string.format, proc.quote

local DURATION = env.pick(5, 1)
local ROUNDS = env.pick(6, 1)
local TOKEN = "bench-callback-token-0123456789abcdef"   -- as bench/receiver/receiver_app.lua
local port = assert(tonumber(os.getenv("QS_BENCH_RECEIVER_PORT")), "QS_BENCH_RECEIVER_PORT is not set")
local prefix = env.tmp .. "/receiver"

-- the nginx.conf
proc.run("mkdir -p " .. quote(prefix .. "/logs") .. " " .. quote(prefix .. "/tmp"))
local f = assert(io.open(env.root .. "/bench/receiver/nginx.conf.template", "r"))
local conf = f:read("a")
f:close()
local user = proc.output("id -u"):match("^0") and "user root root;" or ""
conf = conf:gsub("@([%u_]+)@", { PREFIX = prefix, ROOT = env.root, PORT = tostring(port), USER_LINE = user })
local conf_path = prefix .. "/nginx.conf"
f = assert(io.open(conf_path, "w"))
f:write(conf)
f:close()

local nginx = "nginx -p " .. quote(prefix) .. " -c " .. quote(conf_path)
local base = "http://127.0.0.1:" .. port

local function stop()
  os.execute(nginx .. " -s stop 2>/dev/null")
end

local function wrk(path, connections)
  local out = proc.output(format("wrk -t2 -c%d -d%ds --timeout 5s -s %s %s", connections or 16, DURATION,
    quote(env.root .. "/bench/receiver/post.lua"), quote(base .. path)))
  local r = {}
  for k, v in out:gmatch("([%w_]+)=([%d.]+)") do r[k] = tonumber(v) end
  if not r.rps then error("no RESULT line from wrk:\n" .. out) end
  if r.non2xx > 0 or r.errors > 0 then
    error(format("wrk %s: %d non-2xx answers, %d socket errors of %d requests", path, r.non2xx, r.errors,
      r.requests))
  end
  return r
end

local function bench()
  proc.run(nginx)
  -- ready, and each location answers 200 to the callback POST
  local body = '{"callback_event":"document_status_changed","entity_key":"' .. ("k"):rep(60) .. '"}'
  for _, path in ipairs({ "/anchor", "/decode", "/ours?token=" .. TOKEN, "/ours_sqlite?token=" .. TOKEN,
    "/ours_redis?token=" .. TOKEN }) do
    local code
    for _ = 1, 50 do
      code = proc.output(format("curl -s -o /dev/null -w '%%{http_code}' -H 'Content-Type: application/json' "
        .. "--data-binary %s %s || true", quote(body), quote(base .. path)))
      if code == "200" then break end
      os.execute("sleep 0.1")
    end
    if code ~= "200" then
      local log = io.open(prefix .. "/logs/error.log")
      error(path .. " answered " .. tostring(code) .. "; nginx's error log:\n" .. (log and log:read("a") or ""), 0)
    end
  end

  -- warm-up: LuaJIT compiles the Lua locations' traces, nginx fills its pools
  for _, path in ipairs({ "/ours?token=" .. TOKEN, "/decode", "/ours_sqlite?token=" .. TOKEN,
    "/ours_redis?token=" .. TOKEN }) do
    proc.output(format("wrk -t2 -c16 -d1s -s %s %s", quote(env.root .. "/bench/receiver/post.lua"),
      quote(base .. path)))
  end

  local targets = {
    { name = "ours", path = "/ours?token=" .. TOKEN },
    { name = "anchor", path = "/anchor" },
    { name = "decode", path = "/decode" },
    { name = "ours_sqlite", path = "/ours_sqlite?token=" .. TOKEN },
    { name = "ours_redis", path = "/ours_redis?token=" .. TOKEN },
    { name = "decode_c64", path = "/decode", c = 64 },
    { name = "ours_sqlite_c64", path = "/ours_sqlite?token=" .. TOKEN, c = 64 },
    { name = "ours_redis_c64", path = "/ours_redis?token=" .. TOKEN, c = 64 },
  }
  local p99 = {}
  local contenders, names = {}, {}
  for _, t in ipairs(targets) do
    p99[t.name] = {}
    names[#names + 1] = t.name
    contenders[#contenders + 1] = { name = t.name, run = function()
      local r = wrk(t.path, t.c)
      table.insert(p99[t.name], r.p99_us)
      return r.rps
    end }
  end
  print(format("receiver: %d rounds of wrk -t2 -c16/-c64 -d%ds on %d locations", ROUNDS, DURATION, #targets))
  local s = paired.rounds(contenders, ROUNDS)
  local lines = paired.lines(s, names)
  for i, line in ipairs(lines) do
    for _, n in ipairs(names) do line = line .. format(" %s_p99_us=%d", n, p99[n][i]) end
    lines[i] = line
  end
  rows.raw("receiver", "req/s per wrk run, p99 latency in µs", lines)

  local function add(bench_name, ours, anchor, anchor_is)
    rows.add{ bench = bench_name, flavour = "luajit",
      ours = format("%s req/s, p99 %s ms", fmt(stats.median(s[ours])), fmt(stats.median(p99[ours]) / 1000)),
      anchor = format("%s req/s, p99 %s ms", fmt(stats.median(s[anchor])), fmt(stats.median(p99[anchor]) / 1000)),
      summary = stats.ratios(s[ours], s[anchor]), ratio_note = "(req/s; <1 = slower)", anchor_is = anchor_is }
  end
  add("5 receiver vs return 200", "ours", "anchor", "nginx `return 200 \"ok\"`, same server, same wrk load")
  add("5 receiver vs read+decode", "ours", "decode", "content_by_lua: read body, cjson.decode, ngx.say")
  local decode_is = "content_by_lua: read body, cjson.decode, ngx.say"
  add("5 receiver + SQLite inbox vs read+decode", "ours_sqlite", "decode", decode_is)
  add("5 receiver + Redis inbox vs read+decode", "ours_redis", "decode", decode_is)
  add("5 receiver + SQLite inbox vs read+decode, 64 conn.", "ours_sqlite_c64", "decode_c64", decode_is .. ", wrk -c64")
  add("5 receiver + Redis inbox vs read+decode, 64 conn.", "ours_redis_c64", "decode_c64", decode_is .. ", wrk -c64")
end

-- the parts of the receiving path, timed inside the nginx worker, each against cjson.decode
local function micro()
  local rounds, m = env.pick(15, 3), env.pick(500, 200)
  local fh = assert(io.open(env.root .. "/bench/fixtures/callback.json", "rb"))
  local body = fh:read("a"):gsub("%s+$", "")
  fh:close()
  local out = proc.output(format("curl -s -S -f -H 'Content-Type: application/json' --data-binary %s %s",
    quote(body), quote(base .. "/micro?token=" .. TOKEN .. "&rounds=" .. rounds .. "&m=" .. m)))
  local s = { decode = {}, verify = {}, request = {} }
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    for k, v in line:gmatch("(%a+)=([%d.]+)") do table.insert(s[k], v / m * 1e6) end
    lines[#lines + 1] = line
  end
  assert(#s.decode == rounds, "unexpected /micro answer:\n" .. out)
  rows.raw("receiver_micro", format("CPU seconds per block of %d calls, inside the nginx worker", m), lines)
  local decode_us = fmt(stats.median(s.decode)) .. " µs"
  for _, r in ipairs({
    { "5 part: router:verify in nginx (CPU)", "verify", "token, content type, parse" },
    { "5 part: request tables in nginx (CPU)", "request", "get_method, get_headers, get_uri_args" },
  }) do
    rows.add{ bench = r[1], flavour = "luajit", ours = fmt(stats.median(s[r[2]])) .. " µs (" .. r[3] .. ")",
      anchor = decode_us, summary = stats.ratios(s[r[2]], s.decode),
      anchor_is = "cjson.decode(body) in the same worker, same rounds" }
  end
end

local ok, err = pcall(function()
  bench()
  micro()
end)
stop()
if not ok then error(err, 0) end
