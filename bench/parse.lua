--- Benchmark 4: callback parsing, in-process, for Lua 5.4 and LuaJIT.
-- callbacks.parse(body, "application/json") and router:handle{...} (token in the query, a
-- handler registered) against bare cjson.decode(body) on the same vendor-shaped body, in the
-- same interleaved rounds (CPU time, os.clock); plus callgrind instructions per call (slope
-- between two iteration counts, so start-up cancels), with the parts of handle that cost most.
local env = require "lib.env"
local proc = require "lib.proc"
local stats = require "lib.stats"
local rows = require "lib.rows"

local fmt, format = stats.fmt, string.format

local ROUNDS = env.pick(15, 3)
local M = env.pick(20000, 3000)         -- calls per block (a block takes some tens of ms)
local LO, HI = env.pick(500, 100), env.pick(3000, 400)

-- callgrind: instructions per call of each part, against cjson.decode in the same VM
local function count(flavour)
  local whats = env.pick({ "decode", "parse", "handle", "verify", "dispatch", "token", "ctype" },
    { "decode", "parse", "handle", "token", "ctype" })
  local ir, raw = {}, {}
  for _, what in ipairs(whats) do
    ir[what] = proc.callgrind_slope(function(n)
      return env.driver_words(flavour, "parse.lua", "count", what, n)
    end, LO, HI)
    raw[#raw + 1] = format("%s=%.0f", what, ir[what])
  end
  rows.raw("parse_callgrind", format("%s: Ir per call, slope N=%d..%d", flavour, LO, HI), raw)
  local spread = format("one count each (slope N=%d→%d)", LO, HI)
  local anchor = fmt(ir.decode / 1000) .. " kIr"
  for _, r in ipairs({
    { "4 callbacks.parse (Ir/call)", "parse" },
    { "4 router:handle (Ir/call)", "handle" },
    { "4 part: router:verify (Ir/call)", "verify" },
    { "4 part: router:dispatch (Ir/call)", "dispatch" },
    { "4 part: token compare (Ir/call)", "token" },
    { "4 part: content-type check (Ir/call)", "ctype" },
  }) do
    local v = ir[r[2]]
    if v then
      rows.add{ bench = r[1], flavour = flavour, ours = fmt(v / 1000) .. " kIr", anchor = anchor,
        summary = { ratio = v / ir.decode }, spread = spread,
        anchor_is = "cjson.decode(body), same VM (callgrind)" }
    end
  end
end

for _, flavour in ipairs(env.flavours) do
  print(format("parse (%s): %d rounds of %d calls each", flavour, ROUNDS, M))
  local out = proc.output(env.driver(flavour, "parse.lua", "rounds", ROUNDS, M))
  local s = { parse = {}, handle = {}, decode = {} }
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    local p, h, d = line:match("parse=([%d.]+) handle=([%d.]+) decode=([%d.]+)")
    if p then
      s.parse[#s.parse + 1] = p / M * 1e6
      s.handle[#s.handle + 1] = h / M * 1e6
      s.decode[#s.decode + 1] = d / M * 1e6
      lines[#lines + 1] = line
    end
  end
  assert(#s.parse == ROUNDS, "the parse driver printed no rounds:\n" .. out)
  rows.raw("parse", format("%s: CPU seconds per block of %d calls", flavour, M), lines)
  local decode_us = fmt(stats.median(s.decode)) .. " µs"
  rows.add{ bench = "4 callbacks.parse (CPU)", flavour = flavour,
    ours = fmt(stats.median(s.parse)) .. " µs", anchor = decode_us,
    summary = stats.ratios(s.parse, s.decode), anchor_is = "cjson.decode(body), same body, same VM" }
  rows.add{ bench = "4 router:handle, token (CPU)", flavour = flavour,
    ours = fmt(stats.median(s.handle)) .. " µs", anchor = decode_us,
    summary = stats.ratios(s.handle, s.decode), anchor_is = "cjson.decode(body), same body, same VM" }

  for _, f in ipairs(env.count_flavours) do
    if f == flavour then count(flavour) end
  end
end
