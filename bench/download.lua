--- Benchmark 3: streaming download of a 32 MiB PDF. Ours: client:download(serve_pdf_url, path)
-- (a whole process, per flavour). Anchors, in the same interleaved rounds, same directory:
-- curl -s -o path url with the same access_token header; and the same curl followed by
-- `sync file` and `mv` into place, which gives what ours guarantees (fsync'd temp file renamed
-- into place). Also the peak RSS: VmHWM of our process before and after the download (its
-- growth shows the body is never whole in memory), the max RSS of the whole curl and Lua
-- processes (/usr/bin/time), and per-download instruction and syscall counts (callgrind,
-- strace -c; slope between 1 and 2 downloads in one process, so start-up cancels).
local env = require "lib.env"
local emu = require "lib.emu"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format, quote = stats.fmt, string.format, proc.quote

local SIZE = env.pick(32, 8) * 1024 * 1024   -- a quick run checks the harness on 8 MiB
local MIB = SIZE // 1048576
local ROUNDS = env.pick(9, 3)

emu.reset()
local pack = emu.create_pack({ { name = "big.pdf", pdf_bytes = SIZE } })
local pdf_url = pack.documents[1].serve_pdf_url
local token = emu.access_token()
local dir = env.tmp .. "/download"
os.execute("mkdir -p " .. quote(dir))
local path = dir .. "/doc.pdf"

local commands = {
  ["lua5.4"] = env.driver("lua5.4", "download.lua", emu.base_url, token, pdf_url, path),
  luajit = env.driver("luajit", "download.lua", emu.base_url, token, pdf_url, path),
  curl = "curl -s -S -f -H " .. quote("access_token: " .. token) .. " -o " .. quote(path) .. " " .. quote(pdf_url),
}
commands.curl_durable = "curl -s -S -f -H " .. quote("access_token: " .. token) .. " -o " .. quote(path .. ".tmp")
  .. " " .. quote(pdf_url) .. " && sync " .. quote(path .. ".tmp") .. " && mv " .. quote(path .. ".tmp") .. " "
  .. quote(path)
local NAMES = { "lua5.4", "luajit", "curl", "curl_durable" }

local function check_size()
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  assert(n == SIZE, format("downloaded %d bytes, expected %d", n, SIZE))
  os.remove(path)
end

local hwm = {}   -- per flavour: growth of VmHWM during the download, KiB
local contenders = {}
for _, name in ipairs(NAMES) do
  proc.timed(commands[name])   -- warm-up (the emulator renders and caches the PDF once)
  check_size()
  hwm[name] = {}
  contenders[#contenders + 1] = { name = name, run = function()
    local dt, out = proc.timed(commands[name])
    check_size()
    local before, after = out:match("hwm_before=(%d+) hwm_after=(%d+)")
    if before then table.insert(hwm[name], tonumber(after) - tonumber(before)) end
    return dt * 1e3
  end }
end

print(format("download: %d rounds of one %d MiB download each", ROUNDS, MIB))
local s = paired.rounds(contenders, ROUNDS)
rows.raw("download", format("ms per %d MiB download, whole process", MIB), paired.lines(s, NAMES))
for _, flavour in ipairs(env.flavours) do
  rows.add{ bench = format("3 download %d MiB (wall)", MIB), flavour = flavour,
    ours = fmt(stats.median(s[flavour])) .. " ms", anchor = fmt(stats.median(s.curl)) .. " ms",
    summary = stats.ratios(s[flavour], s.curl),
    anchor_is = "curl -o path url, same token header, same directory" }
  rows.add{ bench = format("3 download %d MiB, durable (wall)", MIB), flavour = flavour,
    ours = fmt(stats.median(s[flavour])) .. " ms", anchor = fmt(stats.median(s.curl_durable)) .. " ms",
    summary = stats.ratios(s[flavour], s.curl_durable),
    anchor_is = "curl -o path.tmp url && sync path.tmp && mv path.tmp path (what ours guarantees)" }
end

-- memory: max RSS of the whole process (/usr/bin/time), ours and curl, one run each
local function max_rss(cmd)
  local out = proc.output("/usr/bin/time -f 'maxrss_kib=%M' " .. cmd .. " 2>&1")
  check_size()
  return tonumber(out:match("maxrss_kib=(%d+)"))
end
local curl_rss = max_rss(commands.curl)
for _, flavour in ipairs(env.flavours) do
  local rss = max_rss(commands[flavour])
  local growth = stats.max(hwm[flavour])
  rows.raw("download_rss", flavour, { format("maxrss_kib=%d curl_maxrss_kib=%d hwm_growth_kib=%s", rss, curl_rss,
    table.concat(hwm[flavour], ",")) })
  rows.add{ bench = "3 download peak RSS", flavour = flavour,
    ours = format("%.1f MiB (+%d KiB during)", rss / 1024, growth), anchor = format("%.1f MiB", curl_rss / 1024),
    summary = { ratio = rss / curl_rss },
    spread = format("VmHWM growth during the download: max %d KiB over %d runs, body %d MiB",
      growth, #hwm[flavour], MIB),
    anchor_is = "max RSS of the curl process (/usr/bin/time) for the same download" }
end

-- repeatable counts per download: instructions (callgrind) and system calls (strace -c)
local function curl_words(k)
  local lines = { 'header = "access_token: ' .. token .. '"' }
  for _ = 1, k do lines[#lines + 1] = 'url = "' .. pdf_url .. '"\noutput = "' .. path .. '"' end
  return { "curl", "-K", env.curl_config(env.tmp .. "/download-" .. k .. ".curl", {}, lines) }
end
local curl_ir = proc.callgrind_slope(curl_words, 1, 2)
check_size()
local curl_sys = proc.syscalls_slope(curl_words, 1, 2, env.tmp)
check_size()
for _, flavour in ipairs(env.count_flavours) do
  local function ours_words(k)
    return env.driver_words(flavour, "download.lua", emu.base_url, token, pdf_url, path, k)
  end
  local ours_ir = proc.callgrind_slope(ours_words, 1, 2)
  check_size()
  local ours_sys = proc.syscalls_slope(ours_words, 1, 2, env.tmp)
  check_size()
  rows.raw("download_counts", flavour, { format("ours_ir=%.0f curl_ir=%.0f ours_syscalls=%.0f curl_syscalls=%.0f",
    ours_ir, curl_ir, ours_sys, curl_sys) })
  rows.add{ bench = "3 download (Ir/download)", flavour = flavour,
    ours = fmt(ours_ir / 1e6) .. " MIr", anchor = fmt(curl_ir / 1e6) .. " MIr",
    summary = { ratio = ours_ir / curl_ir }, spread = "one count each (slope 1→2 downloads)",
    anchor_is = "curl CLI, same download; instructions of the client process only" }
  rows.add{ bench = "3 download (syscalls/download)", flavour = flavour,
    ours = format("%.0f", ours_sys), anchor = format("%.0f", curl_sys),
    summary = { ratio = ours_sys / curl_sys }, spread = "one count each (strace -c, slope 1→2 downloads)",
    anchor_is = "curl CLI, same download (both read with a 100 KiB receive buffer)" }
end
