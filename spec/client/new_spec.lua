-- quicklysign.new: options, their validation, tostring, and the client's lifetime.
local quicklysign = require "quicklysign"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local SECRET = emulator.client_secret

local function new(opts)
  local o = { client_id = "id", client_secret = SECRET }
  for k, v in pairs(opts or {}) do o[k] = v end
  return quicklysign.new(o)
end

describe("quicklysign.new", function()
  it("defaults to the sandbox, and knows production", function()
    local c = new()
    assert.are.equal("sandbox", c.environment)
    assert.are.equal("https://sandboxapi.quicklysign.com/v1", c.base_url)
    assert.are.equal("https://api.quicklysign.com/v1", new{ environment = "production" }.base_url)
    assert.are.equal(quicklysign.environments.production, new{ environment = "production" }.base_url)
  end)

  it("lets base_url override the environment and drops trailing slashes", function()
    local c = new{ environment = "production", base_url = "http://127.0.0.1:8089/v1//" }
    assert.are.equal("http://127.0.0.1:8089/v1", c.base_url)
    assert.are.equal("custom", c.environment)
  end)

  it("requires client_id and client_secret, naming them", function()
    assert.has_error(function() quicklysign.new{ client_secret = "x" } end,
      "bad argument #1 to 'new' (option 'client_id' is required; or set QUICKLYSIGN_CLIENT_ID)")
    assert.has_error(function() quicklysign.new{ client_id = "x" } end,
      "bad argument #1 to 'new' (option 'client_secret' is required; or set QUICKLYSIGN_CLIENT_SECRET)")
  end)

  it("refuses wrong types, out-of-range values and unknown options, naming them", function()
    local cases = {
      { { timeout = "30" }, "option 'timeout': number expected, got string" },
      { { timeout = 0 }, "option 'timeout' must be between" },
      { { timeout = 0 / 0 }, "option 'timeout' must be between" },
      { { max_retries = 11 }, "option 'max_retries' must be between" },
      { { client_id = 12 }, "option 'client_id': non-empty string expected, got number" },
      { { client_id = "" }, "option 'client_id': non-empty string expected" },
      { { environment = "staging" }, "option 'environment' must be 'sandbox' or 'production'" },
      { { base_url = "ftp://x" }, "option 'base_url' must be an http(s) URL" },
      { { base_url = "http://x/v1?a=b" }, "option 'base_url' must be an http(s) URL" },
      { { on_warning = true }, "option 'on_warning': function expected, got boolean" },
      { { allow_insecure_callbacks = 1 }, "option 'allow_insecure_callbacks': boolean expected" },
      { { timout = 3 }, "unknown option 'timout'" },
      { { base_url = "http:////" }, "option 'base_url' must be an http(s) URL with a host" },
      { { access_token = "tok\r\nX-Injected: 1" }, "option 'access_token' must not contain control characters" },
      { { token_header = "bearer" }, "option 'token_header' must be 'access_token', 'authorization' or 'both'" },
      { { token_header = true }, "option 'token_header': string expected, got boolean" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(new, case[1])
      assert.is_false(ok)
      assert.truthy(err:find(case[2], 1, true), err)
      assert.truthy(err:find("bad argument #1 to 'new'", 1, true), err)
    end
    assert.has_error(function() quicklysign.new("id") end)
  end)

  it("declares each option once: quicklysign.options, which the README's table lists", function()
    local f = assert(io.open("README.md", "rb"))
    local readme = f:read("*a")
    f:close()
    local section = assert(readme:match("Options of `quicklysign.new`(.-)\n###"))
    local listed = {}
    for first_column in section:gmatch("\n| ([^|]+) |") do
      for name in first_column:gmatch("`([%w_]+)`") do listed[name] = true end
    end
    local declared = {}
    for name, o in pairs(quicklysign.options) do
      declared[name] = true
      assert.is_string(o.type, name)
      if o.type == "number" or o.type == "integer" then
        assert.truthy(o.min <= o.default and o.default <= o.max, name)
        local ok, err = pcall(new, { [name] = o.max + 1 })
        assert.is_false(ok, name)
        assert.truthy(err:find("option '" .. name .. "' must be between", 1, true), err)
        assert.is_true(pcall(new, { [name] = o.max }), name)
      end
    end
    assert.are.same(declared, listed)
    assert.are.equal("QUICKLYSIGN_CLIENT_ID", quicklysign.options.client_id.env)
    assert.is_true(quicklysign.options.client_id.required)
    assert.are.equal(30, quicklysign.options.timeout.default)
    assert.are.same({ "access_token", "authorization", "both" }, quicklysign.options.token_header.choices)
    assert.are.equal("both", quicklysign.options.token_header.default)
    assert.are.equal("QUICKLYSIGN_TOKEN_HEADER", quicklysign.options.token_header.env)
  end)

  it("never shows a secret in tostring or fields", function()
    local c = new{ api_key = "my_api_key_123", access_token = "tok_abcdef" }
    for _, s in ipairs{ tostring(c), tostring(c.webhooks), tostring(c.document_packs) } do
      assert.falsy(s:find(SECRET, 1, true))
      assert.falsy(s:find("my_api_key_123", 1, true))
      assert.falsy(s:find("tok_abcdef", 1, true))
    end
    assert.is_nil(c.client_secret)
    assert.is_nil(c.api_key)
    assert.is_nil(c.access_token)
    assert.truthy(tostring(c):find("^quicklysign.client %(sandbox https://sandboxapi.quicklysign.com/v1%)"))
  end)

  it("protects its metatable", function()
    assert.are.equal("locked", getmetatable(new()))
    assert.are.equal("locked", getmetatable(new().webhooks))
    assert.are.equal("locked", getmetatable(new().document_packs))
  end)

  it("declares its methods once: quicklysign.methods, which openresty.client proxies", function()
    local c = new()
    assert.are.same({ "create", "get", "list", "page", "delete", "delete_by_entity", "logs", "log_page", "ensure",
      "create_many", "ensure_many", "get_many", "delete_many" }, quicklysign.methods.webhooks)
    assert.are.same({ "get", "get_many", "download" }, quicklysign.methods.document_packs)
    assert.are.same({ "close", "download", "last_response", "is_closed", "authenticate" },
      quicklysign.methods.client)
    -- the page iterators belong to their Lua state: not listed, so no proxy forwards them
    assert.is_function(c.webhooks.pages)
    assert.is_function(c.webhooks.log_pages)
    for class, object in pairs{ client = c, webhooks = c.webhooks, document_packs = c.document_packs } do
      for _, name in ipairs(quicklysign.methods[class]) do
        assert.is_function(object[name], class .. "." .. name)
      end
    end
    assert.truthy(tostring(c.webhooks):find("^quicklysign%.webhooks "), tostring(c.webhooks))
    assert.truthy(tostring(c.document_packs):find("^quicklysign%.document_packs "), tostring(c.document_packs))
    local proxy = require("quicklysign.openresty").client{ client_id = "id", client_secret = SECRET }
    for _, class in ipairs{ "webhooks", "document_packs" } do
      for _, name in ipairs(quicklysign.methods[class]) do
        assert.is_function(proxy[class][name], "openresty proxy " .. class .. "." .. name)
      end
    end
  end)
end)

describe("client lifetime", function()
  it("closes idempotently and refuses use after close", function()
    local c = emulator.client()
    assert.is_false(c:is_closed())
    assert.is_true(c:close())
    assert.is_true(c:close())
    assert.is_true(c:is_closed())
    assert.truthy(tostring(c):find("closed"))
    for _, f in ipairs{
      function() return c.webhooks:list() end,
      function() return c.webhooks:get("k") end,
      function() return c.document_packs:get("k") end,
      function() return c:download("http://127.0.0.1/x", "/tmp/x") end,
      function() return c:last_response() end,
    } do
      assert.has_error(f, "attempt to use a closed quicklysign client")
    end
  end)

  it("keeps the client alive while only a resource table is held", function()
    local webhooks = emulator.client().webhooks
    collectgarbage()
    collectgarbage()
    local list, err = webhooks:list()
    assert.is_nil(err)
    assert.are.same({}, list)
  end)

  it("frees clients that are dropped without close", function()
    for _ = 1, 200 do
      local c = emulator.client()
      assert.is_table(c.webhooks:list())
    end
    collectgarbage()
    collectgarbage()
  end)

  if _VERSION == "Lua 5.4" then
    it("closes through a to-be-closed variable", function()
      local chunk = assert(load([[
        local emulator = ...
        local kept
        do
          local c <close> = emulator.client()
          kept = c
          assert(not c:is_closed())
        end
        return kept
      ]]))
      local c = chunk(emulator)
      assert.is_true(c:is_closed())
    end)
  end
end)
