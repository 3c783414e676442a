-- The credentials the emulator accepts, fixed at start from the environment
-- (QUICKLYSIGN_EMULATOR_CLIENT_ID / _CLIENT_SECRET / _API_KEY), with test defaults.
local keys = require "qs_emulator.keys"

local credentials = {}

local function env_or(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local client_id = env_or("QUICKLYSIGN_EMULATOR_CLIENT_ID", "qs_test_client_id")
local client_secret = env_or("QUICKLYSIGN_EMULATOR_CLIENT_SECRET", "qs_test_client_secret")
local api_key = env_or("QUICKLYSIGN_EMULATOR_API_KEY", "qs_test_api_key")

-- The application's own key (reported as subscriber_key in callback logs).
credentials.application_key = keys.derived("application", client_id)

function credentials.client_ok(id, secret)
  return id == client_id and secret == client_secret
end

function credentials.api_key_ok(key)
  return key == api_key
end

function credentials.client_id()
  return client_id
end

return credentials
