--- Benchmark 8: callbacks answered while PDFs download, in OpenResty. nginx runs the example
-- receiver's shape (bench/receiver/busy_app.lua: verify = token + confirm against the API, a
-- SQLite inbox, four workers downloading final PDFs) with 4 call threads and 4 download threads.
-- Each phase starts a fresh nginx; with downloads, D final_document_generated callbacks start
-- four downloads whose PDFs each answer after PDF_DELAY_MS (emulator delay_ms faults on the
-- storage host), then N callbacks for new (webhook, entity) pairs, each needing a confirm, arrive
-- at once (curl --parallel, 8 at a time); their answer times are what the vendor sees.
--   own:    downloads in their own pool (the default)
--   shared: downloads named into the call pool: one pool for everything, as before
--   idle:   the same N callbacks with no download under way (the anchor)
local env = require "lib.env"
local emu = require "lib.emu"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"
local socket = require "socket"
local cjson = require "cjson"

local fmt, format, quote, concat = stats.fmt, string.format, proc.quote, table.concat

local ROUNDS = env.pick(3, 1)
local N = env.pick(40, 16)
local D = 8                    -- final callbacks, each a pack of two documents
local PDF_DELAY_MS = env.pick(3000, 1500)
local TOKEN = "bench-callback-token-0123456789abcdef"   -- as bench/receiver/busy_app.lua
local VENDOR_TIMEOUT = 5       -- seconds the emulator (and so, we read, the vendor) waits for an answer
local port = assert(tonumber(os.getenv("QS_BENCH_RECEIVER_PORT")), "QS_BENCH_RECEIVER_PORT is not set")
local base = "http://127.0.0.1:" .. port

local function webhook(pack_key)
  local status, answer = emu.request("POST", "/v1/webhooks", { client_id = emu.client_id,
    client_secret = emu.client_secret, webhook = { entity_key = pack_key, callback = "http://127.0.0.1:9/unused" } })
  assert(status == 200, "cannot create a webhook")
  return answer.data.webhook.key
end

local function body(event, pack_key, webhook_key)
  return cjson.encode{ callback_event = event, entity_key = pack_key, entity_type = "Document",
    subscription_key = webhook_key, webhook_key = webhook_key }
end

-- fixtures: D complete packs of two slow PDFs on the storage host, N packs to confirm
emu.reset()
emu.config{ serve_pdf_host = "storage" }
local finals, confirms, warm = {}, {}, {}
for i = 1, 8 do   -- warm-up callbacks, posted first in every phase: the thread VMs' clients, SQLite, traces
  local pack = emu.create_pack({ { name = "w.pdf" } })
  warm[i] = body("entity_updated", pack.key, webhook(pack.key))
end
for i = 1, D do
  local pack = emu.create_pack({ { name = "a.pdf", pdf_bytes = 50000 }, { name = "b.pdf", pdf_bytes = 50000 } })
  assert(emu.request("POST", "/_emulator/document_packs/" .. pack.key .. "/complete", {}) == 200)
  finals[i] = body("final_document_generated", pack.key, webhook(pack.key))
end
for i = 1, N do
  local pack = emu.create_pack({ { name = "c.pdf" } })
  confirms[i] = body("entity_updated", pack.key, webhook(pack.key))
