-- What a hostile server, or an unusual but valid caller, must not be able to
-- do to the C core: corrupt memory, crash the Lua state, or draw a secret out.
-- Some of these only fail under valgrind or ASan (scripts/run-tests --valgrind
-- / --asan): the plain run checks the observable result.
local quicklysign = require "quicklysign"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

-- Calls f(...) in a fresh coroutine (a small Lua stack) from a Lua function
-- with `pad` locals, so that the C call starts at a chosen stack depth.
local load_source = loadstring or load   -- luacheck: ignore (Lua 5.1's load takes a function)
local unpack = table.unpack or unpack     -- luacheck: ignore (5.1 and LuaJIT)
local function at_depth(pad, f, ...)
  local names = {}
  for i = 1, pad do names[i] = "x" .. i end
  local src = "local f = ... " .. (pad > 0 and ("local " .. table.concat(names, ", ") .. " = 0 ") or "")
    .. "return f(select(2, ...))"
  local co = coroutine.create(assert(load_source(src)))
  collectgarbage()
  collectgarbage()   -- shrinks the stacks that earlier calls grew
  local res = { coroutine.resume(co, f, ...) }
  assert(res[1], res[2])
  return unpack(res, 2, 3)
end

describe("a hostile server", function()
  it("cannot overflow the Lua stack with JSON nested as deep as the decoder allows", function()
    local c = emulator.client{ max_retries = 0 }
    for _, body in ipairs{ ("["):rep(64) .. "1.5" .. ("]"):rep(64),
                           ('{"a":'):rep(63) .. "1" .. ("}"):rep(63) } do
      for pad = 0, 60, 4 do
        emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = body }
        local wh, err = at_depth(pad, function() return c.webhooks:list() end)
        assert.is_nil(wh)
        assert.are.equal("protocol", err.kind)
        assert.are.equal("not_envelope", err.reason)
        assert.truthy(err.message:find("not a QuicklySign envelope", 1, true))
      end
    end
  end)
end)

describe("a hostile envelope", function()
  it("cannot pass a status_code that no HTTP status is", function()
    local c = emulator.client{ max_retries = 0 }
    for _, code in ipairs{ "1e300", "-1e300", "1e400", "4294967496", "-200" } do
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
        body = '{"status":{"status_code":' .. code .. '},"data":{"webhooks":[]}}' }
      local wh, err = c.webhooks:list()
      assert.is_nil(wh, code)
      assert.are.equal("protocol", err.kind, code)
      assert.are.equal("not_envelope", err.reason, code)
      assert.are.equal(200, err.status, code)
    end
  end)
end)

