-- GET /v1/webhook_callback_logs[?entity_key=K | ?webhook_key=W], paginated.
-- Config points (profiles.lua): callback_logs_filter "optional" (the vendor's webhook logs
-- page: at most one filter; none lists every log of the application) or "exactly_one";
-- callback_logs_order "oldest_first" or "newest_first"; webhook_token (auth.webhook).
local auth = require "qs_emulator.auth"
local config = require "qs_emulator.config"
local envelope = require "qs_emulator.envelope"
local pagination = require "qs_emulator.pagination"
local views = require "qs_emulator.views"
local json = require "qs_emulator.json"
local callback_logs = require "qs_emulator.store.callback_logs"

local api = {}

-- The collection and list name for the request's filter, or nil, error response.
local function source_of(ctx, cfg)
  local entity_key, webhook_key = ctx:arg("entity_key"), ctx:arg("webhook_key")
  if entity_key and webhook_key then
    return nil, envelope.invalid_field("entity_key/webhook_key",
      "you can include only one of entity_key and webhook_key")
  end
  if entity_key then return callback_logs.for_entity(entity_key), "logs_entity" end
  if webhook_key then return callback_logs.for_webhook(webhook_key), "logs_webhook" end
  if cfg.callback_logs_filter == "exactly_one" then
    return nil, envelope.invalid_field("entity_key/webhook_key", "give exactly one of entity_key or webhook_key")
  end
  return callback_logs.all(), "logs_all"
end

function api.list(ctx)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  local cfg = config.get()
  local source, list = source_of(ctx, cfg)
  if not source then return list end
  local newest_first = cfg.callback_logs_order == "newest_first"
  if newest_first then list = list .. "_desc" end
  local page, err = pagination.read(ctx, list)
  if not page then return err end
  local items, more
  if newest_first then
    items, more = source:page_desc(page.after, page.size)
  else
    items, more = source:page(page.after, page.size)
  end
  local out = json.array()
  for i, e in ipairs(items) do out[i] = views.callback_log(e) end
  return envelope.ok({ webhook_callback_logs = out }, pagination.next(ctx, list, items[#items], more))
end

return api
