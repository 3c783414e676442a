-- A download whose process died (SIGKILL mid-transfer) left its "<file>.XXXXXX" temporary file
-- behind for ever. Every download now holds an flock on its temporary file; the next download
-- of the same file removes temp files that nobody holds (and nothing else).
local emulator = require "support.emulator"
local process = require "support.process"

-- These specs download PDFs from the API's own path (and fault it): where PDFs live and what a
-- PDF URL may answer instead (profiles pdf-*) is in spec/profiles, so those settings are pinned
-- whatever the start profiles.
before_each(function()
  emulator:reset()
  emulator:config{ pdf_body = "pdf", serve_pdf_host = "api", pdf_redirect = "none" }
end)

local tmpdir = process.tmpdir

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function touch_old(path)
  local f = assert(io.open(path, "wb"))
  f:write("partial")
  f:close()
  assert(os.execute("touch -d '-1 min' '" .. path .. "'"))
end

describe("downloads and the temp files of dead downloads", function()
  it("removes an orphaned temp file of the same target, keeps one a live process holds", function()
    local pack = emulator:create_pack{ name = "P", documents = { { name = "Contract" } } }
    local dir = tmpdir()
    local orphan, held = dir .. "/Contract.pdf.Ab3xQ9", dir .. "/Contract.pdf.Zz0000"
    local other = dir .. "/Contract.pdf.notes"
    touch_old(orphan)
    touch_old(held)
    touch_old(other)
    -- another process is downloading into `held` right now: it holds the lock
    local holder = assert(io.popen("exec flock -x '" .. held .. "' sh -c 'echo locked; sleep 10' & echo $!"))
    local pid = holder:read("*l")
    assert.are.equal("locked", holder:read("*l"))
    local c = emulator.client{ api_key = emulator.api_key }
    local files = assert(c.document_packs:download(pack.key, dir))
    os.execute("kill " .. pid)
    holder:close()
    assert.are.equal(1, #files)
    assert.is_false(exists(orphan))
    assert.is_true(exists(held))
    assert.is_true(exists(other))   -- not a temp file's name: never touched
    c:close()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("leaves nothing behind when the downloading process is killed, once the next download ran", function()
    local pack = emulator:create_pack{ name = "P", documents = { { name = "Big", pdf_bytes = 4 * 1024 * 1024 } } }
    emulator:drive(pack.key, "complete")
    local dir = tmpdir()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents", count = 1,
      delay_ms = 5000 }
    local script = ([[
      local q = require "quicklysign"
      local c = q.new{ client_id = %q, client_secret = %q, api_key = %q, base_url = %q }
      io.stdout:write("started\n"); io.stdout:flush()
      c.document_packs:download(%q, %q)
    ]]):format(emulator.client_id, emulator.client_secret, emulator.api_key, emulator.base_url, pack.key, dir)
    local child = assert(io.popen(("exec %s -e %s & echo $!"):format(process.lua, process.quote(script))))
    local pid = child:read("*l")
    assert.are.equal("started", child:read("*l"))
    local temp
    for _ = 1, 100 do   -- until its temp file exists
      local ls = io.popen("ls -A '" .. dir .. "'")
      temp = ls:read("*l")
      ls:close()
      if temp then break end
      require("socket").sleep(0.05)
    end
    assert.truthy(temp and temp:find("^Big%.pdf%.%w%w%w%w%w%w$"), tostring(temp))
    os.execute("kill -9 " .. pid)
    child:close()
    require("socket").sleep(1.1)
    local c = emulator.client{ api_key = emulator.api_key }
    assert(c.document_packs:download(pack.key, dir))
    local ls = io.popen("ls -A '" .. dir .. "'")
    local names = {}
    for name in ls:lines() do names[#names + 1] = name end
    ls:close()
    assert.are.same({ "Big.pdf" }, names)
    c:close()
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
