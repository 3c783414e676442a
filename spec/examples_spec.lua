-- The example scripts, run as users run them, against the emulator.
local emulator = require "support.emulator"
local process = require "support.process"

before_each(function() emulator:reset() end)

local ENV = {
  QUICKLYSIGN_CLIENT_ID = emulator.client_id,
  QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
  QUICKLYSIGN_API_KEY = emulator.api_key,
  QUICKLYSIGN_BASE_URL = emulator.base_url,
}

local function support_wait(fn)
  for _ = 1, 200 do
    if fn() then return true end
    os.execute("sleep 0.05")
  end
  return false
end

local function example(name, ...)
  return process.run({ process.lua, "examples/" .. name .. ".lua", ... }, ENV)
end

describe("examples", function()
  it("subscribe, list, unsubscribe one, unsubscribe a pack", function()
    local pack = emulator:create_pack()
    local code, out, err = example("subscribe", pack.key, "http://127.0.0.1:9/a")
    assert.are.equal(0, code, err)
    local key = out:match("^subscribed (%S+) %-> http://127%.0%.0%.1:9/a")
    assert.is_string(key, out .. err)
    code, out = example("subscribe", pack.key, "http://127.0.0.1:9/a")
    assert.are.equal(0, code)
    assert.are.equal("already subscribed " .. key .. " -> http://127.0.0.1:9/a\n", out)
    assert.are.equal(0, (example("subscribe", pack.key, "http://127.0.0.1:9/b")))

    code, out = example("list", pack.key)
    assert.are.equal(0, code)
    assert.truthy(out:find(key, 1, true))
    assert.truthy(out:find("2 webhook%(s%)\n$"))

    code, out = example("unsubscribe", key)
    assert.are.equal(0, code)
    assert.are.equal("unsubscribed\n", out)
    assert.truthy(select(2, example("list", pack.key)):find("1 webhook%(s%)\n$"))
    assert.are.equal(0, (example("unsubscribe", "--pack", pack.key)))
    assert.truthy(select(2, example("list")):find("^0 webhook%(s%)\n$"))
  end)

  it("unsubscribe takes a webhook key that begins with '-' (keys may)", function()
    local code, out, err = example("unsubscribe", "-no-such-webhook-key")
    assert.are.equal(1, code, out .. err)
    assert.truthy(err:find("404", 1, true), err)
  end)

  it("downloads the final PDFs of a completed pack", function()
    local pack = emulator:create_pack{ name = "P", documents = { { name = "One" }, { name = "Two" } } }
    emulator:drive(pack.key, "complete")
    local dir = os.tmpname()
    os.remove(dir)
    local code, out, err = example("download_final_pdfs", pack.key, dir)
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    assert.truthy(out:find(dir .. "/One.pdf", 1, true))
    assert.truthy(out:find(dir .. "/Two.pdf", 1, true))
    local f = assert(io.open(dir .. "/One.pdf", "rb"))
    assert.are.equal("%PDF-", f:read(5))
    f:close()
  end)

  it("logs: the callback log of a pack, and of one webhook", function()
    local pack = emulator:create_pack()
    local _, out = example("subscribe", pack.key, emulator.url .. "/_emulator/sinks/logs")
    local webhook = out:match("^subscribed (%S+)")
    emulator:drive(pack.key, "update")
    assert.truthy(support_wait(function() return #emulator:deliveries() > 0 end), "no delivery")
    local code, text, err = example("logs", pack.key)
    assert.are.equal(0, code, err)
    -- the vendor's two entries per delivery: "Calling callback url ..." and "Successful call ..."
    assert.truthy(text:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ  entity_updated +Calling callback url "), text)
    assert.truthy(text:find("Successful call to url ", 1, true), text)
    assert.truthy(text:find("\n2 log entries\n$"), text)
    code, text = example("logs", "--webhook", webhook)
    assert.are.equal(0, code)
    assert.truthy(text:find("entity_updated", 1, true))
    assert.are.equal("0 log entries\n", select(2, example("logs", "--webhook", "no-such-webhook")))
  end)

  it("errors: retries what err.retryable allows, and names the fix for the rest", function()
    local pack = emulator:create_pack()
    local _, out = example("subscribe", pack.key, "http://127.0.0.1:9/e")
    local webhook = out:match("^subscribed (%S+)")
    -- the client's own three tries fail, the example tries again a second later and succeeds
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks/", count = 3, status = 503, retry_after = "0" }
    local code, text, err = example("errors", webhook)
    assert.are.equal(0, code, err)
    assert.truthy(err:find("attempt 1 failed after 3 tries (api), retrying in 1 s", 1, true), err)
    assert.truthy(text:find(webhook .. " watches " .. pack.key, 1, true), text)

    code, _, err = example("errors", "no-such-webhook")
    assert.are.equal(4, code)
    assert.truthy(err:find("there is no webhook no-such-webhook", 1, true), err)

    code, _, err = process.run({ process.lua, "examples/errors.lua", webhook },
      { QUICKLYSIGN_CLIENT_ID = "x", QUICKLYSIGN_CLIENT_SECRET = "a-wrong-secret-value",
        QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert.are.equal(3, code)
    assert.truthy(err:find("refused the credentials", 1, true), err)
    assert.falsy(err:find("a-wrong-secret-value", 1, true))
  end)

  it("exit non-zero with a one-line error and no secret on failure", function()
    local code, out, err = process.run({ process.lua, "examples/list.lua" },
      { QUICKLYSIGN_CLIENT_ID = "x", QUICKLYSIGN_CLIENT_SECRET = "a-wrong-secret-value",
        QUICKLYSIGN_BASE_URL = emulator.base_url })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("^quicklysign: api error 401 unauthorised"))
    assert.falsy(err:find("a-wrong-secret-value", 1, true))
    assert.are.equal(2, (example("subscribe")))
  end)
end)
