--- Receiving QuicklySign's webhook callbacks, in pure Lua (5.1/LuaJIT to 5.4, OpenResty
-- included): `require "quicklysign.callbacks"`.
--
--     local router = callbacks.router{ token = TOKEN, confirm = client, inbox = box }
--     router:on(callbacks.events.FINAL_DOCUMENT_GENERATED, handler)
--     local status, body, headers = router:handle{ method = "POST", headers = h, body = b, query = q }
--
-- Refusals and failures are error tables with `kind` (`"parse"`, `"request"`, `"auth"`,
-- `"confirm"`, `"dedupe"`, `"inbox"`, `"handler"`, `"internal"`), a stable `reason` and a
-- `message`; `tostring(err)` is one line. The reasons:
--
-- - parse: `too_large`, `too_deep`, `not_json`, `not_object`, `missing_field`, `bad_field`,
--   `content_type`, `no_body`;
-- - request: `method`, `bad_request`; auth: `token_missing`, `token_mismatch`, `not_allowed`,
--   `not_confirmed`; confirm: `unavailable`, `confirm_error`; dedupe: `key_error`, `store_error`;
-- - inbox: `push_failed` (the router could not store a callback), and those of `quicklysign.inbox`;
-- - handler: `handler_error`, and `not_ready`, `not_pdf`, `incomplete_download`,
--   `bad_entity_key` of `quicklysign.handlers`; internal: `internal_error`, `allow_error`,
--   `bad_event`.
--
-- Each job lives in callbacks/: parse.lua (body to event), router.lua (checks, the inbox,
-- handlers), auth.lua (token compare, allow-list), confirm.lua (asking the API, cached),
-- dedupe.lua (repeated deliveries), url.lua (callback URLs), ttl_cache.lua, events.lua,
-- errors.lua, log.lua (what a log line may hold), host.lua (the default log and clock),
-- json.lua, args.lua.
-- @module quicklysign.callbacks
-- @see quicklysign.inbox
local events = require "quicklysign.callbacks.events"
local parse = require "quicklysign.callbacks.parse"
local router = require "quicklysign.callbacks.router"
local dedupe = require "quicklysign.callbacks.dedupe"
local url = require "quicklysign.callbacks.url"
local auth = require "quicklysign.callbacks.auth"
local errors = require "quicklysign.callbacks.errors"

return {
  --- The event names: `ENTITY_UPDATED`, `DOCUMENT_STATUS_CHANGED`, `FINAL_DOCUMENT_GENERATED`,
  -- and the seed's older `DOCUMENT_UPDATED`, `SIGNATORY_UPDATED`, `AUDIT_TRAIL_UPDATED`.
  -- Indexing an unknown constant raises. `events.list()` gives the names, sorted;
  -- `events.is_known(name)` tells one of them.
  -- @table events
  events = events,

  --- Turns a callback body into an event, or says why not; never raises.
  -- @function parse
  -- @tparam string body the request body
  -- @tparam[opt] string content_type the Content-Type header (nil skips the check)
  -- @tparam[opt] table opts `max_body` (bytes, 64 KiB), `max_depth` (32)
  -- @treturn table the event: `event`, `entity_type`, `entity_key`, `webhook_key` (or the V0
  -- `subscription_key`), `raw` (every field)
  -- @treturn[2] nil
  -- @treturn[2] table an error of kind `"parse"`
  parse = parse.parse,

  --- Makes a router: the callback endpoint. See the `router` type below.
  -- @function router
  -- @tparam[opt] table opts `token` (a string of 16+ characters, or an array of them, compared in
  -- constant time), `token_param` (`"token"`), `allow` (keys, or a function(ev)), `confirm` (a
  -- client, or a function(ev)), `confirm_ttl` (300 s), `confirm_negative_ttl` (60 s),
  -- `confirm_cache_size`, `inbox` (a `quicklysign.inbox` box: store, then answer),
  -- `dedupe` (true, false, or a `dedupe{...}` object: its key function), `metrics`
  -- (`quicklysign.metrics` counters), `strict` (raise on unknown event names in `on`),
  -- `max_body`, `max_depth`, `log` (function(level, msg), or false), `now`
  -- @treturn router
  -- @raise `bad argument #1 to 'router' (...)` naming the option
  router = router.new,

  --- Builds the callback URL that carries the token (an existing query and fragment are kept).
  -- @function callback_url
  -- @tparam string base the receiver's URL
  -- @tparam string token the secret (16+ characters)
  -- @tparam[opt] string param the query parameter, `"token"`
  -- @treturn string
  callback_url = url.callback_url,

  --- Deduplication of repeated deliveries without an inbox: `dedupe{ store, ttl, pending_ttl,
  -- key, size, now, prefix }`; `dedupe.ngx_shared_store(ngx.shared.NAME)`,
  -- `dedupe.memory_store{...}`, `dedupe.default_key(ev)` (one-shot events only). With an inbox,
  -- only its `key` function matters: the inbox keeps the keys.
  -- @table dedupe
  dedupe = dedupe,

  --- Compares two strings in time that depends only on their lengths.
  -- @function constant_time_equals
  -- @tparam string a
  -- @tparam string b
  -- @treturn boolean
  constant_time_equals = auth.equals,

  --- Whether a value is an error of quicklysign: a callback's refusal, or a failed call's.
  -- @function is_error
  -- @param value
  -- @treturn boolean
  is_error = errors.is,
}

--- The callback endpoint, made by `router`.
-- @type router

--- Registers a handler for an event: `fn(ev)` runs for callbacks of that event, in registration
-- order. A name quicklysign does not know is logged once (raised with `strict = true`).
-- @function router:on
-- @tparam string event
-- @tparam function fn returns nothing or a value on success; raises or returns `nil, err` to fail
-- @treturn router itself

--- Registers a handler for every accepted callback, after the event's own.
-- @function router:on_any
-- @tparam function fn
-- @treturn router itself

--- Registers a hook that hears every refusal and failure: `fn(err, ev)` (ev nil when the body did
-- not parse). A raising hook is logged, never raised.
-- @function router:on_error
-- @tparam function fn
-- @treturn router itself

--- Checks, stores or runs, and answers one request; never raises. With an inbox, 200 means
-- stored (503 when the inbox could not store it); without one, 200 means every handler
-- succeeded (500 when one failed, so that the vendor retries).
-- @function router:handle
-- @tparam table request `method`, `headers` (names any case), `body`, `query` (a table, or the
-- raw query string)
-- @treturn number status
-- @treturn string body
-- @treturn table headers

--- The checks alone (method, token, content type and size, parse, allow, confirm).
-- @function router:verify
-- @tparam table request
-- @treturn table the event
-- @treturn[2] nil
-- @treturn[2] number status
-- @treturn[2] string body
-- @treturn[2] table headers

--- What a verified callback gets: stored in the inbox, or without one its handlers run.
-- @function router:accept
-- @tparam table ev from `verify`
-- @tparam[opt] string body the bytes received, kept as they came
-- @treturn number status
-- @treturn string body
-- @treturn table headers

--- Runs the handlers now, in the caller, with dedupe (no inbox).
-- @function router:dispatch
-- @tparam table ev
-- @treturn number status
-- @treturn string body
-- @treturn table headers

--- Runs the handlers for a stored event: what a worker does. No dedupe.
-- @function router:process
-- @tparam table ev
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] table the error (kind `"handler"`, `failures` when more than one failed)

--- The key under which the inbox stores `ev` once, or nil (stored each time).
-- @function router:once_key
-- @tparam table ev
-- @treturn ?string
