--- Running commands: wall time of a whole process, captured output, and
-- callgrind's instruction count.
local socket = require "socket"

local gettime, popen, execute, format = socket.gettime, io.popen, os.execute, string.format

local proc = {}

--- Single-quotes s for sh.
function proc.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Runs cmd (a shell string); returns its wall seconds and what it printed. Raises on failure.
function proc.timed(cmd)
  local t0 = gettime()
  local p = assert(popen(cmd, "r"))
  local out = p:read("a")
  local ok, how, code = p:close()
  local dt = gettime() - t0
  if not ok then
    error(format("command failed (%s %s): %s\n%s", tostring(how), tostring(code), cmd, out), 2)
  end
  return dt, out
end

--- Runs cmd, returns what it printed; raises on failure.
function proc.output(cmd)
  local _, out = proc.timed(cmd)
  return out
end

--- Runs cmd; raises on failure.
function proc.run(cmd)
  local ok = execute(cmd)
  if not ok then error("command failed: " .. cmd, 2) end
end

-- words as a command line with `tool` (a string, already quoted) put right before the program:
-- a leading "env VAR=value ..." stays in front, so that the tool runs the program itself.
local function under(tool, words)
  local quoted, i = {}, 1
  if words[1] == "env" then
    quoted[1], i = "env", 2
    while words[i] and words[i]:find("^[%w_]+=") do
      quoted[#quoted + 1] = proc.quote(words[i])
      i = i + 1
    end
  end
  quoted[#quoted + 1] = tool
  for j = i, #words do quoted[#quoted + 1] = proc.quote(words[j]) end
  return table.concat(quoted, " ")
end

--- Instructions (Ir) that callgrind counts for cmd, a list of words (quoted here).
function proc.callgrind(words)
  local cmd = under("valgrind --tool=callgrind --callgrind-out-file=/dev/null", words) .. " 2>&1 >/dev/null"
  local out = proc.output(cmd)
  local ir = out:match("Collected%s*:%s*(%d+)")
  if not ir then error("no instruction count from callgrind:\n" .. out) end
  return tonumber(ir)
end

--- System calls that strace counts for cmd (a list of words), the process and its threads.
function proc.syscalls(words, tmp)
  local file = tmp .. "/strace.out"
  proc.output(under("strace -f -c -o " .. proc.quote(file), words) .. " 2>&1 >/dev/null")
  local f = assert(io.open(file, "r"))
  local text = f:read("a")
  f:close()
  os.remove(file)
  -- the last line: "100.00    0.081111           7      9035       125 total" (errors optional)
  local line = text:match("([^\n]*total)%s*$")
  local fields = {}
  for w in (line or ""):gmatch("%S+") do fields[#fields + 1] = w end
  local calls = tonumber(fields[4])
  if not calls then error("no syscall total from strace:\n" .. text) end
  return calls
end

--- Instructions per unit of work: callgrind runs make_words(n) for n = lo and hi, and the
-- difference divided by (hi - lo) drops what the process does once (start, load, connect).
function proc.callgrind_slope(make_words, lo, hi)
  local a = proc.callgrind(make_words(lo))
  local b = proc.callgrind(make_words(hi))
  return (b - a) / (hi - lo)
end

--- The same slope for counts of system calls (strace).
function proc.syscalls_slope(make_words, lo, hi, tmp)
  local a = proc.syscalls(make_words(lo), tmp)
  local b = proc.syscalls(make_words(hi), tmp)
  return (b - a) / (hi - lo)
end

return proc
