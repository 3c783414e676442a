--- Driver: client.webhooks:list{} (every page) M times from one client.
--   lua5.4|luajit bench/drivers/list.lua BASE_URL M EXPECTED_COUNT
local quicklysign = require "quicklysign"

local base_url, m, expected = arg[1], tonumber(arg[2]), tonumber(arg[3])
local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret", base_url = base_url,
}
for _ = 1, m do
  local list, err = client.webhooks:list{}
  if not list then error(tostring(err)) end
  if #list ~= expected then error(("listed %d webhooks, expected %d"):format(#list, expected)) end
end
client:close()
