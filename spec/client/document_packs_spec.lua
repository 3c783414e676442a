-- client.document_packs and client:download: access tokens, streaming, file
-- names that stay inside their folder, redirects.
local quicklysign = require "quicklysign"
local emulator = require "support.emulator"
local process = require "support.process"

-- These specs download PDFs: what the client does when a PDF URL answers something else
-- (profiles pdf-body-*) is in spec/profiles, so the body is pinned whatever the start profiles.
before_each(function()
  emulator:reset()
  emulator:config{ pdf_body = "pdf" }
end)

local tmpdir, listing = process.tmpdir, process.listing

local function read(path) return assert(process.read(path)) end

describe("client.document_packs", function()
  it("gets a pack, minting an access token from api_key once", function()
    local pack = emulator:create_pack{ name = "Lease", documents = { { name = "Lease" }, { name = "Annex" } } }
    local c = emulator.client{ api_key = emulator.api_key }
    emulator:clear_requests()
    local got, err = c.document_packs:get(pack.key)
    assert.is_nil(err)
    assert.are.equal(pack.key, got.key)
    assert.are.equal("Lease", got.document_pack_name)
    assert.are.equal("setup", got.status)
    assert.are.equal(2, #got.documents)
    assert.is_string(got.documents[1].serve_pdf_url)
    assert(c.document_packs:get(pack.key))
    assert.are.equal(1, #emulator:requests("/v1/access_tokens"))
    local seen = emulator:requests("/v1/document_packs")
    assert.is_true(seen[1].has_access_token)
  end)

  it("mints once more when the token expired", function()
    local pack = emulator:create_pack()
    local c = emulator.client{ api_key = emulator.api_key }
    assert(c.document_packs:get(pack.key))
    emulator:expire_tokens()
    emulator:clear_requests()
    assert(c.document_packs:get(pack.key))
    assert.are.equal(1, #emulator:requests("/v1/access_tokens"))
    assert.are.equal(2, #emulator:requests("/v1/document_packs"))
  end)

  it("reports invalid_access_token when there is no api_key to mint with", function()
    local c = emulator.client{ access_token = "not-a-token" }
    local got, err = c.document_packs:get(emulator:create_pack().key)
    assert.is_nil(got)
    assert.are.equal("invalid_access_token", err.code)
    assert.are.equal(401, err.status)
    assert.falsy(tostring(err):find("not-a-token", 1, true))
  end)

  it("refuses a minted token that would inject a header", function()
    local c = emulator.client{ api_key = emulator.api_key }
    emulator:fault{ method = "POST", path_prefix = "/v1/access_tokens", count = 1, status = 200,
      body = '{"status":{"status_code":200},"data":{"access_token":"abc\\r\\nX-Injected: 1"}}' }
    local got, err = c.document_packs:get(emulator:create_pack().key)
    assert.is_nil(got)
    assert.are.equal("protocol", err.kind)
    assert.are.equal("bad_access_token", err.reason)
    assert.are.equal(200, err.status)
    assert.truthy(err.message:find("no usable data.access_token", 1, true))
    assert.are.equal(0, #emulator:requests("/v1/document_packs"))
  end)

  it("raises when no token can be had at all, an error that says so in its reason", function()
    local c = emulator.client{ api_key = false }
    assert.has_error(function() c.document_packs:get("k") end, "quicklysign: config error no_token_source: "
      .. "document pack calls need an access token: give quicklysign.new an api_key or an access_token")
    local ok, err = pcall(c.document_packs.get, c.document_packs, "k")
    assert.is_false(ok)
    assert.is_true(quicklysign.is_error(err))
    assert.are.equal("config", err.kind)
    assert.are.equal("no_token_source", err.reason)
    assert.is_true(pcall(c.webhooks.list, c.webhooks))   -- the call that raised is over
  end)

  it("answers not_found for an unknown pack", function()
    local c = emulator.client{ api_key = emulator.api_key }
    local got, err = c.document_packs:get("no-such-pack")
    assert.is_nil(got)
    assert.are.equal(404, err.status)
    assert.are.equal("api_error", err.reason)
  end)

  it("downloads every final PDF into a folder it creates", function()
    local pack = emulator:create_pack{ name = "Deal", documents = { { name = "Contract" }, { name = "Schedule A" } } }
    emulator:drive(pack.key, "complete")
    local dir = tmpdir() .. "/a/b"
    local c = emulator.client{ api_key = emulator.api_key }
    local files, err = c.document_packs:download(pack.key, dir)
    assert.is_nil(err)
    assert.are.equal(2, #files)
    assert.are.same({ "Contract.pdf", "Schedule A.pdf" }, listing(dir))
    for i, f in ipairs(files) do
      assert.are.equal(pack.documents[i].key, f.key)
      assert.are.equal(pack.documents[i].document_name, f.name)
      assert.are.equal(dir .. "/" .. f.file, f.path)
      local bytes = read(f.path)
      assert.are.equal(#bytes, f.bytes)
      assert.are.equal("%PDF-", bytes:sub(1, 5))
      assert.truthy(bytes:find("%%EOF%s*$"))
    end
  end)

  it("keeps hostile document names inside the folder, never overwriting", function()
    local names = { "../../escape", "/etc/passwd", "a/b\\c", "..", ".hidden", "same", "SAME", "same.pdf",
      "", "x\0y", ("n"):rep(300), "caf\195\169 \226\128\174fdp.exe" }
    local docs = {}
    for i, n in ipairs(names) do docs[i] = { name = n } end
    local pack = emulator:create_pack{ name = "Hostile", documents = docs }
    local dir = tmpdir()
    local c = emulator.client{ api_key = emulator.api_key }
    local files = assert(c.document_packs:download(pack.key, dir))
    assert.are.equal(#names, #files)
    local seen = {}
    for _, f in ipairs(files) do
      assert.are.equal(dir .. "/" .. f.file, f.path)
      assert.falsy(f.file:find("/", 1, true))
      assert.falsy(f.file:find("\\", 1, true))
      assert.falsy(f.file:find("^%."))
      assert.truthy(f.file:find("%.pdf$"))
      assert.truthy(#f.file <= 110)
      assert.is_nil(seen[f.file:lower()])
      seen[f.file:lower()] = true
    end
    assert.are.equal(#names, #listing(dir))
    assert.are.equal("same.pdf", files[6].file)
    assert.are.equal("SAME-2.pdf", files[7].file)
    assert.are.equal("same-3.pdf", files[8].file)
  end)

  it("refuses a folder that is a file, and a path it cannot write", function()
    local pack = emulator:create_pack()
    local c = emulator.client{ api_key = emulator.api_key }
    local file = os.tmpname()
    local files, err = c.document_packs:download(pack.key, file)
    assert.is_nil(files)
    assert.are.equal("io", err.kind)
    assert.are.equal("cannot_create_folder", err.reason)
    assert.are.equal(file, err.path)
    assert.is_number(err.errno)
    local bytes, err2 = c:download(pack.documents[1].serve_pdf_url, "/nonexistent-dir/x.pdf")
    assert.is_nil(bytes)
    assert.are.equal("io", err2.kind)
    assert.are.equal("cannot_create_file", err2.reason)
    os.remove(file)
  end)
end)

describe("client:download", function()
  local c

  before_each(function()
    -- these specs fault the API's own PDF path: where PDFs live (profiles pdf-*) is in spec/profiles
    emulator:config{ serve_pdf_host = "api", pdf_redirect = "none", pdf_requires_token = true }
    c = emulator.client{ api_key = emulator.api_key, max_body_size = 64 * 1024 }
  end)

  it("streams a file far larger than the body cap", function()
    local pack = emulator:create_pack{ name = "Big", documents = { { name = "Big", pdf_bytes = 8 * 1024 * 1024 } } }
    local path = tmpdir() .. "/big.pdf"
    local bytes, err = c:download(pack.documents[1].serve_pdf_url, path)
    assert.is_nil(err)
    assert.truthy(bytes >= 8 * 1024 * 1024)
    local f = assert(io.open(path, "rb"))
    assert.are.equal(bytes, f:seek("end"))
    f:close()
  end)

  it("leaves no file behind when the download fails", function()
    local pack = emulator:create_pack()
    local dir = tmpdir()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 5, status = 500 }
    local bytes, err = c:download(pack.documents[1].serve_pdf_url, dir .. "/x.pdf")
    assert.is_nil(bytes)
    assert.are.equal(500, err.status)
    assert.are.same({}, listing(dir))
  end)

  it("reports an error envelope answered with HTTP 200 instead of saving it", function()
    local pack = emulator:create_pack()
    local dir = tmpdir()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 200,
      content_type = "application/json",
      body = '{"status":{"status_code":404,"errors":[{"code":"not_found","message":"No such document"}]}}' }
    local bytes, err = c:download(pack.documents[1].serve_pdf_url, dir .. "/x.pdf")
    assert.is_nil(bytes)
    assert.are.equal("api", err.kind)
    assert.are.equal(404, err.status)
    assert.are.equal("not_found", err.code)
    assert.are.same({}, listing(dir))
    -- an expired token said the same way is minted again, and the download then succeeds
    assert(c.document_packs:get(pack.key))
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 200,
      content_type = "application/json",
      body = '{"status":{"status_code":401,"errors":[{"code":"invalid_access_token","message":"expired"}]}}' }
    local got = assert(c:download(pack.documents[1].serve_pdf_url, dir .. "/y.pdf"))
    assert.are.equal("%PDF-", read(dir .. "/y.pdf"):sub(1, 5))
    assert.are.equal(got, #read(dir .. "/y.pdf"))
  end)

  it("refuses a 200 that is no PDF, saving nothing: a success envelope, a page labelled PDF", function()
    local pack = emulator:create_pack()
    local dir = tmpdir()
    local cases = {
      { "application/json", '{"status":{"status_code":200},"data":{"hello":"world"}}', "application/json" },
      { "application/pdf", "<!DOCTYPE html><html>sign in</html>", "application/pdf" },
      { "text/html; charset=utf-8", "%PDF-1.4 but served as a page", "text/html; charset=utf-8" },
      { "application/pdf", "", "application/pdf" },
    }
    for _, case in ipairs(cases) do
      emulator:fault{ method = "GET", path_prefix = "/v1/document_packs", count = 1, status = 200,
        content_type = case[1], body = case[2] }
      local bytes, err = c:download(pack.documents[1].serve_pdf_url, dir .. "/d.pdf")
      assert.is_nil(bytes)
      assert.are.equal("protocol", err.kind)
      assert.are.equal("not_pdf", err.reason)
      assert.are.equal(case[3], err.content_type)
      assert.is_false(err.retryable)
      assert.are.equal(1, err.attempts)
      assert.truthy(err.message:find("not a PDF", 1, true), err.message)
      assert.are.same({}, listing(dir))
    end
  end)

  it("follows a redirect on the same host", function()
    emulator:config{ pdf_redirect = "same_host" }
    local pack = emulator:create_pack()
    local path = tmpdir() .. "/r.pdf"
    local bytes = assert(c:download(pack.documents[1].serve_pdf_url, path))
    assert.are.equal(bytes, #read(path))
    assert.are.equal("%PDF-", read(path):sub(1, 5))
  end)

  it("follows a redirect to another host without the token", function()
    emulator:config{ pdf_redirect = "other_host" }
    local pack = emulator:create_pack()
    local path = tmpdir() .. "/r.pdf"
    emulator:clear_requests()
    local bytes = assert(c:download(pack.documents[1].serve_pdf_url, path))
    assert.are.equal(bytes, #read(path))
    assert.are.equal("%PDF-", read(path):sub(1, 5))
    local seen = {}
    for _, r in ipairs(emulator:requests("/")) do
      if r.path ~= "/v1/access_tokens" then seen[#seen + 1] = r end
    end
    assert.are.equal(2, #seen)
    assert.is_true(seen[1].has_access_token)            -- the API's own URL
    assert.is_false(seen[2].has_access_token)           -- localhost: another origin
    for _, h in ipairs(seen[2].headers_present) do assert.are_not.equal("authorization", h) end
    local last = c:last_response()
    assert.are.equal(1, #last.redirects)
    assert.truthy(last.redirects[1]:find("^http://localhost:%d+/_emulator/storage/"), last.redirects[1])
    assert.are.equal("application/pdf", last.content_type)
  end)

  it("sends the token only to the API's origin", function()
    local pack = emulator:create_pack()
    local url = pack.documents[1].serve_pdf_url
    local other = url:gsub("127%.0%.0%.1", "localhost")
    assert(c:download(url, os.tmpname()))
    emulator:clear_requests()
    local bytes, err = c:download(other, os.tmpname())   -- same server, another origin
    if emulator:setting("pdf_requires_token") then   -- (pdf-no-token: served all the same)
      assert.is_nil(bytes)
      assert.are.equal(401, err.status)
    end
    assert.is_false(emulator:requests("/v1/document_packs")[1].has_access_token)
  end)

  it("raises on misuse", function()
    assert.has_error(function() c:download(nil, "/tmp/x") end)
    assert.has_error(function() c:download("file:///etc/passwd", "/tmp/x") end)
    assert.has_error(function() c:download("http://127.0.0.1/x", "") end)
  end)

  it("is_error on results of quicklysign", function()
    assert.is_false(quicklysign.is_error("x"))
  end)
end)
