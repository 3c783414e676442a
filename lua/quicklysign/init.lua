--- QuicklySign's webhooks and document packs, from Lua: `require "quicklysign"`.
--
-- The client lives in the C core (`quicklysign.core`, over libcurl and lua-cjson); this module
-- is its public face. Receiving callbacks is in `quicklysign.callbacks` (pure Lua) and, inside
-- nginx, `quicklysign.openresty`.
--
--     local quicklysign = require "quicklysign"
--     local client = quicklysign.new{ client_id = ID, client_secret = SECRET }
--     local webhook, err = client.webhooks:ensure{ entity_key = PACK, callback = URL }
--     if not webhook then error(tostring(err)) end
--
-- Failures of the network, of HTTP or of the API return `nil, err` (see `quicklysign.core.error`);
-- misuse raises, naming the argument.
-- @module quicklysign
-- @see quicklysign.core
local core = require "quicklysign.core"

local quicklysign = {
  --- Makes a client. Every option is optional but the credentials; an unknown option raises.
  -- Credentials, the environment, the base URL and the API key default to the environment
  -- variables `QUICKLYSIGN_CLIENT_ID`, `QUICKLYSIGN_CLIENT_SECRET`, `QUICKLYSIGN_ENVIRONMENT`,
  -- `QUICKLYSIGN_BASE_URL`, `QUICKLYSIGN_API_KEY` and `QUICKLYSIGN_TOKEN_HEADER` (an empty
  -- variable counts as unset; `false` for such an option means none, not even the variable's).
  -- @function new
  -- @tparam[opt] table opts the options:
  --
  -- - `client_id`, `client_secret` (string): the application's credentials (required);
  -- - `environment` (string): `"sandbox"` (default) or `"production"`, see `environments`;
  -- - `base_url` (string): any `http(s)` base, e.g. the emulator's `http://127.0.0.1:8089/v1`;
  --   wins over `environment`;
  -- - `api_key` (string): mints the access tokens that document pack calls need, and that
  --   webhook calls send too when there is one; or `access_token` (string), a token of your own;
  -- - `token_header` (string, `"both"`): the header(s) the token goes in, `"access_token"`,
  --   `"authorization"` (`Authorization: Bearer`) or `"both"` (the vendor's pages name both);
  -- - `timeout` (number, 30): seconds for the **whole** call, retries and pages included;
  -- - `connect_timeout` (number, 10): seconds for each connection;
  -- - `download_timeout` (number, 300): seconds for one download;
  -- - `max_retries` (integer 0..10, 2): retries of transient failures;
  -- - `retry_base_delay` (number, 0.25): the first backoff step, doubling and jittered, at most 8 s;
  -- - `max_retry_delay` (number, 30): the longest wait honoured; a longer `Retry-After` ends the call;
  -- - `max_body_size` (integer, 8 MiB): larger answers fail (downloads stream and are not capped);
  -- - `ca_file`, `proxy`, `user_agent` (string): TLS trust anchors, a proxy URL, the User-Agent;
  -- - `on_warning` (function): `on_warning(warning, response)` for warnings that come with a success;
  -- - `on_event` (function): `on_event(record)`, a record of each request, response, retry, token
  --   minted and download's progress, credentials redacted (the README's "Events" table);
  -- - `concurrency` (integer 1..256, 8): requests a batch call (`webhooks:create_many`, ...,
  --   `document_packs:download`) has in flight at once;
  -- - `http2` (boolean, true): offer HTTP/2 over TLS (ALPN), so that a batch's requests share one
  --   connection; false: HTTP/1.1 only;
  -- - `allow_insecure_callbacks` (boolean): allow `http://` callback URLs (default: only when the
  --   base URL itself is plain http, as the emulator's is);
  -- - `always_use_http_status_code_200` (boolean): ask the API to answer HTTP 200 always.
  -- @treturn quicklysign.core.client the client
  -- @raise `bad argument #1 to 'new' (...)` naming the option, when an option is missing,
  -- unknown or of the wrong type
  -- @usage local client <close> = quicklysign.new{ base_url = "http://127.0.0.1:8089/v1",
  --   client_id = "qs_test_client_id", client_secret = "qs_test_client_secret" }
  new = core.new,

  --- Whether a value is an error of quicklysign: a failed call's, or a callback's refusal.
  -- @function is_error
  -- @param v any value
  -- @treturn boolean
  is_error = core.is_error,

  --- Gives a plain table the error metatable, so that `tostring` and `is_error` work on it.
  -- Errors that crossed from another Lua state (an nginx worker thread, see
  -- `quicklysign.openresty`) come back as plain tables.
  -- @function as_error
  -- @tparam table t an error's fields (`kind`, `status`, `message`, ...)
  -- @treturn table `t` itself, now an error object
  as_error = core.as_error,

  --- The error vocabulary: `{ [reason] = kind }` for every reason an error of the client can have.
  -- @table reasons
  reasons = core.reasons,

  --- The methods of each class, declared once in the core: `{ client = {...}, webhooks = {...},
  -- document_packs = {...} }` (names in declaration order), those whose arguments and results
  -- are plain values (the page iterators `pages` and `log_pages` are not listed).
  -- @table methods
  methods = core.methods,

  --- The options of `new`, declared once in the core: `{ [name] = { type =, env =, default =,
  -- min =, max =, choices =, required = } }`.
  -- @table options
  options = core.options,

  --- The version of quicklysign, e.g. `"0.2.0"` (semantic versioning).
  version = core.version,

  --- The version text of the libcurl quicklysign runs on, e.g. `"libcurl/7.88.1 OpenSSL/3.0.11 ..."`.
  curl_version = core.curl_version,

  --- The base URL of each environment: `environments.sandbox` and `environments.production`.
  -- @table environments
  environments = core.environments,
}

return quicklysign
