--- Driver for benchmark 4, in one Lua VM (lua5.4 or luajit):
--   parse.lua rounds R M   R interleaved rounds of M calls of each of parse, handle and decode;
--                          prints "round parse=<s> handle=<s> decode=<s>" (CPU seconds per block)
--   parse.lua count WHAT N N calls of WHAT, for callgrind slopes: parse, handle, decode, or a
--                          part of handle: token (the constant-time token compare), ctype (the
--                          content-type check), verify, dispatch
-- The body is the vendor's callback as the emulator sends it (bench/fixtures/callback.json).
local callbacks = require "quicklysign.callbacks"
local auth = require "quicklysign.callbacks.auth"
local parse_module = require "quicklysign.callbacks.parse"
local cjson = require "cjson"

local clock, format = os.clock, string.format

local TOKEN = "s3cr3t-callback-token-0123456789abcdef"
-- bench/fixtures/callback.json: keys of 86 (pack) and 78 (webhook) characters
local fixture = assert(io.open(arg[0]:gsub("drivers/[^/]*$", "") .. "fixtures/callback.json", "rb"))
local BODY = fixture:read("*a"):gsub("%s+$", "")
fixture:close()

local router = callbacks.router{ token = TOKEN, log = false }
router:on("document_status_changed", function() end)
local request = {
  method = "POST",
  headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#BODY) },
  query = { token = TOKEN },
  body = BODY,
}

local parse, decode = callbacks.parse, cjson.decode

local work = {
  parse = function(n)
    for _ = 1, n do
      local ev = parse(BODY, "application/json")
      if not ev then error("parse failed") end
    end
  end,
  handle = function(n)
    for _ = 1, n do
      local status = router:handle(request)
      if status ~= 200 then error("handle answered " .. tostring(status)) end
    end
  end,
  decode = function(n)
    for _ = 1, n do
      local t = decode(BODY)
      if not t then error("decode failed") end
    end
  end,
  token = function(n)
    -- what the router compares against: the configured tokens' bytes, prepared once in
    -- router.new (auth.prepare_tokens), so only the presented token is read per call
    local tokens = auth.prepare_tokens{ TOKEN }
    for _ = 1, n do
      if not auth.token_matches(TOKEN, tokens) then error("token mismatch") end
    end
  end,
  ctype = function(n)
    local is_json = parse_module.is_json_content_type
    for _ = 1, n do
      if not is_json("application/json") then error("not json") end
    end
  end,
  verify = function(n)
    for _ = 1, n do
      if not router:verify(request) then error("verify failed") end
    end
  end,
  dispatch = function(n)
    local ev = parse(BODY, "application/json")
    for _ = 1, n do
      if router:dispatch(ev) ~= 200 then error("dispatch failed") end
    end
  end,
}

local mode = arg[1]
if mode == "rounds" then
  local rounds, m = tonumber(arg[2]), tonumber(arg[3])
  local names = { "parse", "handle", "decode" }
  for _, name in ipairs(names) do work[name](m) end   -- warm-up (and LuaJIT's traces)
  for r = 1, rounds do
    local t = {}
    for j = 0, #names - 1 do   -- the order rotates from round to round
      local name = names[(r - 1 + j) % #names + 1]
      local t0 = clock()
      work[name](m)
      t[name] = clock() - t0
    end
    io.write(format("%d parse=%.9f handle=%.9f decode=%.9f\n", r, t.parse, t.handle, t.decode))
  end
elseif mode == "count" then
  work[arg[2]](200)   -- the same warm-up for every N (LuaJIT compiles its traces here): cancels in a slope
  work[arg[2]](tonumber(arg[3]))
else
  error("usage: parse.lua rounds R M | count WHAT N")
end
