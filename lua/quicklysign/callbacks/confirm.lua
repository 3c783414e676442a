-- The third authenticity layer: ask the QuicklySign API whether the webhook named in the callback
-- exists and watches the callback's entity. Answers are cached (positive and negative for their
-- own TTLs, bounded in size); a failure to ask is not an answer and is never cached.
local ttl_cache = require "quicklysign.callbacks.ttl_cache"

local type, pcall, tostring, setmetatable, ipairs = type, pcall, tostring, setmetatable, ipairs

local confirm = {
  DEFAULT_TTL = 300,          -- seconds a confirmed (webhook, entity) pair is trusted
  DEFAULT_NEGATIVE_TTL = 60,  -- seconds a refused pair stays refused
  DEFAULT_CACHE_SIZE = 1024,
  NOT_FOUND = { [404] = true, [410] = true }, -- API statuses that mean "no such webhook"
  -- Statuses that may mean "no such webhook" or something else: no vendor page shows the answer
  -- for an unknown key, and a 400 bad_request ("Generic error code if we don't specify the error
  -- code", Constants) is one reading (docs/vendor-api.md). Settled by the entity's own webhooks.
  AMBIGUOUS = { [400] = true },
}

-- Reads a field of a table or of a userdata with __index, without raising.
local function field(obj, name)
  local t = type(obj)
  if t ~= "table" and t ~= "userdata" then return nil end
  local ok, value = pcall(function() return obj[name] end)
  if ok then return value end
  return nil
end

-- Whether `client` looks like our API client (has webhooks:get).
function confirm.is_client(client)
  local webhooks = field(client, "webhooks")
  return webhooks ~= nil and type(field(webhooks, "get")) == "function"
end

-- After an ambiguous answer to webhooks:get (err): whether the entity's webhooks, as the API lists
-- them, include this one. A list that cannot be read (or a client without webhooks:list) cannot
-- tell: nil, and the callback is answered 503, never accepted.
local function settle_by_list(webhooks, ev, err)
  local list_fn = field(webhooks, "list")
  if type(list_fn) ~= "function" then return nil, err end
  local ok, list, list_err = pcall(list_fn, webhooks, { entity_key = ev.entity_key })
  if not ok then return nil, "the client raised: " .. tostring(list) end
  if type(list) ~= "table" then return nil, list_err or err end
  for _, webhook in ipairs(list) do
    if type(webhook) == "table" and webhook.key == ev.webhook_key then
      if webhook.entity_key ~= nil and webhook.entity_key ~= ev.entity_key then
        return false, "the webhook watches another entity"
      end
      return true
    end
  end
  return false, "the API answered " .. tostring(field(err, "status")) .. " " .. tostring(field(err, "code") or "")
    .. " for the webhook key, and no webhook of the entity has it"
end

-- The check made with our client: returns true, or false and why (a definite no), or nil and the
-- client's error (could not tell).
function confirm.with_client(client)
  return function(ev)
    if ev.webhook_key == nil then
      return false, "the callback names no webhook_key/subscription_key to confirm"
    end
    local webhooks = field(client, "webhooks")
    local ok, webhook, err = pcall(field(webhooks, "get"), webhooks, ev.webhook_key)
    if not ok then return nil, "the client raised: " .. tostring(webhook) end
    if webhook == nil then
      local status = field(err, "status")
      if confirm.NOT_FOUND[status] then
        return false, "the API knows no webhook with that key"
      elseif confirm.AMBIGUOUS[status] then
        return settle_by_list(webhooks, ev, err)
      end
      return nil, err or "the client returned neither a webhook nor an error"
    end
    if type(webhook) ~= "table" then
      return nil, "the client returned a " .. type(webhook) .. " for the webhook"
    end
    if webhook.key ~= nil and webhook.key ~= ev.webhook_key then
      return false, "the API answered for another webhook key"
    end
    if webhook.entity_key ~= ev.entity_key then
      return false, "the webhook watches another entity"
    end
    return true
  end
end

local Confirmer = {}
Confirmer.__index = Confirmer

-- confirm.new(check, opts): check is our client or function(ev) -> ok, err:
--   truthy: confirmed; false: refused (the second value says why); nil: could not tell.
-- opts: ttl, negative_ttl, cache_size, now.
function confirm.new(check, opts)
  local fn = check
  if type(check) ~= "function" then fn = confirm.with_client(check) end
  return setmetatable({
    check = fn,
    ttl = opts.ttl or confirm.DEFAULT_TTL,
    negative_ttl = opts.negative_ttl or confirm.DEFAULT_NEGATIVE_TTL,
    cache = ttl_cache.new(opts.cache_size or confirm.DEFAULT_CACHE_SIZE, opts.now),
  }, Confirmer)
end

-- Returns "confirmed" | "refused", why | "unavailable", err | "failed", raised error.
-- Results of the first two are cached per (webhook key, entity key).
function Confirmer:run(ev)
  local key = (ev.webhook_key or "") .. "\n" .. ev.entity_key
  local cached = self.cache:get(key)
  if cached ~= nil then
    if cached.ok then return "confirmed" end
    return "refused", cached.why
  end
  local ok, result, why = pcall(self.check, ev)
  if not ok then return "failed", result end
  if result then
    self.cache:set(key, { ok = true }, self.ttl)
    return "confirmed"
  elseif result == false then
    why = why ~= nil and tostring(why) or "refused"
    self.cache:set(key, { ok = false, why = why }, self.negative_ttl)
    return "refused", why
  end
  return "unavailable", why or "the confirm function returned nil without an error"
end

return confirm