-- Every string reachable from v (keys too), down to a few levels.
local function all_text(v)
  local out = {}
  local function walk(x, depth)
    if type(x) ~= "table" then out[#out + 1] = tostring(x) return end
    if depth > 5 then return end
    for k, y in pairs(x) do
      out[#out + 1] = tostring(k)
      walk(y, depth + 1)
    end
  end
  walk(v, 0)
  return table.concat(out, "\n")
end

local function assert_no_secret(v, secrets)
  local text = all_text(v)
  for _, s in ipairs(secrets or { emulator.client_secret, emulator.api_key }) do
    assert.falsy(text:find(s, 1, true), text)
  end
end

describe("redaction", function()
  it("covers the warnings and information of last_response and on_warning", function()
    local SECRET = emulator.client_secret
    local seen = {}
    local c = emulator.client{ on_warning = function(w, info) seen[#seen + 1] = { w, info } end }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = '{"status":{"status_code":200,"warnings":[{"code":"echo","message":"you sent ' .. SECRET
        .. '","detail":{"' .. SECRET .. '":"' .. SECRET .. '"}}],"information":"' .. SECRET
        .. '"},"data":{"webhooks":[]}}' }
    assert.are.same({}, assert(c.webhooks:list()))
    local last = c:last_response()
    assert.are.equal("echo", last.warnings[1].code)
    assert.truthy(last.warnings[1].message:find("[REDACTED]", 1, true))
    assert_no_secret(last)
    assert.are.equal(1, #seen)
    assert_no_secret(seen)
  end)
end)

describe("redaction of an echoed secret", function()
  -- A secret with characters that URLs and JSON escape.
  local ODD = "s3cr+t/w1th=odd&chars"
  local function forms(s)
    local upper = s:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end)
    local lower = s:gsub("[^%w%-%._~]", function(ch) return ("%%%02x"):format(ch:byte()) end)
    return { s, upper, lower, (s:gsub("/", "\\/")) }
  end

  it("catches it percent-encoded (either case) and JSON-escaped, wherever it appears", function()
    local c = emulator.client{ client_secret = ODD, api_key = ODD:reverse() }
    local f = forms(ODD)
    local k = forms(ODD:reverse())
    local function json_str(s) return (s:gsub("\\", "\\\\")) end
    -- the client mints a token before its first webhook call: the echo comes from there
    emulator:fault{ method = "POST", path_prefix = "/v1/access_tokens", count = 1, status = 400,
      body = '{"status":{"status_code":400,"errors":[{"code":"bad","message":"query client_id=x&client_secret='
        .. f[2] .. ' or ' .. f[3] .. ' or ' .. json_str(f[4]) .. ' key ' .. k[2] .. ' ' .. json_str(k[4])
        .. '"}]}}' }
    local _, err = c.webhooks:list()
    assert.are.equal("bad", err.code)
    assert.truthy(err.message:find("[REDACTED]", 1, true))
    local secrets = {}
    for _, s in ipairs(f) do secrets[#secrets + 1] = s end
    for _, s in ipairs(k) do secrets[#secrets + 1] = s end
    assert_no_secret(err, secrets)
    assert_no_secret({ tostring(err) }, secrets)
  end)
end)

describe("redaction of a secret holding '%XX' and a '/'", function()
  it("catches it JSON-escaped, its '%XX' left as it is", function()
    local PCT = "ab/c%41xyz%25%2"
    local c = emulator.client{ client_secret = PCT, max_retries = 0, api_key = false }
    local escaped = PCT:gsub("/", "\\/")   -- as cjson writes it in a create's body
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 400,
      body = "your body was {\"client_secret\":\"" .. escaped .. "\"}" }
    local _, err = c.webhooks:list()
    assert.truthy(err.message:find("[REDACTED]", 1, true), err.message)
    assert.falsy(err.message:find("c%41xyz", 1, true), err.message)
  end)
end)

describe("redaction of a non-envelope body", function()
  it("happens before the body is cut to a one-line snippet", function()
    local SECRET = emulator.client_secret
    local c = emulator.client{ max_retries = 0, api_key = false }   -- the fault answers the list itself
    for cut = 1, #SECRET - 1, 3 do   -- the 120-byte cap falls inside the secret
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 400,
        body = ("x"):rep(120 - cut) .. SECRET .. " tail" }
      local _, err = c.webhooks:list()
      assert.are.equal("http", err.kind)
      assert.are.equal(400, err.status)
      assert.truthy(err.message:find("^HTTP 400: xxx"))
      local shown = SECRET:sub(1, math.max(cut, 6))   -- (the url shows the client_id, a near twin)
      assert.falsy(err.message:find(shown, 1, true), err.message)
    end
  end)
end)

describe("redaction of a long non-envelope body", function()
  it("never leaves part of an encoded secret at the edge of what is kept", function()
    local ODD = "s3cr+t/w1th=odd&chars"
    local enc = ODD:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end)
    local c = emulator.client{ client_secret = ODD, max_retries = 0, api_key = false }
    for k = 1, 5 do
      for skew = 0, #enc, 4 do
        emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 400,
          body = ("x"):rep(skew) .. (enc .. " "):rep(k * 3) }
        local _, err = c.webhooks:list()
        assert.are.equal(400, err.status)
        assert.falsy(err.message:find(enc:sub(1, 6), 1, true), err.message)
      end
    end
  end)
end)

describe("arguments read through __index", function()
  -- Each field is a fresh string (as from os.getenv or a string builder:
  -- long, so not shared with the interned copy), and looking up a field runs
  -- a full collection first.
  local function lazy(fields)
    return setmetatable({}, { __index = function(_, k)
      collectgarbage()
      collectgarbage()
      local v = fields[k]
      if type(v) == "string" then return (v .. "#"):sub(1, -2) end
      return v
    end })
  end

  it("stay alive while the call uses them", function()
    local c = emulator.client()
    local entity = emulator:create_pack{ key = ("entity_"):rep(8) .. os.time(),
      documents = { { name = "Doc" } } }.key
    local cb = "http://127.0.0.1:9/" .. ("cb"):rep(40)
    local wh = assert(c.webhooks:create(lazy{ entity_key = entity, callback = cb .. "1" }))
    assert.are.equal(entity, wh.entity_key)
    assert.are.equal(cb .. "1", wh.callback)
    local got, created = c.webhooks:ensure(lazy{ entity_key = entity, callback = cb .. "2" })
    assert.is_true(created)
    assert.are.equal(entity, got.entity_key)
    assert.are.equal(cb .. "2", got.callback)
    assert.are.equal(2, #assert(c.webhooks:list(lazy{ entity_key = entity })))
    assert.are.same({}, assert(c.webhooks:logs(lazy{ entity_key = entity })))
  end)

  it("of new() stay alive while new() uses them", function()
    local base = emulator.base_url .. ("/"):rep(40)   -- long, so never interned; the slashes are dropped
    local c = quicklysign.new(lazy{ client_id = emulator.client_id, client_secret = emulator.client_secret,
      base_url = base, timeout = 10, user_agent = ("agent/"):rep(10), ca_file = "/nonexistent/" .. ("ca/"):rep(20),
      api_key = emulator.webhooks_need_token and emulator.api_key or nil })
    assert.are.equal(emulator.base_url, c.base_url)
    assert.are.equal("custom", c.environment)
    assert.are.same({}, assert(c.webhooks:list()))
  end)
end)

describe("tostring of an error", function()
  it("keeps the fields it joins alive, whatever produced them", function()
    -- Numbers are turned into strings that only the stack holds; so are the
    -- results of an __index function. Each lookup here runs a collection.
    local error_tostring = getmetatable(quicklysign.as_error{}).__tostring
    local t = setmetatable({ status = 503 }, { __index = function(_, k)
      collectgarbage()
      collectgarbage()
      if k == "code" then return 12.5 end
      return (k .. ("!"):rep(50) .. "#"):sub(1, -2)
    end })
    local bang = ("!"):rep(50)
    assert.are.equal(("quicklysign: kind%s error 503 12.5: message%s (method%s url%s)"):format(bang, bang, bang, bang),
      error_tostring(t))
    assert.are.equal("quicklysign: 1.5 error 2.5: 3.5 (4.5 5.5)",
      tostring(quicklysign.as_error{ kind = 1.5, code = 2.5, message = 3.5, method = 4.5, url = 5.5 }))
  end)
end)

describe("an answer without the expected data", function()
  local function envelope(extra)
    return '{"status":{"status_code":200},' .. extra .. '}'
  end

  it("returns nil and a protocol error", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    local calls = {
      { "POST", "/v1/webhooks",
        function() return c.webhooks:create{ entity_key = "e", callback = "http://127.0.0.1:9/cb" } end },
      { "GET", "/v1/webhooks/", function() return c.webhooks:get("k") end },
      { "GET", "/v1/document_packs/", function() return c.document_packs:get("p") end },
      { "GET", "/v1/document_packs/", function() return c.document_packs:download("p", os.tmpname() .. ".d") end },
    }
    for _, call in ipairs(calls) do
      emulator:fault{ method = call[1], path_prefix = call[2], count = 1, status = 200, body = envelope('"data":{}') }
      local v, err = call[3]()
      assert.is_nil(v, call[2])
      assert.is_true(quicklysign.is_error(err))
      assert.are.equal("protocol", err.kind)
      assert.are.equal("missing_data", err.reason)
      assert.are.equal(200, err.status)
      assert.truthy(err.message:find("^the answer has no data%."), err.message)
    end
  end)

  it("names the request it answered", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    local base = emulator.base_url

    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = envelope('"data":{}') }
    local _, err = c.webhooks:create{ entity_key = "e", callback = "http://127.0.0.1:9/cb" }
    assert.are.equal("the answer has no data.webhook", err.message)
    assert.are.equal("POST", err.method)
    assert.are.equal(base .. "/webhooks", err.url)

    emulator:fault{ method = "POST", path_prefix = "/v1/access_tokens", count = 1, status = 200,
      body = envelope('"data":{}') }
    local fresh = emulator.client{ api_key = emulator.api_key, max_retries = 0 }   -- no token yet
    local _, err2 = fresh.document_packs:get("p")
    assert.are.equal("the access token answer has no usable data.access_token", err2.message)
    assert.are.equal(base .. "/access_tokens", err2.url)

    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = envelope('"data":{"webhooks":[]},"pagination":{"next":"http://elsewhere.example/v1/webhooks"}') }
    local _, err3 = c.webhooks:list()
    assert.are.equal("cross_origin_next", err3.reason)
    assert.truthy(err3.message:find("away from the API's origin", 1, true))
    assert.are.equal(base .. "/webhooks?client_id=" .. emulator.client_id .. "&client_secret=REDACTED", err3.url)

    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 2, status = 200,
      body = envelope('"data":{"webhooks":[]},"pagination":{"next":"same"}') }
    local _, err4 = c.webhooks:list()
    assert.are.equal("pagination_loop", err4.reason)
    assert.truthy(err4.message:find("repeats itself", 1, true))
    assert.are.equal(base .. "/webhooks?cursor=same&client_id=" .. emulator.client_id .. "&client_secret=REDACTED",
      err4.url)
  end)
