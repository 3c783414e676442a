-- The example OpenResty receiver, for real: nginx with the Lua module runs
-- examples/openresty/nginx.conf on LuaJIT; the emulator delivers callbacks to
-- it; its handlers fetch packs and download PDFs through the thread pool.
local emulator = require "support.emulator"
local process = require "support.process"
local callbacks = require "quicklysign.callbacks"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"
local cjson = require("cjson.safe").new()

local PORT = require("support.ports").free()   -- a free one: never a clash with another run
local TOKEN = "receiver-spec-token-0123456789abcdef"
local URL = ("http://127.0.0.1:%d/quicklysign"):format(PORT)
local pdf_dir

local function env()
  return {
    QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
    QUICKLYSIGN_API_KEY = emulator.api_key, QUICKLYSIGN_BASE_URL = emulator.base_url,
    QUICKLYSIGN_CALLBACK_TOKEN = TOKEN, QUICKLYSIGN_PDF_DIR = pdf_dir,
  }
end

local function post(url, body, headers)
  local chunks, h = {}, { ["content-type"] = "application/json", ["content-length"] = #body }
  for k, v in pairs(headers or {}) do h[k] = v end
  local _, status, answer_headers = http.request{ url = url, method = "POST", headers = h,
    source = ltn12.source.string(body), sink = ltn12.sink.table(chunks) }
  return status, table.concat(chunks), answer_headers
end

local function records()
  local body = assert(http.request(("http://127.0.0.1:%d/events"):format(PORT)))
  return assert(cjson.decode(body))
end

local function wait_for(pred, what)
  for _ = 1, 100 do
    local r = records()
    if pred(r) then return r end
    socket.sleep(0.05)
  end
  error("timed out waiting for " .. what)
end

local function count(list, kind, field, value)
  local n = 0
  for _, r in ipairs(list) do
    if r.kind == kind and (field == nil or r[field] == value) then n = n + 1 end
  end
  return n
end

local function callback_body(ev, pack_key, webhook_key, extra)
  local t = { entity_type = "Document", entity_key = pack_key, callback_event = ev,
    webhook_key = webhook_key, subscription_key = webhook_key }
  for k, v in pairs(extra or {}) do t[k] = v end
  return cjson.encode(t)
end

describe("OpenResty receiver (examples/openresty)", function()
  setup(function()
    pdf_dir = os.tmpname()
    os.remove(pdf_dir)
    local code, out, err = process.run({ "examples/openresty/run", "start", "--port", PORT }, env())
    assert(code == 0, "receiver did not start: " .. out .. err)
  end)

  teardown(function()
    process.run({ "examples/openresty/run", "stop", "--port", PORT })
  end)

  before_each(function() emulator:reset() end)

  it("receives the three events from the emulator and writes the final PDFs", function()
    local client = emulator.client()
    local pack = emulator:create_pack{ name = "Deal", signatories = { { name = "A", email = "a@example.com" } },
      documents = { { name = "Contract" }, { name = "../../Annex" }, { name = "Big", pdf_bytes = 3 * 1024 * 1024 } } }
    assert(client.webhooks:ensure{ entity_key = pack.key, callback = callbacks.callback_url(URL, TOKEN) })
    for _, step in ipairs{ "update", "send", "sign", "complete" } do emulator:drive(pack.key, step) end

    local r = wait_for(function(list) return count(list, "event", "event", "final_document_generated") == 1 end,
      "final_document_generated")
    local order = {}
    for _, x in ipairs(r) do
      if x.kind == "event" and x.entity_key == pack.key then order[#order + 1] = x.event end
    end
    assert.are.same({ "entity_updated", "document_status_changed", "document_status_changed",
      "document_status_changed", "final_document_generated" }, order)
    assert.are.equal(3, count(r, "file", "entity_key", pack.key))
    assert.are.equal(0, count(r, "error"))
    for _, x in ipairs(r) do
      if x.kind == "file" then
        assert.are.equal(pdf_dir .. "/" .. pack.key, x.path:match("^(.*)/[^/]+$"))
        local f = assert(io.open(x.path, "rb"))
        assert.are.equal("%PDF-", f:read(5))
        assert.are.equal(x.bytes, f:seek("end"))
        f:close()
      end
    end
    -- the counters every nginx worker shares, as Prometheus text. A worker counts a job once
    -- the inbox has it done, so the last count may come a moment after the handler's files.
    local text
    for _ = 1, 100 do
      text = assert(http.request(("http://127.0.0.1:%d/metrics"):format(PORT)))
      if text:find('quicklysign_jobs_total{outcome="done"} 5\n', 1, true) then break end
      socket.sleep(0.05)
    end
    assert.truthy(text:find('quicklysign_callbacks_total{outcome="stored"} 5\n', 1, true), text)
    assert.truthy(text:find('quicklysign_jobs_total{outcome="done"} 5\n', 1, true), text)
    assert.truthy(text:find('quicklysign_inbox_jobs{state="done"} 5\n', 1, true), text)
    -- every delivery was answered 200 at the first attempt
    for _, d in ipairs(emulator:deliveries()) do
      assert.are.equal(200, d.status)
      assert.are.equal(1, d.attempt)
    end
  end)

  it("answers a repeated final_document_generated 200 but downloads once", function()
    local client = emulator.client()
    local pack = emulator:create_pack{ name = "Twice", documents = { { name = "Only" } } }
    emulator:drive(pack.key, "complete")
    local wh = assert(client.webhooks:create{ entity_key = pack.key, callback = URL })
    local body = callback_body("final_document_generated", pack.key, wh.key)
    assert.are.equal(200, (post(URL .. "?token=" .. TOKEN, body)))
    wait_for(function(list) return count(list, "file", "entity_key", pack.key) == 1 end, "the first download")
    assert.are.equal(200, (post(URL .. "?token=" .. TOKEN, body)))
    socket.sleep(0.3)
    assert.are.equal(1, count(records(), "file", "entity_key", pack.key))
  end)

  it("reads a body that nginx spilled to a temp file", function()
    local client = emulator.client()
    local pack = emulator:create_pack()
    local wh = assert(client.webhooks:create{ entity_key = pack.key, callback = URL })
    local body = callback_body("entity_updated", pack.key, wh.key, { padding = ("x"):rep(20000) })
    assert.are.equal(200, (post(URL .. "?token=" .. TOKEN, body)))
    wait_for(function(list) return count(list, "event", "entity_key", pack.key) == 1 end, "the spilled event")
  end)

  it("refuses what it must, telling the caller nothing", function()
    local client = emulator.client()
    local pack = emulator:create_pack()
    local wh = assert(client.webhooks:create{ entity_key = pack.key, callback = URL })
    local good = callback_body("entity_updated", pack.key, wh.key)
    local before = #records()

    local status, answer = post(URL .. "?token=wrong-token-0123456789", good)
    assert.are.equal(403, status)
    assert.are.equal("forbidden", answer)
    assert.are.equal(403, (post(URL, good)))
    -- a forged callback with the right token: no such webhook at the API
    assert.are.equal(403, (post(URL .. "?token=" .. TOKEN, callback_body("entity_updated", pack.key, "forged-key"))))
    assert.are.equal(415, (post(URL .. "?token=" .. TOKEN, good, { ["content-type"] = "text/plain" })))
    assert.are.equal(400, (post(URL .. "?token=" .. TOKEN, "{u'entity_key': u'x'}")))
    assert.are.equal(413, (post(URL .. "?token=" .. TOKEN, callback_body("x", "y", "z", { pad = ("p"):rep(70000) }))))
    local _, get_status, get_headers = http.request(URL .. "?token=" .. TOKEN)
    assert.are.equal(405, get_status)
    assert.are.equal("POST", get_headers.allow)

    local after = records()
    assert.are.equal(0, count(after, "event", "entity_key", pack.key))
    assert.truthy(#after > before)   -- the refusals were reported to on_error
    local reasons = {}
    for i = before + 1, #after do reasons[after[i].reason or "?"] = true end
    assert.is_true(reasons.token_mismatch)
    assert.is_true(reasons.token_missing)
    assert.is_true(reasons.not_confirmed)
    for i = before + 1, #after do
      assert.falsy((after[i].message or ""):find(TOKEN, 1, true))
    end
  end)
end)
