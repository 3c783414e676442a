-- Exit codes come from an error's kind, reason and status, never from its message: rewording a
-- message of the C core must not change what the command exits with.
local quicklysign = require "quicklysign"
local config = require "quicklysign.cli.config"
local status = require "quicklysign.cli.status"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

-- The failure config.call raises for fn, or nil when fn does not raise one.
local function failure_of(fn)
  local ok, raised = pcall(config.call, {}, fn)
  if ok or not status.is_failure(raised) then return nil end
  return raised
end

describe("the command's exit code for an error of the client", function()
  it("follows status and retryable for errors returned as nil, err", function()
    local c = emulator.client{ api_key = emulator.api_key, max_retries = 0 }
    local _, not_found = c.webhooks:get("no-such-webhook")
    assert.are.equal(status.NOT_FOUND, status.for_api_error(not_found))
    local _, refused = emulator.client{ client_secret = "wrong" }.webhooks:list()
    assert.are.equal(status.CONFIG, status.for_api_error(refused))
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 200, body = "{not json" }
    local _, bad = c.webhooks:list()
    assert.are.equal("not_json", bad.reason)
    assert.are.equal(status.FAILED, status.for_api_error(bad))
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 1, status = 503 }
    local _, busy = c.webhooks:list()
    assert.is_true(busy.retryable)
    assert.are.equal(status.TEMPORARY, status.for_api_error(busy))
  end)

  it("does not change when only the message does", function()
    for _, fields in ipairs{
      { kind = "api", reason = "api_error", status = 404 },
      { kind = "http", reason = "http_status", status = 503, retryable = true },
      { kind = "protocol", reason = "not_json", status = 200 },
      { kind = "config", reason = "no_token_source" },
    } do
      local codes = {}
      for i, message in ipairs{ "one wording", "need an access token", "bad argument #1 to 'x' (y)" } do
        local err = quicklysign.as_error{ kind = fields.kind, reason = fields.reason, status = fields.status,
          retryable = fields.retryable, message = message }
        codes[i] = status.for_api_error(err)
      end
      assert.are.same({ codes[1], codes[1], codes[1] }, codes)
    end
  end)

  it("is a configuration failure for a raised no_token_source, whatever its message says", function()
    local c = emulator.client()   -- neither api_key nor access_token
    local f = failure_of(function() return c.document_packs:get("p") end)
    assert.is_table(f)
    assert.are.equal(status.CONFIG, f.code)
    assert.are.equal("missing credentials: set " .. config.API_KEY, f.message)
    local reworded = failure_of(function()
      error(quicklysign.as_error{ kind = "config", reason = "no_token_source", message = "something else" })
    end)
    assert.are.equal(status.CONFIG, reworded.code)
    -- the words alone no longer make it one: an error raised as text passes through as it is
    assert.is_nil(failure_of(function() error("quicklysign: need an access token", 0) end))
  end)
end)
