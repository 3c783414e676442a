--- Benchmark 7: what users feel on a real network. Everything goes over TLS through
-- tools/delay_proxy, which adds QS_BENCH_RTT_MS (20 ms) of round trip and counts connections and
-- round trips exactly (those counts do not depend on the noise of a shared machine); the wall
-- times are ratios against anchors doing the same requests through the same proxy, interleaved.
--   a. N sequential webhooks:create (HTTP/1.1)  vs  curl -K posting the same N bodies (`next`),
--      one kept-alive connection
--   b. create_many of M, 32 at a time          vs  tools/multi_anchor (curl_multi, 32 at a time);
--      and vs M sequential creates (a's time per create, times M)
--   c. document_packs:download of a 10-document pack, 200 ms of server latency per document
--      vs  curl -K fetching the 10 PDFs one after another (and curl --parallel, the floor)
--   d. M gets with HTTP/2 offered: connections  vs  multi_anchor over h2 (and over HTTP/1.1)
-- A method the client does not have yet (create_many, get_many) is reported as such: the row
-- shows the anchor and what the client does today instead.
local env = require "lib.env"
local net = require "lib.net"
local proc = require "lib.proc"
local stats = require "lib.stats"
local paired = require "lib.paired"
local rows = require "lib.rows"

local fmt, format, concat = stats.fmt, string.format, table.concat

package.cpath = env.root .. "/build/lua5.4/?.so;" .. package.cpath
package.path = env.root .. "/lua/?.lua;" .. env.root .. "/lua/?/init.lua;" .. package.path
local has = {}
for _, m in pairs(require("quicklysign").methods.webhooks) do has[m] = true end

local FLAVOUR = "lua5.4"   -- network-bound: one flavour (the CPU rows are benchmarks 1-3)
local N_SEQ = env.pick(100, 20)
local M = env.pick(1000, 200)
local CONCURRENCY = 32
local DOCS, DOC_DELAY_MS = 10, 200
local ROUNDS = env.pick(5, 1)
local ROUNDS_BATCH = env.pick(3, 1)
local CID, SECRET = "qs_test_client_id", "qs_test_client_secret"

local function curl_string(s)
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

local function write_lines(path, lines)
  local f = assert(io.open(path, "w"))
  f:write(concat(lines, "\n"), "\n")
  f:close()
  return path
end

local function webhook_body(pack_key, tag, i)
  return format('{"client_id":"%s","client_secret":"%s","webhook":{"entity_key":"%s","callback":'
    .. '"https://example.com/qs/%s/%d"}}', CID, SECRET, pack_key, tag, i)
end

-- Runs cmd and returns its wall seconds, with what the proxy counted during it.
local function measured(proxy, cmd)
  local dt, counts = net.counted(proxy, function() return (proc.timed(cmd)) end)
  return dt, counts
end

-- Contenders sharing one proxy: { name, cmd (or function returning one), before() }; returns the
-- samples (seconds) and the counts of each contender's last run.
local function compare(proxy, list, rounds)
  local counts, contenders = {}, {}
  for _, c in ipairs(list) do
    contenders[#contenders + 1] = { name = c.name, run = function()
      if c.before then c.before() end
      local cmd = type(c.cmd) == "function" and c.cmd() or c.cmd
      local dt, n = measured(proxy, cmd)
      counts[c.name] = n
      return dt
    end }
  end
  return paired.rounds(contenders, rounds), counts
end

local function per(n, what, count)
  return format("%s %s", fmt(count / n), what)
end

local function conns(c) return format("%d conn.", c.connections) end

local ok, err = pcall(function()
  local h1 = net.emulator{ http2 = false }
  local p1 = net.proxy(h1.tls_port)
  local base1 = format("https://127.0.0.1:%d/v1", p1.port)
  local ca = h1.ca_file
  local pack_key = h1.admin:create_pack{ name = "Bench pack", documents = { { name = "d.pdf" } } }.key
  print(format("network: RTT %d ms through the delay proxy, TLS, %d rounds", net.RTT_MS, ROUNDS))

  -- a. sequential creates
  local cfg = {}
  for i = 1, N_SEQ do
    if i > 1 then cfg[#cfg + 1] = "next" end
    cfg[#cfg + 1] = format('url = "%s/webhooks"\ncacert = %s\noutput = "/dev/null"\nfail\nsilent\nshow-error\n'
      .. 'header = "Content-Type: application/json"\nheader = "Accept: application/json"\ndata-binary = %s',
      base1, curl_string(ca), curl_string(webhook_body(pack_key, "curl", i)))
  end
  local seq_cfg = write_lines(env.tmp .. "/creates.curl", cfg)
  local s, counts = compare(p1, {
    { name = "ours", cmd = env.driver(FLAVOUR, "creates.lua", base1, ca, pack_key, N_SEQ, "sequential") },
    { name = "curl", cmd = "curl -K " .. proc.quote(seq_cfg) },
  }, ROUNDS)
  rows.raw("network_creates", format("seconds for %d sequential creates", N_SEQ), paired.lines(s, { "ours", "curl" }))
  local seq_per_create = stats.median(s.ours) / N_SEQ
  rows.add{ bench = format("7a %d sequential creates, TLS, %d ms RTT", N_SEQ, net.RTT_MS), flavour = FLAVOUR,
    ours = format("%s s, %s, %s", fmt(stats.median(s.ours)), conns(counts.ours),
      per(N_SEQ, "RT/create", counts.ours.round_trips)),
    anchor = format("%s s, %s, %s", fmt(stats.median(s.curl)), conns(counts.curl),
      per(N_SEQ, "RT/create", counts.curl.round_trips)),
    summary = stats.ratios(s.ours, s.curl),
    anchor_is = format("curl -K, the same %d POST bodies chained with `next`, one kept-alive connection", N_SEQ) }

  -- b. a batch of creates
  local reqs = {}
  for i = 1, M do reqs[i] = format("POST\t%s/webhooks\t%s", base1, webhook_body(pack_key, "multi", i)) end
  local reqs_file = write_lines(env.tmp .. "/creates.multi", reqs)
  local anchor_cmd = concat({ proc.quote(net.TOOLS .. "/multi_anchor"), proc.quote(reqs_file), CONCURRENCY,
    "--cacert", proc.quote(ca) }, " ")
  local list = { { name = "multi", cmd = anchor_cmd } }
  if has.create_many then
    table.insert(list, 1, { name = "ours", cmd = env.driver(FLAVOUR, "creates.lua", base1, ca, pack_key, M, "many",
      CONCURRENCY) })
  end
  s, counts = compare(p1, list, ROUNDS_BATCH)
  local anchor_text = format("%s s, %s", fmt(stats.median(s.multi)), conns(counts.multi))
  local what = format("7b create_many of %d, %d at a time", M, CONCURRENCY)
  if has.create_many then
    rows.raw("network_create_many", format("seconds for create_many of %d", M), paired.lines(s, { "ours", "multi" }))
    rows.add{ bench = what, flavour = FLAVOUR,
      ours = format("%s s, %s", fmt(stats.median(s.ours)), conns(counts.ours)), anchor = anchor_text,
      summary = stats.ratios(s.ours, s.multi),
      anchor_is = format("tools/multi_anchor.c: curl_multi, the same %d POSTs, %d at a time", M, CONCURRENCY) }
    local seq = {}
    for i, v in ipairs(s.ours) do seq[i] = seq_per_create * M / v end
    rows.add{ bench = what .. " vs sequential", flavour = FLAVOUR,
      ours = format("%s s", fmt(stats.median(s.ours))), anchor = format("%s s (7a per create × %d)",
        fmt(seq_per_create * M), M),
      summary = { ratio = stats.median(seq) }, spread = format("n=%d", #seq),
      ratio_note = "(sequential/batch; >1 = faster)",
      anchor_is = format("%d sequential creates: 7a's median time per create × %d", M, M) }
  else
    rows.add{ bench = what, flavour = FLAVOUR, ours = "no create_many yet: sequential, "
      .. format("%s s for %d (7a per create × %d)", fmt(seq_per_create * M), M, M), anchor = anchor_text,
      summary = { ratio = seq_per_create * M / stats.median(s.multi) }, spread = "sequential estimate / anchor",
      anchor_is = format("tools/multi_anchor.c: curl_multi, the same %d POSTs, %d at a time", M, CONCURRENCY) }
  end

  -- c. a pack's documents, each answered after DOC_DELAY_MS
  local docs = {}
  for i = 1, DOCS do docs[i] = { name = format("doc-%02d.pdf", i), pdf_bytes = 102400 } end
  local pack = h1.admin:create_pack{ name = "Bench pack of ten", documents = docs }
  local _, answer = h1.admin:request("POST", "/v1/access_tokens",
    { client_id = CID, client_secret = SECRET, api_key = "qs_test_api_key" })
  local token = answer.data.access_token
  local seq, par = {}, { "parallel", "parallel-max = 10", "no-progress-meter" }
  for i = 1, DOCS do
    local url = format("%s/document_packs/%s/documents/%s/pdf", base1, pack.key, pack.documents[i].key)
    local entry = format('url = "%s"\noutput = %s\ncacert = %s\nheader = "access_token: %s"\nfail\nsilent\nshow-error',
      url, curl_string(format("%s/curl-doc-%d.pdf", env.tmp, i)), curl_string(ca), token)
    if i > 1 then seq[#seq + 1] = "next" end
    seq[#seq + 1] = entry
    par[#par + 1] = entry
  end
  local seq_file = write_lines(env.tmp .. "/docs-seq.curl", seq)
  local par_file = write_lines(env.tmp .. "/docs-par.curl", par)
  local function slow_pdfs()
    h1.admin:clear_faults()
    h1.admin:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/",
      delay_ms = DOC_DELAY_MS, count = DOCS }
  end
  local dl_dir = env.tmp .. "/pack-dl"
  s, counts = compare(p1, {
    { name = "ours", before = slow_pdfs, cmd = function()
      os.execute("rm -rf " .. proc.quote(dl_dir))
      return env.driver(FLAVOUR, "pack_download.lua", base1, ca, token, pack.key, dl_dir)
    end },
    { name = "curl", before = slow_pdfs, cmd = "curl -K " .. proc.quote(seq_file) },
    { name = "parallel", before = slow_pdfs, cmd = "curl -K " .. proc.quote(par_file) },
  }, ROUNDS)
  h1.admin:clear_faults()
  rows.raw("network_pack", format("seconds for a %d-document pack, %d ms per document", DOCS, DOC_DELAY_MS),
    paired.lines(s, { "ours", "curl", "parallel" }))
  local pack_what = format("7c pack of %d documents, %d ms each", DOCS, DOC_DELAY_MS)
  rows.add{ bench = pack_what, flavour = FLAVOUR,
    ours = format("%s s, %s", fmt(stats.median(s.ours)), conns(counts.ours)),
    anchor = format("%s s, %s", fmt(stats.median(s.curl)), conns(counts.curl)),
    summary = stats.ratios(s.ours, s.curl), ratio_note = "(target ≤ 0.3)",
    anchor_is = format("curl -K: the %d PDF URLs one after another (`next`), one connection, same token", DOCS) }
  rows.add{ bench = pack_what .. ", vs parallel", flavour = FLAVOUR,
    ours = format("%s s", fmt(stats.median(s.ours))),
    anchor = format("%s s, %s", fmt(stats.median(s.parallel)), conns(counts.parallel)),
    summary = stats.ratios(s.ours, s.parallel),
    anchor_is = format("curl --parallel --parallel-max 10: the %d PDFs at once (the floor)", DOCS) }

  -- d. HTTP/2: many gets, one connection
  local h2 = net.emulator{ http2 = true }
  local p2 = net.proxy(h2.tls_port)
  local base2 = format("https://127.0.0.1:%d/v1", p2.port)
  local pack2 = h2.admin:create_pack{ name = "Bench pack", documents = { { name = "d.pdf" } } }.key
  local keys, greqs = {}, {}
  for i = 1, 100 do
    local _, a = h2.admin:request("POST", "/v1/webhooks", { client_id = CID, client_secret = SECRET,
      webhook = { entity_key = pack2, callback = "https://example.com/qs/get/" .. i } })
    keys[i] = a.data.webhook.key
  end
  local n_get = has.get_many and M or N_SEQ
  local all = {}
  for i = 1, M do
    all[i] = keys[(i - 1) % #keys + 1]
    greqs[i] = format("GET\t%s/webhooks/%s?client_id=%s&client_secret=%s", base2, all[i], CID, SECRET)
  end
  local keys_file = write_lines(env.tmp .. "/get-keys", { table.unpack(all, 1, n_get) })
  local greqs_file = write_lines(env.tmp .. "/gets.multi", greqs)
  local multi = proc.quote(net.TOOLS .. "/multi_anchor") .. " " .. proc.quote(greqs_file) .. " " .. CONCURRENCY
    .. " --cacert " .. proc.quote(h2.ca_file)
  s, counts = compare(p2, {
    { name = "ours", cmd = env.driver(FLAVOUR, "gets.lua", base2, h2.ca_file, keys_file,
      has.get_many and "many" or "sequential", CONCURRENCY) },
    { name = "h2", cmd = multi .. " --http2" },
    { name = "h1", cmd = multi },
  }, ROUNDS_BATCH)
  rows.raw("network_h2", format("seconds for %d gets (ours: %d)", M, n_get), paired.lines(s, { "ours", "h2", "h1" }))
  local ours_text = has.get_many and format("get_many: %s s, %s", fmt(stats.median(s.ours)), conns(counts.ours))
    or format("no get_many yet: %d sequential gets, %s s, %s", n_get, fmt(stats.median(s.ours)), conns(counts.ours))
  rows.add{ bench = format("7d %d gets, HTTP/2 offered", M), flavour = FLAVOUR, ours = ours_text,
    anchor = format("%s s, %s", fmt(stats.median(s.h2)), conns(counts.h2)),
    summary = { ratio = counts.ours.connections / counts.h2.connections }, spread = "connections, one count each",
    ratio_note = "(connections)",
    anchor_is = format("multi_anchor --http2: the same %d GETs, %d streams at a time, one connection", M, CONCURRENCY) }
  rows.add{ bench = format("7d %d gets, HTTP/1.1 multi", M), flavour = FLAVOUR,
    ours = format("h2: %s s, %s", fmt(stats.median(s.h2)), conns(counts.h2)),
    anchor = format("%s s, %s", fmt(stats.median(s.h1)), conns(counts.h1)),
    summary = stats.ratios(s.h2, s.h1), ratio_note = "(anchor h2 / anchor h1)",
    anchor_is = format("multi_anchor over HTTP/1.1: %d connections, what h2 saves", CONCURRENCY) }
end)
net.stop_all()
if not ok then error(err, 0) end
