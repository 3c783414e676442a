-- quicklysign packs get|download against the emulator.
local support = require "cli.support"
local emulator = require "support.emulator"

local qs = support.qs

before_each(function() emulator:reset() end)

local function ok(r)
  assert.are.equal(0, r.code, "exit " .. tostring(r.code) .. ": " .. r.stderr)
  return r
end

local listing = support.listing

local function new_pack()
  return emulator:create_pack{
    name = "Lease",
    documents = { { name = "Contract" }, { name = "Schedule A" } },
    signatories = { { name = "Ann Example", email = "ann@example.com" } },
  }
end

describe("quicklysign packs get", function()
  it("prints the pack, its signatories and its documents", function()
    local pack = new_pack()
    local r = ok(qs{ "packs", "get", pack.key })
    assert.truthy(r.stdout:find("^key +" .. pack.key:gsub("%-", "%%-") .. "\n"), r.stdout)
    assert.truthy(r.stdout:find("\nname +Lease\n"), r.stdout)
    assert.truthy(r.stdout:find("\nstatus +setup\n"), r.stdout)
    assert.truthy(r.stdout:find("\ncreated +%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ\n"), r.stdout)
    assert.truthy(r.stdout:find("\nSIGNATORY +EMAIL +STATUS\nAnn Example +ann@example%.com +%a+\n"), r.stdout)
    assert.truthy(r.stdout:find("\nDOCUMENT +NAME\n", 1, false), r.stdout)
    for _, d in ipairs(pack.documents) do
      assert.truthy(r.stdout:find(d.key .. "  " .. d.document_name, 1, true), d.document_name)
    end
  end)

  it("prints the pack as JSON with --json and its key with -q", function()
    local pack = new_pack()
    local doc = support.json(ok(qs{ "packs", "get", pack.key, "--json" }).stdout)
    assert.are.equal(pack.key, doc.key)
    assert.are.equal("Lease", doc.document_pack_name)
    assert.are.equal(2, #doc.documents)
    assert.is_string(doc.documents[1].serve_pdf_url)
    assert.are.equal(pack.key .. "\n", ok(qs{ "-q", "packs", "get", pack.key }).stdout)
  end)

  it("exits 4 for an unknown pack", function()
    local r = qs{ "packs", "get", "no-such-pack" }
    assert.are.equal(4, r.code)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("^quicklysign: api error 404"), r.stderr)
  end)

  it("exits 3 when the API key is refused", function()
    local r = qs({ "packs", "get", new_pack().key }, { QUICKLYSIGN_API_KEY = "not-the-api-key" })
    assert.are.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("401", 1, true))
  end)
end)

describe("quicklysign packs download", function()
  it("writes every final PDF to DIR and lists the files", function()
    local pack = new_pack()
    emulator:drive(pack.key, "complete")
    local dir = support.tmpdir() .. "/out/pdfs"
    local r = ok(qs{ "packs", "download", pack.key, dir })
    assert.are.same({ "Contract.pdf", "Schedule A.pdf" }, listing(dir))
    local lines = support.lines(r.stdout)
    assert.truthy(lines[1]:find("^FILE +BYTES$"), lines[1])
    assert.are.equal(3, #lines)
    for _, name in ipairs{ "Contract.pdf", "Schedule A.pdf" } do
      local bytes = support.read(dir .. "/" .. name)
      assert.are.equal("%PDF-", bytes:sub(1, 5))
      assert.truthy(r.stdout:find(dir .. "/" .. name .. " +" .. #bytes .. "\n"), r.stdout)
    end
  end)

  it("prints the files as a JSON array with --json and paths with -q", function()
    local pack = new_pack()
    emulator:drive(pack.key, "complete")
    local dir = support.tmpdir()
    local files = support.json(ok(qs{ "--json", "packs", "download", pack.key, dir }).stdout)
    assert.are.equal(2, #files)
    for i, f in ipairs(files) do
      assert.are.equal(pack.documents[i].key, f.key)
      assert.are.equal(dir .. "/" .. f.file, f.path)
      assert.are.equal(#support.read(f.path), f.bytes)
    end
    local quiet = ok(qs{ "-q", "packs", "download", pack.key, dir })
    assert.are.equal(dir .. "/Contract.pdf\n" .. dir .. "/Schedule A.pdf\n", quiet.stdout)
  end)

  it("exits 4 for an unknown pack and writes nothing", function()
    local dir = support.tmpdir()
    local r = qs{ "packs", "download", "no-such-pack", dir }
    assert.are.equal(4, r.code)
    assert.are.same({}, listing(dir))
  end)

  it("exits 1 when DIR cannot be created", function()
    local pack = new_pack()
    emulator:drive(pack.key, "complete")
    local file = os.tmpname()
    local r = qs{ "packs", "download", pack.key, file .. "/sub" }
    os.remove(file)
    assert.are.equal(1, r.code, r.stderr)
    assert.truthy(r.stderr:find("^quicklysign: io error"), r.stderr)
  end)
end)
