--- Results: one row per comparison, appended (TSV) to the rows file that
-- bench/report.lua turns into results.md; the per-round samples of each
-- comparison go to their own raw file beside it.
local stats = require "lib.stats"

local format, concat, gsub, tostring = string.format, table.concat, string.gsub, tostring

local rows = {}

local dir = os.getenv("QS_BENCH_RESULTS") or "bench/results"

local function clean(s)
  return (gsub(tostring(s), "[\t\n]", " "))
end

--- rows.add{ bench=, flavour=, ours=, anchor=, summary= (stats.ratios), anchor_is=,
--            ratio_note= (optional: how to read this ratio) }
function rows.add(r)
  local f = assert(io.open(dir .. "/rows.raw", "a"))
  local ratio = stats.fmt(r.summary.ratio)
  if r.ratio_note then ratio = ratio .. " " .. r.ratio_note end
  f:write(concat({ clean(r.bench), clean(r.flavour), clean(r.ours), clean(r.anchor), clean(ratio),
    clean(r.spread or stats.spread(r.summary)), clean(r.anchor_is) }, "\t"), "\n")
  f:close()
  io.stdout:write(format("  %-34s %-7s ours %-22s anchor %-22s ratio %s (%s)\n", r.bench, r.flavour,
    r.ours, r.anchor, ratio, r.spread or stats.spread(r.summary)))
  io.stdout:flush()
end

--- Appends the samples of one comparison to <name>.raw: a header line, then one line per round.
function rows.raw(name, header, lines)
  local f = assert(io.open(dir .. "/" .. name .. ".raw", "a"))
  f:write("# ", header, "\n")
  for i = 1, #lines do f:write(lines[i], "\n") end
  f:close()
end

return rows
