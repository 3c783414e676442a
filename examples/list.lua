--- List webhooks: all of them, or those of one document pack.
--   lua5.4 examples/list.lua [PACK_KEY]
local quicklysign = require "quicklysign"

local client = quicklysign.new{}
local webhooks, err = client.webhooks:list{ entity_key = arg[1] }
if not webhooks then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
for _, wh in ipairs(webhooks) do
  print(("%s  %s  %s"):format(wh.key, wh.entity_key, wh.callback))
end
print(("%d webhook(s)"):format(#webhooks))
client:close()
