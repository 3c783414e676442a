-- Batch calls: create_many, ensure_many, get_many, delete_many, document_packs:get_many, and a
-- pack's documents downloaded at once. Results in input order, one value or nil, err per item,
-- nothing lost or sent twice, the single calls' retry rules, one deadline, bounded concurrency.
-- Counts come from the emulator's journal (connections, requests), never from timings.
local emulator = require "support.emulator"
local own_emulator = require "support.own_emulator"
local process = require "support.process"

local function subscriptions(pack_key, n, tag)
  local list = {}
  for i = 1, n do list[i] = { entity_key = pack_key, callback = ("http://127.0.0.1:9/%s/%d"):format(tag, i) } end
  return list
end

-- What the API answers for a webhook key it does not know (profile unknown-key-400: 400).
local function unknown_status()
  return emulator:setting("unknown_webhook") == "bad_request" and 400 or 404
end

local function count_callbacks(client, pack_key)
  local counts = {}
  for _, w in ipairs(assert(client.webhooks:list{ entity_key = pack_key })) do
    counts[w.callback] = (counts[w.callback] or 0) + 1
  end
  return counts
end

describe("webhooks:create_many", function()
  before_each(function() emulator:reset() end)

  it("creates each subscription exactly once, results in input order", function()
    local pack = emulator.new_entity()
    local c = emulator.client{ concurrency = 4 }
    local list = subscriptions(pack, 25, "order")
    local webhooks, errs, failed = c.webhooks:create_many(list)
    assert.are.equal(0, failed)
    assert.are.same({}, errs)
    for i = 1, 25 do
      assert.are.equal(list[i].callback, webhooks[i].callback)
      assert.are.equal(pack, webhooks[i].entity_key)
    end
    local counts = count_callbacks(c, pack)
    for i = 1, 25 do assert.are.equal(1, counts[list[i].callback]) end
  end)

  it("keeps at most `concurrency` requests in flight: that many connections, no more", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    emulator:clear_requests()
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", delay_ms = 300, count = 12 }
    local _, _, failed = c.webhooks:create_many(subscriptions(pack, 12, "bound"), { concurrency = 3 })
    assert.are.equal(0, failed)
    local n = own_emulator.connections(emulator, "/v1/webhooks")
    assert.are.equal(3, n, "connections: " .. n)
  end)

  it("gives each item its own outcome: a refused one fails, the others stand", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    local list = subscriptions(pack, 3, "mixed")
    list[2] = { entity_key = "no-such-pack", callback = "http://127.0.0.1:9/mixed/2" }
    local webhooks, errs, failed = c.webhooks:create_many(list)
    assert.are.equal(1, failed)
    assert.are.equal(list[1].callback, webhooks[1].callback)
    assert.is_nil(webhooks[2])
    assert.are.equal("api", errs[2].kind)
    assert.are.equal(400, errs[2].status)
    assert.are.equal(list[3].callback, webhooks[3].callback)
  end)

  it("never repeats a create the server may have received (a 503 answer), as create does", function()
    local pack = emulator.new_entity()
    local c = emulator.client{ max_retries = 2 }
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", status = 503, count = 1 }
    local webhooks, errs, failed = c.webhooks:create_many(subscriptions(pack, 1, "once"), { concurrency = 1 })
    assert.are.equal(1, failed)
    assert.is_nil(webhooks[1])
    assert.are.equal(503, errs[1].status)
    assert.are.equal(1, errs[1].attempts)
    assert.is_nil(count_callbacks(c, pack)["http://127.0.0.1:9/once/1"])
  end)

  it("ends every item by one deadline for the whole batch, losing none", function()
    local pack = emulator.new_entity()
    local c = emulator.client{ timeout = 30 }
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", delay_ms = 3000, count = 6 }
    local webhooks, errs, failed = c.webhooks:create_many(subscriptions(pack, 6, "late"),
      { concurrency = 2, timeout = 0.5 })
    assert.are.equal(6, failed)
    for i = 1, 6 do
      assert.is_nil(webhooks[i])
      assert.are.equal("timed_out", errs[i].reason)
    end
  end)

  it("refuses a bad list before sending anything, naming the item", function()
    local c = emulator.client()
    emulator:clear_requests()
    assert.has_error(function() c.webhooks:create_many("x") end,
      "bad argument #1 to 'create_many' (a list of subscriptions {entity_key, callback} expected, got string)")
    assert.has_error(function()
      c.webhooks:create_many{ { entity_key = "k", callback = "http://127.0.0.1:9/a" }, { entity_key = "k" } }
    end, "bad argument #1 to 'create_many' (item 2: field 'callback': a non-empty string without NUL expected, "
      .. "got nil)")
    assert.has_error(function()
      c.webhooks:create_many{ { entity_key = "k", callback = "ftp://x" } }
    end, "bad argument #1 to 'create_many' (item 1: field 'callback': an http(s) URL expected)")
    assert.has_error(function()
      c.webhooks:create_many({}, { concurrency = 0 })
    end, "bad argument #2 to 'create_many' (field 'concurrency': an integer from 1 to 256 expected)")
    assert.has_error(function()
      c.webhooks:create_many({}, { workers = 2 })
    end, "bad argument #2 to 'create_many' (unknown option 'workers')")
    assert.are.same({}, emulator:requests("/v1"))
    local webhooks, errs, failed = c.webhooks:create_many({})
    assert.are.same({ {}, {}, 0 }, { webhooks, errs, failed })
  end)
end)

