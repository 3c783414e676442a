-- quicklysign.openresty itself: its argument checks (plain Lua), and inside
-- real nginx: respond = "after", calls through the thread pool, errors and
-- misuse that cross from a worker thread, a missing thread pool.
local emulator = require "support.emulator"
local process = require "support.process"
local openresty = require "quicklysign.openresty"
local callbacks = require "quicklysign.callbacks"
local http = require "socket.http"
local ltn12 = require "ltn12"

local PORT = require("support.ports").free()   -- a free one: never a clash with another run
local BASE = ("http://127.0.0.1:%d"):format(PORT)
local TOKEN = "glue-spec-token-0123456789"

local function get(path)
  local body, status = http.request(BASE .. path)
  return status, body
end

local function post(path, body)
  local chunks = {}
  local _, status = http.request{ url = BASE .. path, method = "POST", sink = ltn12.sink.table(chunks),
    headers = { ["content-type"] = "application/json", ["content-length"] = #body },
    source = ltn12.source.string(body) }
  return status, table.concat(chunks)
end

describe("quicklysign.openresty arguments", function()
  local router = callbacks.router{ token = TOKEN, log = false }

  it("refuses what is not a router, unknown options and a bad respond mode", function()
    assert.has_error(function() openresty.handler({}) end,
      "bad argument #1 to 'handler' (a router made by quicklysign.callbacks.router expected)")
    assert.has_error(function() openresty.handler(router, { respnd = "after" }) end,
      "bad argument #1 to 'handler' (unknown option 'respnd')")
    assert.has_error(function() openresty.handler(router, { respond = "later" }) end,
      "bad argument #1 to 'handler' (option 'respond' must be 'after' (the only mode; it may be left out))")
    assert.is_function(openresty.handler(router))
    assert.is_function(openresty.handler(router, { respond = "after" }))
  end)

  it("refuses respond = 'first', which answered 200 for work that was then lost", function()
    local ok, err = pcall(openresty.handler, router, { respond = "first" })
    assert.is_false(ok)
    assert.truthy(err:find("respond = 'first' answered 200 before the work was done", 1, true))
    assert.truthy(err:find("give the router an inbox", 1, true))
  end)

  it("checks client options at once, and refuses functions that cannot cross into a thread", function()
    assert.has_error(function() openresty.client("x") end)
    assert.has_error(function() openresty.client{ client_id = "i" } end,
      "bad argument #1 to 'new' (option 'client_secret' is required; or set QUICKLYSIGN_CLIENT_SECRET)")
    assert.has_error(function()
      openresty.client{ client_id = "i", client_secret = "s", on_warning = function() end }
    end, "bad argument #1 to 'client' (option 'on_warning': a function cannot cross into a worker thread)")
    local c = openresty.client{ client_id = "i", client_secret = "s" }
    assert.is_function(c.webhooks.ensure)
    assert.is_function(c.document_packs.download)
    assert.is_function(c.download)
    assert.are.equal("quicklysign", c.thread_pool)
  end)
end)

describe("quicklysign.openresty in nginx", function()
  setup(function()
    local code, out, err = process.run({ "examples/openresty/run", "start", "--port", PORT,
      "--conf", "spec/openresty/fixtures/glue.nginx.conf" }, { QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert(code == 0, "nginx did not start: " .. out .. err)
  end)

  teardown(function()
    process.run({ "examples/openresty/run", "stop", "--port", PORT })
  end)

  before_each(function() emulator:reset() end)

  it("without an inbox, answers with the handlers' outcome", function()
    local ok_body = '{"entity_key":"e","callback_event":"entity_updated","webhook_key":"w"}'
    local fail_body = '{"entity_key":"e","callback_event":"entity_updated","webhook_key":"w","fail":true}'
    assert.are.equal(200, (post("/after?token=" .. TOKEN, ok_body)))
    assert.are.equal(500, (post("/after?token=" .. TOKEN, fail_body)))
    assert.are.equal(403, (post("/after?token=wrong-token-0123456789", ok_body)))
  end)

  it("runs client calls in the thread pool and returns their values", function()
    local pack = emulator:create_pack{ name = "Threaded", documents = { { name = "D" } } }
    local c = emulator.client()
    assert(c.webhooks:create{ entity_key = pack.key, callback = "http://127.0.0.1:9/x" })
    assert.are.same({ 200, "count 1\n" }, { get("/call?what=list") })
    assert.are.same({ 200, "Threaded\n" }, { get("/call?what=pack&key=" .. pack.key) })
  end)

  it("gives errors from a thread their metatable back", function()
    local status, body = get("/call?what=unknown")
    assert.are.equal(200, status)
    assert.truthy(body:find("^nil true 404 quicklysign: api error 404 not_found: "), body)
    assert.falsy(body:find(emulator.client_secret, 1, true))
  end)

  it("raises misuse where the call was made", function()
    local _, body = get("/call?what=misuse")
    assert.truthy(body:find("^false .*webhook_key: non%-empty string expected, got nil"), body)
  end)

  it("bounds thread-pool calls, so that a burst never meets 'no available Lua vm'", function()
    local pack = emulator:create_pack{ name = "Burst", documents = { { name = "D" } } }
    assert(emulator.client().webhooks:create{ entity_key = pack.key, callback = "http://127.0.0.1:9/x" })
    -- unbounded, nginx's VM pool runs out (this lost 368 of 600 callbacks in the receiver)
    local _, raw = get("/burst?raw=1&n=300")
    local vm = tonumber(raw:match("vm (%d+)"))
    assert.truthy(vm > 0, raw)
    local _, body = get("/burst?n=300")
    assert.are.equal("ok 300 failed 0 vm 0\n", body)
  end)

  it("raises when the thread pool does not exist", function()
    local _, body = get("/nopool")
    assert.truthy(body:find("^false .*no_such_pool"), body)
  end)
end)
