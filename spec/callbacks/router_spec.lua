local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local callbacks = require "quicklysign.callbacks"

local TOKEN = support.TOKEN

local function make_router(opts)
  local log, lines = support.recorder()
  local o = { token = TOKEN, log = log }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r = callbacks.router(o)
  local seen = { calls = {}, errors = {} }
  r:on_error(function(err, ev) seen.errors[#seen.errors + 1] = { err = err, ev = ev } end)
  return r, seen, lines
end

local function with_body(body, content_type)
  return support.request{ body = body, headers = { ["Content-Type"] = content_type or "application/json" } }
end

describe("router:handle answers", function()
  local cases = {
    { "a good callback", support.request(), 200, "ok" },
    { "GET", support.request{ method = "GET" }, 405, "method not allowed", "request", "method" },
    { "lower-case post", support.request{ method = "post" }, 405, "method not allowed", "request", "method" },
    { "no method", support.request{ method = false }, 405, "method not allowed", "request", "method" },
    { "no token", support.request{ query = {} }, 403, "forbidden", "auth", "token_missing" },
    { "a wrong token", support.request{ query = { token = "nope" } }, 403, "forbidden", "auth",
      "token_mismatch" },
    { "text/plain", with_body(support.body(), "text/plain"), 415, "unsupported media type", "parse", "content_type" },
    { "no content type", support.request{ headers = {} }, 415, "unsupported media type", "parse", "content_type" },
    { "no headers at all", support.request{ headers = false }, 415, "unsupported media type", "parse", "content_type" },
    { "two content types",
      support.request{ headers = { ["content-type"] = { "application/json", "application/json" } } },
      415, "unsupported media type", "parse", "content_type" },
    { "a body over the cap", with_body(string.rep(" ", 64 * 1024) .. support.body()), 413, "payload too large",
      "parse", "too_large" },
    { "a Content-Length over the cap", support.request{ headers = { ["Content-Type"] = "application/json",
      ["Content-Length"] = tostring(64 * 1024 + 1) } }, 413, "payload too large", "parse", "too_large" },
    { "no body", support.request{ body = false }, 400, "bad request", "parse", "no_body" },
    { "a numeric body", support.request{ body = 42 }, 400, "bad request", "parse", "not_json" },
    { "not JSON", with_body("hello"), 400, "bad request", "parse", "not_json" },
    { "a JSON array", with_body("[1,2]"), 400, "bad request", "parse", "not_object" },
    { "a nesting bomb", with_body(string.rep("[", 60000)), 400, "bad request", "parse", "too_deep" },
    { "no entity_key", with_body('{"callback_event":"e"}'), 400, "bad request", "parse", "missing_field" },
    { "a numeric entity_key", with_body('{"callback_event":"e","entity_key":1}'), 400, "bad request",
      "parse", "bad_field" },
  }
  for _, case in ipairs(cases) do
    it(case[3] .. " for " .. case[1], function()
      local r, seen = make_router()
      local handled = 0
      r:on_any(function() handled = handled + 1 end)
      local req = case[2]
      for k, v in pairs(req) do if v == false then req[k] = nil end end
      local status, body, headers = r:handle(req)
      assert.equal(case[3], status)
      assert.equal(case[4], body)
      assert.equal("text/plain; charset=utf-8", headers["Content-Type"])
      if case[5] then
        assert.equal(0, handled)
        assert.equal(1, #seen.errors)
        assert.equal(case[5], seen.errors[1].err.kind)
        assert.equal(case[6], seen.errors[1].err.reason)
        assert.equal(case[3], seen.errors[1].err.status)
        assert.is_nil(seen.errors[1].ev)
      else
        assert.equal(1, handled)
        assert.equal(0, #seen.errors)
      end
    end)
  end

  it("405 with an Allow header", function()
    local r = make_router()
    local _, _, headers = r:handle(support.request{ method = "PUT" })
    assert.equal("POST", headers.Allow)
  end)

  it("200 for unknown events, with or without handlers", function()
    local r, seen = make_router()
    local any = 0
    r:on("final_document_generated", function() error("must not run") end)
    assert.equal(200, (r:handle(with_body('{"callback_event":"brand_new","entity_key":"k"}'))))
    r:on_any(function() any = any + 1 end)
    assert.equal(200, (r:handle(with_body('{"callback_event":"brand_new","entity_key":"k"}'))))
    assert.equal(1, any)
    assert.equal(0, #seen.errors)
  end)

  it("bodies that never say why a request was refused", function()
    local r = make_router()
    local _, body = r:handle(support.request{ query = { token = "wrong" } })
    assert.equal("forbidden", body)
    local _, body2 = r:handle(with_body("[]"))
    assert.equal("bad request", body2)
  end)

  it("403 before 415: the token is checked before the content type", function()
    local r, seen = make_router()
    local req = with_body("x", "text/plain")
    req.query = {}
    assert.equal(403, (r:handle(req)))
    assert.equal("token_missing", seen.errors[1].err.reason)
  end)

  it("honours max_body and max_depth options", function()
    local r, seen = make_router{ max_body = 100, max_depth = 2 }
    assert.equal(413, (r:handle(with_body(support.body() .. string.rep(" ", 100)))))
    assert.equal(400, (r:handle(with_body('{"callback_event":"e","entity_key":"k","x":[[1]]}'))))
    assert.equal("too_deep", seen.errors[2].err.reason)
    assert.equal(200, (r:handle(with_body('{"callback_event":"e","entity_key":"k","x":[1]}'))))
  end)
end)

describe("router handlers", function()
  it("run in order: the event's own handlers, then on_any", function()
    local r = make_router()
    local order = {}
    r:on_any(function() order[#order + 1] = "any1" end)
    r:on("final_document_generated", function() order[#order + 1] = "final1" end)
    r:on("entity_updated", function() order[#order + 1] = "updated" end)
    r:on("final_document_generated", function() order[#order + 1] = "final2" end)
    r:on_any(function() order[#order + 1] = "any2" end)
    assert.equal(200, (r:handle(support.request())))
    assert.same({ "final1", "final2", "any1", "any2" }, order)
    order = {}
    assert.equal(200, (r:handle(with_body(support.body{ event = "entity_updated" }))))
    assert.same({ "updated", "any1", "any2" }, order)
  end)

  it("receive the parsed event", function()
    local r = make_router()
    local got
    r:on("final_document_generated", function(ev) got = ev end)
    r:handle(with_body(support.body{ subscription_key = "S1" }))
    assert.equal("final_document_generated", got.event)
    assert.equal(support.ENTITY, got.entity_key)
    assert.equal("Document", got.entity_type)
    assert.equal("S1", got.webhook_key)
    assert.equal("S1", got.raw.subscription_key)
  end)

  it("are chainable to register", function()
    local r = make_router()
    assert.equal(r, r:on("x", function() end))
    assert.equal(r, r:on_any(function() end))
    assert.equal(r, r:on_error(function() end))
  end)

  describe("that fail", function()
    local failing = {
      { "raise a string", function() error("boom", 0) end, true, "boom" },
      { "raise a table", function() error({ code = 7 }) end, true, nil },
      { "return nil, err", function() return nil, "no disk" end, false, "no disk" },
      { "return false, err", function() return false, "no disk" end, false, "no disk" },
    }
    for _, case in ipairs(failing) do
      it(case[1] .. ": reported, answered 500 so the vendor retries, the other handlers still run", function()
        local r, seen, lines = make_router()
        local ran = {}
        r:on("final_document_generated", function() ran[#ran + 1] = 1 end)
        r:on("final_document_generated", case[2])
        r:on_any(function() ran[#ran + 1] = 3 end)
        local status, body = r:handle(support.request())
        assert.equal(500, status)   -- a 200 here lost the work: the vendor never resends after one
        assert.equal("internal error", body)
        assert.same({ 1, 3 }, ran)
        assert.equal(1, #seen.errors)
        local err = seen.errors[1].err
        assert.equal("handler", err.kind)
        assert.equal("handler_error", err.reason)
        assert.equal(support.ENTITY, seen.errors[1].ev.entity_key)
        assert.matches(case[3] and "raised" or "returned an error", err.message, 1, true)
        if case[4] then assert.matches(case[4], err.message, 1, true) end
        if case[4] and not case[3] then assert.equal(case[4], err.cause) end
        assert.equal("error", lines[#lines].level)
        assert.matches("handler_error", lines[#lines].msg, 1, true)
      end)

      it(case[1] .. ": answered 500 with retry_on_handler_error", function()
        local r, seen = make_router{ retry_on_handler_error = true }
        r:on_any(case[2])
        local status, body = r:handle(support.request())
        assert.equal(500, status)
        assert.equal("internal error", body)
        assert.equal(1, #seen.errors)
      end)
    end

    it("one report per failing handler", function()
      local r, seen = make_router()
      r:on("final_document_generated", function() error("a") end)
      r:on_any(function() return nil, "b" end)
      r:on_any(function() end)
      assert.equal(500, (r:handle(support.request())))
      assert.equal(2, #seen.errors)
    end)

    it("returning nothing, true, or a value is success", function()
      local r, seen = make_router{ retry_on_handler_error = true }
      r:on_any(function() end)
      r:on_any(function() return true end)
      r:on_any(function() return nil end)
      r:on_any(function() return "x", "y" end)
      assert.equal(200, (r:handle(support.request())))
      assert.equal(0, #seen.errors)
    end)
  end)
end)

describe("on_error and the log", function()
  it("hooks run in order and a raising hook is only logged", function()
    local r, _, lines = make_router()
    local order = {}
    r:on_error(function() order[#order + 1] = "a"; error("hook bug") end)
    r:on_error(function() order[#order + 1] = "b" end)
    assert.equal(403, (r:handle(support.request{ query = {} })))
    assert.same({ "a", "b" }, order)
    local found = false
    for _, line in ipairs(lines) do
      if line.msg:find("on_error hook raised", 1, true) and line.msg:find("hook bug", 1, true) then found = true end
    end
    assert.is_true(found)
  end)

  it("a raising logger changes nothing", function()
    local r = callbacks.router{ token = TOKEN, log = function() error("logger down") end }
    assert.equal(403, (r:handle(support.request{ query = {} })))
    assert.equal(200, (r:handle(support.request())))
  end)

  it("log = false silences it", function()
    local r = callbacks.router{ token = TOKEN, log = false }
    assert.equal(403, (r:handle(support.request{ query = {} })))
  end)

  it("warns once, when it first receives, when no authenticity layer is configured", function()
    local log, lines = support.recorder()
    local open = callbacks.router{ log = log }
    assert.equal(0, #lines)   -- a worker's router never receives: no warning for it
    open:handle(support.request())
    open:handle(support.request())
    assert.equal(1, #lines)
    assert.equal("warn", lines[1].level)
    assert.matches("no authenticity layer", lines[1].msg, 1, true)
    local log2, lines2 = support.recorder()
    callbacks.router{ log = log2, allow = {} }
    assert.equal(0, #lines2)
  end)

  it("defaults to ngx.log inside OpenResty", function()
    local logged = {}
    local saved = rawget(_G, "ngx")
    rawset(_G, "ngx", { ERR = 4, WARN = 5, INFO = 7, now = function() return 123.5 end,
      log = function(level, msg) logged[#logged + 1] = { level, msg } end })
    local ok, err = pcall(function()
      local r = callbacks.router{ token = TOKEN }
      r:handle(support.request{ query = {} })
      r:on_any(function() error("x") end)
      r:handle(support.request())
      assert.equal(5, logged[1][1])
      assert.matches("token_missing", logged[1][2], 1, true)
      assert.equal(4, logged[2][1])
      assert.equal(123.5, require("quicklysign.callbacks.host").now())
    end)
    rawset(_G, "ngx", saved)
    assert(ok, err)
  end)

  it("defaults to stderr elsewhere, warnings and errors only", function()
    local host = require "quicklysign.callbacks.host"
    local real_stderr, written = io.stderr, {}
    io.stderr = { write = function(_, ...) written[#written + 1] = table.concat({ ... }) end } -- luacheck: ignore
    local ok, err = pcall(function()
      host.log("info", "quiet")
      host.log("warn", "loud")
    end)
    io.stderr = real_stderr -- luacheck: ignore
    assert(ok, err)
    assert.same({ "quicklysign.callbacks warn: loud\n" }, written)
  end)
end)

describe("router:handle never raises", function()
  local garbage = {
    "nil request", nil,
    "a string", "POST / HTTP/1.1",
    "a number", 42,
    "a function", function() end,
    "empty", {},
    "nil headers", { method = "POST", query = { token = TOKEN }, body = support.body() },
    "numeric headers", { method = "POST", headers = 5, query = { token = TOKEN }, body = support.body() },
    "odd header names", { method = "POST", headers = { [1] = "x", [true] = "y", ["CONTENT-TYPE"] = "application/json" },
      query = { token = TOKEN }, body = support.body() },
    "numeric body", { method = "POST", headers = { ["Content-Type"] = "application/json" }, query = { token = TOKEN },
      body = 12 },
    "table body", { method = "POST", headers = { ["Content-Type"] = "application/json" }, query = { token = TOKEN },
      body = {} },
    "numeric query", { method = "POST", query = 7, body = support.body() },
    "table method", { method = {}, body = support.body() },
    "numeric content-length", { method = "POST", headers = { ["Content-Type"] = "application/json",
      ["Content-Length"] = "NaN" }, query = { token = TOKEN }, body = support.body() },
  }
  for i = 1, #garbage, 2 do
    it("on " .. garbage[i], function()
      local r = make_router()
      local ok, status, body, headers = pcall(r.handle, r, garbage[i + 1])
      assert.is_true(ok, tostring(status))
      assert.is_number(status)
      assert.is_string(body)
      assert.is_table(headers)
    end)
  end

  it("even when the router itself breaks, answering 500", function()
    local r, _, lines = make_router()
    r.handlers = nil -- simulate a bug in dispatch
    local status, body = r:handle(support.request())
    assert.equal(500, status)
    assert.equal("internal error", body)
    assert.matches("internal error", lines[#lines].msg, 1, true)
  end)
end)

describe("router:verify and router:dispatch", function()
  it("split handle in two: checks, then handlers", function()
    local r = make_router()
    local ran = 0
    r:on_any(function() ran = ran + 1 end)
    local ev = r:verify(support.request())
    assert.equal("final_document_generated", ev.event)
    assert.equal(0, ran)
    assert.equal(200, (r:dispatch(ev)))
    assert.equal(1, ran)
    local none, status, body, headers = r:verify(support.request{ query = {} })
    assert.is_nil(none)
    assert.equal(403, status)
    assert.equal("forbidden", body)
    assert.is_table(headers)
  end)

  it("dispatch refuses something that is not an event, with 500", function()
    local r = make_router()
    assert.equal(500, (r:dispatch(nil)))
    assert.equal(500, (r:dispatch({ event = 1 })))
  end)

  it("dispatch takes an event from callbacks.parse", function()
    local r = make_router()
    local ran = 0
    r:on("final_document_generated", function() ran = ran + 1 end)
    assert.equal(200, (r:dispatch(callbacks.parse(support.body()))))
    assert.equal(1, ran)
  end)
end)

describe("argument misuse raises, naming the argument", function()
  local r = callbacks.router{ token = TOKEN, log = false }
  local cases = {
    { function() r:on(nil, function() end) end, "bad argument #1 to 'on' (string expected, got nil)" },
    { function() r:on("", function() end) end, "bad argument #1 to 'on' (non-empty string expected)" },
    { function() r:on("x") end, "bad argument #2 to 'on' (function expected, got nil)" },
    { function() r:on("x", "f") end, "bad argument #2 to 'on' (function expected, got string)" },
    { function() r:on_any(5) end, "bad argument #1 to 'on_any' (function expected, got number)" },
    { function() r:on_error() end, "bad argument #1 to 'on_error' (function expected, got nil)" },
    { function() callbacks.router("x") end, "bad argument #1 to 'router' (table expected, got string)" },
    { function() callbacks.router{ tokn = TOKEN } end, "bad argument #1 to 'router' (unknown option 'tokn')" },
    { function() callbacks.router{ token = TOKEN, token_param = "" } end,
      "bad argument #1 to 'router' (option 'token_param' must be a non-empty string)" },
    { function() callbacks.router{ token = TOKEN, retry_on_handler_error = false } end,
      "bad argument #1 to 'router' (option 'retry_on_handler_error' can only be true: a failed handler always "
      .. "answers 500, so that the vendor retries (a 200 would lose the work); give the router an inbox to "
      .. "answer at once)" },
    { function() callbacks.router{ token = TOKEN, max_body = 0 } end,
      "bad argument #1 to 'router' (option 'max_body' must be a positive integer (bytes))" },
    { function() callbacks.router{ token = TOKEN, max_depth = 1.5 } end,
      "bad argument #1 to 'router' (option 'max_depth' must be a positive integer)" },
    { function() callbacks.router{ token = TOKEN, log = "stderr" } end,
      "bad argument #1 to 'router' (option 'log' must be a function or false)" },
    { function() callbacks.router{ token = TOKEN, now = 5 } end,
      "bad argument #1 to 'router' (option 'now' must be a function)" },
    { function() callbacks.router{ token = TOKEN, dedupe = {} } end,
      "bad argument #1 to 'router' (option 'dedupe' must be true or an object made by callbacks.dedupe{...})" },
  }
  for _, case in ipairs(cases) do
    it(case[2], function()
      local ok, err = pcall(case[1])
      assert.is_false(ok)
      -- the message points at the caller's line (this spec), then says what was wrong
      assert.matches("router_spec.lua:%d+: ", err)
      assert.equal(case[2], (err:gsub("^.-router_spec%.lua:%d+: ", "")))
    end)
  end

  it("accepts callable tables as handlers", function()
    local calls = 0
    local callable = setmetatable({}, { __call = function() calls = calls + 1 end })
    local r2 = callbacks.router{ token = TOKEN, log = false }
    r2:on("final_document_generated", callable)
    r2:on_any(callable)
    assert.equal(200, (r2:handle(support.request())))
    assert.equal(2, calls)
  end)
end)

describe("router:on with an event name quicklysign does not know", function()
  it("warns once, suggesting the name meant, and still registers it", function()
    local log, lines = support.recorder()
    local r = callbacks.router{ token = TOKEN, log = log }
    local ran = 0
    r:on("final_document_generatd", function() ran = ran + 1 end)
    r:on("final_document_generatd", function() ran = ran + 1 end)
    assert.equal(1, #lines)
    assert.equal("warn", lines[1].level)
    assert.matches("'final_document_generatd' is not an event quicklysign knows; did you mean "
      .. "'final_document_generated'?", lines[1].msg, 1, true)
    r:on("entity_updated", function() end)
    assert.equal(1, #lines)   -- a known name says nothing
  end)

  it("raises with strict = true, naming the argument", function()
    local r = callbacks.router{ token = TOKEN, log = false, strict = true }
    local ok, err = pcall(r.on, r, "final_document_generatd", function() end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'on' ('final_document_generatd' is not an event quicklysign knows; "
      .. "did you mean 'final_document_generated'?", err, 1, true)
  end)

  it("lists the known names", function()
    local names = callbacks.events.list()
    assert.same({ "audit_trail_updated", "document_status_changed", "document_updated", "entity_updated",
      "final_document_generated", "signatory_updated" }, names)
    names[1] = "changed"
    assert.equal("audit_trail_updated", callbacks.events.list()[1])
    assert.is_true(callbacks.events.is_known("entity_updated"))
    assert.is_false(callbacks.events.is_known("entity_update"))
  end)
end)
