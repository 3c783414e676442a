-- /v1/webhooks and /v1/webhook: create, get, list, delete one, delete all of an entity.
-- Config points (profiles.lua): webhook_token (auth.webhook), list_shape (the list's
-- answer), unknown_webhook (the error for an unknown key). Which delete paths exist
-- (delete_path) is decided in routes.lua.
local auth = require "qs_emulator.auth"
local config = require "qs_emulator.config"
local envelope = require "qs_emulator.envelope"
local pagination = require "qs_emulator.pagination"
local views = require "qs_emulator.views"
local json = require "qs_emulator.json"
local webhooks = require "qs_emulator.store.webhooks"
local document_packs = require "qs_emulator.store.document_packs"

local type, find = type, string.find

local api = {}

local MAX_CALLBACK_LENGTH = 2048

local function callback_problem(url)
  if type(url) ~= "string" or url == "" then return "a callback URL is required" end
  if #url > MAX_CALLBACK_LENGTH then return "the callback URL is too long" end
  if find(url, "[%s%c]") then return "the callback URL contains spaces or control characters" end
  if not find(url, "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]+") then
    return "an absolute http:// or https:// URL is expected"
  end
  return nil
end

-- POST /v1/webhooks {"client_id","client_secret","webhook":{"entity_key","callback"}}
function api.create(ctx)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  local body = ctx:json()
  local w = body.webhook
  if type(w) ~= "table" or json.is_null(w) or w[1] ~= nil then
    return envelope.invalid_field("webhook", "an object with entity_key and callback is expected")
  end
  if type(w.entity_key) ~= "string" or w.entity_key == "" then
    return envelope.invalid_field("webhook.entity_key", "a document pack key is required")
  end
  if not document_packs.exists(w.entity_key) then
    return envelope.invalid_field("webhook.entity_key", "no document pack has this key")
  end
  local problem = callback_problem(w.callback)
  if problem then return envelope.invalid_field("webhook.callback", problem) end
  local created = webhooks.create(w.entity_key, w.callback)
  return envelope.ok({ webhook = views.webhook(created) })
end

local function unknown_webhook()
  if config.get().unknown_webhook == "bad_request" then
    return envelope.bad_request("No webhook has this key")
  end
  return envelope.not_found("Webhook")
end

-- GET /v1/webhooks/<key>
function api.get(ctx, key)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  local w = webhooks.get(key)
  if not w then return unknown_webhook() end
  return envelope.ok({ webhook = views.webhook(w) })
end

-- GET /v1/webhooks[?entity_key=][&page_size=][&cursor=] -> the list under config list_shape
function api.list(ctx)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  local page, err = pagination.read(ctx, "webhooks")
  if not page then return err end
  local items, more = webhooks.list(ctx:arg("entity_key")):page(page.after, page.size)
  local out = json.array()
  for i, w in ipairs(items) do out[i] = views.webhook(w) end
  local shape, data = config.get().list_shape, out
  if shape == "webhooks" then data = { webhooks = out }
  elseif shape == "webhook" then data = { webhook = out }
  elseif shape == "items" then data = { items = out } end
  return envelope.ok(data, pagination.next(ctx, "webhooks", items[#items], more))
end

-- DELETE /v1/webhook/<key> (or /v1/webhooks/<key>)
function api.delete_one(ctx, key)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  if not webhooks.delete(key) then return unknown_webhook() end
  return envelope.ok(nil)
end

-- DELETE /v1/webhook?entity_key=<key> (or /v1/webhooks?...; 200 even when there were none)
function api.delete_entity(ctx)
  local denied = auth.webhook(ctx)
  if denied then return denied end
  local entity_key = ctx:arg("entity_key")
  if not entity_key then
    return envelope.invalid_field("entity_key", "the entity key whose webhooks to delete is required")
  end
  webhooks.delete_entity(entity_key)
  return envelope.ok(nil)
end

return api
