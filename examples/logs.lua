--- The callback log: every delivery QuicklySign attempted for a document pack (or for one
-- webhook), oldest first, with its event and what the receiver answered. The first place to
-- look when a receiver says it never got a callback.
--   lua5.4 examples/logs.lua PACK_KEY
--   lua5.4 examples/logs.lua --webhook WEBHOOK_KEY
local quicklysign = require "quicklysign"

local filter
if arg[1] == "--webhook" and arg[2] then
  filter = { webhook_key = arg[2] }
elseif arg[1] and arg[1] ~= "--webhook" and not arg[2] then   -- a key may begin with "-"
  filter = { entity_key = arg[1] }
else
  io.stderr:write("usage: logs.lua PACK_KEY | --webhook WEBHOOK_KEY\n")
  os.exit(2)
end

local client = quicklysign.new{}
local entries, err = client.webhooks:logs(filter)   -- every page
if not entries then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
for _, entry in ipairs(entries) do
  -- date_created: milliseconds since the epoch, possibly fractional
  local when = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(entry.date_created / 1000))
  print(("%s  %-24s  %s"):format(when, tostring(entry.callback_event), tostring(entry.log)))
end
print(("%d log entr%s"):format(#entries, #entries == 1 and "y" or "ies"))
client:close()
