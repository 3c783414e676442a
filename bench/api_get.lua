--- Benchmark 1: API call latency over a kept-alive connection.
-- Ours: N sequential client.webhooks:get(key) from one client, per flavour (a whole process).
-- Anchors, same N, same URL (credentials in the query, as ours sends them), same machine, in the
-- same interleaved rounds: curl's CLI fetching the URL N times in one invocation (libcurl's own
-- tool, one connection), and luasocket's socket.http (a new connection per request).
-- Also callgrind's instructions per request (client process only), from the slope between two N.
local env = require "lib.env"
local emu = require "lib.emu"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format = stats.fmt, string.format

local N = env.pick(1000, 200)
local ROUNDS = env.pick(15, 3)

-- fixture: one webhook on one pack
emu.reset()
local pack = emu.create_pack({ { name = "doc.pdf" } })
local status, answer = emu.request("POST", "/v1/webhooks", {
  client_id = emu.client_id, client_secret = emu.client_secret,
  webhook = { entity_key = pack.key, callback = emu.url .. "/_emulator/sinks/bench" },
})
assert(status == 200, "cannot create the webhook")
local key = answer.data.webhook.key
local url = emu.base_url .. "/webhooks/" .. key .. "?" .. emu.credentials_query()

local urls = {}
for i = 1, N do urls[i] = url end
local curl_cfg = env.curl_config(env.tmp .. "/get.curl", urls,
  { 'header = "Accept: application/json"', "compressed" })

local commands = {
  ["lua5.4"] = env.driver("lua5.4", "get.lua", emu.base_url, key, N),
  luajit = env.driver("luajit", "get.lua", emu.base_url, key, N),
  curl = "curl -K " .. proc.quote(curl_cfg),
  luasocket = env.driver("lua5.4", "get_luasocket.lua", url, N),
}
local contenders = {}
for _, name in ipairs({ "lua5.4", "luajit", "curl", "luasocket" }) do
  proc.timed(commands[name])   -- warm-up: page cache, emulator JIT, connection tables
  contenders[#contenders + 1] = { name = name, run = function()
    return proc.timed(commands[name]) / N * 1e6   -- µs per request, process start included
  end }
end

print(format("api_get: %d rounds of %d GETs each", ROUNDS, N))
local s = paired.rounds(contenders, ROUNDS)
rows.raw("api_get", format("us per request, N=%d, whole process", N),
  paired.lines(s, { "lua5.4", "luajit", "curl", "luasocket" }))

for _, flavour in ipairs(env.flavours) do
  local vs_curl = stats.ratios(s[flavour], s.curl)
  rows.add{ bench = "1 api get keep-alive (wall)", flavour = flavour,
    ours = fmt(stats.median(s[flavour])) .. " µs/req", anchor = fmt(stats.median(s.curl)) .. " µs/req",
    summary = vs_curl, anchor_is = format("curl CLI, %d URLs in one -K config, one connection", N) }
  local vs_ls = stats.ratios(s[flavour], s.luasocket)
  rows.add{ bench = "1 api get vs new connections (wall)", flavour = flavour,
    ours = fmt(stats.median(s[flavour])) .. " µs/req", anchor = fmt(stats.median(s.luasocket)) .. " µs/req",
    summary = vs_ls, anchor_is = "luasocket socket.http under lua5.4, new connection per request" }
end

-- callgrind: client-side instructions per request (slope between two N: start-up cancels)
local LO, HI = env.pick(50, 10), env.pick(250, 30)
local function curl_words(n)
  local u = {}
  for i = 1, n do u[i] = url end
  local cfg = env.curl_config(env.tmp .. "/get-" .. n .. ".curl", u,
    { 'header = "Accept: application/json"', "compressed" })
  return { "curl", "-K", cfg }
end
local curl_ir = proc.callgrind_slope(curl_words, LO, HI)
for _, flavour in ipairs(env.count_flavours) do
  local ours_ir = proc.callgrind_slope(function(n)
    return env.driver_words(flavour, "get.lua", emu.base_url, key, n)
  end, LO, HI)
  rows.raw("api_get_callgrind", format("%s: Ir per request, slope N=%d..%d", flavour, LO, HI),
    { format("ours=%.0f curl=%.0f", ours_ir, curl_ir) })
  rows.add{ bench = "1 api get (callgrind Ir/req)", flavour = flavour,
    ours = fmt(ours_ir / 1000) .. " kIr/req", anchor = fmt(curl_ir / 1000) .. " kIr/req",
    summary = { ratio = ours_ir / curl_ir }, spread = format("one count each (slope N=%d→%d)", LO, HI),
    anchor_is = "curl CLI, same requests; instructions of the client process only" }
end
