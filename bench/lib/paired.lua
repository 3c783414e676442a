--- Interleaved rounds: every round runs each contender once, the order
-- rotating from round to round (A B C, B C A, C A B, ...), so that drift and
-- bursts of noise on the machine fall on all of them alike.
local paired = {}

--- contenders: array of { name =, run = function() -> number }; returns { [name] = {samples} }.
function paired.rounds(contenders, rounds)
  local samples = {}
  for _, c in ipairs(contenders) do samples[c.name] = {} end
  local k = #contenders
  for r = 1, rounds do
    for j = 0, k - 1 do
      local c = contenders[(r - 1 + j) % k + 1]
      local s = samples[c.name]
      s[#s + 1] = c.run()
    end
  end
  return samples
end

--- The raw lines of a rounds table: "round name1=v name2=v ..."
function paired.lines(samples, names)
  local lines = {}
  for i = 1, #samples[names[1]] do
    local parts = { tostring(i) }
    for _, n in ipairs(names) do parts[#parts + 1] = n .. "=" .. string.format("%.6g", samples[n][i]) end
    lines[i] = table.concat(parts, " ")
  end
  return lines
end

return paired
