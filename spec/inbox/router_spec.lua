-- The router with an inbox: a verified callback is stored, then answered; nothing runs in the
-- request. Real SQLite files and a real redis-server.
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local redis_server = require "support.redis_server"
local socket = require "socket"

local TOKEN = "s3cret-token-0123456789abcdef"
local server

local function request(event, key, extra_query)
  local body = ('{"callback_event":"%s","entity_key":"%s","entity_type":"Document","webhook_key":"W"}')
    :format(event or "final_document_generated", key or "PACK")
  local query = { token = TOKEN }
  for k, v in pairs(extra_query or {}) do query[k] = v end
  return { method = "POST", headers = { ["content-type"] = "application/json" }, body = body, query = query }
end

local function answer(status, body) return { status, body } end

setup(function() server = redis_server.start() end)
teardown(function() server:close() end)

local function urls()
  local path = os.tmpname()
  os.remove(path)
  return {
    sqlite = "sqlite://" .. path .. ".db",
    redis = server.url .. "?prefix=router" .. socket.gettime() .. ":",
  }
end

for _, backend in ipairs({ "sqlite", "redis" }) do
  describe("router with an inbox (" .. backend .. ")", function()
    local box, lines, ran

    local function make(opts)
      lines, ran = {}, 0
      local o = { token = TOKEN, inbox = box, log = function(level, msg) lines[#lines + 1] = { level, msg } end }
      for k, v in pairs(opts or {}) do o[k] = v end
      local r = callbacks.router(o)
      r:on_any(function() ran = ran + 1 end)
      return r
    end

    before_each(function() box = assert(inbox.open(urls()[backend])) end)
    after_each(function() box:close() end)

    it("stores the callback as received and answers 200, running nothing yet", function()
      local r = make()
      local req = request()
      local status, body = r:handle(req)
      assert.same({ 200, "ok" }, { status, body })
      assert.equal(0, ran)
      local job = box:lease("spec", 1, 30, 5)[1]
      assert.equal(req.body, job.body)
      assert.equal("final_document_generated", job.event)
      assert.equal("PACK", job.entity_key)
    end)

    it("stores a final_document_generated once across repeats; never merges entity_updated", function()
      local r = make()
      assert.same({ 200, "ok" }, answer(r:handle(request())))
      assert.same({ 200, "duplicate" }, answer(r:handle(request())))
      assert.equal(200, (r:handle(request("entity_updated"))))
      assert.equal(200, (r:handle(request("entity_updated"))))
      assert.equal(3, box:stats().queued)
    end)

    it("uses the dedupe key function for other events, and dedupe = false stores every one", function()
      local r = make{ dedupe = callbacks.dedupe{ key = function(ev) return ev.event .. ":" .. ev.raw.v end } }
      local a = request("entity_updated")
      a.body = a.body:gsub("}$", ',"v":"1"}')
      assert.same({ 200, "ok" }, answer(r:handle(a)))
      assert.same({ 200, "duplicate" }, answer(r:handle(a)))
      local plain = make{ dedupe = false }
      assert.same({ 200, "ok" }, answer(plain:handle(request("final_document_generated", "P2"))))
      assert.same({ 200, "ok" }, answer(plain:handle(request("final_document_generated", "P2"))))
      assert.equal(3, box:stats().queued)
    end)

    it("stores nothing it refuses", function()
      local r = make()
      assert.equal(403, (r:handle(request(nil, nil, { token = "wrong-token-0123456789" }))))
      local bad = request()
      bad.body = "{"
      assert.equal(400, (r:handle(bad)))
      assert.equal(0, box:stats().queued)
    end)

    it("answers 503 when the inbox cannot store, so that the vendor retries", function()
      local r = make()
      box:close()
      local status, body, headers = r:handle(request())
      assert.equal(503, status)
      assert.equal("unavailable", body)
      assert.equal("30", headers["Retry-After"])
      local found = false
      for _, line in ipairs(lines) do found = found or line[2]:find("push_failed", 1, true) ~= nil end
      assert.is_true(found)
    end)

    it("runs the handlers on process(ev), reporting a failure as nil, err", function()
      local r = make()
      r:on("final_document_generated", function() return nil, "disk full" end)
      local ev = callbacks.parse(request().body)
      local ok, err = r:process(ev)
      assert.is_nil(ok)
      assert.equal("handler", err.kind)
      assert.equal("handler_error", err.reason)
      assert.truthy(err.message:find("disk full", 1, true))
      assert.equal(1, ran)   -- on_any still ran
    end)
  end)
end

describe("router options with an inbox", function()
  it("refuses an inbox that is not one, and retry_on_handler_error = false", function()
    assert.has_error(function() callbacks.router{ token = TOKEN, inbox = {} } end,
      "bad argument #1 to 'router' (option 'inbox' must be an inbox made by quicklysign.inbox.open)")
  end)
end)
