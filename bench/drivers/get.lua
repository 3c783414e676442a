--- Driver: N sequential client.webhooks:get(key) from one client (one kept-alive connection).
--   lua5.4|luajit bench/drivers/get.lua BASE_URL WEBHOOK_KEY N
local quicklysign = require "quicklysign"

local base_url, key, n = arg[1], arg[2], tonumber(arg[3])
local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret", base_url = base_url,
}
local get = client.webhooks.get
local webhooks = client.webhooks
for _ = 1, n do
  local wh, err = get(webhooks, key)
  if not wh then error(tostring(err)) end
end
client:close()
