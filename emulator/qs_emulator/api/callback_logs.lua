-- GET /v1/webhook_callback_logs?entity_key=K | ?webhook_key=W (exactly one), paginated.
local auth = require "qs_emulator.auth"
local envelope = require "qs_emulator.envelope"
local pagination = require "qs_emulator.pagination"
local views = require "qs_emulator.views"
local json = require "qs_emulator.json"
local callback_logs = require "qs_emulator.store.callback_logs"

local api = {}

function api.list(ctx)
  local denied = auth.client(ctx)
  if denied then return denied end
  local entity_key, webhook_key = ctx:arg("entity_key"), ctx:arg("webhook_key")
  if (entity_key and webhook_key) or not (entity_key or webhook_key) then
    return envelope.invalid_field("entity_key/webhook_key", "give exactly one of entity_key or webhook_key")
  end
  local list = entity_key and "logs_entity" or "logs_webhook"
  local page, err = pagination.read(ctx, list)
  if not page then return err end
  local source = entity_key and callback_logs.for_entity(entity_key) or callback_logs.for_webhook(webhook_key)
  local items, more = source:page(page.after, page.size)
  local out = json.array()
  for i, e in ipairs(items) do out[i] = views.callback_log(e) end
  return envelope.ok({ webhook_callback_logs = out }, pagination.next(ctx, list, items[#items], more))
end

return api