describe("webhooks:ensure_many", function()
  before_each(function() emulator:reset() end)

  it("creates only what is missing, a pair given twice once, and says which it created", function()
    local p1, p2 = emulator.new_entity(), emulator.new_entity()
    local c = emulator.client()
    assert(c.webhooks:create{ entity_key = p1, callback = "http://127.0.0.1:9/a" })
    local list = {
      { entity_key = p1, callback = "http://127.0.0.1:9/a" },
      { entity_key = p1, callback = "http://127.0.0.1:9/b" },
      { entity_key = p2, callback = "http://127.0.0.1:9/a" },
      { entity_key = p1, callback = "http://127.0.0.1:9/b" },
    }
    local webhooks, errs, failed, created = c.webhooks:ensure_many(list)
    assert.are.equal(0, failed)
    assert.are.same({}, errs)
    assert.are.same({ false, true, true, false }, created)
    assert.are.equal(webhooks[2].key, webhooks[4].key)
    assert.are.same({ ["http://127.0.0.1:9/a"] = 1, ["http://127.0.0.1:9/b"] = 1 }, count_callbacks(c, p1))
    local again, _, failed2, created2 = c.webhooks:ensure_many(list)
    assert.are.equal(0, failed2)
    assert.are.same({ false, false, false, false }, created2)
    for i = 1, 4 do assert.are.equal(webhooks[i].key, again[i].key) end
  end)

  it("reads every page of each entity's list before it decides", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    local existing = subscriptions(pack, 7, "paged")
    assert.are.equal(0, select(3, c.webhooks:create_many(existing)))
    emulator:config{ page_size = 2 }
    local _, _, failed, created = c.webhooks:ensure_many(existing)
    assert.are.equal(0, failed)
    for i = 1, 7 do assert.is_false(created[i]) end
    assert.are.equal(7, #assert(c.webhooks:list{ entity_key = pack }))
  end)

  it("fails the subscriptions of an entity whose list cannot be read, and creates none of them", function()
    local pack = emulator.new_entity()
    local c = emulator.client{ max_retries = 0 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", status = 500, count = 1 }
    local webhooks, errs, failed = c.webhooks:ensure_many(subscriptions(pack, 2, "unread"))
    assert.are.equal(2, failed)
    assert.is_nil(webhooks[1])
    assert.are.equal(500, errs[1].status)
    assert.are.equal(errs[1], errs[2])
    assert.are.same({}, count_callbacks(c, pack))
  end)
end)

describe("webhooks:get_many and delete_many", function()
  before_each(function() emulator:reset() end)

  it("get_many: each key's webhook, or its error, in order", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    local made = c.webhooks:create_many(subscriptions(pack, 5, "get"))
    local keys = { made[1].key, "no-such-webhook", made[3].key, made[5].key }
    local webhooks, errs, failed = c.webhooks:get_many(keys, { concurrency = 2 })
    assert.are.equal(1, failed)
    assert.are.equal(made[1].key, webhooks[1].key)
    assert.are.equal(unknown_status(), errs[2].status)
    assert.are.equal(made[3].key, webhooks[3].key)
    assert.are.equal(made[5].key, webhooks[4].key)
  end)

  it("delete_many: the first key finds the delete path, the rest go at once; each deleted once", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    local made = c.webhooks:create_many(subscriptions(pack, 6, "del"))
    local keys = {}
    for i = 1, 6 do keys[i] = made[i].key end
    keys[7] = "no-such-webhook"
    emulator:clear_requests()
    local results, errs, failed = c.webhooks:delete_many(keys)
    assert.are.equal(1, failed)
    for i = 1, 6 do assert.is_true(results[i]) end
    assert.are.equal(unknown_status(), errs[7].status)
    assert.are.same({}, assert(c.webhooks:list{ entity_key = pack }))
    local deletes = 0
    for _, r in ipairs(emulator:requests("/v1")) do if r.method == "DELETE" then deletes = deletes + 1 end end
    -- one DELETE per key, and under delete-plural one more: the first key's try of the singular
    assert.are.equal(emulator:setting("delete_path") == "plural" and 8 or 7, deletes)
  end)
end)

describe("document_packs:get_many and a pack's download", function()
  local dir
  before_each(function()
    emulator:reset()
    -- the PDFs on the API's origin, as PDFs, whatever the start profiles (spec/profiles has the rest)
    emulator:config{ pdf_body = "pdf", serve_pdf_host = "api", pdf_redirect = "none" }
    dir = process.tmpdir()
  end)
  after_each(function() os.execute("rm -rf " .. process.quote(dir)) end)

  local function pack_of(n)
    local docs = {}
    for i = 1, n do docs[i] = { name = "doc" .. i, pdf_bytes = 20000 + i } end
    local pack = emulator:create_pack{ name = "Pack", documents = docs }
    emulator:drive(pack.key, "complete")
    return pack
  end

  it("get_many: each pack, or its error", function()
    local a, b = pack_of(1), pack_of(2)
    local c = emulator.client{ api_key = emulator.api_key }
    local packs, errs, failed = c.document_packs:get_many{ a.key, "no-such-pack", b.key }
    assert.are.equal(1, failed)
    assert.are.equal(a.key, packs[1].key)
    assert.are.equal(404, errs[2].status)
    assert.are.equal(2, #packs[3].documents)
  end)

  it("downloads the documents at once, `concurrency` at a time, in the pack's order", function()
    local pack = pack_of(6)
    local c = emulator.client{ api_key = emulator.api_key, concurrency = 3 }
    assert(c:authenticate())
    emulator:clear_requests()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/",
      delay_ms = 300, count = 6 }
    local files = assert(c.document_packs:download(pack.key, dir))
    assert.are.equal(6, #files)
    for i = 1, 6 do
      assert.are.equal(("doc%d.pdf"):format(i), files[i].file)
      assert.are.equal(20000 + i, files[i].bytes)
      assert.are.equal(pack.documents[i].key, files[i].key)
    end
    assert.are.equal(3, own_emulator.connections(emulator, "/v1/document_packs/" .. pack.key .. "/documents/"))
  end)

  it("keeps the all-or-err.downloaded contract: a failure stops it, saying what is on disk", function()
    local pack = pack_of(4)
    local c = emulator.client{ api_key = emulator.api_key, concurrency = 1, max_retries = 0 }
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/"
      .. pack.documents[3].key, status = 404, count = 1 }
    local files, err = c.document_packs:download(pack.key, dir)
    assert.is_nil(files)
    assert.are.equal(404, err.status)
    assert.are.equal(2, #err.downloaded)
    assert.are.equal("doc1.pdf", err.downloaded[1].file)
    assert.are.equal("doc2.pdf", err.downloaded[2].file)
    local _, listing = process.run({ "ls", "-A", dir })
    assert.are.equal("doc1.pdf\ndoc2.pdf\n", listing)   -- no temp file left behind
  end)
end)
