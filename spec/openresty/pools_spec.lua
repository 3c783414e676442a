-- Verification never waits behind downloads: in nginx, openresty.client runs downloads in a
-- thread pool of their own (quicklysign_downloads), bounded inside the one VM bound, so that a
-- call made while slow PDFs download (the webhooks:get that confirms a callback) runs at once.
-- Shown by order, not by time: the call returns while every download is still running; with the
-- downloads named into the call pool, it returns only once one of them has finished.
local emulator = require "support.emulator"
local process = require "support.process"
local cjson = require "cjson"
local http = require "socket.http"
local socket = require "socket"

local PORT = require("support.ports").free()
local BASE = ("http://127.0.0.1:%d"):format(PORT)
local RUN_DIR = (os.getenv("QUICKLYSIGN_RUN_DIR") or ".run") .. "/receiver-" .. PORT

local function get(path)
  local body, status = http.request(BASE .. path)
  assert(status == 200, tostring(status) .. " " .. tostring(body))
  return (body:gsub("\n$", ""))
end

local function stats() return cjson.decode(get("/stats")) end

-- Waits (at most about 10 s) until cond(stats()) holds; returns the stats that made it true.
local function until_stats(cond)
  for _ = 1, 200 do
    local s = stats()
    if cond(s) then return s end
    socket.sleep(0.05)
  end
  error("the condition never held: " .. get("/stats"))
end

local function escape(s) return (s:gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end)) end

describe("quicklysign.openresty thread pools", function()
  local dir, pdf_url, webhook_key, pack

  setup(function()
    dir = process.tmpdir()
    local code, out, err = process.run({ "examples/openresty/run", "start", "--port", PORT,
      "--conf", "spec/openresty/fixtures/pools.nginx.conf" },
      { QUICKLYSIGN_BASE_URL = emulator.base_url, QUICKLYSIGN_SPEC_DIR = dir })
    assert(code == 0, "nginx did not start: " .. out .. err)
  end)

  teardown(function()
    process.run({ "examples/openresty/run", "stop", "--port", PORT })
    os.execute("rm -rf " .. process.quote(dir))
  end)

  before_each(function()
    emulator:reset()
    pack = emulator:create_pack{ name = "Slow", documents = { { name = "D", pdf_bytes = 20000 } } }
    pdf_url = pack.documents[1].serve_pdf_url
    webhook_key = assert(emulator.client().webhooks:create{ entity_key = pack.key,
      callback = "http://127.0.0.1:9/x" }).key
    until_stats(function(s) return s.running == 0 end)
    get("/reset")
  end)

  local function slow_pdfs(n, ms)
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/",
      delay_ms = ms, count = n }
  end

  it("runs a call at once while downloads fill their own pool, which holds at most its bound", function()
    slow_pdfs(3, 3000)
    assert.are.equal("started 3", get("/downloads?kind=own&n=3&url=" .. escape(pdf_url)))
    local s = until_stats(function(t)
      local p = t.pools.quicklysign_downloads
      return p ~= nil and p.in_flight == 2 and p.waiting == 1
    end)
    assert.are.equal(2, s.pools.quicklysign_downloads.limit)
    assert.are.equal(2, s.in_flight)   -- the third waits for its pool, holding no VM
    assert.are.equal(webhook_key .. " running 3", get("/verify?kind=own&key=" .. webhook_key))
    s = until_stats(function(t) return t.running == 0 end)
    assert.are.same({ "bytes 20000", "bytes 20000", "bytes 20000" }, s.done)
  end)

  it("makes the call wait behind the downloads when they share its pool (why there are two)", function()
    slow_pdfs(2, 1500)
    assert.are.equal("started 2", get("/downloads?kind=shared&n=2&url=" .. escape(pdf_url)))
    until_stats(function(t) return t.in_flight == 2 end)   -- both threads of the call pool
    local answer = get("/verify?kind=shared&key=" .. webhook_key)
    local still = tonumber(answer:match("running (%d+)$"))
    assert.are.equal(webhook_key, answer:match("^(%S+)"))
    assert.truthy(still < 2, answer)
    until_stats(function(t) return t.running == 0 end)
  end)

  it("hands openresty.client's on_event the records the thread collected, in order", function()
    local answer = get("/events?mode=mine&key=" .. webhook_key)
    -- first the token's mint (no index: not an item), then the two items
    assert.are.equal(("got %s failed 1 reason api_error status 404 records "
      .. "request:0,response:0,token:1,request:1,response:1,request:2,response:2"):format(webhook_key), answer)
    answer = get("/events?mode=default&key=" .. webhook_key)   -- nginx logs at warn: nothing collected
    assert.truthy(answer:find("records none$"), answer)
  end)

  it("shares the call pool when nginx.conf has no download pool, and says so once", function()
    for round = 1, 2 do
      assert.are.equal("started 1", get("/downloads?kind=missing&n=1&url=" .. escape(pdf_url)))
      local s = until_stats(function(t) return t.running == 0 and #t.done == round end)
      assert.are.equal("bytes 20000", s.done[round])
    end
    local log = assert(io.open(RUN_DIR .. "/logs/error.log")):read("*a")
    local _, warnings = log:gsub("has no `thread_pool quicklysign_not_declared threads=N;`", "")
    assert.are.equal(1, warnings)
    assert.falsy(log:find(emulator.client_secret, 1, true))
  end)
end)

describe("openresty.client's records in nginx's error log", function()
  local port = require("support.ports").free()
  local dir = (os.getenv("QUICKLYSIGN_RUN_DIR") or ".run") .. "/receiver-" .. port

  setup(function()
    local code, out, err = process.run({ "examples/openresty/run", "start", "--port", port,
      "--conf", "spec/openresty/fixtures/pools.nginx.conf" },
      { QUICKLYSIGN_BASE_URL = emulator.base_url, QUICKLYSIGN_SPEC_DIR = "/tmp", QUICKLYSIGN_LOG_LEVEL = "debug" })
    assert(code == 0, "nginx did not start: " .. out .. err)
  end)

  teardown(function()
    process.run({ "examples/openresty/run", "stop", "--port", port })
  end)

  it("go there at debug level by default, with no credential", function()
    emulator:reset()
    local pack = emulator.new_entity()
    local key = assert(emulator.client().webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/x" }).key
    local body, status = http.request(("http://127.0.0.1:%d/events?mode=default&key=%s"):format(port, key))
    assert.are.equal(200, status)
    assert.truthy(body:find("records none"), body)   -- the default hook took them, not the app's
    local log = assert(io.open(dir .. "/logs/error.log")):read("*a")
    local pattern = "quicklysign: request GET http://127.0.0.1:%d+/v1/webhooks/" .. key:gsub("%-", "%%-")
    assert.truthy(log:find(pattern), log:sub(-2000))
    assert.truthy(log:find("quicklysign: response GET [^\n]* status=404 attempt=1 index=2"), log:sub(-2000))
    assert.falsy(log:find(emulator.client_secret, 1, true))
    assert.falsy(log:find(emulator.api_key, 1, true))
  end)
end)
