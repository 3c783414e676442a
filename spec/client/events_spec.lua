-- The on_event option: a record of each request, response, retry, token minted and download's
-- progress, made between libcurl's rounds, with no credential in any of them.
local emulator = require "support.emulator"
local process = require "support.process"

local function recorder()
  local records = {}
  return records, function(r) records[#records + 1] = r end
end

-- The records' types, leaving out the token's mint (under a start profile whose webhook calls
-- need a token, the client mints one first).
local function types(records)
  local out = {}
  for _, r in ipairs(records) do
    if r.type ~= "token" and not (r.url or ""):find("/access_tokens", 1, true) then out[#out + 1] = r.type end
  end
  return out
end

local function calls(records)
  local out = {}
  for _, r in ipairs(records) do
    if r.type ~= "token" and not (r.url or ""):find("/access_tokens", 1, true) then out[#out + 1] = r end
  end
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
    local mine = calls(records)
    assert.are.equal("POST", mine[1].method)
    assert.are.equal(1, mine[1].attempt)
    assert.are.equal(200, mine[2].status)
    assert.is_true(mine[2].ok)
    assert.is_number(mine[2].seconds)
    local connects = 0
    for _, r in ipairs(records) do if r.type == "response" then connects = connects + r.connects end end
    assert.are.equal(1, connects)                 -- one connection made, then kept
    assert.are.equal(0, mine[4].connects)
    assert.falsy(text_of(records):find(emulator.client_secret, 1, true))
    assert.truthy(mine[1].url:find("/webhooks", 1, true))
  end)

  it("records a retry with its wait, and the failure that caused it", function()
    local records, on_event = recorder()
    local c = emulator.client{ on_event = on_event, max_retries = 1 }
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", status = 503, count = 1 }
    assert(c.webhooks:list())
    assert.are.same({ "request", "response", "retry", "request", "response" }, types(records))
    local mine = calls(records)
    assert.is_false(mine[2].ok)
    assert.are.equal(503, mine[2].status)
    assert.truthy(mine[2].reason == "api_error" or mine[2].reason == "http_status")
    assert.is_true(mine[3].wait >= 0)
    assert.are.equal(2, mine[4].attempt)
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
    emulator:config{ pdf_body = "pdf", serve_pdf_host = "api", pdf_redirect = "none" }
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
    for _, r in ipairs(records) do   -- (a token's mint, under a profile that wants one, has no item)
      if r.type == "response" and r.index then seen[r.index] = r.status end
    end
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
