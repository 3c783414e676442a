-- Profiles: one named reading of an open point of the vendor's pages each (docs/vendor-api.md
-- lists the points and the vendor's words behind every reading; emulator/README.md has the
-- matrix). A profile is a set of config settings. A selection is a list of profile names and
-- `key=value` settings (`delivery.max_attempts=3`), given at start
-- (`qs-emulator start --profile a,b --set k=v`, kept across resets) or per test
-- (POST /_emulator/profile, until the next reset). Two items may not set the same setting;
-- "defaults" names the empty selection.
-- Pure Lua (no ngx): loaded by init_by_lua in nginx's master process.
local type, tonumber, pairs, ipairs = type, tonumber, pairs, ipairs
local gmatch, match, find, format, concat = string.gmatch, string.match, string.find, string.format,
  table.concat

local profiles = {}

-- { name, point, plays, settings }; the first profile of each point is the default.
local CATALOGUE = {
  { "token-none", "token on webhook calls", "webhook calls need client_id + client_secret only",
    { webhook_token = "none" } },
  { "token-access-token", "token on webhook calls", "webhook calls also need the header access_token: T",
    { webhook_token = "access_token" } },
  { "token-bearer", "token on webhook calls", "webhook calls also need Authorization: Bearer T",
    { webhook_token = "bearer" } },
  { "token-either", "token on webhook calls", "webhook calls also need a token, in either header",
    { webhook_token = "either" } },

  { "list-webhooks", "list answer", "GET /webhooks answers data.webhooks = [...]", { list_shape = "webhooks" } },
  { "list-data-array", "list answer", "GET /webhooks answers data = [...]", { list_shape = "data" } },
  { "list-webhook-array", "list answer", "GET /webhooks answers data.webhook = [...]", { list_shape = "webhook" } },
  { "list-items", "list answer", "GET /webhooks answers data.items = [...]", { list_shape = "items" } },

  { "pages-cursor", "pagination", "pagination.next is an opaque cursor, sent back as cursor=",
    { pagination_style = "cursor" } },
  { "pages-absolute", "pagination", "pagination.next is the next page's absolute URL", { pagination_style = "url" } },
  { "pages-relative", "pagination", "pagination.next is a path, /v1/webhooks?...&cursor=...",
    { pagination_style = "relative" } },

  { "pdf-api", "serve_pdf_url", "on the API host, needs the access token, answers the PDF",
    { pdf_redirect = "none", serve_pdf_host = "api", pdf_requires_token = true } },
  { "pdf-no-token", "serve_pdf_url", "on the API host, answers the PDF without a token",
    { pdf_redirect = "none", serve_pdf_host = "api", pdf_requires_token = false } },
  { "pdf-redirect-same-host", "serve_pdf_url", "needs the token, 302 to a storage path on the API's origin",
    { pdf_redirect = "same_host", serve_pdf_host = "api", pdf_requires_token = true } },
  { "pdf-redirect-storage", "serve_pdf_url",
    "needs the token, 302 to the storage host (127.0.0.2), which wants no token",
    { pdf_redirect = "storage", serve_pdf_host = "api", pdf_requires_token = true } },
  { "pdf-storage-url", "serve_pdf_url", "points at the storage host itself (no token, no redirect)",
    { pdf_redirect = "none", serve_pdf_host = "storage", pdf_requires_token = true } },

  { "pdf-body-pdf", "PDF body", "a PDF URL answers 200 with the PDF", { pdf_body = "pdf" } },
  { "pdf-body-html", "PDF body", "a PDF URL answers 200 text/html (a sign-in page)", { pdf_body = "html" } },
  { "pdf-body-json", "PDF body", "a PDF URL answers 200 application/json (a success envelope)",
    { pdf_body = "json" } },
  { "pdf-body-mislabelled", "PDF body", "a PDF URL answers 200 application/pdf whose bytes are HTML",
    { pdf_body = "html_as_pdf" } },

  { "delete-singular", "delete path", "DELETE /webhook/<key> and /webhook?entity_key= (plural: 405)",
    { delete_path = "singular" } },
  { "delete-plural", "delete path", "DELETE /webhooks/<key> and /webhooks?entity_key= (singular: 404)",
    { delete_path = "plural" } },
  { "delete-both", "delete path", "DELETE on both the singular and the plural paths", { delete_path = "both" } },

  { "unknown-key-404", "unknown webhook key", "get/delete of an unknown key: 404 not_found",
    { unknown_webhook = "not_found" } },
  { "unknown-key-400", "unknown webhook key", "get/delete of an unknown key: 400 bad_request",
    { unknown_webhook = "bad_request" } },

  { "logs-filter-optional", "callback log filter",
    "entity_key or webhook_key or neither (all the application's logs); both: 400",
    { callback_logs_filter = "optional" } },
  { "logs-filter-required", "callback log filter", "exactly one of entity_key, webhook_key (else 400)",
    { callback_logs_filter = "exactly_one" } },

  { "logs-oldest-first", "callback log order", "callback logs listed oldest first",
    { callback_logs_order = "oldest_first" } },
  { "logs-newest-first", "callback log order", "callback logs listed newest first",
    { callback_logs_order = "newest_first" } },

  { "log-vendor", "delivery log entries",
    "two log entries per attempt: \"Calling callback url U.\", then the outcome",
    { delivery = { log_entries = "vendor" } } },
  { "log-per-attempt", "delivery log entries", "one detailed log entry per attempt",
    { delivery = { log_entries = "per_attempt" } } },

  { "deliveries-until-200", "delivery retries", "retried with backoff until a success, without a cap",
    { delivery = { max_attempts = 0 } } },
  { "deliveries-bounded", "delivery retries", "given up after 10 attempts", { delivery = { max_attempts = 10 } } },

  { "success-200", "what counts as delivered", "only HTTP 200", { delivery = { success = "only_200" } } },
  { "success-2xx", "what counts as delivered", "any 2xx status", { delivery = { success = "any_2xx" } } },

  { "order-per-webhook", "delivery order", "a webhook's events one at a time, in order",
    { delivery = { order = "per_webhook" } } },
  { "order-none", "delivery order", "every event retried on its own: later ones can overtake",
    { delivery = { order = "none" } } },
}

