-- Failures: every error kind, retries and their limits, and that no secret
-- ever reaches an error's text.
local quicklysign = require "quicklysign"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local SECRET = emulator.client_secret
local API_KEY = emulator.api_key

-- Every string reachable from an error, and its tostring.
local function all_text(err)
  local out = { tostring(err) }
  local function walk(v, depth)
    if depth > 4 then return end
    for k, x in pairs(v) do
      out[#out + 1] = tostring(k)
      if type(x) == "table" then walk(x, depth + 1) else out[#out + 1] = tostring(x) end
    end
  end
  walk(err, 0)
  return table.concat(out, "\n")
end

local function assert_no_secret(err)
  local text = all_text(err)
  assert.falsy(text:find(SECRET, 1, true), text)
  assert.falsy(text:find(API_KEY, 1, true), text)
end

local function closed_port_url()
  local socket = require "socket"
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return ("http://127.0.0.1:%d/v1"):format(port)
end

describe("errors", function()
  it("are tables with the documented fields and a one-line tostring", function()
    local c = emulator.client{ client_secret = SECRET .. "-wrong", api_key = false }   -- refused, not minting
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.is_true(quicklysign.is_error(err))
    assert.are.equal("api", err.kind)
    assert.are.equal("api_error", err.reason)
    assert.are.equal(401, err.status)
    assert.are.equal(401, err.http_status)
    assert.are.equal("unauthorised", err.code)
    assert.is_string(err.message)
    assert.is_table(err.errors)
    assert.are.equal("unauthorised", err.errors[1].code)
    assert.is_false(err.retryable)
    assert.are.equal("GET", err.method)
    assert.truthy(err.url:find("client_secret=REDACTED", 1, true))
    local line = tostring(err)
    assert.truthy(line:find("^quicklysign: api error 401 unauthorised: "))
    assert.falsy(line:find("\n"))
    assert.falsy(quicklysign.is_error({ kind = "api" }))
  end)

  it("network: a refused connection, retried, then nil, err", function()
    local c = emulator.client{ base_url = closed_port_url(), max_retries = 2 }
    local wh, err = c.webhooks:get("k")
    assert.is_nil(wh)
    assert.are.equal("network", err.kind)
    assert.are.equal("connect_failed", err.reason)
    assert.are.equal(7, err.curl_code)   -- CURLE_COULDNT_CONNECT
    assert.is_true(err.retryable)
    assert.are.equal(3, err.attempts)
    assert.is_nil(err.status)
    assert_no_secret(err)
  end)

  it("network: create is retried when it never reached the server", function()
    local c = emulator.client{ base_url = closed_port_url(), max_retries = 1 }
    local wh, err = c.webhooks:create{ entity_key = "e", callback = "http://127.0.0.1/cb" }
    assert.is_nil(wh)
    assert.are.equal(2, err.attempts)
    assert_no_secret(err)
  end)

  it("network: a connection dropped without an answer is retried for GET only", function()
    local c = emulator.client()
    local entity = emulator.new_entity()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, close = true }
    assert.are.same({}, assert(c.webhooks:list{ entity_key = entity }))
    emulator:clear_requests()
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", count = 1, close = true }
    local wh, err = c.webhooks:create{ entity_key = entity, callback = "http://127.0.0.1/cb" }
    assert.is_nil(wh)
    assert.are.equal("network", err.kind)
    assert.are.equal("connection_lost", err.reason)
    assert.is_false(err.retryable)
    assert.are.equal(1, err.attempts)
    assert.are.equal(1, #emulator:requests("/v1/webhooks"))
  end)

  it("timeout: the deadline covers the whole call", function()
    local c = emulator.client{ timeout = 0.3, max_retries = 5 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 10, delay_ms = 1000 }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("timeout", err.kind)
    assert.are.equal("timed_out", err.reason)
    assert.is_true(err.retryable)
    assert.are.equal(1, err.attempts)   -- no time was left for another
  end)

  it("tls: an https client on a plain-http port", function()
    local c = emulator.client{ base_url = emulator.base_url:gsub("^http:", "https:") }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("tls", err.kind)
    assert.are.equal("tls_failed", err.reason)
    assert.is_false(err.retryable)
  end)

  it("tls: an untrusted certificate, then the same server trusted through ca_file", function()
    local untrusted = emulator.client{ base_url = emulator.tls_url }
    local _, err = untrusted.webhooks:list()
    assert.are.equal("tls", err.kind)
    assert.are.equal("untrusted_certificate", err.reason)
    local trusted = emulator.client{ base_url = emulator.tls_url, ca_file = emulator.ca_file }
    local list, err2 = trusted.webhooks:list()
    assert.is_nil(err2)
    assert.are.same({}, list)
  end)

  it("http: a non-envelope 502 is retried, then reported with its status", function()
    local c = emulator.client{ max_retries = 2 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 3, status = 502,
      body = "<html><body>Bad gateway</body></html>" }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("http", err.kind)
    assert.are.equal("http_status", err.reason)
    assert.are.equal(502, err.status)
    assert.is_true(err.retryable)
    assert.are.equal(3, err.attempts)
    assert.truthy(err.message:find("Bad gateway", 1, true))
    assert.are.equal(3, #emulator:requests("/v1/webhooks"))
  end)

  it("retries 503 for GET and succeeds when the server recovers", function()
    local c = emulator.client{ max_retries = 2 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 2, status = 503 }
    emulator:clear_requests()
    assert.are.same({}, assert(c.webhooks:list()))
    assert.are.equal(3, #emulator:requests("/v1/webhooks"))
  end)

  it("does not retry a create that reached the server", function()
    local c = emulator.client{ max_retries = 2 }
    local entity = emulator.new_entity()
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", count = 1, status = 503 }
    emulator:clear_requests()
    local wh, err = c.webhooks:create{ entity_key = entity, callback = "http://127.0.0.1/cb" }
    assert.is_nil(wh)
    assert.are.equal(503, err.status)
    assert.is_false(err.retryable)
    assert.are.equal(1, #emulator:requests("/v1/webhooks"))
  end)

  it("honours Retry-After on 429, and gives up when it asks too much", function()
    local c = emulator.client{ max_retries = 1, max_retry_delay = 5 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 429, retry_after = "1" }
    local t0 = require("socket").gettime()
    assert.are.same({}, assert(c.webhooks:list()))
    local waited = require("socket").gettime() - t0
    assert.truthy(waited >= 0.9, "waited " .. waited)
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 429, retry_after = "120" }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal(429, err.status)
    assert.are.equal(1, err.attempts)
  end)

  it("protocol: a 2xx answer that is not JSON, with its real status", function()
    local c = emulator.client()
    for _, status in ipairs{ 200, 201 } do
      emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = status, body = "{not json" }
      local wh, err = c.webhooks:list()
      assert.is_nil(wh)
      assert.are.equal("protocol", err.kind)
      assert.are.equal("not_json", err.reason)
      assert.are.equal(status, err.status)
      assert.are.equal(status, err.http_status)
    end
  end)

  it("protocol: whatever cjson says of the text is the server's bad JSON, never a raise", function()
    local c = emulator.client()
    -- cjson refuses text with NUL bytes early on as "UTF-16 or UTF-32", in its own words
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = "H\0\0" }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("protocol", err.kind)
    assert.are.equal("not_json", err.reason)
  end)

  it("protocol: a nesting bomb is refused without harm", function()
    local c = emulator.client()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200,
      body = string.rep("[", 100000) }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("protocol", err.kind)
    assert.are.equal("not_json", err.reason)
  end)

  it("caps the size of an answer", function()
    local c = emulator.client{ max_body_size = 4096 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body_bytes = 100000 }
    local wh, err = c.webhooks:list()
    assert.is_nil(wh)
    assert.are.equal("http", err.kind)
    assert.are.equal("body_too_large", err.reason)
    assert.truthy(err.message:find("max_body_size", 1, true))
    assert.are.same({}, assert(c.webhooks:list()))   -- the client is still usable
  end)

  it("scrubs a secret that the server echoes back", function()
    local c = emulator.client()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 400,
      body = '{"status":{"status_code":400,"errors":[{"code":"invalid_field","message":"client_secret '
        .. SECRET .. ' is odd"}]}}' }
    local _, err = c.webhooks:list()
    assert.are.equal("invalid_field", err.code)
    assert.truthy(err.message:find("[REDACTED]", 1, true))
    assert_no_secret(err)
  end)

  it("never puts secrets in the errors of any method", function()
    local c = emulator.client{ client_secret = SECRET, api_key = API_KEY, base_url = closed_port_url(),
      max_retries = 0 }
    local calls = {
      function() return c.webhooks:get("k") end,
      function() return c.webhooks:list() end,
      function() return c.webhooks:create{ entity_key = "e", callback = "http://x/cb" } end,
      function() return c.webhooks:delete("k") end,
      function() return c.webhooks:delete_by_entity("e") end,
      function() return c.webhooks:logs{ entity_key = "e" } end,
      function() return c.webhooks:ensure{ entity_key = "e", callback = "http://x/cb" } end,
      function() return c.document_packs:get("p") end,
      function() return c:download(c.base_url .. "/x", os.tmpname()) end,
    }
    for _, call in ipairs(calls) do
      local v, err = call()
      assert.is_nil(v)
      assert.is_true(quicklysign.is_error(err))
      assert_no_secret(err)
    end
  end)

  it("reuses one connection across calls (keep-alive)", function()
    local c = emulator.client()
    for _ = 1, 5 do assert(c.webhooks:list()) end
    local seen = emulator:requests("/v1/webhooks")
    assert.are.equal(5, #seen)
    for i = 2, 5 do assert.are.equal(seen[1].connection, seen[i].connection) end
  end)
end)

describe("the error vocabulary", function()
  local callbacks_errors = require "quicklysign.callbacks.errors"

  it("gives every error a kind and a reason, each a word of quicklysign.reasons", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    local dead = emulator.client{ base_url = closed_port_url(), max_retries = 0 }
    local dir = os.tmpname()
    local seen = {}
    local function check(v, err)
      assert.is_nil(v)
      assert.is_true(quicklysign.is_error(err))
      assert.is_string(err.kind)
      assert.is_string(err.reason)
      assert.are.equal(quicklysign.reasons[err.reason], err.kind, err.reason)
      seen[err.reason] = true
    end
    check(dead.webhooks:list())
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 503, body = "busy" }
    check(c.webhooks:list())
    check(c.webhooks:get("no-such-webhook"))
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = "[1]" }
    check(c.webhooks:list())
    check(c.document_packs:download(emulator:create_pack().key, dir))   -- a file, not a folder
    for _, reason in ipairs{ "connect_failed", "http_status", "api_error", "not_envelope", "cannot_create_folder" } do
      assert.is_true(seen[reason], reason)
    end
    os.remove(dir)
  end)

  it("is listed whole in the README's error table, each reason with its kind", function()
    local f = assert(io.open("README.md", "rb"))
    local text = f:read("*a")
    f:close()
    local listed = {}
    for reason, kind in text:gmatch("\n| `([%w_]+)` | `([%w_]+)` |") do listed[reason] = kind end
    local n = 0
    for reason, kind in pairs(quicklysign.reasons) do
      n = n + 1
      assert.are.equal(kind, listed[reason], "README.md lists no row `" .. reason .. "` | `" .. kind .. "`")
    end
    assert.truthy(n >= 20, n)
  end)

  it("has one tostring shape and one is_error for the client's errors and the callbacks'", function()
    local cases = {
      { kind = "auth", reason = "token_mismatch", message = "the token does not match", status = 403 },
      { kind = "parse", reason = "not_json", message = "the body is not valid JSON:\nat 1" },
      { kind = "api", reason = "api_error", code = "not_found", message = "No such webhook", status = 404,
        method = "GET", url = "https://x/v1/webhooks/k" },
      { kind = "io", reason = "cannot_write_file" },
    }
    for _, fields in ipairs(cases) do
      local extra = {}
      for k, v in pairs(fields) do extra[k] = v end
      local from_callbacks = callbacks_errors.new(fields.kind, fields.reason, fields.message, extra)
      local from_core = quicklysign.as_error(extra)
      assert.are.equal(tostring(from_core), tostring(from_callbacks))
      assert.truthy(tostring(from_core):find("^quicklysign: " .. fields.kind .. " error "), tostring(from_core))
      assert.falsy(tostring(from_core):find("\n"))
      assert.is_true(quicklysign.is_error(from_callbacks))
      assert.is_true(quicklysign.is_error(from_core))
      assert.is_true(callbacks_errors.is(from_core))
      assert.is_true(callbacks_errors.is(from_callbacks))
    end
    assert.are.equal("quicklysign: auth error 403 token_mismatch: the token does not match",
      tostring(callbacks_errors.new("auth", "token_mismatch", "the token does not match", { status = 403 })))
    for _, v in ipairs{ {}, { kind = "api", reason = "api_error" }, "x", 1, true } do
      assert.is_false(quicklysign.is_error(v))
      assert.is_false(callbacks_errors.is(v))
    end
    assert.is_false(quicklysign.is_error(setmetatable({}, { __name = "something.else" })))
  end)
end)