end
local burst = { "parallel", "parallel-max = 8", "no-progress-meter" }
for i, b in ipairs(confirms) do
  if i > 1 then burst[#burst + 1] = "next" end
  burst[#burst + 1] = format('url = "%s/quicklysign?token=%s"\nheader = "Content-Type: application/json"\n'
    .. 'data-binary = %s\noutput = "/dev/null"\nsilent\nwrite-out = "%%{http_code} %%{time_total}\\n"',
    base, TOKEN, '"' .. b:gsub('[\\"]', "\\%0") .. '"')
end
local burst_file = env.tmp .. "/busy-burst.curl"
local f = assert(io.open(burst_file, "w"))
f:write(concat(burst, "\n"), "\n")
f:close()

local template = assert(io.open(env.root .. "/bench/receiver/busy.nginx.conf.template")):read("a")
local user = proc.output("id -u"):match("^0") and "user root root;" or ""

local function post(b)
  local code = proc.output(format("curl -s -o /dev/null -w '%%{http_code}' -H 'Content-Type: application/json' "
    .. "--data-binary %s %s", quote(b), quote(base .. "/quicklysign?token=" .. TOKEN)))
  if code ~= "200" then error("benchmark 8: a callback was answered " .. code, 0) end
end

local function nginx_stats()
  local out = proc.output(format("curl -s --max-time 2 %s/stats || true", quote(base)))
  return cjson.decode(out ~= "" and out or "null")
end

local function wait_for(what, cond)
  for _ = 1, 300 do
    local s = nginx_stats()
    if s ~= nil and cond(s) then return s end
    socket.sleep(0.05)
  end
  error("benchmark 8: " .. what .. " never happened")
end

-- One phase: a fresh nginx, the downloads (unless idle), the burst; returns the answer times.
local function phase(kind, round)
  local prefix = format("%s/busy-%s-%d", env.tmp, kind, round)
  proc.run("mkdir -p " .. quote(prefix .. "/logs") .. " " .. quote(prefix .. "/tmp") .. " " .. quote(prefix .. "/pdfs"))
  local conf = template:gsub("@([%u_]+)@",
    { PREFIX = prefix, ROOT = env.root, PORT = tostring(port), USER_LINE = user })
  local cf = assert(io.open(prefix .. "/nginx.conf", "w"))
  cf:write(conf)
  cf:close()
  local nginx = "nginx -p " .. quote(prefix) .. " -c " .. quote(prefix .. "/nginx.conf")
  proc.run(format("env QS_BENCH_BASE_URL=%s QS_BENCH_INBOX=%s QS_BENCH_PDF_DIR=%s QS_BENCH_SHARED_POOL=%s %s",
    quote(emu.base_url), quote("sqlite://" .. prefix .. "/inbox.db"), quote(prefix .. "/pdfs"),
    kind == "shared" and "1" or "0", nginx))
  local ok, result = pcall(function()
    wait_for("nginx answering", function() return true end)
    emu.request("DELETE", "/_emulator/faults")
    for _, b in ipairs(warm) do post(b) end
    if kind ~= "idle" then
      emu.request("POST", "/_emulator/faults", { method = "GET", path_prefix = "/_emulator/storage/",
        delay_ms = PDF_DELAY_MS, count = 1000 })
      for _, b in ipairs(finals) do post(b) end
      wait_for("four downloads under way", function(s) return s.downloads >= 4 end)
    end
    local times = {}
    for code, t in proc.output("curl -K " .. quote(burst_file)):gmatch("(%d+) ([%d.]+)") do
      if code ~= "200" then error(format("benchmark 8 (%s): a callback was answered %s", kind, code)) end
      times[#times + 1] = tonumber(t)
    end
    assert(#times == N, "benchmark 8: not every callback was answered")
    return times
  end)
  os.execute(nginx .. " -s stop 2>/dev/null")
  for _ = 1, 100 do
    if not io.open(prefix .. "/nginx.pid") then break end
    socket.sleep(0.05)
  end
  emu.request("DELETE", "/_emulator/faults")
  if not ok then error(result, 0) end
  return result
end

local all = { own = {}, shared = {}, idle = {} }
local contenders = {}
for _, kind in ipairs({ "own", "shared", "idle" }) do
  local round = 0
  contenders[#contenders + 1] = { name = kind, run = function()
    round = round + 1
    local times = phase(kind, round)
    for _, t in ipairs(times) do all[kind][#all[kind] + 1] = t end
    return stats.quantile(times, 0.99)
  end }
end
print(format("busy: %d rounds; %d callbacks to confirm while %s-second PDFs download", ROUNDS, N,
  PDF_DELAY_MS / 1000))
local s = paired.rounds(contenders, ROUNDS)
rows.raw("busy", "p99 answer time (s) of each phase", paired.lines(s, { "own", "shared", "idle" }))

local function describe(kind)
  local t = all[kind]
  local late = 0
  for _, v in ipairs(t) do if v > VENDOR_TIMEOUT then late = late + 1 end end
  return format("p50 %s ms, p99 %s ms, max %s ms, %d/%d past %d s", fmt(stats.median(t) * 1000),
    fmt(stats.quantile(t, 0.99) * 1000), fmt(stats.max(t) * 1000), late, #t, VENDOR_TIMEOUT)
end
rows.add{ bench = "8 callbacks while PDFs download, own pool (p99)", flavour = "luajit",
  ours = describe("own"), anchor = describe("idle"), summary = stats.ratios(s.own, s.idle),
  anchor_is = format("the same %d callbacks with no download under way, same nginx", N) }
rows.add{ bench = "8 callbacks while PDFs download, one shared pool (before)", flavour = "luajit",
  ours = describe("shared"), anchor = describe("idle"), summary = stats.ratios(s.shared, s.idle),
  anchor_is = format("the same %d callbacks with no download under way, same nginx", N) }
