-- The emulator's run-time configuration: defaults, validation, merge, reset.
-- GET/POST /_emulator/config read and merge it; POST /_emulator/reset restores the defaults.
local type, pairs, floor = type, pairs, math.floor

local config = {}

local function defaults()
  return {
    page_size = 20,              -- list page size when the request gives no page_size
    pagination_style = "cursor", -- "cursor" (opaque token) | "url" (absolute next-page URL)
    pdf_requires_token = true,   -- the serve_pdf_url wants an access token like document packs
    pdf_redirect = "none",       -- "none" | "same_host" | "other_host"
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

local current = defaults()

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
  pagination_style = function(v) return (v == "cursor" or v == "url") or '"cursor" or "url"' end,
  pdf_requires_token = function(v) return type(v) == "boolean" or "a boolean" end,
  pdf_redirect = function(v)
    return (v == "none" or v == "same_host" or v == "other_host")
      or '"none", "same_host" or "other_host"'
  end,
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

function config.reset()
  current = defaults()
end

-- Validates every field of patch, then applies them all (or none).
-- Returns true, or nil, field name, error text.
function config.merge(patch)
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
  for k, v in pairs(patch) do
    if k == "delivery" then
      for dk, dv in pairs(v) do current.delivery[dk] = dv end
    else
      current[k] = v
    end
  end
  return true
end

return config
