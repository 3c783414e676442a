-- Every route the emulator answers: { method, path pattern, handler, api = true for the
-- QuicklySign API under /v1 (always_use_http_status_code_200 and config always_200 apply),
-- storage = true for what the storage host (127.0.0.2) serves too, enabled = a predicate for
-- routes that exist only under some config }.
-- Keys in paths match [^/]+ and are looked up as given (unknown ones answer 404 not_found).
local config = require "qs_emulator.config"
local webhooks = require "qs_emulator.api.webhooks"
local callback_logs = require "qs_emulator.api.callback_logs"
local access_tokens = require "qs_emulator.api.access_tokens"
local document_packs = require "qs_emulator.api.document_packs"
local documents = require "qs_emulator.api.documents"
local control = require "qs_emulator.admin.control"
local faults = require "qs_emulator.admin.faults"
local journal = require "qs_emulator.admin.journal"
local packs = require "qs_emulator.admin.document_packs"
local sinks = require "qs_emulator.admin.sinks"

local K = "([^/]+)"

-- Config delete_path: the vendor's Webhooks page shows the singular /webhook for both
-- deletes; the plural is the other reading (docs/vendor-api.md).
local function singular_deletes()
  return config.get().delete_path ~= "plural"
end
local function plural_deletes()
  return config.get().delete_path ~= "singular"
end

return {
  -- the QuicklySign API
  { "POST", "/v1/webhooks", webhooks.create, api = true },
  { "GET", "/v1/webhooks", webhooks.list, api = true },
  { "GET", "/v1/webhooks/" .. K, webhooks.get, api = true },
  { "DELETE", "/v1/webhook/" .. K, webhooks.delete_one, api = true, enabled = singular_deletes },
  { "DELETE", "/v1/webhook", webhooks.delete_entity, api = true, enabled = singular_deletes },
  { "DELETE", "/v1/webhooks/" .. K, webhooks.delete_one, api = true, enabled = plural_deletes },
  { "DELETE", "/v1/webhooks", webhooks.delete_entity, api = true, enabled = plural_deletes },
  { "GET", "/v1/webhook_callback_logs", callback_logs.list, api = true },
  { "POST", "/v1/access_tokens", access_tokens.create, api = true },
  { "GET", "/v1/document_packs/" .. K, document_packs.get, api = true },
  { "GET", "/v1/document_packs/" .. K .. "/documents/" .. K .. "/pdf", documents.pdf, api = true },

  -- where PDF redirects point (config pdf_redirect, serve_pdf_host); no auth
  { "GET", "/_emulator/storage/" .. K .. "/([^/]+)%.pdf", documents.storage, storage = true },

  -- emulator control (no auth)
  { "GET", "/_emulator/health", control.health, storage = true },
  { "GET", "/_emulator/profiles", control.profiles },
  { "GET", "/_emulator/profile", control.get_profile },
  { "POST", "/_emulator/profile", control.set_profile },
  { "POST", "/_emulator/reset", control.reset },
  { "GET", "/_emulator/config", control.get_config },
  { "POST", "/_emulator/config", control.set_config },
  { "POST", "/_emulator/tokens/expire", control.expire_tokens },
  { "POST", "/_emulator/faults", faults.add },
  { "GET", "/_emulator/faults", faults.list },
  { "DELETE", "/_emulator/faults", faults.clear },
  { "GET", "/_emulator/requests", journal.requests },
  { "DELETE", "/_emulator/requests", journal.clear_requests },
  { "GET", "/_emulator/deliveries", journal.deliveries },
  { "DELETE", "/_emulator/deliveries", journal.clear_deliveries },
  { "POST", "/_emulator/document_packs", packs.create },
  { "GET", "/_emulator/document_packs/" .. K, packs.get },
  { "POST", "/_emulator/document_packs/" .. K .. "/update", packs.update },
  { "POST", "/_emulator/document_packs/" .. K .. "/send", packs.send },
  { "POST", "/_emulator/document_packs/" .. K .. "/sign", packs.sign },
  { "POST", "/_emulator/document_packs/" .. K .. "/complete", packs.complete },
  { "POST", "/_emulator/document_packs/" .. K .. "/fail", packs.fail },
  { "POST", "/_emulator/sinks/" .. K, sinks.receive },
  { "GET", "/_emulator/sinks/" .. K, sinks.get },
  { "DELETE", "/_emulator/sinks/" .. K, sinks.clear },
}
