--- Test support: run a command to completion and collect its exit code,
-- stdout and stderr (portable to Lua 5.1/LuaJIT, whose popen():close() does
-- not report exit codes).
local process = {}

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
process.quote = quote

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  os.remove(path)
  return s
end

--- run(argv [, env [, stdin]]) --> code, stdout, stderr
-- argv: array of words (quoted here); env: table of variables to set (false unsets).
function process.run(argv, env, stdin)
  local out, err, code_file = os.tmpname(), os.tmpname(), os.tmpname()
  local words, sets = {}, {}
  for name, value in pairs(env or {}) do   -- env wants its -u options before any NAME=value
    if value == false then words[#words + 1] = "-u " .. name else sets[#sets + 1] = name .. "=" .. quote(value) end
  end
  for _, w in ipairs(sets) do words[#words + 1] = w end
  local cmd = {}
  for i, w in ipairs(argv) do cmd[i] = quote(w) end
  local input = stdin and ("printf '%s' " .. quote(stdin) .. " |") or ""
  local line = ("%s env %s %s <%s >%s 2>%s; echo $? >%s"):format(input, table.concat(words, " "),
    table.concat(cmd, " "), stdin and "/dev/stdin" or "/dev/null", quote(out), quote(err), quote(code_file))
  os.execute(line)
  return tonumber(slurp(code_file)), slurp(out), slurp(err)
end

--- An env for run: a command that must not get the ASan run's preloaded runtime (it deadlocks
-- curl and nginx), e.g. process.run({ "curl", ... }, process.NO_PRELOAD)
process.NO_PRELOAD = { LD_PRELOAD = false, ASAN_OPTIONS = false }

--- process.tmpdir() --> a new empty folder under the system's temp dir
function process.tmpdir()
  local path = os.tmpname()
  os.remove(path)
  assert(os.execute("mkdir -p " .. quote(path)))
  return path
end

--- process.read(path) --> the file's bytes, or nil, err when it cannot be opened
function process.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

--- process.listing(dir) --> the names in dir (`ls -A`), sorted; none when dir does not exist
function process.listing(dir)
  local p = assert(io.popen("ls -A " .. quote(dir) .. " 2>/dev/null"))
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

--- The interpreter the specs run on ("lua5.4" or "luajit"), for child Lua processes.
process.lua = os.getenv("QUICKLYSIGN_TEST_LUA") or "lua5.4"

return process
