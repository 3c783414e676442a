--- The demo's main job, end to end: subscribe a receiver to a document pack,
-- drive the pack to completion, watch the three events arrive at the OpenResty
-- receiver, and report the final PDFs it downloaded. examples/demo starts the
-- emulator and the receiver around it.
--   lua5.4 examples/demo.lua EMULATOR_URL RECEIVER_URL PDF_DIR
local quicklysign = require "quicklysign"
local callbacks = require "quicklysign.callbacks"
local admin = require("emulator.admin").new(assert(arg[1], "emulator URL"))
local http = require "socket.http"
local socket = require "socket"
local cjson = require "cjson.safe"

local receiver_url, pdf_dir = assert(arg[2], "receiver URL"), assert(arg[3], "PDF folder")
local TIMEOUT = 30

local t0 = socket.gettime()
local function say(fmt, ...)
  io.write(("  %-8s "):format(("+%.2fs"):format(socket.gettime() - t0)), fmt:format(...), "\n")
end
local function fail(fmt, ...) io.stderr:write("demo: ", fmt:format(...), "\n"); os.exit(1) end
local function short(key) return key:sub(1, 10) .. "…" end

local client = quicklysign.new{}   -- credentials and base URL from QUICKLYSIGN_* (set by examples/demo)
print(("quicklysign demo: API %s, receiver %s"):format(client.base_url, receiver_url))

-- 1. A document pack, as the QuicklySign web app would make it.
local pack = admin:create_pack{
  name = "Employment contract",
  signatories = {
    { name = "Ada Lovelace", email = "ada@example.com" },
    { name = "Charles Babbage", email = "cb@example.com" },
  },
  documents = {
    { name = "Contract" }, { name = "Annex A: Salary" }, { name = "Annex B: NDA", pdf_bytes = 2 * 1024 * 1024 },
  },
}
say("pack %s %q with %d documents", short(pack.key), pack.document_pack_name, #pack.documents)

-- 2. Subscribe, with an unguessable token in the callback URL; ensure never subscribes twice.
local callback = callbacks.callback_url(receiver_url, assert(os.getenv("QUICKLYSIGN_CALLBACK_TOKEN")))
local webhook, err = client.webhooks:ensure{ entity_key = pack.key, callback = callback }
if not webhook then fail("subscribe: %s", tostring(err)) end
local again = client.webhooks:ensure{ entity_key = pack.key, callback = callback }
say("subscribed: webhook %s (created), ensure again -> same webhook: %s",
  short(webhook.key), tostring(again.key == webhook.key))

-- 3. The pack's life: its data changes, it goes out for signing, both sign, it completes.
local steps = { { "update" }, { "send" }, { "sign", { signatory = 0 } }, { "sign", { signatory = 1 } }, { "complete" } }
for _, step in ipairs(steps) do
  admin:drive(pack.key, step[1], step[2])
  say("pack: %s", step[1])
end

-- 4. Wait for the receiver to see final_document_generated and write the PDFs.
local function receiver_records()
  local body = http.request(receiver_url:gsub("/quicklysign$", "/events"))
  return body and cjson.decode(body) or {}
end
local records, finished
repeat
  socket.sleep(0.1)
  records = receiver_records()
  for _, r in ipairs(records) do
    if r.kind == "event" and r.event == "final_document_generated" then finished = true end
  end
until finished or socket.gettime() - t0 > TIMEOUT
if not finished then fail("no final_document_generated within %ds; receiver saw %d records", TIMEOUT, #records) end

print("\nevents received by the OpenResty receiver (since the first):")
local first
for _, r in ipairs(records) do
  first = first or r.at
  if r.kind == "event" then
    print(("  +%.3fs  %-26s %s"):format(r.at - first, r.event, short(r.entity_key)))
  elseif r.kind == "error" then
    print(("  +%.3fs  error: %s"):format(r.at - first, r.message))
  end
end

print("\nfinal PDFs written:")
local files = 0
for _, r in ipairs(records) do
  if r.kind == "file" then
    local f = io.open(r.path, "rb")
    local head = f and f:read(5)
    local size = f and f:seek("end")
    if f then f:close() end
    if head ~= "%PDF-" or size ~= r.bytes then fail("%s is not the PDF that was reported", r.path) end
    print(("  %10d bytes  %s"):format(size, r.path:sub(#pdf_dir + 2):gsub("^([^/]+)", short)))
    files = files + 1
  end
end
if files ~= #pack.documents then fail("expected %d PDFs, the receiver wrote %d", #pack.documents, files) end

-- 5. What the vendor's callback logs say, then unsubscribe.
local logs = assert(client.webhooks:logs{ webhook_key = webhook.key })
print(("\ncallback log entries for the webhook: %d"):format(#logs))
assert(client.webhooks:delete(webhook.key))
local left = assert(client.webhooks:list{ entity_key = pack.key })
print(("unsubscribed: webhooks left on the pack: %d"):format(#left))
client:close()
print(("done in %.2fs; PDFs are in %s"):format(socket.gettime() - t0, pdf_dir))
