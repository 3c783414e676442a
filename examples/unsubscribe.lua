--- Unsubscribe: one webhook by its key, or every webhook of a document pack.
--   lua5.4 examples/unsubscribe.lua WEBHOOK_KEY
--   lua5.4 examples/unsubscribe.lua --pack PACK_KEY
local quicklysign = require "quicklysign"

local client = quicklysign.new{}
local ok, err
if arg[1] == "--pack" and arg[2] then
  ok, err = client.webhooks:delete_by_entity(arg[2])
elseif arg[1] and arg[1] ~= "--pack" and not arg[2] then   -- a key may begin with "-"
  ok, err = client.webhooks:delete(arg[1])
else
  io.stderr:write("usage: unsubscribe.lua WEBHOOK_KEY | --pack PACK_KEY\n")
  os.exit(2)
end
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print("unsubscribed")
client:close()
