-- The client against the emulator's profiles (each a reading of an open point of the vendor's
-- pages: emulator/README.md, docs/vendor-api.md) where what it does stays the same under each
-- reading; the readings that change what it must do are in readings_spec.lua. Each spec picks
-- its profiles with emulator:profile(...); a reset
-- before and after every spec goes back to the start profiles.
local emulator = require "support.emulator"
local process = require "support.process"

local socket = require "socket"

local CALLBACK = "https://app.example.com/quicklysign?token=abc"

local tmpdir = process.tmpdir

local function read(path) return assert(process.read(path)) end

-- Waits until the emulator has no delivery left to make.
local function delivered()
  for _ = 1, 200 do
    if emulator:call("GET", "/deliveries").pending == 0 then return true end
    socket.sleep(0.02)
  end
  error("the emulator's deliveries did not drain")
end

describe("the client under the emulator's profiles", function()
  local client, entity

  before_each(function()
    emulator:reset()
    client = emulator.client{ api_key = emulator.api_key }
    entity = emulator.new_entity()
  end)

  after_each(function()
    client:close()
    emulator:reset()
  end)

  -- n webhooks on entity, their keys in creation order
  local function subscribe(n, callback)
    local keys = {}
    for i = 1, n do
      keys[i] = assert(client.webhooks:create{ entity_key = entity, callback = (callback or CALLBACK) .. i }).key
    end
    return keys
  end

  -- a new pack with one webhook delivering to an emulator sink, and two events delivered
  -- (four log entries); the webhook and the pack's key
  local function logged()
    local pack = emulator.new_entity()
    local wh = assert(client.webhooks:create{ entity_key = pack,
      callback = emulator.url .. "/_emulator/sinks/profiles" })
    emulator:drive(pack, "update")
    emulator:drive(pack, "send")
    delivered()
    return wh, pack
  end

  local function keys_of(list)
    local out = {}
    for i, item in ipairs(list) do out[i] = item.key end
    return out
  end

  for _, p in ipairs{ "pages-cursor", "pages-absolute" } do
    it("reads every page of webhooks and of callback logs (" .. p .. ")", function()
      emulator:profile{ p, "page_size=2" }
      local made = subscribe(5)
      emulator:clear_requests()
      assert.are.same(made, keys_of(assert(client.webhooks:list{ entity_key = entity })))
      assert.are.equal(3, #emulator:requests("/v1/webhooks"))
      local wh = logged()
      emulator:clear_requests()
      local logs = assert(client.webhooks:logs{ webhook_key = wh.key })
      assert.are.equal(4, #logs)
      assert.are.equal(2, #emulator:requests("/v1/webhook_callback_logs"))
      assert.are.equal("entity_updated", logs[1].callback_event)
      assert.are.equal("document_status_changed", logs[4].callback_event)
    end)
  end

  it("reads callback logs listed newest first, across pages (logs-newest-first)", function()
    emulator:profile{ "logs-newest-first", "page_size=3" }
    local wh, pack = logged()
    local logs = assert(client.webhooks:logs{ entity_key = pack })
    assert.are.equal(4, #logs)
    assert.are.equal("document_status_changed", logs[1].callback_event)
    assert.truthy(logs[1].log:find("^Successful call to url "), logs[1].log)
    assert.are.equal("entity_updated", logs[4].callback_event)
    assert.truthy(logs[4].log:find("^Calling callback url "), logs[4].log)
    assert.are.same(keys_of(logs), keys_of(assert(client.webhooks:logs{ webhook_key = wh.key })))
  end)

  for _, p in ipairs{ "logs-filter-optional", "logs-filter-required" } do
    it("reads callback logs by entity and by webhook (" .. p .. ")", function()
      emulator:profile(p)
      local wh, pack = logged()
      assert.are.equal(4, #assert(client.webhooks:logs{ entity_key = pack }))
      assert.are.equal(4, #assert(client.webhooks:logs{ webhook_key = wh.key }))
    end)
  end

  it("passes each kind of log entry through (log-vendor, log-per-attempt)", function()
    emulator:profile("log-vendor")
    local wh = logged()
    local logs = assert(client.webhooks:logs{ webhook_key = wh.key })
    assert.are.equal("Calling callback url " .. wh.callback .. ".", logs[1].log)
    assert.are.equal("Successful call to url " .. wh.callback .. ". Received 200 response", logs[2].log)
    emulator:profile("log-per-attempt")
    wh = logged()
    logs = assert(client.webhooks:logs{ webhook_key = wh.key })
    assert.are.equal(2, #logs)
    local pattern = "^POST " .. wh.callback:gsub("%p", "%%%0") .. " %-> HTTP 200 in %d+ ms %(attempt 1%); delivered$"
    assert.truthy(logs[1].log:find(pattern), logs[1].log)
  end)

  for _, p in ipairs{ "delete-singular", "delete-both" } do
    it("deletes one webhook and an entity's webhooks (" .. p .. ")", function()
      emulator:profile(p)
      local keys = subscribe(3)
      assert.is_true(client.webhooks:delete(keys[1]))
      assert.are.same({ keys[2], keys[3] }, keys_of(assert(client.webhooks:list{ entity_key = entity })))
      assert.is_true(client.webhooks:delete_by_entity(entity))
      assert.are.same({}, assert(client.webhooks:list{ entity_key = entity }))
    end)
  end

  for _, case in ipairs{ { "unknown-key-404", 404, "not_found" }, { "unknown-key-400", 400, "bad_request" } } do
    it("reports an unknown webhook key with the server's code (" .. case[1] .. ")", function()
      emulator:profile(case[1])
      local got, err = client.webhooks:get("no-such-webhook")
      assert.is_nil(got)
      assert.are.equal("api", err.kind)
      assert.are.equal(case[2], err.status)
      assert.are.equal(case[3], err.code)
      local ok, derr = client.webhooks:delete("no-such-webhook")
      assert.is_nil(ok)
      assert.are.equal(case[2], derr.status)
    end)
  end

  it("subscribes, lists and ensures without a token on webhook calls (token-none)", function()
    emulator:profile("token-none")
    local first, created = client.webhooks:ensure{ entity_key = entity, callback = CALLBACK }
    assert.is_true(created)
    local again, created_again = client.webhooks:ensure{ entity_key = entity, callback = CALLBACK }
    assert.is_false(created_again)
    assert.are.equal(first.key, again.key)
  end)

  for _, p in ipairs{ "pdf-api", "pdf-no-token", "pdf-redirect-same-host", "pdf-body-pdf" } do
    it("downloads every PDF of a pack (" .. p .. ")", function()
      emulator:profile(p)
      local dir = tmpdir()
      local files = assert(client.document_packs:download(entity, dir))
      assert.are.equal(1, #files)
      assert.are.equal("%PDF-", read(files[1].path):sub(1, 5))
      assert.are.equal(files[1].bytes, #read(files[1].path))
    end)
  end

  it("downloads from a serve_pdf_url on the storage host, sending it no token (pdf-storage-url)", function()
    local state = emulator:profile("pdf-storage-url")
    local pack = assert(client.document_packs:get(entity))
    local url = pack.documents[1].serve_pdf_url
    assert.truthy(url:find("^http://" .. state.storage_host:gsub("%.", "%%.") .. ":%d+/"), url)
    emulator:clear_requests()
    local dir = tmpdir()
    local files = assert(client.document_packs:download(entity, dir))
    assert.are.equal("%PDF-", read(files[1].path):sub(1, 5))
    local storage = emulator:requests("/_emulator/storage/")
    assert.are.equal(1, #storage)
    assert.are.equal(state.storage_host, storage[1].host)
    assert.is_false(storage[1].has_access_token)
  end)
end)
