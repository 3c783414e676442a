-- Creates reuse a kept-alive connection (one used within the last second or two) and are never
-- sent twice. libcurl re-sends a request by itself when a reused connection turns out dead;
-- for a create the server may already have carried out, that is a second webhook. The client
-- refuses libcurl the rewind a re-send needs, so such a create ends in an error instead (the
-- caller, or ensure, looks before creating again), and reuses only a connection idle for less
-- than a second or two, well inside any server's keep-alive timeout, so that the race of a
-- server closing an idle connection as the create goes out stays out of reach.
-- Counts come from the emulator's journal and lists, never from timings.
local emulator = require "support.emulator"
local own_emulator = require "support.own_emulator"
local process = require "support.process"
local socket = require "socket"

local function count(client, pack, callback)
  local n = 0
  for _, w in ipairs(assert(client.webhooks:list{ entity_key = pack })) do
    if w.callback == callback then n = n + 1 end
  end
  return n
end

local function posts(e)
  local out = {}
  for _, r in ipairs(e:requests("/v1/webhooks")) do
    if r.method == "POST" then out[#out + 1] = r end
  end
  return out
end

-- A client whose kept-alive connection has served one create, and a fault queued for the next
-- create that comes on it.
local function warmed(fault)
  local pack = emulator.new_entity()
  local c = emulator.client{ max_retries = 3 }
  assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/warm" })
  emulator:clear_requests()
  fault.method, fault.path_prefix, fault.reused_only = "POST", "/v1/webhooks", true
  emulator:fault(fault)
  return c, pack
end

describe("creates and the duplicate window", function()
  before_each(function() emulator:reset() end)

  it("100 sequential creates share one connection", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    emulator:clear_requests()
    for i = 1, 100 do
      assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/seq/" .. i })
    end
    local p = posts(emulator)
    assert.are.equal(100, #p)
    assert.are.equal(1, own_emulator.connections(emulator, "/v1/webhooks"))
    assert.truthy(p[100].connection_requests >= 100)   -- (a token's mint may have come first on it)
  end)

  it("a server that handles the create, then drops the kept-alive connection: an error, one webhook", function()
    local c, pack = warmed{ close_after = true }
    local wh, err = c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/after" }
    assert.is_nil(wh)
    assert.are.equal("network", err.kind)
    assert.are.equal("connection_lost", err.reason)
    assert.is_false(err.retryable)
    assert.truthy(err.message:find("may have been carried out", 1, true))
    assert.are.equal(1, #posts(emulator))        -- sent once: neither libcurl nor the retries sent it again
    assert.are.equal(1, count(c, pack, "http://127.0.0.1:9/after"))
    assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/next" })   -- a new connection
  end)

  it("(why: the curl tool, sending the same two creates, subscribes twice)", function()
    local pack = emulator.new_entity()
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", reused_only = true, close_after = true }
    local body = ('{"client_id":"%s","client_secret":"%s","webhook":{"entity_key":"%s","callback":"%s"}}')
      :format(emulator.client_id, emulator.client_secret, pack, "http://127.0.0.1:9/curl")
    local url = emulator.base_url .. "/webhooks"
    local _, minted = emulator:request("POST", "/v1/access_tokens", { client_id = emulator.client_id,
      client_secret = emulator.client_secret, api_key = emulator.api_key })
    local token = minted.data.access_token   -- for a start profile whose webhook calls need one
    local one = { "-s", "-o", "/dev/null", "-H", "Content-Type: application/json", "-H", "access_token: " .. token,
      "-H", "Authorization: Bearer " .. token, "--data-binary", body, url }
    local argv = { "curl" }
    for _, w in ipairs(one) do argv[#argv + 1] = w end
    argv[#argv + 1] = "--next"
    for _, w in ipairs(one) do argv[#argv + 1] = w end
    process.run(argv, process.NO_PRELOAD)
    assert.are.equal(3, count(emulator.client(), pack, "http://127.0.0.1:9/curl"))   -- two asked for, three made
  end)

  it("a server that closes the kept-alive connection as the create arrives: an error, nothing sent twice", function()
    local c, pack = warmed{ close = true }
    local wh, err = c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/closed" }
    assert.is_nil(wh)
    assert.are.equal("connection_lost", err.reason)
    local p = posts(emulator)
    assert.are.equal(1, #p)
    assert.are.equal(444, p[1].status)           -- dropped unhandled, and never sent again
    assert.are.equal(0, count(c, pack, "http://127.0.0.1:9/closed"))
  end)

  it("ensure settles a lost answer by looking: the webhook the server made, not a second one", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    assert(c.webhooks:ensure{ entity_key = pack, callback = "http://127.0.0.1:9/warm" })
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", reused_only = true, close_after = true }
    local wh, created = c.webhooks:ensure{ entity_key = pack, callback = "http://127.0.0.1:9/ensured" }
    assert.is_table(wh, tostring(created))
    assert.is_true(created)
    assert.are.equal("http://127.0.0.1:9/ensured", wh.callback)
    assert.are.equal(1, count(c, pack, "http://127.0.0.1:9/ensured"))
  end)

  it("create_many over one kept-alive connection: a dropped answer fails its item only, never twice", function()
    local c, pack = warmed{ close_after = true }
    local list = {}
    for i = 1, 5 do list[i] = { entity_key = pack, callback = "http://127.0.0.1:9/many/" .. i } end
    local webhooks, errs, failed = c.webhooks:create_many(list, { concurrency = 1 })
    assert.are.equal(1, failed)
    assert.are.equal("connection_lost", errs[1].reason)
    for i = 1, 5 do
      assert.are.equal(1, count(c, pack, list[i].callback))   -- the failed one too: made once
      if i > 1 then assert.are.equal(list[i].callback, webhooks[i].callback) end
    end
  end)
end)

describe("creates against a server that closes idle connections quickly", function()
  local e
  setup(function() e = own_emulator.start{ "--keepalive-timeout", "0.3" } end)
  teardown(function() e.stop() end)

  it("a connection the server closed while idle is not reused: a new one, every create done once", function()
    local pack = e:create_pack().key
    local c = emulator.client{ base_url = e.base_url }
    local made = 0
    for i = 1, 6 do
      local wh = c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/idle/" .. i }
      if wh then made = made + 1 end
      socket.sleep(0.2 + i * 0.04)   -- idle across the server's 0.3 s, at and around the boundary
    end
    assert.are.equal(6, made)
    assert.are.equal(6, #assert(c.webhooks:list{ entity_key = pack }))
    assert.truthy(own_emulator.connections(e, "/v1/webhooks") >= 4)
  end)
end)

describe("creates after an idle spell", function()
  before_each(function() emulator:reset() end)

  it("reuse only a connection used within the last second or two; other calls keep theirs", function()
    local pack = emulator.new_entity()
    local c = emulator.client()
    assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/first" })
    assert(c.webhooks:list{ entity_key = pack })
    socket.sleep(2.1)
    emulator:clear_requests()
    assert(c.webhooks:list{ entity_key = pack })        -- a GET: the kept-alive connection
    socket.sleep(2.1)
    assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/late" })
    local r = emulator:requests("/v1/webhooks")
    assert.are.equal("GET", r[1].method)
    assert.truthy(r[1].connection_requests > 1)
    assert.are.equal("POST", r[2].method)
    assert.are.equal(1, r[2].connection_requests)        -- the create: a new connection
  end)
end)
