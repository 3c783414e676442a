--- Subscribe a callback URL to a document pack's changes (never twice).
--   lua5.4 examples/subscribe.lua PACK_KEY CALLBACK_URL
-- Credentials from QUICKLYSIGN_CLIENT_ID / QUICKLYSIGN_CLIENT_SECRET; the API from
-- QUICKLYSIGN_BASE_URL (e.g. the emulator, http://127.0.0.1:8089/v1) or the sandbox.
local quicklysign = require "quicklysign"

local pack_key, callback = arg[1], arg[2]
if not (pack_key and callback) then
  io.stderr:write("usage: subscribe.lua PACK_KEY CALLBACK_URL\n")
  os.exit(2)
end

local client = quicklysign.new{}
local webhook, created_or_err = client.webhooks:ensure{ entity_key = pack_key, callback = callback }
if not webhook then
  io.stderr:write(tostring(created_or_err), "\n")
  os.exit(1)
end
print(("%s %s -> %s"):format(created_or_err and "subscribed" or "already subscribed", webhook.key, webhook.callback))
client:close()
