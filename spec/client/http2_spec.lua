-- HTTP/2 when the server offers it (ALPN on TLS): a batch's requests are streams on one
-- connection; HTTP/1.1 otherwise, or with http2 = false. An emulator of the spec's own serves
-- h2 on its TLS port (the shared one speaks HTTP/1.1 there); the journal says what each
-- request came over and on which connection.
local emulator = require "support.emulator"
local own_emulator = require "support.own_emulator"

describe("HTTP/2", function()
  local e
  setup(function() e = own_emulator.start{ "--http2" } end)
  teardown(function() e.stop() end)
  before_each(function() e:reset() end)

  local function client(opts)
    local o = { base_url = e.tls_url, ca_file = e.ca_file, allow_insecure_callbacks = true }
    for k, v in pairs(opts or {}) do o[k] = v end
    return emulator.client(o)
  end

  local function versions(path)
    local seen = {}
    for _, r in ipairs(e:requests(path)) do
      local v = ("%g"):format(r.http_version)
      seen[v] = (seen[v] or 0) + 1
    end
    return seen
  end

  it("get_many of 300 over one connection, every request a stream of it", function()
    local pack = e:create_pack().key
    local c = client()
    local key = assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/h2" }).key
    local keys = {}
    for i = 1, 300 do keys[i] = key end
    e:clear_requests()
    local webhooks, _, failed = c.webhooks:get_many(keys, { concurrency = 64 })
    assert.are.equal(0, failed)
    assert.are.equal(key, webhooks[300].key)
    assert.are.same({ ["2"] = 300 }, versions("/v1/webhooks"))
    assert.are.equal(1, own_emulator.connections(e, "/v1/webhooks"))
  end)

  it("create_many over the same connection as the calls before it", function()
    local pack = e:create_pack().key
    local c = client()
    assert(c.webhooks:list{ entity_key = pack })
    local list = {}
    for i = 1, 40 do list[i] = { entity_key = pack, callback = "http://127.0.0.1:9/h2/" .. i } end
    local _, _, failed = c.webhooks:create_many(list, { concurrency = 16 })
    assert.are.equal(0, failed)
    assert.are.equal(40, #assert(c.webhooks:list{ entity_key = pack }))
    assert.are.equal(1, own_emulator.connections(e, "/v1/webhooks"))
  end)

  it("http2 = false: HTTP/1.1, one connection per request in flight", function()
    local pack = e:create_pack().key
    local c = client{ http2 = false }
    local key = assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/h1" }).key
    e:clear_requests()
    e:fault{ method = "GET", path_prefix = "/v1/webhooks/", delay_ms = 300, count = 8 }
    local _, _, failed = c.webhooks:get_many({ key, key, key, key, key, key, key, key }, { concurrency = 4 })
    assert.are.equal(0, failed)
    assert.are.same({ ["1.1"] = 8 }, versions("/v1/webhooks"))
    assert.are.equal(4, own_emulator.connections(e, "/v1/webhooks"))
  end)
end)
