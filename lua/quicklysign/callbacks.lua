-- quicklysign.callbacks: receiving QuicklySign webhook callbacks, in pure Lua (5.1/LuaJIT to 5.4,
-- OpenResty included). This file is the public face; each job lives in callbacks/:
--   parse.lua     body -> event, or why not      json.lua       the private cjson.safe instance
--   router.lua    request -> checks -> handlers  auth.lua       token compare, allow-list
--   confirm.lua   asking the API, with a cache   dedupe.lua     repeated deliveries, stores
--   url.lua       callback_url, query strings    ttl_cache.lua  bounded map with expiry
--   events.lua    event name constants           errors.lua     error values
--   host.lua      default log and clock          args.lua       argument checks
local events = require "quicklysign.callbacks.events"
local parse = require "quicklysign.callbacks.parse"
local router = require "quicklysign.callbacks.router"
local dedupe = require "quicklysign.callbacks.dedupe"
local url = require "quicklysign.callbacks.url"
local auth = require "quicklysign.callbacks.auth"
local errors = require "quicklysign.callbacks.errors"

return {
  events = events,
  -- parse(body [, content_type [, opts]]) -> ev | nil, err
  parse = parse.parse,
  -- router([opts]) -> router
  router = router.new,
  -- callback_url(base, token [, param]) -> url
  callback_url = url.callback_url,
  -- dedupe{...} -> deduper; dedupe.ngx_shared_store(dict), dedupe.memory_store{...},
  -- dedupe.default_key(ev)
  dedupe = dedupe,
  -- constant_time_equals(a, b) -> boolean
  constant_time_equals = auth.equals,
  -- is_error(value) -> boolean: whether value is one of our error tables
  is_error = errors.is,
}
