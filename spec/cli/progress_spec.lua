-- Downloads from the shell: a progress bar on a terminal (in a real pseudo-terminal, tmux), none
-- when not one or with -q; --download-timeout is the client's download_timeout, which --timeout
-- does not cover. The PDFs answer late (emulator delay_ms faults), so that each download is
-- still under way when the screen is read; no assertion depends on how long anything took.
local support = require "cli.support"
local emulator = require "support.emulator"
local tty = require "support.tty"

local quote = support.quote
local RATE = "%d [KMGT]?i?B/s"   -- the bar's rate, "0 B/s", "1.2 MiB/s"

before_each(function() emulator:reset() end)

local function in_session(argv, env)
  return "sh -c " .. quote(support.command_line(argv, env) .. '; echo "[exit $?]"; sleep 60')
end

-- A complete pack of two documents whose PDFs answer after ms.
local function slow_pack(ms)
  local pack = emulator:create_pack{ name = "Slow", documents = {
    { name = "first", pdf_bytes = 400000 }, { name = "second", pdf_bytes = 300000 } } }
  emulator:drive(pack.key, "complete")
  emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents/",
    delay_ms = ms, count = 2 }
  return pack.key
end

describe("quicklysign packs download", function()
  it("shows a progress bar on a terminal while the PDFs download, then clears it", function()
    local key, dir = slow_pack(3000), support.tmpdir()
    local s = tty.start(in_session({ "packs", "download", key, dir }, support.creds()), { width = 100 })
    finally(function() s:close() os.execute("rm -rf " .. quote(dir)) end)
    local during = assert(s:wait_for("of 2 files)", 20), s:screen())
    assert.truthy(during:find(RATE), during)
    local screen = assert(s:wait_for("[exit 0]", 20), s:screen())
    local escaped = dir:gsub("%p", "%%%0")
    assert.truthy(screen:find(escaped .. "/first%.pdf%s+400000"), screen)
    assert.truthy(screen:find(escaped .. "/second%.pdf%s+300000"), screen)
    assert.falsy(screen:find(RATE), screen)   -- the bar's line was cleared
  end)

  it("shows none with -q on a terminal", function()
    local key, dir = slow_pack(1500), support.tmpdir()
    local s = tty.start(in_session({ "-q", "packs", "download", key, dir }, support.creds()), { width = 100 })
    finally(function() s:close() os.execute("rm -rf " .. quote(dir)) end)
    local seen = {}
    for _ = 1, 10 do
      seen[#seen + 1] = s:screen()
      os.execute("sleep 0.1")
    end
    local screen = assert(s:wait_for("[exit 0]", 20), s:screen())
    assert.falsy(table.concat(seen):find(RATE))
    assert.truthy(screen:find(dir .. "/first.pdf", 1, true), screen)
  end)

  it("shows none when not on a terminal", function()
    local key, dir = slow_pack(500), support.tmpdir()
    finally(function() os.execute("rm -rf " .. quote(dir)) end)
    local r = support.qs({ "packs", "download", key, dir }, support.creds())
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("", r.stderr)
    assert.falsy(r.stdout:find("\r", 1, true))
  end)

  it("--download-timeout bounds each download; --timeout does not", function()
    local dir = support.tmpdir()
    finally(function() os.execute("rm -rf " .. quote(dir)) end)
    local key = slow_pack(1500)
    local r = support.qs({ "--download-timeout", "0.3", "packs", "download", key, dir }, support.creds())
    assert.are.equal(5, r.code, r.stderr)   -- temporary: a timeout
    assert.truthy(r.stderr:find("timeout error timed_out", 1, true), r.stderr)
    emulator:clear_faults()
    key = slow_pack(800)
    r = support.qs({ "--timeout", "0.5", "packs", "download", key, dir }, support.creds())
    assert.are.equal(0, r.code, r.stderr)
  end)
end)