end)

describe("a string argument with a NUL byte", function()
  it("is refused, naming the argument, instead of cut short at the NUL", function()
    local c = emulator.client{ api_key = emulator.api_key }
    local entity = emulator.new_entity()
    assert(c.webhooks:create{ entity_key = entity, callback = "http://127.0.0.1:9/cb" })
    local cases = {
      { function() return c.webhooks:delete_by_entity(entity .. "\0other") end, "entity_key" },
      { function() return c.webhooks:delete(entity .. "\0") end, "webhook_key" },
      { function() return c.webhooks:get("k\0") end, "webhook_key" },
      { function() return c.webhooks:list{ entity_key = entity .. "\0x" } end, "entity_key" },
      { function() return c.webhooks:create{ entity_key = entity .. "\0x", callback = "http://127.0.0.1:9/cb" } end,
        "entity_key" },
      { function() return c.webhooks:ensure{ entity_key = entity, callback = "http://127.0.0.1:9/cb\0x" } end,
        "callback" },
      { function() return c.webhooks:logs{ webhook_key = "w\0x" } end, "webhook_key" },
      { function() return c.document_packs:get(entity .. "\0x") end, "pack_key" },
      { function() return c.document_packs:download(entity, "/tmp/x\0y") end, "dir" },
      { function() return c:download(emulator.base_url .. "/x\0y", "/tmp/x") end, "the URL" },
      { function() return c:download(emulator.base_url .. "/x", "/tmp/x\0y") end, "the path" },
    }
    for i, case in ipairs(cases) do
      local ok, err = pcall(case[1])
      assert.is_false(ok, "case " .. i)
      assert.truthy(err:find("bad argument", 1, true), err)
      assert.truthy(err:find(case[2], 1, true), err)
      assert.truthy(err:find("NUL", 1, true), err)
    end
    -- nothing was deleted on the way
    assert.are.equal(1, #assert(c.webhooks:list{ entity_key = entity }))
  end)
end)

describe("a failed download with a large error body", function()
  it("is reported with its status and retried, its body cut to a snippet", function()
    emulator:config{ serve_pdf_host = "api", pdf_redirect = "none", pdf_body = "pdf" }   -- the API's PDF path
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 2 }
    local pack = emulator:create_pack()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents", count = 3,
      status = 503, body_bytes = 200000 }
    local bytes, err = c:download(pack.documents[1].serve_pdf_url, dir .. "/x.pdf")
    assert.is_nil(bytes)
    assert.are.equal("http", err.kind)
    assert.are.equal(503, err.status)
    assert.is_true(err.retryable)
    assert.are.equal(3, err.attempts)
    assert.truthy(err.message:find("^HTTP 503: "))
    assert.is_true(os.remove(dir))   -- empty: no temporary file left
  end)
