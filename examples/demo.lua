--- The demo's main job, end to end: subscribe a receiver to a document pack, drive the pack to
-- completion, watch the events arrive at the OpenResty receiver, and report the final PDFs it
-- downloaded: although the API failed twice for them, because a callback answered 200 is
-- stored in the inbox and retried until its work is done. Then a pack whose final event never
-- reached the receiver (its callback URL was down), recovered by `quicklysign reconcile`.
-- examples/demo starts the emulator and the receiver around it.
--   lua5.4 examples/demo.lua EMULATOR_URL RECEIVER_URL PDF_DIR
local quicklysign = require "quicklysign"
local callbacks = require "quicklysign.callbacks"
local admin = require("emulator.admin").new(assert(arg[1], "emulator URL"))
local http = require "socket.http"
local socket = require "socket"
local cjson = require "cjson.safe"

local receiver_url, pdf_dir = assert(arg[2], "receiver URL"), assert(arg[3], "PDF folder")
local TIMEOUT = 30
local TOKEN = assert(os.getenv("QUICKLYSIGN_CALLBACK_TOKEN"))

local t0 = socket.gettime()
local function say(fmt, ...)
  io.write(("  %-8s "):format(("+%.2fs"):format(socket.gettime() - t0)), fmt:format(...), "\n")
end
local function fail(fmt, ...) io.stderr:write("demo: ", fmt:format(...), "\n"); os.exit(1) end
local function short(key) return key:sub(1, 10) .. "…" end

local function quicklysign_command(...)
  local words = { "lua5.4", "bin/quicklysign" }
  for _, w in ipairs({ ... }) do words[#words + 1] = "'" .. w:gsub("'", "'\\''") .. "'" end
  local p = assert(io.popen(table.concat(words, " ") .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return out
end

local client = quicklysign.new{}   -- credentials and base URL from QUICKLYSIGN_* (set by examples/demo)
print(("quicklysign demo: API %s, receiver %s, inbox %s"):format(client.base_url, receiver_url,
  require("quicklysign.inbox.url").redact(os.getenv("QUICKLYSIGN_INBOX"))))

local function receiver_records()
  local body = http.request((receiver_url:gsub("/quicklysign$", "/events")))
  return body and cjson.decode(body) or {}
end

local function wait_for_files(pack, n)
  local records
  repeat
    socket.sleep(0.1)
    records = receiver_records()
    local files = 0
    for _, r in ipairs(records) do
      if r.kind == "file" and r.entity_key == pack.key then files = files + 1 end
    end
    if files == n then return records end
  until socket.gettime() - t0 > TIMEOUT
  fail("the receiver wrote no final PDFs for %s within %ds (%d records)", short(pack.key), TIMEOUT, #records)
end

local function print_files(records, pack)
  for _, r in ipairs(records) do
    if r.kind == "file" and r.entity_key == pack.key then
      local f = io.open(r.path, "rb")
      local head = f and f:read(5)
      local size = f and f:seek("end")
      if f then f:close() end
      if head ~= "%PDF-" or size ~= r.bytes then fail("%s is not the PDF that was reported", r.path) end
      print(("  %10d bytes  %s   (attempt %d, from a %s)"):format(size,
        (r.path:sub(#pdf_dir + 2):gsub("^([^/]+)", short)), r.attempt, r.source))
    end
  end
end

-- 1. A document pack, as the QuicklySign web app would make it.
local pack = admin:create_pack{
  name = "Employment contract",
  signatories = { { name = "Ada Lovelace", email = "ada@example.com" },
    { name = "Charles Babbage", email = "cb@example.com" } },
  documents = { { name = "Contract" }, { name = "Annex A: Salary" },
    { name = "Annex B: NDA", pdf_bytes = 2 * 1024 * 1024 } },
}
say("pack %s %q with %d documents", short(pack.key), pack.document_pack_name, #pack.documents)

-- 2. Subscribe, with an unguessable token in the callback URL; ensure never subscribes twice.
local callback = callbacks.callback_url(receiver_url, TOKEN)
local webhook, err = client.webhooks:ensure{ entity_key = pack.key, callback = callback }
if not webhook then fail("subscribe: %s", tostring(err)) end
local again = client.webhooks:ensure{ entity_key = pack.key, callback = callback }
say("subscribed: webhook %s (created), ensure again -> same webhook: %s", short(webhook.key),
  tostring(again.key == webhook.key))

-- 3. The API will fail this pack's PDF downloads for a while: 6 answers of 503 (the client
--    retries twice itself, so the receiver's handler fails twice, then succeeds).
admin:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents", count = 6, status = 503 }
say("the API will answer 503 to the next 6 PDF downloads")

-- 4. The pack's life: its data changes, it goes out for signing, both sign, it completes.
for _, step in ipairs{ { "update" }, { "send" }, { "sign", { signatory = 0 } }, { "sign", { signatory = 1 } },
  { "complete" } } do
  admin:drive(pack.key, step[1], step[2])
  say("pack: %s", step[1])
end

local records = wait_for_files(pack, #pack.documents)
print("\nwhat the receiver's workers did (each callback answered 200 once stored in the inbox):")
local first, failed = nil, {}
for _, r in ipairs(records) do   -- an attempt that failed shows once, with why
  if r.kind == "error" then failed[tostring(r.event) .. tostring(r.entity_key) .. tostring(r.attempt)] = true end
end
for _, r in ipairs(records) do
  first = first or r.at
  if r.kind == "event" and not failed[r.event .. r.entity_key .. tostring(r.attempt)] then
    print(("  +%.3fs  %-26s %s  attempt %d"):format(r.at - first, r.event, short(r.entity_key), r.attempt))
  elseif r.kind == "error" then
    print(("  +%.3fs  %-26s %s  attempt %d failed: %s"):format(r.at - first, r.event or "?",
      short(r.entity_key or "?"), r.attempt or 0, (r.message or ""):match("api error %d+ [%w_]+") or r.reason))
  end
end
print("\nfinal PDFs written:")
print_files(records, pack)

-- 5. A second pack whose callbacks never reach the receiver (its URL was down), completed.
local missed = admin:create_pack{ name = "Supplier agreement", documents = { { name = "Agreement" } } }
local down = callbacks.callback_url("http://127.0.0.1:" .. (function()
  local s = assert(socket.bind("127.0.0.1", 0)); local _, p = s:getsockname(); s:close(); return p end)()
  .. "/quicklysign", TOKEN)
assert(client.webhooks:ensure{ entity_key = missed.key, callback = down })
admin:drive(missed.key, "complete")
say("pack %s %q completed; its callback URL is down, so the receiver never hears of it",
  short(missed.key), missed.document_pack_name)

-- 6. Reconcile: ask the API about every subscribed pack and queue the final work nobody did.
print("\n$ quicklysign reconcile")
io.write("  ", quicklysign_command("reconcile"))
records = wait_for_files(missed, 1)
print("final PDFs written after reconcile:")
print_files(records, missed)

-- 7. What the vendor's callback logs and the inbox say, then unsubscribe.
local logs = assert(client.webhooks:logs{ webhook_key = webhook.key })
print(("\ncallback log entries for the first webhook: %d"):format(#logs))
print("$ quicklysign inbox stats")
io.write(quicklysign_command("inbox", "stats"))
for _, key in ipairs{ pack.key, missed.key } do assert(client.webhooks:delete_by_entity(key)) end
local left = assert(client.webhooks:list{ entity_key = pack.key })
print(("unsubscribed: webhooks left on the pack: %d"):format(#left))
client:close()
print(("done in %.2fs; PDFs are in %s"):format(socket.gettime() - t0, pdf_dir))