local by_name, list = {}, {}
for i, p in ipairs(CATALOGUE) do
  local name, point = p[1], p[2]
  local first = i == 1 or CATALOGUE[i - 1][2] ~= point
  local entry = { name = name, point = point, plays = p[3], settings = p[4], default = first }
  by_name[name] = entry
  list[i] = entry
end

-- Every profile, in catalogue order: { name, point, plays, settings, default }.
function profiles.list()
  return list
end

function profiles.get(name)
  return by_name[name]
end

-- "true"/"false" -> booleans, numbers -> numbers, anything else stays a string.
local function value_of(text)
  if text == "true" then return true end
  if text == "false" then return false end
  local n = tonumber(text)
  if n and match(text, "^%-?[%d.]+$") then return n end
  return text
end

-- A `key=value` item as a config patch, or nil, why.
local function setting_patch(item)
  local key, text = match(item, "^([%w_.]+)=(.*)$")
  if not key or text == "" then return nil end
  local section, field = match(key, "^(delivery)%.([%w_]+)$")
  if section then return { delivery = { [field] = value_of(text) } } end
  if find(key, ".", 1, true) then return nil end
  return { [key] = value_of(text) }
end

-- The setting names a patch touches ("webhook_token", "delivery.order").
local function touched(patch)
  local out = {}
  for k, v in pairs(patch) do
    if k == "delivery" and type(v) == "table" then
      for dk in pairs(v) do out[#out + 1] = "delivery." .. dk end
    else
      out[#out + 1] = k
    end
  end
  return out
end

local function split(selection)
  if type(selection) == "table" then return selection end
  local items = {}
  for item in gmatch(selection or "", "[^,%s]+") do items[#items + 1] = item end
  return items
end

-- Parses a selection (a string "a,b,k=v" or an array of such items). Returns
-- { patches = {...}, items = {...} }, or nil and an error text naming the bad item.
function profiles.parse(selection)
  local items = split(selection)
  local patches, names, owner = {}, {}, {}
  for i, item in ipairs(items) do
    if type(item) ~= "string" or item == "" then
      return nil, format("item %d: a profile name or key=value expected", i)
    end
    local patch
    local p = by_name[item]
    if item == "defaults" then
      patch = {} -- a name for "nothing changed": `--profile defaults`
    elseif p then
      patch = p.settings
    elseif find(item, "=", 1, true) then
      patch = setting_patch(item)
      if not patch then return nil, format("'%s': key=value expected (key: a config setting)", item) end
    else
      return nil, format("unknown profile '%s' (GET /_emulator/profiles lists them)", item)
    end
    for _, key in ipairs(touched(patch)) do
      if owner[key] then
        return nil, format("'%s' and '%s' both set %s: give one of them", owner[key], item, key)
      end
      owner[key] = item
    end
    patches[#patches + 1] = patch
    names[#names + 1] = item
  end
  return { patches = patches, items = names }
end

-- The names of a selection joined back ("a,b,k=v").
function profiles.join(items)
  return concat(items, ",")
end

-- True when s is made only of the characters a selection may hold (checked before a start
-- selection is written into nginx.conf).
function profiles.safe_text(s)
  return type(s) == "string" and not find(s, "[^%w_.,=%-]")
end

return profiles
