-- What a log line may hold: no token, no control character an attacker could use to forge a line.
local callbacks = require "quicklysign.callbacks"
local log = require "quicklysign.callbacks.log"

local TOKEN = "s3cret-token-0123456789abcdef/+"

describe("log lines", function()
  it("escape control characters, so a value cannot start a line of its own", function()
    assert.equal("a\\nb\\r\\tc\\x1b[31m\\x00\\x7f", log.sanitize("a\nb\r\tc\27[31m\0\127"))
    assert.equal("été 日本", log.sanitize("été 日本"))
  end)

  it("are cut at MAX_LINE bytes, saying so", function()
    local line = log.sanitize(("x"):rep(log.MAX_LINE + 10))
    assert.truthy(line:find("(10 bytes cut)", 1, true))
  end)

  it("scrub each token, raw and percent-encoded, and any token= query value", function()
    local scrub = log.scrubber({ TOKEN }, "token")
    local line = scrub("a " .. TOKEN .. " b s3cret-token-0123456789abcdef%2F%2B c https://x/cb?token=other-value&x=1")
    assert.falsy(line:find("s3cret", 1, true))
    assert.falsy(line:find("other-value", 1, true))
    assert.truthy(line:find("token=REDACTED&x=1", 1, true))
  end)

  it("from the router never carry the token or a forged line", function()
    local lines = {}
    local r = callbacks.router{ token = TOKEN, log = function(_, msg) lines[#lines + 1] = msg end }
    r:on_any(function() return nil, "failed for " .. TOKEN .. "\nFAKE: all good" end)
    local body = '{"callback_event":"evil\\nFAKE LINE","entity_key":"K\\r\\nX","webhook_key":"W"}'
    r:handle{ method = "POST", headers = { ["content-type"] = "application/json" }, body = body,
      query = { token = TOKEN } }
    assert.truthy(#lines > 0)
    for _, line in ipairs(lines) do
      assert.falsy(line:find(TOKEN, 1, true), line)
      assert.falsy(line:find("[\r\n]"), line)
    end
  end)
end)
