--- Turns the rows of one run (results/rows.raw) and the machine facts into the markdown table
-- of results.md (or of a quick run's file) and prints it.
--   lua5.4 bench/report.lua OUT_FILE MODE SECONDS
local out_path, mode, seconds = arg[1], arg[2], tonumber(arg[3])
local dir = os.getenv("QS_BENCH_RESULTS") or "bench/results"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p:read("a") or ""
  p:close()
  return (s:gsub("%s+$", ""))
end

local function cell(s)
  return (s:gsub("|", "\\|"))
end

local rows = {}
for line in io.lines(dir .. "/rows.raw") do
  local r = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do r[#r + 1] = field end
  rows[#rows + 1] = r
end

local cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"):gsub("^%s+", "")
local facts = {
  { "date", sh("date -u '+%Y-%m-%d %H:%M UTC'") },
  { "mode", string.format("%s, %.0f s for the whole run", mode, seconds or 0) },
  { "nproc", sh("nproc") },
  { "uname -r", sh("uname -r") },
  { "cpu", cpu },
  { "libcurl", sh("curl --version | head -1 | grep -o 'libcurl/[^ ]*'") },
  { "lua", sh("lua5.4 -v | cut -d' ' -f1,2") .. ", " .. sh("luajit -v | cut -d' ' -f1,2") },
  { "nginx", (sh("nginx -v 2>&1 | cat"):gsub("^nginx version: ", "")) },
  { "commit", sh("git rev-parse --short HEAD") },
}

local out = {}
out[#out + 1] = "| benchmark | flavour | ours | anchor | ratio ours/anchor | spread (per-round ratios) | anchor is |"
out[#out + 1] = "|---|---|---|---|---|---|---|"
for _, r in ipairs(rows) do
  local c = {}
  for i = 1, 7 do c[i] = cell(r[i] or "") end
  out[#out + 1] = "| " .. table.concat(c, " | ") .. " |"
end
out[#out + 1] = ""
local f = {}
for _, kv in ipairs(facts) do f[#f + 1] = kv[1] .. ": " .. kv[2] end
out[#out + 1] = "Machine and run: " .. table.concat(f, "; ") .. "."
out[#out + 1] = ""
out[#out + 1] = "Ratios are ours/anchor of the quantity shown: for times and counts below 1 means ours is "
  .. "cheaper; for req/s below 1 means ours serves fewer. Wall and CPU ratios are medians of "
  .. "per-round ratios of interleaved runs; callgrind and strace counts are one count each. "
  .. "Raw samples: bench/results/*.raw."

local text = "# quicklysign benchmark results\n\nWritten by `bench/run` (see bench/README.md). Do not edit.\n\n"
  .. table.concat(out, "\n") .. "\n"
local fh = assert(io.open(out_path, "w"))
fh:write(text)
fh:close()
io.write("\n", text)
