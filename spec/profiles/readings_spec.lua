-- The client under each reading of the vendor's pages that changes what it must do (the
-- emulator's profiles: emulator/README.md; what the client does under each: docs/vendor-api.md,
-- "Open points"). Each spec picks its reading with emulator:profile(...) (the defaults plus
-- what it names, until the next reset), so this file holds whatever the start profiles are.
local emulator = require "support.emulator"
local process = require "support.process"

local socket = require "socket"

local CALLBACK = "https://app.example.com/quicklysign?token=abc"

local tmpdir, read, listing = process.tmpdir, process.read, process.listing

local function keys_of(list)
  local out = {}
  for i, item in ipairs(list) do out[i] = item.key end
  return out
end

local function has_header(request, name)
  for _, h in ipairs(request.headers_present) do
    if h == name then return true end
  end
  return false
end

-- The requests the emulator saw under a path prefix, the access token mints left out.
local function api_requests(prefix)
  local out = {}
  for _, r in ipairs(emulator:requests(prefix)) do
    if r.path ~= "/v1/access_tokens" then out[#out + 1] = r end
  end
  return out
end

-- Waits until the emulator has no delivery left to make.
local function delivered()
  for _ = 1, 200 do
    if emulator:call("GET", "/deliveries").pending == 0 then return true end
    socket.sleep(0.02)
  end
  error("the emulator's deliveries did not drain")
end

-- the defaults whatever the start profiles; each spec names the readings it plays
before_each(function()
  emulator:reset()
  emulator:profile("defaults")
end)
after_each(function() emulator:reset() end)

describe("tokens on webhook calls", function()
  local TOKEN_PROFILES = { "token-none", "token-access-token", "token-bearer", "token-either" }

  -- every webhook call, through one client; returns the webhook it made
  local function every_call(c, entity)
    local wh, created = assert(c.webhooks:ensure{ entity_key = entity, callback = CALLBACK })
    assert.is_true(created)
    assert.are.equal(wh.key, assert(c.webhooks:get(wh.key)).key)
    assert.are.same({ wh.key }, keys_of(assert(c.webhooks:list{ entity_key = entity })))
    assert.is_table(assert(c.webhooks:logs{ webhook_key = wh.key }))
    local again, created_again = assert(c.webhooks:ensure{ entity_key = entity, callback = CALLBACK })
    assert.is_false(created_again)
    assert.are.equal(wh.key, again.key)
    assert.is_true(assert(c.webhooks:delete(wh.key)))
    assert.is_true(assert(c.webhooks:delete_by_entity(entity)))
    return wh
  end

  for _, p in ipairs(TOKEN_PROFILES) do
    it("a client with an api_key makes every webhook call, the token in both headers (" .. p .. ")", function()
      emulator:profile(p)
      local c = emulator.client{ api_key = emulator.api_key }
      emulator:clear_requests()
      every_call(c, emulator.new_entity())
      assert.are.equal(1, #emulator:requests("/v1/access_tokens"))
      for _, r in ipairs(api_requests("/v1/webhook")) do
        assert.is_true(has_header(r, "access_token"), r.path)
        assert.is_true(has_header(r, "authorization"), r.path)
      end
    end)
  end

  local HEADERS = {
    access_token = { ["token-none"] = true, ["token-access-token"] = true, ["token-bearer"] = false,
      ["token-either"] = true },
    authorization = { ["token-none"] = true, ["token-access-token"] = false, ["token-bearer"] = true,
      ["token-either"] = true },
  }
  for header, works in pairs(HEADERS) do
    for _, p in ipairs(TOKEN_PROFILES) do
      it("token_header = '" .. header .. "' sends that header only, and works where it is read (" .. p .. ")",
        function()
          emulator:profile(p)
          local c = emulator.client{ api_key = emulator.api_key, token_header = header }
          emulator:clear_requests()
          local list, err = c.webhooks:list()
          local seen = api_requests("/v1/webhooks")
          assert.is_true(has_header(seen[1], header == "access_token" and "access_token" or "authorization"))
          assert.is_false(has_header(seen[1], header == "access_token" and "authorization" or "access_token"))
          if works[p] then
            assert.is_nil(err)
            assert.are.same({}, list)
          else
            assert.is_nil(list)
            assert.are.equal("api", err.kind)
            assert.are.equal(401, err.status)
            assert.are.equal("invalid_access_token", err.code)
            assert.are.equal(2, #emulator:requests("/v1/access_tokens"))   -- minted once more, no more
          end
        end)
    end
  end

  for _, p in ipairs(TOKEN_PROFILES) do
    it("a client without a token source calls as before: fine, or a loud 401 (" .. p .. ")", function()
      emulator:profile(p)
      local c = emulator.client{ api_key = false }
      emulator:clear_requests()
      local wh, err = c.webhooks:create{ entity_key = emulator.new_entity(), callback = CALLBACK }
      assert.are.equal(0, #emulator:requests("/v1/access_tokens"))
      if p == "token-none" then
        assert.is_nil(err)
        assert.is_string(wh.key)
        assert.is_false(has_header(emulator:requests("/v1/webhooks")[1], "authorization"))
      else
        assert.is_nil(wh)
        assert.are.equal(401, err.status)
        assert.are.equal("invalid_access_token", err.code)
      end
    end)
  end

  it("mints once more when a webhook call says the token expired (token-bearer)", function()
    emulator:profile("token-bearer")
    local c = emulator.client{ api_key = emulator.api_key }
    assert(c.webhooks:list())
    emulator:expire_tokens()
    emulator:clear_requests()
    assert.are.same({}, assert(c.webhooks:list()))
    assert.are.equal(1, #emulator:requests("/v1/access_tokens"))
    assert.are.equal(2, #emulator:requests("/v1/webhooks"))
  end)

  it("a given access_token goes on webhook calls too (token-access-token)", function()
    emulator:profile("token-access-token")
    local minter = emulator.client{ api_key = emulator.api_key }
    assert(minter:authenticate())
    local c = emulator.client{ api_key = false, access_token = "not-a-token" }
    local _, err = c.webhooks:list()
    assert.are.equal("invalid_access_token", err.code)
    assert.falsy(tostring(err):find("not-a-token", 1, true))
  end)

  it("authenticate mints a fresh token, or says why it cannot", function()
    local c = emulator.client{ api_key = emulator.api_key }
    emulator:clear_requests()
    assert.is_true(c:authenticate())
    assert.is_true(c:authenticate())
    assert.are.equal(2, #emulator:requests("/v1/access_tokens"))
    local bad = emulator.client{ api_key = "wrong-key" }
    local ok, err = bad:authenticate()
    assert.is_nil(ok)
    assert.are.equal(401, err.status)
    assert.are.equal("unauthorised", err.code)
    assert.truthy(err.url:find("/access_tokens$"), err.url)
    assert.falsy(tostring(err):find("wrong-key", 1, true))
    assert.is_true(emulator.client{ api_key = false, access_token = "given" }:authenticate())
    local none = emulator.client{ api_key = false }
    local raised, e = pcall(none.authenticate, none)
    assert.is_false(raised)
    assert.are.equal("no_token_source", e.reason)
  end)
end)

describe("list answers", function()
  local SHAPES = { ["list-webhooks"] = "data.webhooks", ["list-data-array"] = "data",
    ["list-webhook-array"] = "data.webhook", ["list-items"] = "data.items" }

  for p, shape in pairs(SHAPES) do
    it("reads every page of the list, and ensure never subscribes twice (" .. p .. ")", function()
      emulator:profile{ p, "page_size=2" }
      local c = emulator.client{ api_key = emulator.api_key }
      local entity = emulator.new_entity()
      local made = {}
      for i = 1, 3 do made[i] = assert(c.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }).key end
      assert.are.same(made, keys_of(assert(c.webhooks:list{ entity_key = entity })))
      assert.are.equal(shape, c:last_response().list_shape)
      local _, created = assert(c.webhooks:ensure{ entity_key = entity, callback = CALLBACK .. 2 })
      assert.is_false(created)
      assert.are.same({}, assert(c.webhooks:list{ entity_key = emulator.new_entity() }))
      assert.are.equal(shape, c:last_response().list_shape)
    end)
  end

  local UNKNOWN = {
    { '"data":{"results":[{"key":"w1"}],"count":1}', "data is an object with count (number), results (array)" },
    { '"data":{"webhooks":{"w1":{"key":"w1"}}}', "data is an object with webhooks (object)" },
    { '"data":"none"', "data is a string" },
    { '"nodata":true', "the answer has no data" },
  }
  for _, case in ipairs(UNKNOWN) do
    it("answers a shape it does not know with an error naming it, and ensure creates nothing: "
      .. case[2], function()
      local c = emulator.client{ api_key = emulator.api_key }
      local body = '{"status":{"status_code":200},' .. case[1] .. '}'
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 2, status = 200, body = body }
      local list, err = c.webhooks:list()
      assert.is_nil(list)
      assert.are.equal("protocol", err.kind)
      assert.are.equal("unknown_list_shape", err.reason)
      assert.are.equal(1, err.attempts)
      assert.truthy(err.message:find(case[2], 1, true), err.message)
      emulator:clear_requests()
      local wh, err2 = c.webhooks:ensure{ entity_key = emulator.new_entity(), callback = CALLBACK }
      assert.is_nil(wh)
      assert.are.equal("unknown_list_shape", err2.reason)
      assert.are.equal(0, #emulator:requests("/v1/webhooks") - 1)   -- the list only: no POST
      assert.are.equal("GET", emulator:requests("/v1/webhooks")[1].method)
    end)
  end

  it("reads callback logs in any shape too, and refuses an unknown one", function()
    local c = emulator.client{ api_key = emulator.api_key }
    for _, data in ipairs{ '{"webhook_callback_logs":[{"key":"l1"}]}', '[{"key":"l1"}]', '{"items":[{"key":"l1"}]}' } do
      emulator:fault{ method = "GET", path_prefix = "/v1/webhook_callback_logs", count = 1, status = 200,
        body = '{"status":{"status_code":200},"data":' .. data .. '}' }
      assert.are.same({ "l1" }, keys_of(assert(c.webhooks:logs())))
    end
    emulator:fault{ method = "GET", path_prefix = "/v1/webhook_callback_logs", count = 1, status = 200,
      body = '{"status":{"status_code":200},"data":{"logs":[{"key":"l1"}]}}' }
    local logs, err = c.webhooks:logs()
    assert.is_nil(logs)
    assert.are.equal("unknown_list_shape", err.reason)
    assert.truthy(err.message:find("logs (array)", 1, true), err.message)
  end)
end)

describe("pagination", function()
  local client, entity, made

  before_each(function()
    client = emulator.client{ api_key = emulator.api_key }
    entity = emulator.new_entity()
  end)

  local function subscribe(n)
    made = {}
    for i = 1, n do made[i] = assert(client.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }).key end
  end

  local KINDS = { ["pages-cursor"] = "cursor", ["pages-absolute"] = "absolute", ["pages-relative"] = "relative" }
  for p, kind in pairs(KINDS) do
    it("follows every page, page_size passed through (" .. p .. ")", function()
      emulator:profile(p)
      subscribe(5)
      emulator:clear_requests()
      assert.are.same(made, keys_of(assert(client.webhooks:list{ entity_key = entity, page_size = 2 })))
      local seen = api_requests("/v1/webhooks")
      assert.are.equal(3, #seen)
      local with_size = 0
      for _, r in ipairs(seen) do
        for _, k in ipairs(r.query_keys) do if k == "page_size" then with_size = with_size + 1 end end
      end
      assert.are.equal(3, with_size)
      local page, next_pos = assert(client.webhooks:page{ entity_key = entity, page_size = 2 })
      assert.are.equal(kind, client:last_response().next_kind)
      assert.are.same({ made[1], made[2] }, keys_of(page))
      assert.is_string(next_pos)
      assert.falsy(next_pos:find(emulator.client_secret, 1, true))
      local page2, pos2 = assert(client.webhooks:page{ entity_key = entity, page_size = 2, after = next_pos })
      assert.are.same({ made[3], made[4] }, keys_of(page2))
      local page3, pos3 = client.webhooks:page{ entity_key = entity, page_size = 2, after = pos2 }
      assert.are.same({ made[5] }, keys_of(page3))
      assert.is_nil(pos3)
    end)

    it("iterates page by page, one request each (" .. p .. ")", function()
      emulator:profile(p)
      subscribe(5)
      emulator:clear_requests()
      local sizes, got = {}, {}
      for page in client.webhooks:pages{ entity_key = entity, page_size = 2 } do
        sizes[#sizes + 1] = #page
        assert.are.equal(#sizes, #api_requests("/v1/webhooks"))   -- no page read ahead
        for _, wh in ipairs(page) do got[#got + 1] = wh.key end
      end
      assert.are.same({ 2, 2, 1 }, sizes)
      assert.are.same(made, got)
    end)
  end

  it("reads every page of callback logs, and logs without a filter (pages-relative)", function()
    emulator:profile{ "pages-relative", "page_size=2" }
    local pack = emulator.new_entity()
    assert(client.webhooks:create{ entity_key = pack, callback = emulator.url .. "/_emulator/sinks/pages" })
    emulator:drive(pack, "update")
    emulator:drive(pack, "send")
    delivered()
    assert.are.equal(4, #assert(client.webhooks:logs{ entity_key = pack }))
    assert.are.equal(4, #assert(client.webhooks:logs()))
    local n = 0
    for page in client.webhooks:log_pages{ entity_key = pack } do n = n + #page end
    assert.are.equal(4, n)
  end)

  it("resolves relative references of every kind against the list's URL, staying on the origin", function()
    local envelope = '{"status":{"status_code":200},"data":{"webhooks":[{"key":"%s"}]}%s}'
    local function serve(key, next_ref)
      local pagination = next_ref and (',"pagination":{"next":"' .. next_ref .. '"}') or ""
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
        body = envelope:format(key, pagination) }
    end
    serve("a", "?cursor=2&entity_key=e")
    serve("b", "webhooks?cursor=3")
    serve("c", "/v1/webhooks?cursor=4")
    serve("d", "//127.0.0.1:" .. emulator.url:match(":(%d+)$") .. "/v1/webhooks?cursor=5")
    serve("e", nil)
    emulator:clear_requests()
    assert.are.same({ "a", "b", "c", "d", "e" }, keys_of(assert(client.webhooks:list())))
    local seen = api_requests("/v1/webhooks")
    assert.are.equal(5, #seen)
    for _, r in ipairs(seen) do assert.are.equal("/v1/webhooks", r.path) end
    serve("a", "//elsewhere.example/v1/webhooks?cursor=2")
    local list, err = client.webhooks:list()
    assert.is_nil(list)
    assert.are.equal("cross_origin_next", err.reason)
  end)

  it("a failed page ends the iteration with false, err, which the loop's body sees", function()
    subscribe(3)
    emulator:profile{ "page_size=2" }
    local results = {}
    local it = client.webhooks:pages{ entity_key = entity }
    results[1] = { it() }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 5, status = 503, body = "busy" }
    results[2] = { it() }
    results[3] = { it() }
    assert.are.equal(2, #results[1][1])
    assert.is_false(results[2][1])
    assert.are.equal(503, results[2][2].status)
    assert.are.equal(3, results[2][2].attempts)
    assert.are.equal(0, #results[3])
  end)
end)

describe("callback log filters", function()
  for _, p in ipairs{ "logs-filter-optional", "logs-filter-required" } do
    it("lists every log without a filter where the API allows it, else says so (" .. p .. ")", function()
      emulator:profile(p)
      local c = emulator.client{ api_key = emulator.api_key }
      local logs, err = c.webhooks:logs()
      if p == "logs-filter-optional" then
        assert.is_nil(err)
        assert.are.same({}, logs)
      else
        assert.is_nil(logs)
        assert.are.equal("api", err.kind)
        assert.are.equal(400, err.status)
      end
      assert.are.same({}, assert(c.webhooks:logs{ entity_key = emulator.new_entity() }))
    end)
  end
end)

describe("PDFs", function()
  local client, pack

  before_each(function()
    client = emulator.client{ api_key = emulator.api_key }
    pack = emulator:create_pack{ name = "Deal", documents = { { name = "Überweisung – 日本" }, { name = "Annex" } } }
  end)

  local HOSTS = { "pdf-api", "pdf-no-token", "pdf-redirect-same-host", "pdf-redirect-storage", "pdf-storage-url" }
  for _, p in ipairs(HOSTS) do
    it("downloads every document, the token to the API's origin only (" .. p .. ")", function()
      local state = emulator:profile(p)
      local dir = tmpdir()
      emulator:clear_requests()
      local files = assert(client.document_packs:download(pack.key, dir))
      assert.are.same({ "Annex.pdf", "Überweisung – 日本.pdf" }, listing(dir))
      for _, f in ipairs(files) do
        assert.are.equal("%PDF-", read(f.path):sub(1, 5))
        assert.are.equal(f.bytes, #read(f.path))
      end
      for _, r in ipairs(emulator:requests("/")) do
        if r.host == state.storage_host then
          assert.is_false(r.has_access_token, r.path)
          assert.is_false(has_header(r, "authorization"), r.path)
        end
      end
      local redirects = client:last_response().redirects
      assert.are.equal((p == "pdf-redirect-same-host" or p == "pdf-redirect-storage") and 1 or 0, #redirects)
    end)
  end

  for p, content_type in pairs{ ["pdf-body-html"] = "text/html; charset=utf-8",
    ["pdf-body-json"] = "application/json", ["pdf-body-mislabelled"] = "application/pdf" } do
    it("refuses a 200 that is no PDF and saves nothing (" .. p .. ")", function()
      emulator:profile(p)
      local dir = tmpdir()
      local files, err = client.document_packs:download(pack.key, dir)
      assert.is_nil(files)
      assert.are.equal("protocol", err.kind)
      assert.are.equal("not_pdf", err.reason)
      assert.are.equal(content_type, err.content_type)
      assert.are.same({}, err.downloaded)
      assert.are.same({}, listing(dir))
      local bytes, err2 = client:download(pack.documents[1].serve_pdf_url, dir .. "/x.pdf")
      assert.is_nil(bytes)
      assert.are.equal("not_pdf", err2.reason)
      assert.are.same({}, listing(dir))
    end)
  end

  it("refuses a redirect to another scheme, too many redirects, and says where to", function()
    local url = pack.documents[1].serve_pdf_url
    local dir = tmpdir()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 302, body = "",
      headers = { Location = "ftp://127.0.0.1/x.pdf" } }
    local _, err = client:download(url, dir .. "/a.pdf")
    assert.are.equal("http", err.kind)
    assert.are.equal("insecure_redirect", err.reason)
    assert.are.equal("ftp://127.0.0.1/x.pdf", err.location)
    assert.are.equal(1, err.attempts)
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 6, status = 302, body = "",
      headers = { Location = url } }
    local _, err2 = client:download(url, dir .. "/b.pdf")
    assert.are.equal("too_many_redirects", err2.reason)
    assert.are.equal(url, err2.location)
    assert.are.same({}, listing(dir))
  end)

  it("refuses a redirect from an https API's URL to plain http", function()
    local c = emulator.client{ api_key = emulator.api_key, base_url = emulator.tls_url, ca_file = emulator.ca_file }
    local https_pack = assert(c.document_packs:get(pack.key))
    local url = https_pack.documents[1].serve_pdf_url
    assert.truthy(url:find("^https://"), url)
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 302, body = "",
      headers = { Location = (url:gsub("^https://127%.0%.0%.1:%d+", emulator.url)) } }
    local dir = tmpdir()
    local _, err = c:download(url, dir .. "/a.pdf")
    assert.are.equal("insecure_redirect", err.reason)
    assert.truthy(err.message:find("plain http", 1, true))
    emulator:profile("pdf-redirect-storage")   -- https to https on another host: followed
    assert(c:download(url, dir .. "/b.pdf"))
    assert.are.same({ "b.pdf" }, listing(dir))
  end)

  it("downloads nothing from a pack whose documents are no list, or one without a serve_pdf_url", function()
    local doc = '{"key":"d1","document_name":"A","serve_pdf_url":"' .. pack.documents[1].serve_pdf_url .. '"}'
    local cases = {
      { '"documents":{"d1":' .. doc .. '}', "missing_data", "not a list" },
      { '"documents":"none"', "missing_data", "not a list" },
      { '', "missing_data", "there is none" },
      { '"documents":[' .. doc .. ',{"key":"d2","document_name":"B"}]', "bad_document_url", "document 2" },
      { '"documents":[' .. doc .. ',{"key":"d3","serve_pdf_url":"file:///etc/passwd"}]', "bad_document_url",
        "not an http(s) URL" },
    }
    for _, case in ipairs(cases) do
      local fields = '"key":"' .. pack.key .. '"' .. (case[1] ~= "" and "," .. case[1] or "")
      emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key, count = 1, status = 200,
        body = '{"status":{"status_code":200},"data":{"document_pack":{' .. fields .. '}}}' }
      local dir = tmpdir() .. "/new"
      local files, err = client.document_packs:download(pack.key, dir)
      assert.is_nil(files)
      assert.are.equal("protocol", err.kind)
      assert.are.equal(case[2], err.reason)
      assert.truthy(err.message:find(case[3], 1, true), err.message)
      assert.are.equal(1, err.attempts)
      assert.is_nil(read(dir))   -- not even the folder
    end
  end)
end)

describe("delete paths", function()
  for _, p in ipairs{ "delete-singular", "delete-plural", "delete-both" } do
    for _, unknown in ipairs{ "unknown-key-404", "unknown-key-400" } do
      it("deletes, and reports a missing webhook as the API does, never a missing route ("
        .. p .. ", " .. unknown .. ")", function()
        emulator:profile{ p, unknown }
        local c = emulator.client{ api_key = emulator.api_key }
        local entity = emulator.new_entity()
        local keys = {}
        for i = 1, 3 do keys[i] = assert(c.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }).key end
        local _, err = c.webhooks:delete("no-such-webhook")
        assert.are.equal("api", err.kind)
        assert.are.equal(unknown == "unknown-key-404" and 404 or 400, err.status)
        assert.are.equal(unknown == "unknown-key-404" and "Webhook not found" or "No webhook has this key", err.message)
        assert.are.equal("DELETE", err.method)
        emulator:clear_requests()
        assert.is_true(assert(c.webhooks:delete(keys[1])))
        assert.are.equal(p == "delete-plural" and 2 or 1, #api_requests("/v1/"))   -- the singular first
        emulator:clear_requests()
        assert.is_true(assert(c.webhooks:delete(keys[2])))
        assert.is_true(assert(c.webhooks:delete_by_entity(entity)))
        assert.are.equal(2, #api_requests("/v1/"))   -- the path that worked, remembered
        local _, again = c.webhooks:delete(keys[1])
        assert.are.equal(err.status, again.status)   -- deleted: the API's own answer, from that path
        assert.are.same({}, assert(c.webhooks:list{ entity_key = entity }))
        local fresh = emulator.client{ api_key = emulator.api_key }   -- by entity first: the same
        assert.is_true(assert(fresh.webhooks:delete_by_entity(emulator.new_entity())))
      end)
    end
  end

  for _, p in ipairs{ "delete-singular", "delete-plural", "delete-both" } do
    it("delete_many: the first key finds the path, every key has its outcome (" .. p .. ")", function()
      emulator:profile(p)
      local c = emulator.client{ api_key = emulator.api_key }
      local entity = emulator.new_entity()
      local keys = {}
      for i = 1, 3 do keys[i] = assert(c.webhooks:create{ entity_key = entity, callback = CALLBACK .. i }).key end
      keys[4] = "no-such-webhook"
      local results, errs, failed = c.webhooks:delete_many(keys)
      assert.are.equal(1, failed)
      for i = 1, 3 do assert.is_true(results[i], "item " .. i) end
      assert.is_nil(results[4])
      assert.are.equal("api", errs[4].kind)
      assert.are.same({}, assert(c.webhooks:list{ entity_key = entity }))
    end)
  end

  it("says no route deletes a webhook that both paths answer 404 for, and leaves it", function()
    local c = emulator.client{ api_key = emulator.api_key }
    local entity = emulator.new_entity()
    local wh = assert(c.webhooks:create{ entity_key = entity, callback = CALLBACK })
    emulator:fault{ method = "DELETE", path_prefix = "/v1/webhook", count = 2, status = 404,
      body = '{"status":{"status_code":404,"errors":[{"code":"not_found","message":"Route not found"}]}}' }
    local ok, err = c.webhooks:delete(wh.key)
    assert.is_nil(ok)
    assert.are.equal("protocol", err.kind)
    assert.are.equal("no_delete_route", err.reason)
    assert.are.equal(wh.key, assert(c.webhooks:get(wh.key)).key)
    emulator:fault{ method = "DELETE", path_prefix = "/v1/webhook", count = 2, status = 405,
      body = '{"status":{"status_code":405,"errors":[{"code":"method_not_allowed","message":"no"}]}}' }
    local ok2, err2 = c.webhooks:delete_by_entity(entity)
    assert.is_nil(ok2)
    assert.are.equal("no_delete_route", err2.reason)
    assert.are.equal(1, #assert(c.webhooks:list{ entity_key = entity }))
  end)
end)

describe("error details", function()
  it("a 429 carries retry_after; a 5xx too large to read is retried as its status says", function()
    local c = emulator.client{ max_retry_delay = 5, max_body_size = 4096, max_retries = 2 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 429, retry_after = "120" }
    local _, err = c.webhooks:get("k")
    assert.are.equal(429, err.status)
    assert.are.equal(120, err.retry_after)
    assert.are.equal(1, err.attempts)
    emulator:clear_requests()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 3, status = 503, body_bytes = 100000 }
    local _, err2 = c.webhooks:get("k")
    assert.are.equal("body_too_large", err2.reason)
    assert.are.equal(503, err2.status)
    assert.is_true(err2.retryable)
    assert.are.equal(3, err2.attempts)
    assert.are.equal(3, #emulator:requests("/v1/webhooks"))
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 503, body_bytes = 100000 }
    assert.are.same({}, assert(c.webhooks:list()))   -- the second attempt is read
  end)

  it("every error says how many attempts it took, io ones included", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 1 }
    local file = os.tmpname()
    local _, err = c.document_packs:download(emulator:create_pack().key, file)
    assert.are.equal("cannot_create_folder", err.reason)
    assert.are.equal(0, err.attempts)
    local _, err2 = c:download(emulator.base_url .. "/x", "/nonexistent-dir/x.pdf")
    assert.are.equal("cannot_create_file", err2.reason)
    assert.are.equal(0, err2.attempts)
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = "[1]" }
    local _, err3 = c.webhooks:list()
    assert.are.equal("not_envelope", err3.reason)
    assert.are.equal(1, err3.attempts)
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = '{"status":{"status_code":200},"data":{}}' }
    local _, err4 = c.webhooks:create{ entity_key = "e", callback = CALLBACK }
    assert.are.equal("missing_data", err4.reason)
    assert.are.equal(1, err4.attempts)
    os.remove(file)
  end)
end)
