-- The emulator's run-time configuration: defaults, validation, merge, reset.
-- GET/POST /_emulator/config read and merge it; POST /_emulator/reset restores the start
-- configuration: the defaults plus what `qs-emulator start --profile ...` asked for (see
-- profiles.lua, and docs/vendor-api.md for the vendor's words behind each setting).
local type, pairs, floor, tostring = type, pairs, math.floor, tostring

local config = {}

local function defaults()
  return {
    page_size = 20,              -- list page size when the request gives no page_size
    pagination_style = "cursor", -- pagination.next: "cursor" (opaque) | "url" (absolute) | "relative"
    webhook_token = "none",      -- webhook calls also need an access token in this header:
                                 -- "none" | "access_token" | "bearer" | "either"
    list_shape = "webhooks",     -- GET /webhooks answers data.webhooks | "data" (data is the
                                 -- array) | "webhook" (data.webhook is the array) | "items"
    delete_path = "singular",    -- DELETE on /webhook/<key> (the Webhooks page) | "plural" | "both"
    unknown_webhook = "not_found", -- an unknown webhook key: 404 not_found | "bad_request" (400)
    callback_logs_filter = "optional", -- entity_key/webhook_key: at most one | "exactly_one"
    callback_logs_order = "oldest_first", -- | "newest_first" (as the vendor's examples list them)
    pdf_requires_token = true,   -- the serve_pdf_url wants an access token like document packs
    pdf_redirect = "none",       -- "none" | "same_host" | "other_host" | "storage"
    serve_pdf_host = "api",      -- serve_pdf_url on the API host | "storage" (the storage host)
    pdf_body = "pdf",            -- what a PDF URL answers with 200: "pdf" | "html" | "json" |
                                 -- "html_as_pdf" (HTML bytes labelled application/pdf)
    token_ttl = 3600,            -- access token lifetime, seconds (fractions allowed)
    always_200 = false,          -- answer HTTP 200 to every /v1 call; only the body tells
    delivery = {
      base_delay_ms = 500,       -- first retry delay
      factor = 2,                -- delay multiplier per failed attempt
      max_delay_ms = 60000,      -- cap on one delay
      max_attempts = 0,          -- attempts per event, the first included; 0: until a success
      timeout_ms = 5000,         -- connect/send/read timeout of one attempt
      success = "only_200",      -- what counts as delivered: "only_200" | "any_2xx"
      order = "per_webhook",     -- "per_webhook" (one event at a time) | "none" (independent)
      log_entries = "vendor",    -- callback logs: "vendor" (two entries per attempt) | "per_attempt"
    },
  }
end

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = type(v) == "table" and copy(v) or v end
  return out
end

local start = defaults() -- what a reset goes back to (set once, at nginx start)
local current = copy(start)

local function is_int(v) return type(v) == "number" and floor(v) == v end

local function one_of(...)
  local allowed, words = {}, {}
  for i, v in ipairs({ ... }) do
    allowed[v] = true
    words[i] = '"' .. v .. '"'
  end
  local text = table.concat(words, ", ")
  return function(v) return allowed[v] == true or ("one of " .. text) end
end

-- validator(value) -> true | error text
local VALIDATORS = {
  page_size = function(v) return is_int(v) and v >= 1 and v <= 1000 or "an integer 1..1000" end,
  pagination_style = one_of("cursor", "url", "relative"),
  webhook_token = one_of("none", "access_token", "bearer", "either"),
  list_shape = one_of("webhooks", "data", "webhook", "items"),
  delete_path = one_of("singular", "plural", "both"),
  unknown_webhook = one_of("not_found", "bad_request"),
  callback_logs_filter = one_of("optional", "exactly_one"),
  callback_logs_order = one_of("oldest_first", "newest_first"),
  pdf_requires_token = function(v) return type(v) == "boolean" or "a boolean" end,
  pdf_redirect = one_of("none", "same_host", "other_host", "storage"),
  serve_pdf_host = one_of("api", "storage"),
  pdf_body = one_of("pdf", "html", "json", "html_as_pdf"),
  token_ttl = function(v) return type(v) == "number" and v > 0 or "a number of seconds > 0" end,
  always_200 = function(v) return type(v) == "boolean" or "a boolean" end,
}
local DELIVERY_VALIDATORS = {
  base_delay_ms = function(v) return type(v) == "number" and v >= 0 or "a number >= 0" end,
  factor = function(v) return type(v) == "number" and v >= 1 or "a number >= 1" end,
  max_delay_ms = function(v) return type(v) == "number" and v >= 0 or "a number >= 0" end,
  max_attempts = function(v)
    return is_int(v) and v >= 0 and v <= 1000 or "an integer 0..1000 (0: until a success)"
  end,
  timeout_ms = function(v) return type(v) == "number" and v > 0 or "a number > 0" end,
  success = one_of("only_200", "any_2xx"),
  order = one_of("per_webhook", "none"),
  log_entries = one_of("vendor", "per_attempt"),
}

function config.get()
  return current
end

-- The configuration a reset goes back to (a copy).
function config.start()
  return copy(start)
end

function config.defaults()
  return defaults()
end

function config.reset()
  current = copy(start)
end

-- Validates every field of patch without applying it. Returns true, or nil, field, why.
function config.check(patch)
  if type(patch) ~= "table" then return nil, "config", "expected a JSON object" end
  for k, v in pairs(patch) do
    if k == "delivery" then
      if type(v) ~= "table" then return nil, "delivery", "expected a JSON object" end
      for dk, dv in pairs(v) do
        local check = DELIVERY_VALIDATORS[dk]
        if not check then return nil, "delivery." .. tostring(dk), "unknown setting" end
        local ok = check(dv)
        if ok ~= true then return nil, "delivery." .. dk, "expected " .. ok end
      end
    else
      local check = VALIDATORS[k]
      if not check then return nil, tostring(k), "unknown setting" end
      local ok = check(v)
      if ok ~= true then return nil, k, "expected " .. ok end
    end
  end
  return true
end

local function apply(target, patch)
  for k, v in pairs(patch) do
    if k == "delivery" then
      for dk, dv in pairs(v) do target.delivery[dk] = dv end
    else
      target[k] = v
    end
  end
end

-- Validates every field of patch, then applies them all (or none) to the current config.
-- Returns true, or nil, field name, error text.
function config.merge(patch)
  local ok, field, why = config.check(patch)
  if not ok then return nil, field, why end
  apply(current, patch)
  return true
end

-- Replaces the current config by the defaults plus the patches, in order (all validated
-- first). With as_start, also makes that what a reset goes back to. Returns true or nil,
-- field, why.
function config.replace(patches, as_start)
  for _, p in ipairs(patches) do
    local ok, field, why = config.check(p)
    if not ok then return nil, field, why end
  end
  local c = defaults()
  for _, p in ipairs(patches) do apply(c, p) end
  current = c
  if as_start then start = copy(c) end
  return true
end

return config
