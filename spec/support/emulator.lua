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

--- Whether the emulator was started under a reading in which webhook calls need an access
-- token (QUICKLYSIGN_EMULATOR_PROFILE=token-bearer scripts/run-tests ...).
local function start_needs_token()
  local selection = "," .. (os.getenv("QUICKLYSIGN_EMULATOR_PROFILE") or ""):gsub("%s", "") .. ","
  return selection:find(",token%-[abe]") ~= nil or selection:find(",webhook_token=[abe]") ~= nil
end
emulator.webhooks_need_token = start_needs_token()

--- A fresh client on the emulator; opts override the defaults (false for "none"). Under a
-- reading where webhook calls need a token, a client given neither api_key nor access_token
-- gets the api_key, as its user would have to give it.
function emulator.client(opts)
  local quicklysign = require "quicklysign"
  local o = {
    client_id = emulator.client_id, client_secret = emulator.client_secret,
    base_url = emulator.base_url, timeout = 10, retry_base_delay = 0.01,
  }
  opts = opts or {}
  for k, v in pairs(opts) do o[k] = v end
  if emulator.webhooks_need_token and opts.api_key == nil and opts.access_token == nil then
    o.api_key = emulator.api_key
  end
  for k, v in pairs(o) do
    if v == false and k ~= "allow_insecure_callbacks" and k ~= "always_use_http_status_code_200" and k ~= "http2" then
      o[k] = nil
    end
  end
  return quicklysign.new(o)
end

--- The value of a config setting as the emulator plays it now ("unknown_webhook",
-- "delivery.log_entries"): what a spec that holds under every profile expects depends on it.
function emulator:setting(name)
  local value = self:current_profile().config
  for part in name:gmatch("[^.]+") do value = value[part] end
  return value
end

--- The key of a new document pack, to subscribe to.
function emulator.new_entity()
  return emulator:create_pack{ name = "Pack", documents = { { name = "Doc" } } }.key
end

return emulator
