-- The inbox's store contract, run against both stores with the same specs: SQLite files and a
-- real redis-server (started on a free port by this spec). Nothing is mocked.
local inbox = require "quicklysign.inbox"
local process = require "support.process"
local redis_server = require "support.redis_server"
local socket = require "socket"

local server
local counter = 0

local function ev(event, key)
  return { event = event or "final_document_generated", entity_key = key or "PACK",
    raw = { callback_event = event or "final_document_generated", entity_key = key or "PACK" } }
end

local BACKENDS = {
  sqlite = function()
    local path = os.tmpname()
    os.remove(path)
    return "sqlite://" .. path .. ".db", path .. ".db"
  end,
  redis = function()
    counter = counter + 1
    return server.url .. "?prefix=spec" .. counter .. socket.gettime() .. ":"
  end,
}

setup(function() server = redis_server.start() end)
teardown(function() server:close() end)

for _, backend in ipairs({ "sqlite", "redis" }) do
  describe("inbox store (" .. backend .. ")", function()
    local url, box

    local function open(opts)
      return assert(inbox.open(url, opts))
    end

    before_each(function()
      url = BACKENDS[backend]()
      box = open()
    end)

    after_each(function() box:close() end)

    it("stores a push and counts it queued", function()
      local id, state = box:push(ev("entity_updated"))
      assert.is_string(id)
      assert.equal("queued", state)
      assert.same({ queued = 1, running = 0, retrying = 0, dead = 0, done = 0 }, box:stats())
      local job = box:get(id)
      assert.equal("entity_updated", job.event)
      assert.equal("PACK", job.entity_key)
      assert.equal("callback", job.source)
      assert.equal(0, job.attempts)
    end)

    it("stores a once-keyed event once, and never merges events without a key", function()
      local a = box:push(ev(), { once_key = "final:PACK" })
      local b, state, was = box:push(ev(), { once_key = "final:PACK" })
      assert.equal(a, b)
      assert.equal("duplicate", state)
      assert.equal("queued", was)
      box:push(ev("entity_updated"))
      box:push(ev("entity_updated"))
      assert.equal(3, box:stats().queued)
      assert.equal("queued", box:once_state("final:PACK"))
      assert.is_nil(box:once_state("final:OTHER"))
    end)

    it("keeps the body as given, byte for byte", function()
      local body = '{"entity_key":"PACK","callback_event":"x","extra":"\\u00e9 \'quoted\'"}'
      local id = box:push(ev("x"), { body = body })
      assert.equal(body, box:get(id).body)
    end)

    it("leases a job to one worker at a time, counting attempts", function()
      box:push(ev("a"))
      box:push(ev("b"))
      local first = box:lease("w1", 1, 30, 5)
      assert.equal(1, #first)
      assert.equal("a", first[1].event)
      assert.equal(1, first[1].attempts)
      assert.is_string(first[1].token)
      local second = box:lease("w2", 5, 30, 5)
      assert.equal(1, #second)
      assert.equal("b", second[1].event)
      assert.same({}, box:lease("w3", 5, 30, 5))
      assert.equal(2, box:stats().running)
    end)

    it("gives a job whose lease ran out to the next worker", function()
      box:push(ev())
      local first = box:lease("w1", 1, 0.2, 5)[1]
      socket.sleep(0.3)
      local again = box:lease("w2", 1, 30, 5)[1]
      assert.equal(first.id, again.id)
      assert.equal(2, again.attempts)
      local ok, err = box:complete(first)   -- the first worker comes back too late
      assert.is_nil(ok)
      assert.equal("inbox", err.kind)
      assert.equal("lease_lost", err.reason)
      assert.is_true(box:complete(again))
      assert.equal(1, box:stats().done)
    end)

    it("parks a job whose worker died during its last allowed attempt", function()
      box:push(ev())
      box:lease("w1", 1, 0.1, 1)
      socket.sleep(0.2)
      assert.same({}, box:lease("w2", 1, 30, 1))
      local dead = box:dead()
      assert.equal(1, #dead)
      assert.truthy(dead[1].last_error:find("lease expired", 1, true))
    end)

    it("completes a job once", function()
      box:push(ev())
      local job = box:lease("w1", 1, 30, 5)[1]
      assert.is_true(box:complete(job))
      local ok, err = box:complete(job)
      assert.is_nil(ok)
      assert.equal("lease_lost", err.reason)
      assert.same({ queued = 0, running = 0, retrying = 0, dead = 0, done = 1 }, box:stats())
      assert.equal("done", box:get(job.id).state)
    end)

    it("retries a failed job when it is due, and parks it as dead with its error", function()
      box:push(ev())
      local job = box:lease("w1", 1, 30, 5)[1]
      assert.equal("retrying", box:fail(job, "API answered 503", 0.3))
      assert.same({ queued = 0, running = 0, retrying = 1, dead = 0, done = 0 }, box:stats())
      assert.same({}, box:lease("w1", 1, 30, 5))
      socket.sleep(0.4)
      assert.equal(1, box:stats().queued)
      local again = box:lease("w1", 1, 30, 5)[1]
      assert.equal(2, again.attempts)
      assert.equal("API answered 503", again.last_error)
      assert.equal("dead", box:fail(again, "still 503", nil))
      local dead = box:dead()
      assert.equal(1, #dead)
      assert.equal(job.id, dead[1].id)
      assert.equal("still 503", dead[1].last_error)
      assert.equal(2, dead[1].attempts)
    end)

    it("puts dead jobs back with retry(id) and retry('all'), and drops one", function()
      for i = 1, 3 do box:push(ev("e" .. i)) end
      for _, job in ipairs(box:lease("w1", 3, 30, 5)) do box:fail(job, "boom", nil) end
      assert.equal(3, box:stats().dead)
      local dead = box:dead()
      assert.equal(1, box:retry(dead[1].id))
      assert.equal(0, box:retry(dead[1].id))   -- no longer dead
      assert.equal(0, box:get(dead[1].id).attempts)
      assert.is_true(box:drop(dead[2].id))
      assert.is_false(box:drop(dead[2].id))
      assert.is_nil(box:get(dead[2].id))
      assert.equal(1, box:retry("all"))
      assert.same({ queued = 2, running = 0, retrying = 0, dead = 0, done = 0 }, box:stats())
    end)

    it("runs a once-keyed job waiting for a retry at once when the event comes again", function()
      box:push(ev(), { once_key = "final:PACK" })
      local job = box:lease("w1", 1, 30, 5)[1]
      box:fail(job, "pack not complete yet", 3600)
      assert.equal(1, box:stats().retrying)
      local id, state, was = box:push(ev(), { once_key = "final:PACK" })
      assert.same({ job.id, "duplicate", "retrying" }, { id, state, was })
      assert.equal(1, box:stats().queued)
      assert.equal(job.id, box:lease("w1", 1, 30, 5)[1].id)
    end)

    it("puts a dead once-keyed job back when the event comes again, but never a done one", function()
      box:push(ev(), { once_key = "final:A" })
      box:push(ev(), { once_key = "final:B" })
      local jobs = box:lease("w1", 2, 30, 5)
      box:fail(jobs[1], "gave up", nil)
      box:complete(jobs[2])
      assert.equal("duplicate", select(2, box:push(ev(), { once_key = "final:A" })))
      assert.equal("duplicate", select(2, box:push(ev(), { once_key = "final:B" })))
      assert.same({ queued = 1, running = 0, retrying = 0, dead = 0, done = 1 }, box:stats())
      assert.equal(0, box:get(jobs[1].id).attempts)
    end)

    it("gives a released job back without counting the attempt", function()
      box:push(ev())
      local job = box:lease("w1", 1, 30, 5)[1]
      assert.is_true(box:release(job))
      local again = box:lease("w2", 1, 30, 5)[1]
      assert.equal(1, again.attempts)
    end)

    it("extends a lease while its worker still works", function()
      box:push(ev())
      local job = box:lease("w1", 1, 0.3, 5)[1]
      assert.is_true(box:extend(job, 30))
      socket.sleep(0.4)
      assert.same({}, box:lease("w2", 1, 30, 5))
      assert.is_true(box:complete(job))
    end)

    it("pushes many in one write", function()
      local results = box:push_many({ { ev("a") }, { ev(), { once_key = "final:PACK" } },
        { ev(), { once_key = "final:PACK" } } })
      assert.equal(3, #results)
      assert.equal("queued", results[1].state)
      assert.equal("queued", results[2].state)
      assert.equal("duplicate", results[3].state)
      assert.equal(results[2].id, results[3].id)
    end)

    it("forgets done jobs and their once keys after keep_done", function()
      box:close()
      box = open({ keep_done = 0.1 })
      box:push(ev(), { once_key = "final:PACK" })
      box:complete(box:lease("w1", 1, 30, 5)[1])
      socket.sleep(0.25)
      box:close()
      box = open({ keep_done = 0.1 })
      box:lease("w1", 1, 30, 5)   -- sweeps
      assert.equal(0, box:stats().done)
      assert.equal("queued", select(2, box:push(ev(), { once_key = "final:PACK" })))
    end)

    it("keeps what it stored when closed and opened again", function()
      local id = box:push(ev("kept"))
      box:close()
      box = open()
      assert.equal("kept", box:get(id).event)
      assert.equal(1, box:stats().queued)
    end)

    it("never leases one job to two processes", function()
      local n = 120
      for i = 1, n do box:push(ev("e" .. i)) end
      local script = [[
        local inbox = require "quicklysign.inbox"
        local box = assert(inbox.open(arg[1]))
        while true do
          local jobs = assert(box:lease(arg[2], 3, 30, 5))
          if #jobs == 0 then break end
          for _, job in ipairs(jobs) do
            assert(box:complete(job))
            io.write(job.id, "\n")
          end
        end
      ]]
      local file = os.tmpname()
      local f = assert(io.open(file, "w"))
      f:write(script)
      f:close()
      local children = {}
      for i = 1, 3 do
        children[i] = assert(io.popen(("%s %s %s w%d"):format(process.lua, file, process.quote(url), i)))
      end
      local seen, total = {}, 0
      for _, child in ipairs(children) do
        for line in child:lines() do
          assert.is_nil(seen[line], "job " .. line .. " was leased twice")
          seen[line] = true
          total = total + 1
        end
        child:close()
      end
      os.remove(file)
      assert.equal(n, total)
      assert.equal(n, box:stats().done)
    end)

    it("refuses misuse, naming the argument", function()
      assert.has_error(function() box:push("x") end, "bad argument #1 to 'push' (table expected, got string)")
      assert.has_error(function() box:push({ event = 1 }) end,
        "bad argument #1 to 'push' (an event (from callbacks.parse or router:verify) expected)")
      assert.has_error(function() box:push(ev(), { once_key = "" }) end,
        "bad argument #2 to 'push' (option 'once_key' must be a non-empty string)")
      assert.has_error(function() box:lease("w", 0, 1, 1) end,
        "bad argument #2 to 'lease' (option 'n' must be a positive integer)")
      assert.has_error(function() box:fail({ id = "1" }, "x", -1) end,
        "bad argument #3 to 'fail' (option 'delay' must be nil (dead now) or seconds >= 0)")
    end)
  end)
end

describe("inbox.open", function()
  it("says what is wrong with a URL", function()
    local box, err = inbox.open("mysql://x")
    assert.is_nil(box)
    assert.equal("inbox", err.kind)
    assert.equal("bad_url", err.reason)
    assert.truthy(tostring(err):find("unknown inbox scheme 'mysql:'", 1, true))
    assert.equal("bad_url", select(2, inbox.open("redis://:pw@h:99999/0")).reason)
    assert.equal("bad_url", select(2, inbox.open("sqlite:///x.db?nope=1")).reason)
    assert.has_error(function() inbox.open("sqlite:///x.db", { synchronous = "sometimes" }) end,
      "bad argument #2 to 'open' (option 'synchronous' must be \"full\" or \"normal\")")
    assert.has_error(function() inbox.open("sqlite:///x.db", { keepdone = 1 }) end,
      "bad argument #2 to 'open' (unknown option 'keepdone')")
  end)

  it("answers unavailable for a store it cannot reach, never printing a password", function()
    local box, err = inbox.open("sqlite:///nonexistent-dir-qs/inbox.db")
    assert.is_nil(box)
    assert.equal("unavailable", err.reason)
    local port = require("support.ports").free()
    box, err = inbox.open("redis://:hunter2-secret@127.0.0.1:" .. port .. "/0")
    assert.is_nil(box)
    assert.equal("unavailable", err.reason)
    assert.falsy(tostring(err):find("hunter2", 1, true))
  end)

  it("prints the URL without its password", function()
    local box = assert(inbox.open(server.url))
    assert.equal("quicklysign.inbox " .. server.url, tostring(box))
    box:close()
    assert.equal("redis://:REDACTED@h:1/0", require("quicklysign.inbox.url").redact("redis://:pw@h:1/0"))
  end)
end)

describe("the Redis store across a Redis restart", function()
  it("keeps jobs (AOF) and reloads its scripts", function()
    local box = assert(inbox.open(server.url .. "?prefix=restart" .. socket.gettime() .. ":"))
    local id = box:push(ev("kept"))
    server:restart()
    local stats, err = box:stats()   -- the kept connection died with the server: this one reconnects
    if not stats then
      assert.equal("unavailable", err.reason)
      stats = assert(box:stats())
    end
    assert.equal(1, stats.queued)
    assert.equal("kept", box:get(id).event)
    box:close()
  end)
end)

-- Runs fn(box) on a fresh SQLite file and a fresh redis-server of its own.
local function each_store(fn)
  local server2 = redis_server.start()
  finally(function() server2:close() end)
  local path = os.tmpname()
  os.remove(path)
  for _, url in ipairs({ "sqlite://" .. path .. ".db", server2.url }) do
    local box = assert(inbox.open(url))
    fn(box)
    box:close()
  end
end

describe("inbox stores and awkward bytes", function()
  it("keep newlines and percent signs in keys and event names as they were (both stores)", function()
    each_store(function(box)
      local e = { event = "odd\nevent %0A", entity_key = "K\n%25", raw = { callback_event = "x", entity_key = "y" } }
      local id = box:push(e, { once_key = "once\n%key" })
      assert.equal("duplicate", select(2, box:push(e, { once_key = "once\n%key" })))
      assert.equal("queued", box:once_state("once\n%key"))
      local job = box:get(id)
      assert.equal("odd\nevent %0A", job.event)
      assert.equal("K\n%25", job.entity_key)
      assert.equal("once\n%key", job.once_key)
    end)
  end)
end)

describe("box:replay", function()
  it("puts a done or dead job back in the queue, on both stores, and nothing else", function()
    each_store(function(box)
      local a = box:push(ev("a"))
      local b = box:push(ev("b"))
      local c = box:push(ev("c"))
      local jobs = box:lease("w", 2, 30, 5)
      box:complete(jobs[1])
      box:fail(jobs[2], "gave up", nil)
      assert.is_true(box:replay(a))
      assert.is_true(box:replay(b))
      assert.is_false(box:replay(c))   -- still queued
      assert.is_false(box:replay("999"))
      assert.same({ queued = 3, running = 0, retrying = 0, dead = 0, done = 0 }, box:stats())
    end)
  end)
end)
