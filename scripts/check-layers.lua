-- scripts/check-layers.lua OBJDIR: checks that src/qs.h's layering comment is true.
--
-- qs.h lists the C files from the top layer down, and says that each file calls only the
-- ones on lines below its own. This reads that list, then the symbols each object file in
-- OBJDIR defines and uses (`nm -P`), and fails, naming the call, when a file uses a
-- function of a file on its own line or above, or when a file is missing from the list.
-- Run by `make check-layers` (part of `make check`).
local objdir = assert(arg[1], "usage: lua scripts/check-layers.lua OBJDIR")

local function layers()
  local f = assert(io.open("src/qs.h"))
  local text = f:read("a")
  f:close()
  local block = assert(text:match("Layering.-\n(.-)\n %* Nothing"), "src/qs.h: no layering comment")
  local rank, n = {}, 0
  for line in block:gmatch("[^\n]+") do
    local files = line:match("^ %*%s+(%S+%.c.*)$")
    if files then
      n = n + 1
      for word in files:gmatch("%S+") do
        if not word:match("%.c$") then break end
        rank[word] = n
      end
    end
  end
  return rank
end

local function symbols(object)
  local defined, used = {}, {}
  local p = assert(io.popen("nm -P " .. object))
  for line in p:lines() do
    local name, kind = line:match("^(%S+) (%a)")
    if kind == "U" then used[#used + 1] = name
    elseif kind and kind:match("[TDBR]") then defined[#defined + 1] = name end
  end
  p:close()
  return defined, used
end

local rank = layers()
local owner, uses, problems = {}, {}, {}
local p = assert(io.popen("ls src/*.c"))
for source in p:lines() do
  local file = source:match("[^/]+$")
  if not rank[file] then problems[#problems + 1] = file .. " is not in src/qs.h's layering comment" end
  local defined, used = symbols(objdir .. "/" .. file:gsub("%.c$", ".o"))
  for _, s in ipairs(defined) do owner[s] = file end
  uses[file] = used
end
p:close()
local calls = 0
for file, used in pairs(uses) do
  for _, s in ipairs(used) do
    local to = owner[s]
    if to and to ~= file and rank[file] and rank[to] then
      calls = calls + 1
      if rank[to] <= rank[file] then
        problems[#problems + 1] = ("%s uses %s of %s, which is not below it"):format(file, s, to)
      end
    end
  end
end
table.sort(problems)
for _, problem in ipairs(problems) do io.stderr:write("check-layers: ", problem, "\n") end
if #problems > 0 then os.exit(1) end
print(("check-layers: %d uses between C files, each of a file on a lower line of src/qs.h"):format(calls))
