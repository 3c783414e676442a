-- examples/openresty/run, as an operator uses it: start fails loudly (non-zero, the reason
-- printed) when the receiver cannot initialise; stop returns once nginx has exited; stop then
-- start never leaves two masters; a second start is refused.
local emulator = require "support.emulator"
local ports = require "support.ports"
local process = require "support.process"

local function env(over)
  local e = {
    QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
    QUICKLYSIGN_API_KEY = emulator.api_key, QUICKLYSIGN_BASE_URL = emulator.base_url,
    QUICKLYSIGN_CALLBACK_TOKEN = "run-spec-token-0123456789abcdef", QUICKLYSIGN_PDF_DIR = process.tmpdir(),
    QUICKLYSIGN_RUN_DIR = process.tmpdir(),
  }
  for k, v in pairs(over or {}) do e[k] = v end
  return e
end

local function run(cmd, port, e)
  return process.run({ "examples/openresty/run", cmd, "--port", tostring(port) }, e)
end

local function masters(e, port)
  local code, out = process.run({ "sh", "-c", "pgrep -f -- '[n]ginx: master process .*" .. e.QUICKLYSIGN_RUN_DIR
    .. "/receiver-" .. port .. "' | wc -l" })
  assert.are.equal(0, code)
  return tonumber(out)
end

describe("examples/openresty/run", function()
  it("refuses to start without a variable it needs, naming it", function()
    local port = ports.free()
    local code, out, err = run("start", port, env{ QUICKLYSIGN_CALLBACK_TOKEN = false })
    assert.are.equal(1, code, out)
    assert.truthy(err:find("set QUICKLYSIGN_CALLBACK_TOKEN", 1, true), err)
  end)

  it("fails, saying why and leaving nothing running, when the inbox cannot be reached", function()
    local port = ports.free()
    local e = env{ QUICKLYSIGN_INBOX = "redis://127.0.0.1:" .. ports.free() .. "/0" }
    local code, out, err = run("start", port, e)
    assert.are.equal(1, code, out)
    assert.truthy(err:find("is not ready", 1, true), err)
    assert.truthy(err:find("the inbox does not answer", 1, true), err)
    assert.are.equal(0, masters(e, port))
  end)

  it("stops for real, refuses a second start, and never leaves two masters", function()
    local port = ports.free()
    local e = env()
    local code, out, err = run("start", port, e)
    assert.are.equal(0, code, err)
    assert.are.equal(("http://127.0.0.1:%d/quicklysign\n"):format(port), out)
    local _
    code, _, err = run("start", port, e)
    assert.are.equal(1, code)
    assert.truthy(err:find("already running", 1, true), err)
    assert.are.equal(0, (run("status", port, e)))
    for _ = 1, 3 do
      assert.are.equal(0, (run("stop", port, e)))
      assert.are.equal(0, masters(e, port))
      assert.are.equal(0, (run("start", port, e)))
      assert.are.equal(1, masters(e, port))
    end
    assert.are.equal(0, (run("stop", port, e)))
    assert.are.equal(3, (run("status", port, e)))
  end)
end)
