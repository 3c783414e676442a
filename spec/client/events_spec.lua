-- The on_event option: a record of each request, response, retry, token minted and download's
-- progress, made between libcurl's rounds, with no credential in any of them.
local emulator = require "support.emulator"
local process = require "support.process"

local function recorder()
  local records = {}
  return records, function(r) records[#records + 1] = r end
end

local function types(records)
  local out = {}
  for i, r in ipairs(records) do out[i] = r.type end
  return out
end

-- Every string in the records, flattened, to look for secrets in.
local function text_of(records)
  local parts = {}
  local function walk(v)
    if type(v) == "table" then for k, x in pairs(v) do walk(k) walk(x) end
    else parts[#parts + 1] = tostring(v) end
  end
  walk(records)
  return table.concat(parts, "\n")
end

describe("on_event", function()
  before_each(function() emulator:reset() end)

  it("records a request and its response: status, new connections, the outcome", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event }
    local pack = emulator.new_entity()
    assert(c.webhooks:create{ entity_key = pack, callback = "http://127.0.0.1:9/e" })
    assert(c.webhooks:list{ entity_key = pack })
    assert.are.same({ "request", "response", "request", "response" }, types(records))
    assert.are.equal("POST", records[1].method)
    assert.are.equal(1, records[1].attempt)
    assert.are.equal(200, records[2].status)
    assert.is_true(records[2].ok)
    assert.are.equal(1, records[2].connects)
    assert.are.equal(0, records[4].connects)      -- the list reused the create's connection
    assert.is_number(records[2].seconds)
    assert.falsy(text_of(records):find(emulator.client_secret, 1, true))
    assert.truthy(records[1].url:find("/webhooks", 1, true))
  end)

  it("records a retry with its wait, and the failure that caused it", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event, max_retries = 1 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", status = 503, count = 1 }
    assert(c.webhooks:list())
    assert.are.same({ "request", "response", "retry", "request", "response" }, types(records))
    assert.is_false(records[2].ok)
    assert.are.equal(503, records[2].status)
    assert.truthy(records[2].reason == "api_error" or records[2].reason == "http_status")
    assert.is_true(records[3].wait >= 0)
    assert.are.equal(2, records[4].attempt)
  end)

  it("records the token minted, and minted again, never the token itself", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event, api_key = emulator.api_key }
    local pack = emulator.new_entity()
    assert(c.document_packs:get(pack))
    emulator:expire_tokens()
    assert(c.document_packs:get(pack))
    local tokens = {}
    for _, r in ipairs(records) do if r.type == "token" then tokens[#tokens + 1] = r.reminted end end
    assert.are.same({ false, true }, tokens)
    local text = text_of(records)
    assert.falsy(text:find(emulator.api_key, 1, true))
    assert.falsy(text:find(emulator.client_secret, 1, true))
  end)

  it("records a download's progress while it is under way, and its bytes at the end", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event, api_key = emulator.api_key }
    local pack = emulator:create_pack{ name = "P", documents = { { name = "Big", pdf_bytes = 300000 } } }
    emulator:drive(pack.key, "complete")
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/", delay_ms = 400 }
    local dir = process.tmpdir()
    assert(c:download(pack.documents[1].serve_pdf_url, dir .. "/big.pdf"))
    os.execute("rm -rf " .. process.quote(dir))
    local progress, last = 0, nil
    for _, r in ipairs(records) do
      if r.type == "download_progress" then progress = progress + 1 end
      if r.type == "response" then last = r end
    end
    assert.truthy(progress >= 1)
    assert.are.equal(300000, last.bytes)
  end)

  it("gives a batch's records their item's index", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event }
    local pack = emulator.new_entity()
    local list = {}
    for i = 1, 3 do list[i] = { entity_key = pack, callback = "http://127.0.0.1:9/b/" .. i } end
    c.webhooks:create_many(list, { concurrency = 2 })
    local seen = {}
    for _, r in ipairs(records) do if r.type == "response" then seen[r.index] = r.status end end
    assert.are.same({ 200, 200, 200 }, seen)
  end)

  it("refuses the client from inside the hook, and passes the hook's own error on", function()
    local c
    c = emulator.client{ on_event = function() c.webhooks:list() end }
    local ok, err = pcall(c.webhooks.list, c.webhooks)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("attempt to use a quicklysign client from its own on_event hook", 1, true))
    local c2 = emulator.client{ on_event = function(r) if r.type == "response" then error("hook says no") end end }
    ok, err = pcall(c2.webhooks.list, c2.webhooks)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("hook says no", 1, true))
    assert(c2:close())
  end)
end)
