--- What bench/run hands every benchmark: the repo root, quick mode, a temp
-- dir, and how to run a driver script under one Lua flavour with our module.
local proc = require "lib.proc"

local getenv, concat = os.getenv, table.concat

local env = {}

env.root = assert(getenv("QS_BENCH_ROOT"), "QS_BENCH_ROOT is not set (run bench/run)")
env.quick = getenv("QS_BENCH_QUICK") == "1"
env.tmp = assert(getenv("QS_BENCH_TMP"), "QS_BENCH_TMP is not set (run bench/run)")
env.flavours = { "lua5.4", "luajit" }
-- the flavours whose callgrind/strace counts are taken (a quick run counts Lua 5.4 only)
env.count_flavours = env.quick and { "lua5.4" } or env.flavours

--- Size by mode: env.pick(full, quick).
function env.pick(full, quick)
  if env.quick then return quick end
  return full
end

--- The words that run bench/drivers/<script> under flavour (an interpreter name) with args.
function env.driver_words(flavour, script, ...)
  local words = {
    "env", "LUA_CPATH=" .. env.root .. "/build/" .. flavour .. "/?.so;;",
    "LUA_PATH=" .. env.root .. "/bench/?.lua;" .. env.root .. "/lua/?.lua;" .. env.root .. "/lua/?/init.lua;;",
    flavour, env.root .. "/bench/drivers/" .. script,
  }
  for _, a in ipairs({ ... }) do words[#words + 1] = tostring(a) end
  return words
end

--- The same as one shell command string.
function env.driver(flavour, script, ...)
  local words = env.driver_words(flavour, script, ...)
  local quoted = {}
  for i, w in ipairs(words) do quoted[i] = proc.quote(w) end
  return concat(quoted, " ")
end

--- A curl config file at path asking for each url in urls (once each, in order) over one
-- connection, bodies to /dev/null; extra_lines (curl config syntax) go first.
function env.curl_config(path, urls, extra_lines)
  local f = assert(io.open(path, "w"))
  f:write("silent\nshow-error\nfail\n")
  for _, line in ipairs(extra_lines or {}) do f:write(line, "\n") end
  for _, u in ipairs(urls) do
    f:write('url = "', u, '"\noutput = "/dev/null"\n')
  end
  f:close()
  return path
end

return env
