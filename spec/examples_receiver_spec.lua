-- examples/receiver_plain.lua (a receiver outside OpenResty, with a dedupe key of its own) and
-- examples/handlers.lua (run by `quicklysign worker`), as users run them: the emulator delivers
-- real callbacks to the plain receiver, the worker writes the final PDFs.
local emulator = require "support.emulator"
local ports = require "support.ports"
local process = require "support.process"
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local socket = require "socket"

local TOKEN = "plain-receiver-token-0123456789abcdef"

local function wait_for(fn, seconds)
  local deadline = socket.gettime() + (seconds or 15)
  repeat
    local v = fn()
    if v then return v end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return nil
end

describe("examples/receiver_plain.lua with examples/handlers.lua", function()
  local port, url, pdf_dir, child, pid

  before_each(function()
    emulator:reset()
    port = ports.free()
    local base = os.tmpname()
    os.remove(base)
    url, pdf_dir = "sqlite://" .. base .. ".db", base .. "-pdfs"
    local env = ("QUICKLYSIGN_CLIENT_ID=%s QUICKLYSIGN_CLIENT_SECRET=%s QUICKLYSIGN_API_KEY=%s "
      .. "QUICKLYSIGN_BASE_URL=%s QUICKLYSIGN_CALLBACK_TOKEN=%s"):format(emulator.client_id, emulator.client_secret,
      emulator.api_key, emulator.base_url, TOKEN)
    child = assert(io.popen(("exec env %s %s examples/receiver_plain.lua %d %s & echo $!"):format(env, process.lua,
      port, process.quote(url))))
    pid = child:read("*l")
    assert.truthy(child:read("*l"):find("listening on", 1, true))
  end)

  after_each(function()
    os.execute("kill " .. pid .. " 2>/dev/null")
    child:close()
  end)

  it("stores the delivered callbacks once each, and the worker writes the final PDFs", function()
    local client = emulator.client()
    local pack = emulator:create_pack{ name = "Plain", documents = { { name = "Deed" } } }
    -- two webhooks on one pack: every event is delivered twice
    for _ = 1, 2 do
      assert(client.webhooks:create{ entity_key = pack.key,
        callback = callbacks.callback_url(("http://127.0.0.1:%d/quicklysign"):format(port), TOKEN) })
    end
    local function answered(n)
      return wait_for(function()
        local ok = 0
        for _, d in ipairs(emulator:deliveries()) do if d.status == 200 then ok = ok + 1 end end
        return ok == n
      end)
    end
    emulator:drive(pack.key, "send")
    assert.truthy(answered(2), "the send's two deliveries were not answered 200")
    emulator:drive(pack.key, "complete")
    assert.truthy(answered(6), "the six deliveries were not all answered 200")
    local box = assert(inbox.open(url))
    -- each status change stored once (keyed by the status the API gives), the final event once:
    -- three jobs for six deliveries

    assert.are.equal(3, box:stats().queued)
    box:close()
    local code, out, err = process.run({ process.lua, "bin/quicklysign", "worker", "--inbox", url, "--handlers",
      "examples/handlers.lua", "--until-idle" }, { QUICKLYSIGN_CLIENT_ID = emulator.client_id,
      QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret, QUICKLYSIGN_API_KEY = emulator.api_key,
      QUICKLYSIGN_BASE_URL = emulator.base_url, QUICKLYSIGN_PDF_DIR = pdf_dir })
    assert.are.equal(0, code, err)
    assert.truthy(out:find(pack.key .. ": 1 final PDFs (attempt 1)", 1, true), out)
    local f = assert(io.open(pdf_dir .. "/" .. pack.key .. "/Deed.pdf", "rb"))
    assert.are.equal("%PDF-", f:read(5))
    f:close()
  end)
end)