end)

describe("closing a client while a call on it is under way", function()
  -- An object that closes its client when it is collected: dropped while the
  -- client is still in use, its finalizer runs in the middle of a call.
  local fired = false
  local function owned_webhooks()
    -- a call's timeout covers its pages; decoding ~4 MB under valgrind takes more than 10 s
    local client = emulator.client{ max_retries = 0, timeout = 300 }
    local owner = setmetatable({ client = client }, { __gc = function(self)
      fired = true
      self.client:close()
    end })
    return owner.client.webhooks
  end

  it("from a finalizer: the call finishes, the client is closed after it", function()
    local items = {}
    for i = 1, 60000 do items[i] = '{"key":"k' .. i .. '","callback":"http://127.0.0.1:9/' .. i .. '"}' end
    local body = '{"status":{"status_code":200},"data":{"webhooks":[' .. table.concat(items, ",")
      .. ']},"pagination":{"next":"c2"}}'
    items = nil   -- luacheck: ignore 311
    local exercised = false
    -- lua5.4 (lua.c) starts its collector in generational mode, where an object that lived
    -- through minor collections waits for a major one: with a heap grown by the specs before
    -- this one, none came within the call. The incremental collector, collecting often, ends a
    -- cycle (and runs the finalizer) inside the ~4 MB decode.
    if _VERSION == "Lua 5.4" then
      local mode = collectgarbage("incremental", 100, 200)
      finally(function() collectgarbage(mode) end)
    end
    for _ = 1, 20 do   -- a heap grown by the specs before this one may take more tries
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = body }
      collectgarbage()
      fired = false
      -- Decoding ~4 MB allocates more than the whole heap: the collector runs
      -- and the owner's finalizer closes the client in the middle of the call.
      local webhooks = owned_webhooks()
      local ok, list, err = pcall(webhooks.list, webhooks)
      local fired_during = ok and fired
      if ok then
        assert.is_nil(list)   -- page 2's cursor is not one the emulator gave
        assert.are.equal("invalid_field", err.code, tostring(err))
      else   -- the finalizer came first: the call was refused
        assert.truthy(tostring(list):find("attempt to use a closed quicklysign client", 1, true))
        emulator:clear_faults()
      end
      collectgarbage()
      collectgarbage()
      if fired then
        assert.has_error(function() webhooks:list() end, "attempt to use a closed quicklysign client")
      end
      exercised = fired_during
      if exercised then break end
    end
    -- When the collector runs finalizers is up to it; Lua 5.4's does it mid-call within a few tries.
    if _VERSION == "Lua 5.4" then assert.is_true(exercised) end
  end)

  it("from an argument's __index: the call is refused, nothing is used after close", function()
    local c = emulator.client{ max_retries = 0 }
    local args = setmetatable({}, { __index = function(_, k)
      if k == "callback" then c:close() return "http://127.0.0.1:9/cb" end
      return "entity"
    end })
    assert.has_error(function() c.webhooks:create(args) end, "attempt to use a closed quicklysign client")
    assert.is_true(c:is_closed())
  end)

  it("from an argument's __index: another call on the same client is refused, not interleaved", function()
    local c = emulator.client{ max_retries = 0 }
    local entity = emulator.new_entity()
    local inner
    local args = setmetatable({}, { __index = function(_, k)
      if k == "entity_key" then inner = { pcall(c.webhooks.list, c.webhooks) } end
      return k == "entity_key" and entity or nil
    end })
    assert.are.same({}, assert(c.webhooks:list(args)))
    assert.is_true(inner[1])   -- the outer call had not begun: nothing to interleave with
    assert.are.same({}, assert(c.webhooks:list()))
  end)
end)
