--- The inbox inside nginx, where nothing may block the event loop (inbox.open picks this when
-- it runs in nginx):
--   * SQLite runs in nginx's thread pool (openresty/inbox_thread.lua keeps the connections),
--     each call bounded by openresty/threads.lua;
--   * Redis runs on cosockets (lua-resty-redis), with nginx's connection pool.
-- Pushes are written in groups: callbacks that arrive while a write is under way wait for the
-- next one, which stores all of them in one transaction (SQLite: one fsync) or one script call
-- (Redis). Each request still answers only after its own callback was stored.
local errors = require "quicklysign.callbacks.errors"
local redis = require "quicklysign.inbox.redis"
local threads = require "quicklysign.openresty.threads"

local ngx = ngx -- luacheck: ignore (set by nginx)
local type, setmetatable, ipairs, pairs, tostring, pcall, rawset =
  type, setmetatable, ipairs, pairs, tostring, pcall, rawset

local nginx_inbox = {
  THREAD_MODULE = "quicklysign.openresty.inbox_thread",
  DEFAULT_THREAD_POOL = "quicklysign",
  MAX_BATCH = 256,       -- callbacks in one write
  GROUP = 8,             -- callbacks waiting that start another write beside the one under way
  MAX_WRITES = { redis = 4, sqlite = 1 },   -- writes under way at once, per nginx worker (SQLite's
                                            -- writes take turns on one lock anyway)
  PUSH_WAIT = 10,        -- seconds a request waits for its write
}

local function as_error(e)
  if type(e) == "table" then
    return errors.new(e.kind or "inbox", e.reason or "store_error", e.message or "the inbox failed", e)
  end
  return errors.new("inbox", "unavailable", tostring(e))
end

---------------------------------------------------------------------------------------------
-- SQLite through the thread pool

-- What a store offers besides push_many (sqlite.lua, redis.lua).
local METHODS = { lease = true, complete = true, fail = true, extend = true, release = true, stats = true,
  dead = true, get = true, retry = true, drop = true, replay = true, once_state = true, close = true, push_many = true }

local ThreadStore = {}
ThreadStore.__index = function(self, method)
  if not METHODS[method] then return nil end
  local f = function(s, ...)
    local ok, a, b, c = threads.run(s.pool, nginx_inbox.THREAD_MODULE, "call", s.spec, method, ...)
    if not ok then
      return nil, errors.new("inbox", "unavailable", "the SQLite inbox call did not run: " .. tostring(a))
    end
    if a == nil and b ~= nil then return nil, as_error(b) end
    return a, b, c
  end
  rawset(self, method, f)
  return f
end

local function thread_store(spec)
  local plain = {}
  for k, v in pairs(spec) do plain[k] = v end
  plain.thread_pool = nil
  return setmetatable({ spec = plain, pool = spec.thread_pool or nginx_inbox.DEFAULT_THREAD_POOL,
    backend = "sqlite" }, ThreadStore)
end

---------------------------------------------------------------------------------------------
-- Group writes

-- Callbacks wait in the open batch (one semaphore for all of them); a write takes the whole
-- open batch, stores it, leaves each waiter its results and wakes them all with one post.
local function new_batch()
  return { waiters = {}, items = {}, sema = require("ngx.semaphore").new(0) }
end

local function flush(premature, self)
  while #self.open.items > 0 do
    local batch = self.open
    self.open = new_batch()
    local ok, results, err = pcall(self.store.push_many, self.store, batch.items)
    if not ok then results, err = nil, errors.new("inbox", "store_error", tostring(results)) end
    batch.results, batch.err = results, err
    batch.sema:post(#batch.waiters)
    if results and self.on_push then pcall(self.on_push) end
  end
  self.flushing = self.flushing - 1
  if premature then return end
end

-- A write starts when none is under way, or when enough callbacks wait for the one under way:
-- up to max_writes at once (Redis: 4; SQLite's writes take turns on one lock anyway: 1), so that
-- a Redis round trip or an fsync never holds everyone up. A batch is at most MAX_BATCH items.
local function grouped_push(self, items)
  local batch = self.open
  if #batch.items + #items > nginx_inbox.MAX_BATCH and #batch.items > 0 then
    batch = new_batch()   -- full: this one and those after it start the next batch
    self.open = batch
  end
  local first = #batch.items
  for i, item in ipairs(items) do batch.items[first + i] = item end
  batch.waiters[#batch.waiters + 1] = true
  if self.flushing == 0 or (#batch.waiters >= nginx_inbox.GROUP and self.flushing < self.max_writes) then
    local ok = ngx.timer.at(0, flush, self)
    if ok then
      self.flushing = self.flushing + 1
    elseif self.flushing == 0 then   -- no timer to spare, and no write under way: write it now
      self.flushing = 1
      flush(false, self)
    end
  end
  local ok, err = batch.sema:wait(nginx_inbox.PUSH_WAIT)
  if not ok then
    return nil, errors.new("inbox", "unavailable", "the inbox write did not finish within "
      .. nginx_inbox.PUSH_WAIT .. "s (" .. tostring(err) .. ")")
  end
  if not batch.results then return nil, batch.err end
  local mine = {}
  for i = 1, #items do mine[i] = batch.results[first + i] end
  return mine
end

local Grouped = {}
Grouped.__index = function(self, method)
  if method == "push_many" then return grouped_push end
  if not METHODS[method] then return nil end
  local f = function(s, ...) return s.store[method](s.store, ...) end
  rawset(self, method, f)
  return f
end

--- open(spec, url_text) --> a store with the interface of sqlite.lua / redis.lua
function nginx_inbox.open(spec)
  local store, err
  if spec.backend == "sqlite" then
    store = thread_store(spec)
  else
    store, err = redis.open(spec)
    if not store then return nil, err end
  end
  return setmetatable({ store = store, open = new_batch(), flushing = 0, backend = store.backend,
    max_writes = nginx_inbox.MAX_WRITES[store.backend] or 1 }, Grouped)
end

return nginx_inbox
