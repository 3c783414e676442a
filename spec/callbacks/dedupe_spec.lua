local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local callbacks = require "quicklysign.callbacks"

local TOKEN = support.TOKEN

local function request_for(event, entity_key)
  return support.request{ body = support.body{ event = event, entity_key = entity_key or "E1", webhook_key = "W1" } }
end
local FINAL, UPDATED = "final_document_generated", "entity_updated"

-- A router with dedupe over a hand-moved clock; `handler` is every event's handler.
local function make_router(dedupe_opts, router_opts, clock)
  clock = clock or support.clock()
  local d_opts = { now = clock.now }
  for k, v in pairs(dedupe_opts or {}) do d_opts[k] = v end
  if d_opts.store then d_opts.now = nil end
  local log, lines = support.recorder()
  local o = { token = TOKEN, log = log, dedupe = callbacks.dedupe(d_opts) }
  for k, v in pairs(router_opts or {}) do o[k] = v end
  local r = callbacks.router(o)
  local seen = { runs = 0, errors = {} }
  seen.behaviour = function() end
  r:on_any(function(ev) seen.runs = seen.runs + 1; return seen.behaviour(ev) end)
  r:on_error(function(err) seen.errors[#seen.errors + 1] = err end)
  return r, seen, clock, lines
end

describe("dedupe with the default key", function()
  it("processes a repeated final_document_generated once and answers 200 to both", function()
    local r, seen = make_router()
    local s1, b1 = r:handle(request_for(FINAL))
    local s2, b2 = r:handle(request_for(FINAL))
    assert.same({ 200, "ok", 200, "duplicate" }, { s1, b1, s2, b2 })
    assert.equal(1, seen.runs)
  end)

  it("keeps final_document_generated of different entities apart", function()
    local r, seen = make_router()
    r:handle(request_for(FINAL, "E1"))
    r:handle(request_for(FINAL, "E2"))
    assert.equal(2, seen.runs)
  end)

  it("never merges two entity_updated of one pack (nothing tells genuine updates apart)", function()
    local r, seen = make_router()
    assert.equal(200, (r:handle(request_for(UPDATED))))
    assert.equal(200, (r:handle(request_for(UPDATED))))
    assert.equal(200, (r:handle(request_for("document_status_changed"))))
    assert.equal(200, (r:handle(request_for("document_status_changed"))))
    assert.equal(4, seen.runs)
  end)

  it("releases the key when a handler fails, so the retry is processed", function()
    local r, seen = make_router(nil, { retry_on_handler_error = true })
    seen.behaviour = function() return nil, "disk full" end
    assert.equal(500, (r:handle(request_for(FINAL))))
    seen.behaviour = function() end
    assert.equal(200, (r:handle(request_for(FINAL))))
    local s3, b3 = r:handle(request_for(FINAL))
    assert.same({ 200, "duplicate" }, { s3, b3 })
    assert.equal(2, seen.runs)
  end)

  it("releases the key on failure without retry_on_handler_error too", function()
    local r, seen = make_router()
    seen.behaviour = function() error("crash") end
    assert.equal(500, (r:handle(request_for(FINAL))))
    seen.behaviour = function() end
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal(2, seen.runs)
  end)

  it("forgets a processed key after ttl", function()
    local r, seen, clock = make_router{ ttl = 3600 }
    r:handle(request_for(FINAL))
    clock.advance(3599)
    assert.equal("duplicate", select(2, r:handle(request_for(FINAL))))
    clock.advance(1)
    assert.equal("ok", select(2, r:handle(request_for(FINAL))))
    assert.equal(2, seen.runs)
  end)

  it("asks for a retry (503) while the same key is being processed", function()
    local r, seen = make_router()
    local inner
    seen.behaviour = function()
      if not inner then inner = { r:handle(request_for(FINAL)) } end
    end
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal(503, inner[1])
    assert.equal("30", inner[3]["Retry-After"])
    assert.equal(1, seen.runs)
    assert.equal(0, #seen.errors)
    assert.equal("duplicate", select(2, r:handle(request_for(FINAL))))
  end)

  it("takes over a claim left pending by a crashed worker after pending_ttl", function()
    local clock = support.clock()
    local store = callbacks.dedupe.memory_store{ now = clock.now }
    local r, seen = make_router({ store = store, pending_ttl = 60 }, nil, clock)
    store:add("qs:cb:" .. FINAL .. ":E1", "pending", 60) -- what a crash leaves
    assert.equal(503, (r:handle(request_for(FINAL))))
    clock.advance(60)
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal(1, seen.runs)
  end)

  it("is on with dedupe = true", function()
    local r = callbacks.router{ token = TOKEN, log = false, dedupe = true }
    local runs = 0
    r:on_any(function() runs = runs + 1 end)
    r:handle(request_for(FINAL))
    r:handle(request_for(FINAL))
    assert.equal(1, runs)
  end)

  it("is off by default", function()
    local r = callbacks.router{ token = TOKEN, log = false }
    local runs = 0
    r:on_any(function() runs = runs + 1 end)
    r:handle(request_for(FINAL))
    r:handle(request_for(FINAL))
    assert.equal(2, runs)
  end)

  it("exposes its default key", function()
    local key = callbacks.dedupe.default_key
    assert.equal("final_document_generated:E1", key({ event = FINAL, entity_key = "E1" }))
    assert.is_nil(key({ event = UPDATED, entity_key = "E1" }))
  end)
end)

describe("dedupe with a key function", function()
  it("dedupes entity_updated only under a key that tells updates apart", function()
    local version = 1
    local r, seen = make_router{ key = function(ev)
      if ev.event == UPDATED then return ev.entity_key .. "@" .. version end
      return callbacks.dedupe.default_key(ev)
    end }
    r:handle(request_for(UPDATED))
    r:handle(request_for(UPDATED))        -- same state: a repeat
    version = 2
    r:handle(request_for(UPDATED))        -- new state: a genuine update
    r:handle(request_for(FINAL))
    r:handle(request_for(FINAL))
    assert.equal(3, seen.runs)
  end)

  it("processes without dedupe when the key is nil", function()
    local r, seen = make_router{ key = function() return nil end }
    r:handle(request_for(FINAL))
    r:handle(request_for(FINAL))
    assert.equal(2, seen.runs)
  end)

  for _, case in ipairs({
    { "raises", function() error("api down") end, "api down" },
    { "returns nil, err", function() return nil, "api down" end, "api down" },
    { "returns a table", function() return {} end, "returned a table" },
  }) do
    it("answers 503 key_error when the key function " .. case[1] .. ", running nothing", function()
      local r, seen = make_router{ key = case[2] }
      local status, _, headers = r:handle(request_for(FINAL))
      assert.equal(503, status)
      assert.equal("60", headers["Retry-After"])
      assert.equal(0, seen.runs)
      assert.equal("dedupe", seen.errors[1].kind)
      assert.equal("key_error", seen.errors[1].reason)
      assert.matches(case[3], seen.errors[1].message, 1, true)
    end)
  end
end)

describe("dedupe stores", function()
  it("a broken store never stops processing (a double run beats a lost event)", function()
    local broken = {
      add = function() error("store down") end,
      get = function() return nil end,
      set = function() return true end,
      delete = function() return true end,
    }
    local r, seen = make_router{ store = broken }
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal(2, seen.runs)
    assert.equal("store_error", seen.errors[1].reason)
    assert.matches("store down", seen.errors[1].message, 1, true)
  end)

  it("an add that fails for another reason than 'exists' is a store error too", function()
    local store = {
      add = function() return false, "no memory" end,
      get = function() return "done" end,
      set = function() return true end,
      delete = function() return true end,
    }
    local r, seen = make_router{ store = store }
    assert.equal("ok", select(2, r:handle(request_for(FINAL))))
    assert.equal(1, seen.runs)
    assert.matches("no memory", seen.errors[1].message, 1, true)
  end)

  it("a failed commit is reported but the answer stays 200", function()
    local clock = support.clock()
    local inner = callbacks.dedupe.memory_store{ now = clock.now }
    local store = {
      add = function(_, ...) return inner:add(...) end,
      get = function(_, ...) return inner:get(...) end,
      set = function() return nil, "read-only" end,
      delete = function(_, ...) return inner:delete(...) end,
    }
    local r, seen = make_router({ store = store }, nil, clock)
    assert.equal(200, (r:handle(request_for(FINAL))))
    assert.equal("store_error", seen.errors[1].reason)
    assert.matches("read-only", seen.errors[1].message, 1, true)
  end)

  it("the in-process store is bounded: the oldest key is forgotten first", function()
    local r, seen = make_router{ size = 2 }
    r:handle(request_for(FINAL, "E1"))
    r:handle(request_for(FINAL, "E2"))
    r:handle(request_for(FINAL, "E3"))
    assert.equal(3, seen.runs)
    r:handle(request_for(FINAL, "E3"))
    r:handle(request_for(FINAL, "E2"))
    assert.equal(3, seen.runs)
    r:handle(request_for(FINAL, "E1")) -- forgotten: processed again (the safe direction)
    assert.equal(4, seen.runs)
  end)

  describe("ngx_shared_store", function()
    it("shares keys between workers through the dict, claiming with add", function()
      local clock = support.clock()
      local dict = support.fake_shared_dict(clock)
      local worker1, seen1 = make_router{ store = callbacks.dedupe.ngx_shared_store(dict) }
      local worker2, seen2 = make_router{ store = callbacks.dedupe.ngx_shared_store(dict) }
      assert.equal("ok", select(2, worker1:handle(request_for(FINAL))))
      assert.equal("duplicate", select(2, worker2:handle(request_for(FINAL))))
      assert.equal(1, seen1.runs + seen2.runs)
      assert.equal("done", dict:raw("qs:cb:final_document_generated:E1"))
      assert.same({ "add", "set", "add", "get" }, dict.calls)
    end)

    it("sees a claim in progress in another worker", function()
      local clock = support.clock()
      local dict = support.fake_shared_dict(clock)
      local worker1, seen1 = make_router{ store = callbacks.dedupe.ngx_shared_store(dict) }
      local worker2 = make_router{ store = callbacks.dedupe.ngx_shared_store(dict) }
      local inner
      seen1.behaviour = function() inner = worker2:handle(request_for(FINAL)) end
      worker1:handle(request_for(FINAL))
      assert.equal(503, inner)
    end)

    it("expires keys with the dict's exptime, and releases them on failure", function()
      local clock = support.clock()
      local dict = support.fake_shared_dict(clock)
      local r, seen = make_router({ store = callbacks.dedupe.ngx_shared_store(dict), ttl = 100 }, nil, clock)
      seen.behaviour = function() return nil, "fail" end
      r:handle(request_for(FINAL))
      assert.is_nil(dict:raw("qs:cb:final_document_generated:E1"))
      seen.behaviour = function() end
      r:handle(request_for(FINAL))
      clock.advance(99)
      assert.equal("duplicate", select(2, r:handle(request_for(FINAL))))
      clock.advance(1)
      assert.equal("ok", select(2, r:handle(request_for(FINAL))))
      assert.equal(3, seen.runs)
    end)

    it("refuses what is not a shared dict", function()
      assert.has_error(function() callbacks.dedupe.ngx_shared_store(nil) end,
        "bad argument #1 to 'ngx_shared_store' (shared dict expected, got nil)")
      assert.has_error(function() callbacks.dedupe.ngx_shared_store({ add = print, get = print }) end,
        "bad argument #1 to 'ngx_shared_store' (shared dict expected (no method 'set'))")
    end)
  end)
end)

describe("the deduper object", function()
  it("claims, commits and releases", function()
    local clock = support.clock()
    local d = callbacks.dedupe{ now = clock.now }
    local ev = { event = FINAL, entity_key = "E1" }
    local state, key = d:claim(ev)
    assert.equal("new", state)
    assert.equal("qs:cb:final_document_generated:E1", key)
    assert.equal("in_progress", (d:claim(ev)))
    assert.is_true(d:release(key))
    assert.equal("new", (d:claim(ev)))
    assert.is_true(d:commit(key))
    assert.equal("duplicate", (d:claim(ev)))
    assert.equal("unkeyed", (d:claim({ event = UPDATED, entity_key = "E1" })))
  end)

  it("uses its prefix", function()
    local d = callbacks.dedupe{ prefix = "app1:" }
    local _, key = d:claim({ event = FINAL, entity_key = "E1" })
    assert.equal("app1:final_document_generated:E1", key)
  end)

  it("refuses bad options", function()
    local cases = {
      { { ttl = 0 }, "bad argument #1 to 'dedupe' (option 'ttl' must be a positive number of seconds)" },
      { { pending_ttl = -1 },
        "bad argument #1 to 'dedupe' (option 'pending_ttl' must be a positive number of seconds)" },
      { { key = "x" }, "bad argument #1 to 'dedupe' (option 'key' must be a function)" },
      { { store = {} },
        "bad argument #1 to 'dedupe' (option 'store' must have add, get, set and delete methods)" },
      { { store = callbacks.dedupe.memory_store(), size = 3 },
        "bad argument #1 to 'dedupe' (options 'size' and 'now' apply to the default store only)" },
      { { ttll = 5 }, "bad argument #1 to 'dedupe' (unknown option 'ttll')" },
      { "x", "bad argument #1 to 'dedupe' (table expected, got string)" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(callbacks.dedupe, case[1])
      assert.is_false(ok)
      assert.equal(case[2], (err:gsub("^.-dedupe_spec%.lua:%d+: ", "")))
    end
  end)
end)
