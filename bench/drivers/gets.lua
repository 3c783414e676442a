--- Driver: N webhook gets from one client, the keys read from KEYS_FILE (one a line): one after
-- another ("sequential"), or as one batch ("many": webhooks:get_many, at most C at a time).
-- Prints "got=N".
--   lua5.4|luajit bench/drivers/gets.lua BASE_URL CA_FILE KEYS_FILE MODE [C]
local quicklysign = require "quicklysign"

local base_url, ca_file, keys_file, mode, concurrency = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5] or 32)

local keys = {}
for line in assert(io.open(keys_file)):lines() do keys[#keys + 1] = line end
local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret", base_url = base_url,
  ca_file = ca_file ~= "" and ca_file or nil, timeout = 600,
}
local webhooks, got = client.webhooks, 0
if mode == "many" then
  local results, errs = webhooks:get_many(keys, { concurrency = concurrency })
  for i = 1, #keys do
    if results[i] then got = got + 1 else error(tostring(errs and errs[i])) end
  end
else
  for i = 1, #keys do
    local wh, err = webhooks:get(keys[i])
    if not wh then error(tostring(err)) end
    got = got + 1
  end
end
client:close()
io.write("got=", got, "\n")
