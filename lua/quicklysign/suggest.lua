-- "Did you mean": the known names closest to a mistyped one, by edit distance (insertions,
-- deletions, substitutions and swaps of two neighbours, each counting one), as git and Stripe's
-- command line suggest. A name within a third of its length (at least 1, at most 3 edits) is a
-- candidate; so is one the typed word is a prefix of (3 or more letters: "web" -> "webhooks").
local ipairs, sort, min, floor = ipairs, table.sort, math.min, math.floor
local sub = string.sub

local suggest = {
  MAX_EDITS = 3,
  MIN_PREFIX = 3,
}

-- Optimal string alignment distance between a and b.
function suggest.distance(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = sub(a, i, i)
    for j = 1, lb do
      local cb = sub(b, j, j)
      local cost = ca == cb and 0 or 1
      local d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and ca == sub(b, j - 1, j - 1) and sub(a, i - 1, i - 1) == cb then
        d = min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev, cur = prev, cur, prev2
  end
  return prev[lb]
end

-- suggest.closest(word, names) -> the candidates, best first (ties in the order given).
function suggest.closest(word, names)
  local limit = min(suggest.MAX_EDITS, floor(#word / 3))
  if limit < 1 then limit = 1 end
  local found = {}
  for i, name in ipairs(names) do
    local d = suggest.distance(word, name)
    if d > 0 and d <= limit then
      found[#found + 1] = { name = name, d = d, i = i }
    elseif #word >= suggest.MIN_PREFIX and #word < #name and sub(name, 1, #word) == word then
      found[#found + 1] = { name = name, d = limit + 0.5, i = i }
    end
  end
  sort(found, function(x, y)
    if x.d ~= y.d then return x.d < y.d end
    return x.i < y.i
  end)
  local out = {}
  for i, f in ipairs(found) do out[i] = f.name end
  return out
end

-- " Did you mean 'x'?" / " Did you mean 'x' or 'y'?" (at most two), or "" when nothing is close.
function suggest.phrase(word, names, quote_prefix)
  local c = suggest.closest(word, names)
  if #c == 0 then return "" end
  local q = quote_prefix or ""
  if #c == 1 then return " Did you mean '" .. q .. c[1] .. "'?" end
  return " Did you mean '" .. q .. c[1] .. "' or '" .. q .. c[2] .. "'?"
end

return suggest
