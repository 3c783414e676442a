--- Small statistics for paired benchmark rounds: medians, quantiles and the
-- per-round ratio summary every benchmark reports.
local table_sort, floor, format = table.sort, math.floor, string.format

local stats = {}

local function sorted(xs)
  local s = {}
  for i = 1, #xs do s[i] = xs[i] end
  table_sort(s)
  return s
end

--- q-quantile (0..1) with linear interpolation between closest ranks.
function stats.quantile(xs, q)
  local s = sorted(xs)
  local n = #s
  if n == 0 then return 0 / 0 end
  local pos = 1 + (n - 1) * q
  local lo = floor(pos)
  local frac = pos - lo
  if lo >= n then return s[n] end
  return s[lo] + (s[lo + 1] - s[lo]) * frac
end

function stats.median(xs) return stats.quantile(xs, 0.5) end
function stats.min(xs) return sorted(xs)[1] end
function stats.max(xs) local s = sorted(xs); return s[#s] end

--- Per-round ratios ours[i] / anchor[i] and their summary:
-- { ratio = median, q1 =, q3 =, min =, max =, n = }.
function stats.ratios(ours, anchor)
  local r = {}
  for i = 1, #ours do r[i] = ours[i] / anchor[i] end
  return {
    ratios = r, ratio = stats.median(r), n = #r,
    q1 = stats.quantile(r, 0.25), q3 = stats.quantile(r, 0.75),
    min = stats.min(r), max = stats.max(r),
  }
end

--- "IQR 0.97–1.04, min–max 0.93–1.10, n=15"
function stats.spread(s)
  return format("IQR %.2f–%.2f, range %.2f–%.2f, n=%d", s.q1, s.q3, s.min, s.max, s.n)
end

--- A number with about three significant digits.
function stats.fmt(x)
  if x ~= x then return "nan" end
  local a = x < 0 and -x or x
  if a >= 100 then return format("%.0f", x) end
  if a >= 10 then return format("%.1f", x) end
  if a >= 1 then return format("%.2f", x) end
  return format("%.3g", x)
end

return stats
