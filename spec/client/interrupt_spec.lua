-- An error that unwinds a call half-way (an interrupt, out of memory) must
-- not leave the client unusable; and an interrupt is never taken for a
-- server's bad JSON.
local emulator = require "support.emulator"
local process = require "support.process"

-- These specs download PDFs from the API's own path (and fault it): where PDFs live and what a
-- PDF URL may answer instead (profiles pdf-*) is in spec/profiles, so those settings are pinned
-- whatever the start profiles.
before_each(function()
  emulator:reset()
  emulator:config{ pdf_body = "pdf", serve_pdf_host = "api", pdf_redirect = "none" }
end)

describe("an error that unwinds a call", function()
  it("leaves the client usable, wherever it strikes", function()
    local c = emulator.client{ max_retries = 0 }
    local interrupted = 0
    for n = 1, 12 do
      local calls, armed = 0, true
      -- like lua.c's SIGINT handler: a hook that raises at a call event,
      -- armed only inside the protected call, so that it never strikes outside it
      local ok, err = pcall(function()
        debug.sethook(function()
          if not armed then return end
          calls = calls + 1
          if calls == n then
            armed = false
            error("interrupted!")
          end
        end, "c")
        local list = c.webhooks:list()
        armed = false
        return list
      end)
      armed = false
      debug.sethook()
      if not ok then
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        interrupted = interrupted + 1
      end
      local list, err2 = c.webhooks:list()
      assert.is_nil(err2)
      assert.are.same({}, list)
    end
    assert.truthy(interrupted >= 2, "the hook never struck inside a call")
  end)

  it("leaves the client usable from a deeper Lua frame than the one that was unwound", function()
    local c = emulator.client{ max_retries = 0 }
    -- calls list from `depth` more nested Lua frames (no tail call: each one stays a frame)
    local function deeper(depth)
      local a, b
      if depth == 0 then a, b = c.webhooks:list() else a, b = deeper(depth - 1) end
      return a, b
    end
    local struck = 0
    for n = 1, 8 do
      local calls, armed = 0, true
      local ok, err = pcall(function()
        debug.sethook(function()
          if not armed then return end
          calls = calls + 1
          if calls == n then
            armed = false
            error("interrupted!")
          end
        end, "c")
        local list = c.webhooks:list()
        armed = false
        return list
      end)
      armed = false
      debug.sethook()
      if not ok then
        assert.truthy(tostring(err):find("interrupted!", 1, true), tostring(err))
        struck = struck + 1
        for _, depth in ipairs{ 5, 20, 1 } do   -- the first call after it comes from deeper down
          local list, err2 = deeper(depth)
          assert.is_nil(err2)
          assert.are.same({}, list)
        end
      end
    end
    assert.truthy(struck >= 2, "the hook never struck inside a call")
  end)

  it("Ctrl-C during an API call exits the CLI with 130", function()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, delay_ms = 1500 }
    local script = ("%s bin/quicklysign webhooks list & pid=$!; sleep 0.5; kill -INT $pid; wait $pid")
      :format(process.lua)
    local code, _, err = process.run({ "sh", "-c", script }, {
      QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
      QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert.are.equal(130, code, err)
    assert.falsy(err:find("not JSON", 1, true), err)
  end)
end)

describe("an interrupt during a download", function()
  local tmpdir, listing = process.tmpdir, process.listing

  local function size_of(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local n = f:seek("end")
    f:close()
    return n
  end

  local function set_hook(co, fn, mask)
    if jit then debug.sethook(fn, mask, 1) else debug.sethook(co, fn, mask, 1) end
  end

  -- Plays SIGINT arriving after the n-th debug event of a download (from its call to its
  -- return): the way lua.c answers SIGINT, a hook that removes itself and raises
  -- "interrupted!" at the next event. The download runs in a coroutine of its own, whose
  -- results resume returns. Returns ok, result, and whether the interrupt struck after the
  -- call's work was done: as the C function that ran it returned, or in the caller.
  -- (LuaJIT's hooks are the VM's, not the coroutine's: they act inside the coroutine only. The
  -- two hooks differ in their masks, as lua.c's differs from whatever ran before it:
  -- debug.sethook gives every Lua hook the same C function.)
  local function download_interrupted_at(c, url, path, n)
    local function body() return c.download(c, url, path) end
    local co = coroutine.create(body)
    local events, called, returned, after_work = 0, false, false, false
    local function interrupt(event)
      if coroutine.running() ~= co then return end
      local info = debug.getinfo(2, "Sf")
      after_work = (event == "return" and info.what == "C") or info.func == body
      set_hook(co)
      error("interrupted!")
    end
    local download = c.download
    local function count(event)
      if coroutine.running() ~= co or returned then return end
      local func = debug.getinfo(2, "f").func
      called = called or (event == "call" and func == download)
      if not called then return end
      returned = event == "return" and func == download
      if returned then return end   -- a signal from here on comes after the call
      events = events + 1
      if events == n then set_hook(co, interrupt, "crl") end
    end
    set_hook(co, count, "cr")
    local ok, result = coroutine.resume(co)
    set_hook(co)
    return ok, result, after_work, events >= n
  end

  local function temp_files(dir)
    local temps = {}
    for _, name in ipairs(listing(dir)) do
      if not name:find("%.pdf$") then temps[#temps + 1] = name end
    end
    return temps
  end

  it("either returns the size of a file in place, or leaves nothing", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    assert(c:authenticate())
    local url = emulator:create_pack().documents[1].serve_pdf_url
    local dir = tmpdir()
    local done, interrupted, returned_anyway, n = 0, 0, 0, 0
    repeat
      n = n + 1
      local path = dir .. "/doc-" .. n .. ".pdf"
      local ok, result, after_work, signalled = download_interrupted_at(c, url, path, n)
      if ok then
        done = done + 1
        if signalled then returned_anyway = returned_anyway + 1 end
        assert.are.equal(result, size_of(path), "n = " .. n)
      elseif after_work then
        -- after the rename: the call returned its size, and the interrupt waited for the
        -- caller's next instruction, which Lua 5.1-5.3 run in the coroutine (its return)
        assert.is_true(_VERSION ~= "Lua 5.4" and not jit, "n = " .. n)
        returned_anyway = returned_anyway + 1
        assert.is_number(size_of(path), "n = " .. n)
      else
        interrupted = interrupted + 1
        assert.truthy(tostring(result):find("interrupted!", 1, true), tostring(result))
        assert.is_nil(size_of(path), "n = " .. n)
      end
      assert.are.same({}, temp_files(dir))
    until (ok and not signalled) or n > 400
    assert.truthy(interrupted >= 3, "the interrupt never struck inside the download")
    assert.truthy(returned_anyway >= 1, "no interrupt came after the rename")
    assert(c:download(url, dir .. "/after.pdf"))   -- the client is still usable
  end)

  it("Ctrl-C stops a download that is under way at once, leaving no file, and exits 130", function()
    local pack = emulator:create_pack()
    local dir = tmpdir()
    emulator:fault{ method = "GET", path_prefix = "/v1/document_packs/" .. pack.key .. "/documents",
      count = 1, delay_ms = 6000 }
    emulator:clear_requests()
    local script = ("%s bin/quicklysign packs download %s %s & pid=$!; sleep 0.7; kill -INT $pid; wait $pid")
      :format(process.lua, pack.key, dir)
    local code, _, err = process.run({ "sh", "-c", script }, {
      QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
      QUICKLYSIGN_API_KEY = emulator.api_key, QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert.are.equal(130, code, err)
    assert.truthy(err:find("interrupted", 1, true), err)
    assert.falsy(err:find("fail", 1, true), err)
    assert.are.same({}, listing(dir))
    -- the PDF's answer was still being delayed when the command ended: it did not wait for it
    assert.are.equal(0, #emulator:requests("/v1/document_packs/" .. pack.key .. "/documents"))
  end)
end)
