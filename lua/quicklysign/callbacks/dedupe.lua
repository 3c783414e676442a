-- Recognising repeated deliveries. QuicklySign retries until it gets a 200, and several webhooks
-- on one entity each deliver; but a callback carries no delivery id or timestamp, so two genuine
-- `entity_updated` for one pack look exactly alike. Merging them would lose an update, so a
-- delivery is only deduplicated under a key that tells genuine updates apart:
--   * by default only `final_document_generated`, which happens once per entity;
--   * anything else only when the `key` function returns a distinguishing key (for example the
--     pack's state or version fetched from the API).
-- A key is claimed as "pending" while the handlers run, committed as "done" only when they all
-- succeeded, and released when one failed, so that the retry is processed.
local args = require "quicklysign.callbacks.args"
local errors = require "quicklysign.callbacks.errors"
local events = require "quicklysign.callbacks.events"
local host = require "quicklysign.callbacks.host"
local ttl_cache = require "quicklysign.callbacks.ttl_cache"

local type, pcall, tostring, setmetatable, getmetatable =
  type, pcall, tostring, setmetatable, getmetatable

local dedupe = {
  DEFAULT_TTL = 7 * 24 * 3600, -- how long a processed key is remembered
  DEFAULT_PENDING_TTL = 300,   -- how long a claim outlives a crashed worker
  DEFAULT_SIZE = 10000,        -- entries of the in-process store
  DEFAULT_PREFIX = "qs:cb:",
  PENDING = "pending",
  DONE = "done",
}

-- The default key: one-shot events only.
function dedupe.default_key(ev)
  if ev.event == events.FINAL_DOCUMENT_GENERATED then
    return ev.event .. ":" .. ev.entity_key
  end
  return nil
end

---------------------------------------------------------------------------------------------
-- Stores: objects with the semantics of an nginx shared dict:
--   store:add(key, value, ttl) -> true | false, "exists" | nil/false, other error
--   store:get(key) -> value | nil
--   store:set(key, value, ttl) -> true | nil/false, err
--   store:delete(key)

local MemoryStore = {}
MemoryStore.__index = MemoryStore

-- The default store: this process only, bounded, entries expire.
function dedupe.memory_store(opts)
  if opts == nil then opts = {} end
  args.check(opts, "table", 1, "memory_store")
  local size = opts.size or dedupe.DEFAULT_SIZE
  args.option(args.positive_number(size), 1, "memory_store", "size", "must be a positive number")
  local now = opts.now or host.now
  args.option(args.is_callable(now), 1, "memory_store", "now", "must be a function")
  return setmetatable({ cache = ttl_cache.new(size, now) }, MemoryStore)
end

function MemoryStore:add(key, value, ttl)
  if self.cache:get(key) ~= nil then return false, "exists" end
  self.cache:set(key, value, ttl)
  return true
end

function MemoryStore:get(key) return self.cache:get(key) end

function MemoryStore:set(key, value, ttl)
  self.cache:set(key, value, ttl)
  return true
end

function MemoryStore:delete(key)
  self.cache:delete(key)
  return true
end

-- A store over an nginx `lua_shared_dict` (ngx.shared.NAME), shared by all workers; `add` is
-- atomic there, so two workers never both claim a key. Any object with the same add/get/set/delete
-- methods works (a test double, an adapter to another store).
function dedupe.ngx_shared_store(dict)
  local t = type(dict)
  if t ~= "table" and t ~= "userdata" then
    args.fail(1, "ngx_shared_store", "shared dict expected, got " .. t)
  end
  for _, method in ipairs({ "add", "get", "set", "delete" }) do
    local ok, fn = pcall(function() return dict[method] end)
    if not ok or not args.is_callable(fn) then
      args.fail(1, "ngx_shared_store", "shared dict expected (no method '" .. method .. "')")
    end
  end
  return {
    add = function(_, key, value, ttl) return dict:add(key, value, ttl) end,
    get = function(_, key) return (dict:get(key)) end,
    set = function(_, key, value, ttl) return dict:set(key, value, ttl) end,
    delete = function(_, key) return dict:delete(key) end,
  }
end

---------------------------------------------------------------------------------------------

local Dedupe = {}
Dedupe.__index = Dedupe

local KNOWN = { store = true, ttl = true, pending_ttl = true, key = true, size = true, now = true,
  prefix = true }

-- dedupe.new{ store, ttl, pending_ttl, key, size, now, prefix } (also callable as dedupe{...})
function dedupe.new(opts)
  if opts == nil then opts = {} end
  args.check(opts, "table", 1, "dedupe")
  args.known_options(opts, KNOWN, 1, "dedupe")
  local ttl = opts.ttl or dedupe.DEFAULT_TTL
  args.option(args.positive_number(ttl), 1, "dedupe", "ttl", "must be a positive number of seconds")
  local pending_ttl = opts.pending_ttl or dedupe.DEFAULT_PENDING_TTL
  args.option(args.positive_number(pending_ttl), 1, "dedupe", "pending_ttl",
    "must be a positive number of seconds")
  local key = opts.key or dedupe.default_key
  args.option(args.is_callable(key), 1, "dedupe", "key", "must be a function")
  local prefix = opts.prefix or dedupe.DEFAULT_PREFIX
  args.option(type(prefix) == "string", 1, "dedupe", "prefix", "must be a string")
  local store = opts.store
  if store == nil then
    store = dedupe.memory_store{ size = opts.size, now = opts.now }
  else
    if opts.size ~= nil or opts.now ~= nil then
      args.fail(1, "dedupe", "options 'size' and 'now' apply to the default store only")
    end
    for _, method in ipairs({ "add", "get", "set", "delete" }) do
      local ok, fn = pcall(function() return store[method] end)
      args.option(ok and args.is_callable(fn), 1, "dedupe", "store",
        "must have add, get, set and delete methods")
    end
  end
  return setmetatable({ store = store, ttl = ttl, pending_ttl = pending_ttl, key = key,
    prefix = prefix }, Dedupe)
end

function dedupe.is(value)
  return getmetatable(value) == Dedupe
end

local function store_error(what, err)
  return errors.new("dedupe", "store_error", "the dedupe store failed to " .. what .. ": "
    .. tostring(err))
end

-- Claims the event before its handlers run. Returns one of
--   "new", key           process it, then commit(key) or release(key);
--   "duplicate", key     already processed: answer 200, run nothing;
--   "in_progress", key   being processed right now: answer non-200 so it is retried later;
--   "unkeyed"            no key for this event: process it, nothing to commit;
--   "unguarded", nil, err  the store failed: process it anyway (a double run beats a lost one);
--   nil, err             the key function failed: answer non-200 so it is retried.
function Dedupe:claim(ev)
  local ok, key, key_err = pcall(self.key, ev)
  if not ok then
    return nil, errors.new("dedupe", "key_error", "the dedupe key function raised: " .. tostring(key))
  end
  if key == nil or key == false then
    if key_err ~= nil then
      return nil, errors.new("dedupe", "key_error", "the dedupe key function failed: "
        .. tostring(key_err), { cause = key_err })
    end
    return "unkeyed"
  end
  if type(key) ~= "string" and type(key) ~= "number" then
    return nil, errors.new("dedupe", "key_error", "the dedupe key function returned a " .. type(key))
  end
  key = self.prefix .. key

  local store = self.store
  for _ = 1, 2 do -- a second round when the entry expired between add and get
    local call_ok, added, add_err = pcall(store.add, store, key, dedupe.PENDING, self.pending_ttl)
    if not call_ok then return "unguarded", nil, store_error("add", added) end
    if added then return "new", key end
    if add_err ~= "exists" then return "unguarded", nil, store_error("add", add_err) end
    local get_ok, value = pcall(store.get, store, key)
    if not get_ok then return "unguarded", nil, store_error("get", value) end
    if value == dedupe.DONE then return "duplicate", key end
    if value ~= nil then return "in_progress", key end
  end
  return "in_progress", key
end

-- Marks key processed, for `ttl` seconds. Returns true or nil, err.
function Dedupe:commit(key)
  local ok, stored, err = pcall(self.store.set, self.store, key, dedupe.DONE, self.ttl)
  if ok and stored then return true end
  return nil, store_error("set", ok and err or stored)
end

-- Forgets a claim so that the next delivery is processed. Returns true or nil, err.
function Dedupe:release(key)
  local ok, err = pcall(self.store.delete, self.store, key)
  if ok then return true end
  return nil, store_error("delete", err)
end

-- `dedupe{...}` builds a deduper; `dedupe.ngx_shared_store`, `dedupe.memory_store` and
-- `dedupe.default_key` sit beside it.
return setmetatable(dedupe, {
  __call = function(_, opts) return dedupe.new(opts) end,
})
