-- Workers run stored callbacks until they succeed or are parked as dead; a worker that dies
-- loses nothing. Real SQLite files and a real redis-server; a real child process killed with
-- SIGKILL in the middle of a handler.
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local process = require "support.process"
local redis_server = require "support.redis_server"
local socket = require "socket"
local worker_module = require "quicklysign.inbox.worker"

local TOKEN = "s3cret-token-0123456789abcdef"
local server

local function body(event, key)
  return ('{"callback_event":"%s","entity_key":"%s","webhook_key":"W"}'):format(event, key)
end

local function push(r, event, key)
  local status = r:handle{ method = "POST", headers = { ["content-type"] = "application/json" },
    body = body(event or "final_document_generated", key or "PACK"), query = { token = TOKEN } }
  assert.equal(200, status)
end

setup(function() server = redis_server.start() end)
teardown(function() server:close() end)

local function url_for(backend)
  if backend == "redis" then return server.url .. "?prefix=worker" .. socket.gettime() .. ":" end
  local path = os.tmpname()
  os.remove(path)
  return "sqlite://" .. path .. ".db"
end

for _, backend in ipairs({ "sqlite", "redis" }) do
  describe("inbox.worker (" .. backend .. ")", function()
    local url, box, router, lines

    before_each(function()
      url = url_for(backend)
      box = assert(inbox.open(url))
      lines = {}
      router = callbacks.router{ token = TOKEN, inbox = box,
        log = function(level, msg) lines[#lines + 1] = level .. " " .. msg end }
    end)
    after_each(function() box:close() end)

    local function drain(w, rounds)
      for _ = 1, rounds or 30 do
        w:run{ until_idle = true }
        local s = box:stats()
        if s.queued + s.running + s.retrying == 0 then return s end
        socket.sleep(0.03)
      end
      return box:stats()
    end

    it("retries a handler that fails twice, then records it done", function()
      local calls, attempts = 0, {}
      router:on("final_document_generated", function(ev)
        calls = calls + 1
        attempts[#attempts + 1] = ev.attempt
        if calls <= 2 then error("API answered 503") end
      end)
      push(router)
      local w = inbox.worker{ inbox = box, router = router, retry_delay = 0.02 }
      local s = drain(w)
      assert.same({ queued = 0, running = 0, retrying = 0, dead = 0, done = 1 }, s)
      assert.same({ 1, 2, 3 }, attempts)
      assert.same({ done = 1, retried = 2, dead = 0, lost = 0 }, w.counts)
    end)

    it("parks a job as dead after max_attempts, with its last error and no token", function()
      router:on("final_document_generated", function() return nil, "disk full at " .. TOKEN end)
      push(router)
      local w = inbox.worker{ inbox = box, router = router, retry_delay = 0.01, max_attempts = 3 }
      local s = drain(w)
      assert.equal(1, s.dead)
      local dead = box:dead()
      assert.equal(3, dead[1].attempts)
      assert.truthy(dead[1].last_error:find("disk full", 1, true))
      assert.falsy(dead[1].last_error:find(TOKEN, 1, true))
      for _, line in ipairs(lines) do assert.falsy(line:find(TOKEN, 1, true), line) end
      -- a person fixes the cause and retries it
      router.handlers.final_document_generated = nil
      assert.equal(1, box:retry(dead[1].id))
      s = drain(w)
      assert.equal(1, s.done)
      assert.equal(0, s.dead)
    end)

    it("runs each event the router stored, with ev.id, ev.attempt and ev.source", function()
      local seen = {}
      router:on_any(function(ev) seen[#seen + 1] = ev end)
      push(router, "entity_updated")
      push(router, "document_status_changed")
      drain(inbox.worker{ inbox = box, router = router })
      assert.equal(2, #seen)
      assert.equal("entity_updated", seen[1].event)
      assert.equal("callback", seen[1].source)
      assert.equal(1, seen[1].attempt)
      assert.is_string(seen[1].id)
    end)

    it("gives an interrupted job back at once, and lets the interrupt through", function()
      router:on("final_document_generated", function() error("interrupted!", 0) end)
      push(router)
      local w = inbox.worker{ inbox = box, router = router }
      assert.has_error(function() w:run_once() end, "interrupted!")
      local job = box:lease("spec", 1, 30, 5)[1]
      assert.equal(1, job.attempts)   -- the interrupted attempt did not count
    end)

    it("parks a stored callback that no longer parses at once", function()
      box:push({ event = "x", entity_key = "K" }, { body = "not json" })
      local s = drain(inbox.worker{ inbox = box, router = router })
      assert.equal(1, s.dead)
      assert.truthy(box:dead()[1].last_error:find("no longer parses", 1, true))
    end)

    it("loses nothing when a worker process is killed in the middle of a handler", function()
      push(router)
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write([[
        local inbox = require "quicklysign.inbox"
        local callbacks = require "quicklysign.callbacks"
        local box = assert(inbox.open(arg[1]))
        local r = callbacks.router{ token = "s3cret-token-0123456789abcdef", inbox = box, log = false }
        r:on("final_document_generated", function()
          io.stdout:write("started\n"); io.stdout:flush()
          while true do end   -- stuck mid-download, until SIGKILL
        end)
        inbox.worker{ inbox = box, router = r, lease = 0.5 }:run()
      ]])
      f:close()
      local child = assert(io.popen(("exec %s %s %s & echo $!; wait"):format(process.lua, script,
        process.quote(url))))
      local pid = child:read("*l")
      assert.equal("started", child:read("*l"))
      assert.equal(1, box:stats().running)
      os.execute("kill -9 " .. pid)
      child:close()
      os.remove(script)
      local done = 0
      router:on("final_document_generated", function() done = done + 1 end)
      socket.sleep(0.6)   -- the dead worker's lease runs out
      local s = drain(inbox.worker{ inbox = box, router = router })
      assert.equal(1, s.done)
      assert.equal(1, done)
    end)
  end)
end

describe("inbox.worker options", function()
  local box, router
  before_each(function()
    local path = os.tmpname()
    os.remove(path)
    box = assert(inbox.open("sqlite://" .. path .. ".db"))
    router = callbacks.router{ token = TOKEN, inbox = box, log = false }
  end)
  after_each(function() box:close() end)

  it("refuse concurrency above 1 outside nginx, saying what to do instead", function()
    local ok, err = pcall(inbox.worker, { inbox = box, router = router, concurrency = 4 })
    assert.is_false(ok)
    assert.truthy(err:find("option 'concurrency' must be 1 outside nginx", 1, true))
    assert.truthy(err:find("quicklysign worker --concurrency N", 1, true))
  end)

  it("refuse unknown options and bad values, naming them", function()
    assert.has_error(function() inbox.worker{ inbox = box, router = router, leas = 1 } end,
      "bad argument #1 to 'worker' (unknown option 'leas')")
    assert.has_error(function() inbox.worker{ inbox = box, router = router, max_attempts = 2.5 } end,
      "bad argument #1 to 'worker' (option 'max_attempts' must be a positive integer)")
    assert.has_error(function() inbox.worker{ inbox = {}, router = router } end,
      "bad argument #1 to 'worker' (option 'inbox' must be an inbox made by quicklysign.inbox.open)")
  end)

  it("back off exponentially with jitter, capped", function()
    assert.equal(2.5, worker_module.backoff(1, 5, 3600, function() return 0 end))
    assert.equal(5, worker_module.backoff(1, 5, 3600, function() return 1 end))
    assert.equal(40, worker_module.backoff(4, 5, 3600, function() return 1 end))
    assert.equal(3600, worker_module.backoff(30, 5, 3600, function() return 1 end))
    for _ = 1, 100 do
      local d = worker_module.backoff(3, 5, 3600)
      assert.truthy(d >= 10 and d <= 20)
    end
  end)
end)
