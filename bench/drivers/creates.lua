--- Driver: N webhook creates from one client: one after another ("sequential"), or as one batch
-- ("many": webhooks:create_many with at most C at a time). Prints "created=N".
--   lua5.4|luajit bench/drivers/creates.lua BASE_URL CA_FILE ENTITY_KEY N MODE [C] [TAG]
local quicklysign = require "quicklysign"

local base_url, ca_file, entity_key, n, mode = arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5]
local concurrency, tag = tonumber(arg[6] or 32), arg[7] or "run"

local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret", base_url = base_url,
  ca_file = ca_file ~= "" and ca_file or nil, timeout = 600,
}
local list = {}
for i = 1, n do
  list[i] = { entity_key = entity_key, callback = ("https://example.com/qs/%s/%d"):format(tag, i) }
end
local webhooks, created = client.webhooks, 0
if mode == "many" then
  local results, errs = webhooks:create_many(list, { concurrency = concurrency })
  for i = 1, n do
    if results[i] then created = created + 1 else error(tostring(errs and errs[i])) end
  end
else
  for i = 1, n do
    local wh, err = webhooks:create(list[i])
    if not wh then error(tostring(err)) end
    created = created + 1
  end
end
client:close()
io.write("created=", created, "\n")
