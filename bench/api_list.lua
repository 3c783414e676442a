--- Benchmark 2: a paginated list. Ours: client.webhooks:list{} over COUNT webhooks, PAGE per
-- page (every page fetched, decoded and gathered into one array), M times from one client.
-- Anchor: curl's CLI fetching the same page URLs (same cursors, same credentials) M times over
-- one connection, bodies discarded. Also callgrind's instructions per list (client only).
local env = require "lib.env"
local emu = require "lib.emu"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format = stats.fmt, string.format

local COUNT, PAGE = 500, 50
local M = env.pick(10, 2)
local ROUNDS = env.pick(11, 3)

-- fixture: COUNT webhooks, pages of PAGE
emu.reset()
emu.config{ page_size = PAGE }
local pack = emu.create_pack({ { name = "doc.pdf" } })
for i = 1, COUNT do
  local status = emu.request("POST", "/v1/webhooks", {
    client_id = emu.client_id, client_secret = emu.client_secret,
    webhook = { entity_key = pack.key, callback = emu.url .. "/_emulator/sinks/bench-" .. i },
  })
  assert(status == 200, "cannot create a webhook")
end

-- the page URLs, as our client asks for them (cursor first, then credentials), and their bodies
local pages, bodies = {}, {}
local base = emu.base_url .. "/webhooks?"
local url = base .. emu.credentials_query()
while url do
  pages[#pages + 1] = url
  local status, answer, text = emu.request("GET", url:sub(#emu.url + 1))
  assert(status == 200, "cannot list")
  bodies[#bodies + 1] = env.tmp .. "/page-" .. #pages .. ".json"
  local f = assert(io.open(bodies[#bodies], "wb"))
  f:write(text)
  f:close()
  local next = answer.pagination and answer.pagination.next
  url = next and (base .. "cursor=" .. next .. "&" .. emu.credentials_query()) or nil
end
assert(#pages == COUNT / PAGE, "unexpected page count " .. #pages)

local function curl_words(m)
  local urls = {}
  for _ = 1, m do
    for _, u in ipairs(pages) do urls[#urls + 1] = u end
  end
  local cfg = env.curl_config(env.tmp .. "/list-" .. m .. ".curl", urls,
    { 'header = "Accept: application/json"', "compressed" })
  return { "curl", "-K", cfg }
end

local commands = {
  ["lua5.4"] = env.driver("lua5.4", "list.lua", emu.base_url, M, COUNT),
  luajit = env.driver("luajit", "list.lua", emu.base_url, M, COUNT),
  curl = table.concat(curl_words(M), " "),
}
local contenders = {}
for _, name in ipairs({ "lua5.4", "luajit", "curl" }) do
  proc.timed(commands[name])   -- warm-up
  contenders[#contenders + 1] = { name = name, run = function()
    return proc.timed(commands[name]) / M * 1e3   -- ms per complete list
  end }
end

print(format("api_list: %d rounds of %d lists (%d pages of %d)", ROUNDS, M, #pages, PAGE))
local s = paired.rounds(contenders, ROUNDS)
rows.raw("api_list", format("ms per list of %d (%d pages), M=%d per process", COUNT, #pages, M),
  paired.lines(s, { "lua5.4", "luajit", "curl" }))
for _, flavour in ipairs(env.flavours) do
  rows.add{ bench = "2 list 500, 10 pages (wall)", flavour = flavour,
    ours = fmt(stats.median(s[flavour])) .. " ms/list", anchor = fmt(stats.median(s.curl)) .. " ms/list",
    summary = stats.ratios(s[flavour], s.curl),
    anchor_is = "curl CLI fetching the same 10 page URLs, one connection, no decoding" }
end

local LO, HI = 1, env.pick(3, 2)
local curl_ir = proc.callgrind_slope(curl_words, LO, HI)
for _, flavour in ipairs(env.count_flavours) do
  local ours_ir = proc.callgrind_slope(function(m)
    return env.driver_words(flavour, "list.lua", emu.base_url, m, COUNT)
  end, LO, HI)
  rows.raw("api_list_callgrind", format("%s: Ir per list, slope M=%d..%d", flavour, LO, HI),
    { format("ours=%.0f curl=%.0f", ours_ir, curl_ir) })
  rows.add{ bench = "2 list 500 (Ir/list) vs curl", flavour = flavour,
    ours = fmt(ours_ir / 1e6) .. " MIr/list", anchor = fmt(curl_ir / 1e6) .. " MIr/list",
    summary = { ratio = ours_ir / curl_ir }, spread = format("one count each (slope M=%d→%d)", LO, HI),
    anchor_is = "curl CLI, same pages; client process only (ours also decodes JSON)" }
  -- what the list must spend anyway: the transfer (curl) plus decoding the pages (cjson, same VM)
  local decode_ir = proc.callgrind_slope(function(m)
    return env.driver_words(flavour, "decode_pages.lua", m, table.unpack(bodies))
  end, LO, HI)
  rows.raw("api_list_callgrind", format("%s: cjson.decode of the pages, Ir per list", flavour),
    { format("decode=%.0f", decode_ir) })
  rows.add{ bench = "2 list 500 (Ir/list) vs curl+decode", flavour = flavour,
    ours = fmt(ours_ir / 1e6) .. " MIr/list", anchor = fmt((curl_ir + decode_ir) / 1e6) .. " MIr/list",
    summary = { ratio = ours_ir / (curl_ir + decode_ir) },
    spread = format("one count each (slope M=%d→%d)", LO, HI),
    anchor_is = format("curl CLI (%.2f MIr) + bare cjson.decode of the 10 pages (%.2f MIr)",
      curl_ir / 1e6, decode_ir / 1e6) }
end
