--- quicklysign.inbox: callbacks answered 200 are never lost.
-- The receiving path becomes verify -> store durably -> answer 200 -> workers do the work, at
-- least once, until it succeeds or is parked (dead) for a person. This file is the public face;
-- each job lives in inbox/:
--   url.lua      which store, where             box.lua            the inbox object
--   sqlite.lua   the embedded store (one host)  redis.lua          the shared store (many hosts)
--   redis_scripts.lua  Redis's state changes    redis_client.lua   lua-resty-redis, any host
--   worker.lua   leases jobs, runs handlers     reconcile.lua      webhooks are hints: re-check
--   json.lua     private cjson instance
--
--   local box = assert(inbox.open("sqlite:///var/lib/app/quicklysign.db"))
--   local router = callbacks.router{ token = TOKEN, inbox = box }
--   inbox.worker{ inbox = box, router = router }:run()
local args = require "quicklysign.callbacks.args"
local box = require "quicklysign.inbox.box"
local errors = require "quicklysign.callbacks.errors"
local url = require "quicklysign.inbox.url"

local type, tonumber, pairs, rawget = type, tonumber, pairs, rawget

local inbox = {
  DEFAULT_KEEP_DONE = 30 * 24 * 3600,   -- seconds a done job (and its once key) is remembered
}

local OPTIONS = {
  keep_done = "number", busy_timeout = "number", synchronous = "string", prefix = "string",
  timeout = "number", pool_size = "number",
}

-- The store spec: the URL's parts, its query options, then the caller's options.
local function spec_of(parsed, opts)
  local spec = {}
  for k, v in pairs(parsed) do spec[k] = v end
  for k, v in pairs(parsed.options) do
    if not OPTIONS[k] then return nil, "unknown inbox URL option '" .. k .. "'" end
    spec[k] = OPTIONS[k] == "number" and tonumber(v) or v
    if spec[k] == nil then return nil, "inbox URL option '" .. k .. "' must be a number" end
  end
  for k, v in pairs(opts) do spec[k] = v end
  spec.options = nil
  if spec.keep_done == nil then spec.keep_done = inbox.DEFAULT_KEEP_DONE end
  return spec
end

local function in_nginx_main_vm()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.run_worker_thread) == "function"
end

--- inbox.open(url [, opts]) --> box | nil, err
-- url: "sqlite:///path/file.db" (one machine; no server) or "redis://host:port/db" (many).
-- opts: keep_done (s, default 30 days), synchronous ("full" default, or "normal"), busy_timeout
-- (ms, SQLite), prefix (Redis keys, default "quicklysign:inbox:"), timeout (ms, Redis),
-- pool_size (nginx's Redis connection pool). Inside nginx the box never blocks the event loop:
-- SQLite runs in the thread pool, Redis on cosockets.
function inbox.open(text, opts)
  args.check(text, "string", 1, "open")
  if opts == nil then opts = {} end
  args.check(opts, "table", 2, "open")
  for k, v in pairs(opts) do
    if not OPTIONS[k] then args.fail(2, "open", "unknown option '" .. tostring(k) .. "'") end
    args.option(type(v) == OPTIONS[k], 2, "open", k, "must be a " .. OPTIONS[k])
  end
  args.option(opts.synchronous == nil or opts.synchronous == "full" or opts.synchronous == "normal", 2,
    "open", "synchronous", "must be \"full\" or \"normal\"")
  local parsed, why = url.parse(text)
  if not parsed then
    return nil, errors.new("inbox", "bad_url", "inbox URL " .. url.redact(text) .. ": " .. why)
  end
  local spec, spec_err = spec_of(parsed, opts)
  if not spec then
    return nil, errors.new("inbox", "bad_url", "inbox URL " .. url.redact(text) .. ": " .. spec_err)
  end
  local store, err
  if in_nginx_main_vm() then
    store, err = require("quicklysign.openresty.inbox").open(spec, text)
  elseif spec.backend == "sqlite" then
    store, err = require("quicklysign.inbox.sqlite").open(spec)
  else
    store, err = require("quicklysign.inbox.redis").open(spec)
  end
  if not store then return nil, err end
  return box.new(store, text)
end

--- inbox.worker{ inbox = box, router = router, ... } --> worker (see inbox/worker.lua)
function inbox.worker(opts)
  return require("quicklysign.inbox.worker").new(opts)
end

--- inbox.reconcile{ client = client, inbox = box [, entity_keys = {...}] } --> report
function inbox.reconcile(opts)
  return require("quicklysign.inbox.reconcile").run(opts)
end

inbox.is = box.is

return inbox
