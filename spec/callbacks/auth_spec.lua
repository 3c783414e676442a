local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local callbacks = require "quicklysign.callbacks"
local auth = require "quicklysign.callbacks.auth"

local TOKEN = support.TOKEN

-- A router that records what its handlers and hooks saw.
local function make_router(opts)
  local log, lines = support.recorder()
  opts.log = log
  local r = callbacks.router(opts)
  local seen = { handled = 0, errors = {} }
  r:on_any(function() seen.handled = seen.handled + 1 end)
  r:on_error(function(err) seen.errors[#seen.errors + 1] = err end)
  return r, seen, lines
end

describe("constant_time_equals", function()
  local eq = callbacks.constant_time_equals

  it("is true only for equal strings", function()
    assert.is_true(eq("", ""))
    assert.is_true(eq("abc", "abc"))
    assert.is_true(eq(TOKEN, TOKEN .. ""))
    assert.is_false(eq("abc", "abd"))
    assert.is_false(eq("abc", "xbc"))
    assert.is_false(eq("abc", "ab"))
    assert.is_false(eq("ab", "abc"))
    assert.is_false(eq("", "a"))
    assert.is_false(eq("a\0", "a"))
    assert.is_false(eq("\255", "\0"))
    -- differences that cancel out in a naive sum must not compare equal
    assert.is_false(eq("ac", "bb"))
    assert.is_false(eq("\0\2", "\1\1"))
  end)

  it("is false for non-strings", function()
    assert.is_false(eq(nil, nil))
    assert.is_false(eq(1, 1))
    assert.is_false(eq("1", 1))
    assert.is_false(eq({}, "x"))
  end)

  it("agrees with == on many random pairs", function()
    math.randomseed(42)
    for _ = 1, 2000 do
      local n1, n2 = math.random(0, 6), math.random(0, 6)
      local a, b = {}, {}
      for i = 1, n1 do a[i] = string.char(math.random(97, 99)) end
      for i = 1, n2 do b[i] = string.char(math.random(97, 99)) end
      a, b = table.concat(a), table.concat(b)
      assert.equal(a == b, eq(a, b))
    end
  end)

  it("does the same work whatever the first difference (no early exit)", function()
    -- counts VM instructions with a count hook, whatever the implementation; LuaJIT's compiled
    -- traces do not run hooks, so the JIT is off while counting
    local has_jit, jit = pcall(require, "jit")
    if not has_jit then jit = nil end
    if jit then jit.off(); jit.flush() end   -- flush: traces compiled earlier would still run
    local function instructions(presented, secret)
      local n = 0
      debug.sethook(function() n = n + 1 end, "", 1)
      auth.equals(presented, secret)
      debug.sethook()
      return n
    end
    local secret = string.rep("k", 32)
    local counts = {}
    -- mismatches only: a match returns the other boolean, one instruction apart
    for _, presented in ipairs({ "x" .. string.rep("k", 31), string.rep("k", 15) .. "x" .. string.rep("k", 16),
      string.rep("k", 31) .. "x", string.rep("j", 32) }) do
      counts[#counts + 1] = instructions(presented, secret)
    end
    if jit then jit.on() end
    assert.is_true(counts[1] > 32)   -- the loop ran over the bytes
    assert.same({ counts[1], counts[1], counts[1], counts[1] }, counts)
  end)

  it("compares against every configured token, even after a match", function()
    -- the same work whichever token matches, or none (VM instructions, JIT off and flushed)
    local has_jit, jit = pcall(require, "jit")
    if not has_jit then jit = nil end
    if jit then jit.off(); jit.flush() end
    local prepared = auth.prepare_tokens{ "first-token-000000", "second-token-00000", "third-token-000000" }
    local function instructions(presented)
      local n = 0
      debug.sethook(function() n = n + 1 end, "", 1)
      local matched = auth.token_matches(presented, prepared)
      debug.sethook()
      return n, matched
    end
    local n1, m1 = instructions("first-token-000000")
    local n3, m3 = instructions("third-token-000000")
    local n0, m0 = instructions("other-token-000000")
    if jit then jit.on() end
    assert.is_true(m1)
    assert.is_true(m3)
    assert.is_false(m0)
    assert.are.equal(n1, n3)
    assert.truthy(math.abs(n0 - n1) <= 2, ("%d vs %d"):format(n0, n1))  -- the result's own branch
  end)

  it("refuses a presented token over the size bound without comparing", function()
    local long = string.rep("a", auth.MAX_PRESENTED_TOKEN + 1)
    assert.is_false(auth.token_matches(long, auth.prepare_tokens{ long }))
    local max = string.rep("a", auth.MAX_PRESENTED_TOKEN)
    assert.is_true(auth.token_matches(max, auth.prepare_tokens{ max }))
  end)
end)

describe("the token layer", function()
  it("accepts the right token (table or raw query string)", function()
    local r, seen = make_router{ token = TOKEN }
    assert.equal(200, (r:handle(support.request())))
    assert.equal(200, (r:handle(support.request{ query = "a=1&token=" .. TOKEN })))
    assert.equal(200, (r:handle(support.request{ query = "?token=" .. TOKEN })))
    assert.equal(3, seen.handled)
    assert.same({}, seen.errors)
  end)

  it("decodes a percent-encoded token in a raw query string", function()
    local token = "tok en/+&=" .. string.rep("z", 10)
    local r, seen = make_router{ token = token }
    local url = callbacks.callback_url("https://x.example/cb", token)
    local query = url:match("%?(.*)$")
    assert.equal(200, (r:handle(support.request{ query = query })))
    assert.equal(1, seen.handled)
  end)

  it("refuses a missing token with 403 and reason token_missing", function()
    local r, seen, lines = make_router{ token = TOKEN }
    for _, query in ipairs({ {}, "", "other=1", false }) do
      local req = support.request()
      req.query = query or nil
      local status, body = r:handle(req)
      assert.equal(403, status)
      assert.equal("forbidden", body)
    end
    assert.equal(0, seen.handled)
    assert.equal(4, #seen.errors)
    for _, err in ipairs(seen.errors) do
      assert.equal("auth", err.kind)
      assert.equal("token_missing", err.reason)
      assert.equal(403, err.status)
    end
    assert.equal("warn", lines[1].level)
    assert.matches("token_missing", lines[1].msg, 1, true)
  end)

  it("refuses a wrong token, shorter, longer, repeated or not a string, with token_mismatch", function()
    local r, seen, lines = make_router{ token = TOKEN }
    local wrong = { TOKEN:sub(1, -2), TOKEN .. "x", TOKEN:upper(), "x" .. TOKEN:sub(2), "",
      { TOKEN, TOKEN }, true, 42 }
    for _, t in ipairs(wrong) do
      assert.equal(403, (r:handle(support.request{ query = { token = t } })))
    end
    assert.equal(403, (r:handle(support.request{ query = "token=" .. TOKEN .. "&token=" .. TOKEN })))
    assert.equal(0, seen.handled)
    assert.equal(#wrong + 1, #seen.errors)
    for _, err in ipairs(seen.errors) do assert.equal("token_mismatch", err.reason) end
    for _, line in ipairs(lines) do
      assert.not_matches(TOKEN:sub(1, 16), line.msg, 1, true) -- the secret never reaches the log
    end
  end)

  it("checks the token before reading the body", function()
    local r, seen = make_router{ token = TOKEN }
    assert.equal(403, (r:handle(support.request{ query = {}, body = "garbage",
      headers = { ["Content-Type"] = "text/plain" } })))
    assert.equal("token_missing", seen.errors[1].reason)
  end)

  it("reads a configurable parameter name", function()
    local r, seen = make_router{ token = TOKEN, token_param = "qs" }
    assert.equal(200, (r:handle(support.request{ query = { qs = TOKEN } })))
    assert.equal(403, (r:handle(support.request{ query = { token = TOKEN } })))
    assert.equal(1, seen.handled)
    assert.equal("token_missing", seen.errors[1].reason)
  end)

  it("accepts any of several tokens (rotation)", function()
    local other = string.rep("n", 20)
    local r, seen = make_router{ token = { TOKEN, other } }
    assert.equal(200, (r:handle(support.request{ query = { token = TOKEN } })))
    assert.equal(200, (r:handle(support.request{ query = { token = other } })))
    assert.equal(403, (r:handle(support.request{ query = { token = other .. "x" } })))
    assert.equal(2, seen.handled)
    local tokens = { TOKEN }
    local r2 = make_router{ token = tokens }
    tokens[2] = "short"
    assert.equal(403, (r2:handle(support.request{ query = { token = "short" } })))
  end)

  it("refuses to configure a token shorter than 16 characters", function()
    assert.has_error(function() callbacks.router{ token = string.rep("a", 15), log = false } end,
      "bad argument #1 to 'router' (option 'token' must be a string (or an array of strings) "
        .. "of at least 16 characters)")
    assert.has_error(function() callbacks.router{ token = { TOKEN, "short" }, log = false } end)
    assert.has_error(function() callbacks.router{ token = {}, log = false } end)
    assert.has_error(function() callbacks.router{ token = 1234567890123456789, log = false } end)
    assert.has_no_error(function() callbacks.router{ token = string.rep("a", 16), log = false } end)
  end)
end)

describe("callbacks.callback_url", function()
  local url = callbacks.callback_url

  it("adds the token as the first query parameter", function()
    assert.equal("https://app.example.com/quicklysign?token=" .. TOKEN,
      url("https://app.example.com/quicklysign", TOKEN))
  end)

  it("adds it after an existing query", function()
    assert.equal("https://a.example/cb?x=1&token=" .. TOKEN, url("https://a.example/cb?x=1", TOKEN))
    assert.equal("https://a.example/cb?token=" .. TOKEN, url("https://a.example/cb?", TOKEN))
    assert.equal("https://a.example/cb?x=1&token=" .. TOKEN, url("https://a.example/cb?x=1&", TOKEN))
  end)

  it("puts it before a fragment", function()
    assert.equal("https://a.example/cb?token=" .. TOKEN .. "#top", url("https://a.example/cb#top", TOKEN))
    assert.equal("https://a.example/cb?x=1&token=" .. TOKEN .. "#a?b", url("https://a.example/cb?x=1#a?b", TOKEN))
  end)

  it("percent-encodes the token and the parameter name", function()
    assert.equal("https://a.example/?token=a%20b%2Bc%26d%3De%2F%C3%A9~._-0123456789",
      url("https://a.example/", "a b+c&d=e/\195\169~._-0123456789"))
    assert.equal("https://a.example/?my%20t=" .. TOKEN, url("https://a.example/", TOKEN, "my t"))
  end)

  it("round-trips through the router's query parsing", function()
    local token = "%41+&=#?\0" .. string.rep("q", 12)
    local built = url("https://a.example/cb?x=%41#frag", token)
    local query = built:match("%?([^#]*)")
    assert.equal(token, auth.query_param(query, "token"))
    assert.equal("A", auth.query_param(query, "x"))
  end)

  it("raises on misuse", function()
    assert.has_error(function() url(nil, TOKEN) end, "bad argument #1 to 'callback_url' (string expected, got nil)")
    assert.has_error(function() url("", TOKEN) end, "bad argument #1 to 'callback_url' (non-empty string expected)")
    assert.has_error(function() url("https://a.example", nil) end,
      "bad argument #2 to 'callback_url' (string expected, got nil)")
    assert.has_error(function() url("https://a.example", "short") end,
      "bad argument #2 to 'callback_url' (token must be at least 16 characters)")
    assert.has_error(function() url("https://a.example", TOKEN, 5) end,
      "bad argument #3 to 'callback_url' (string expected, got number)")
    assert.has_error(function() url("https://a.example?token=old", TOKEN) end,
      "bad argument #1 to 'callback_url' (base already has a 'token' query parameter)")
    assert.has_no_error(function() url("https://a.example?mytoken=old", TOKEN) end)
  end)
end)

describe("the allow layer", function()
  local function ev_request(entity_key, webhook_key)
    return support.request{ body = support.body{ entity_key = entity_key, webhook_key = webhook_key } }
  end

  local function check(allow)
    local r, seen = make_router{ token = TOKEN, allow = allow }
    local statuses = {
      (r:handle(ev_request("E1", "W1"))),   -- entity listed
      (r:handle(ev_request("E9", "W2"))),   -- webhook listed
      (r:handle(ev_request("E9", "W9"))),   -- neither
      (r:handle(ev_request("E9", nil))),    -- neither, no webhook key
    }
    return statuses, seen
  end

  it("takes a set", function()
    local statuses, seen = check({ E1 = true, W2 = true })
    assert.same({ 200, 200, 403, 403 }, statuses)
    assert.equal(2, seen.handled)
    assert.equal("not_allowed", seen.errors[1].reason)
    assert.equal("auth", seen.errors[1].kind)
  end)

  it("takes an array", function()
    local statuses = check({ "E1", "W2" })
    assert.same({ 200, 200, 403, 403 }, statuses)
  end)

  it("takes a function", function()
    local statuses = check(function(ev) return ev.entity_key == "E1" or ev.webhook_key == "W2" end)
    assert.same({ 200, 200, 403, 403 }, statuses)
  end)

  it("reads a set live, and an array once", function()
    local set, array = {}, { "E0" }
    local r1 = make_router{ token = TOKEN, allow = set }
    local r2 = make_router{ token = TOKEN, allow = array }
    assert.equal(403, (r1:handle(ev_request("E1"))))
    set.E1 = true
    array[2] = "E1"
    assert.equal(200, (r1:handle(ev_request("E1"))))
    assert.equal(403, (r2:handle(ev_request("E1"))))
  end)

  it("answers 500 when the allow function raises, and reports it", function()
    local r, seen = make_router{ token = TOKEN, allow = function() error("db down") end }
    assert.equal(500, (r:handle(ev_request("E1"))))
    assert.equal(0, seen.handled)
    assert.equal("allow_error", seen.errors[1].reason)
    assert.matches("db down", seen.errors[1].message, 1, true)
  end)

  it("refuses invalid allow options", function()
    for _, bad in ipairs({ "E1", 5, { E1 = 1 }, { "E1", 5 }, { "E1", x = true }, { [2] = "E2" } }) do
      assert.has_error(function() callbacks.router{ token = TOKEN, allow = bad, log = false } end)
    end
  end)
end)
