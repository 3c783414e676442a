--- Test support: the emulator that scripts/run-tests started (address, TLS
-- port, CA file, default credentials), its admin endpoints, and clients on it.
local admin = require "emulator.admin"

local url = os.getenv("QUICKLYSIGN_EMULATOR_URL") or "http://127.0.0.1:18089"
local emulator = admin.new(url)

emulator.tls_url = "https://127.0.0.1:" .. (os.getenv("QUICKLYSIGN_EMULATOR_TLS_PORT") or "18443") .. "/v1"
emulator.ca_file = os.getenv("QUICKLYSIGN_EMULATOR_CA_FILE")
emulator.client_id = "qs_test_client_id"
emulator.client_secret = "qs_test_client_secret"
emulator.api_key = "qs_test_api_key"

--- A fresh client on the emulator; opts override the defaults.
function emulator.client(opts)
  local quicklysign = require "quicklysign"
  local o = {
    client_id = emulator.client_id, client_secret = emulator.client_secret,
    base_url = emulator.base_url, timeout = 10, retry_base_delay = 0.01,
  }
  for k, v in pairs(opts or {}) do o[k] = v end
  return quicklysign.new(o)
end

--- The key of a new document pack, to subscribe to.
function emulator.new_entity()
  return emulator:create_pack{ name = "Pack", documents = { { name = "Doc" } } }.key
end

return emulator
