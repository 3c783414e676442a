--- Handling failures: a failed call returns nil and an error whose `kind` says what went wrong
-- and whose `retryable` says whether the same call may work later. This shows a webhook, tries
-- again (a few times, pausing) while the error says a retry may work, and otherwise says what
-- to fix, exiting with a code per kind of failure.
--   lua5.4 examples/errors.lua WEBHOOK_KEY
local quicklysign = require "quicklysign"

local ATTEMPTS, PAUSE_S = 3, 1

local key = arg[1]
if not key then
  io.stderr:write("usage: errors.lua WEBHOOK_KEY\n")
  os.exit(2)
end

-- What to tell a person, and the exit code, for an error that will not go away by itself.
local function advice(err)
  if err.retryable then
    return "a temporary failure (" .. err.kind .. "), still there after " .. ATTEMPTS .. " attempts: try later", 5
  elseif err.kind == "api" and err.status == 401 then
    return "the API refused the credentials: check QUICKLYSIGN_CLIENT_ID and QUICKLYSIGN_CLIENT_SECRET", 3
  elseif err.kind == "api" and err.status == 404 then
    return "there is no webhook " .. key, 4
  elseif err.kind == "api" then
    return "the API refused the call (" .. tostring(err.code) .. "): " .. tostring(err.message), 1
  elseif err.kind == "tls" then
    return "TLS failed: the server's certificate is not trusted (see the ca_file option)", 1
  elseif err.kind == "network" or err.kind == "timeout" then
    return "the API cannot be reached: check QUICKLYSIGN_BASE_URL and the network", 5
  end
  return "unexpected answer (" .. err.kind .. "); the full error is above", 1   -- http, decode, io
end

local client = quicklysign.new{}
for attempt = 1, ATTEMPTS do
  local webhook, err = client.webhooks:get(key)
  if webhook then
    print(("%s watches %s, calling %s"):format(webhook.key, webhook.entity_key, webhook.callback))
    client:close()
    os.exit(0)
  end
  -- the client already retried transient failures within its own deadline (err.attempts)
  if err.retryable and attempt < ATTEMPTS then
    io.stderr:write(("attempt %d failed after %d tries (%s), retrying in %d s\n")
      :format(attempt, err.attempts or 1, err.kind, PAUSE_S))
    os.execute("sleep " .. PAUSE_S)
  else
    local text, code = advice(err)
    io.stderr:write(tostring(err), "\n", text, "\n")
    client:close()
    os.exit(code)
  end
end
