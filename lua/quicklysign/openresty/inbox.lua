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
  dead = true, get = true, retry = true, drop = true, once_state = true, close = true, push_many = true }

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

local function flush(premature, self)
  while #self.queue > 0 do
    local batch, items = {}, {}
    while #self.queue > 0 and #items < nginx_inbox.MAX_BATCH do
      local waiter = table.remove(self.queue, 1)
      batch[#batch + 1] = waiter
      for _, item in ipairs(waiter.items) do items[#items + 1] = item end
    end
    local ok, results, err = pcall(self.store.push_many, self.store, items)
    if not ok then results, err = nil, errors.new("inbox", "store_error", tostring(results)) end
    local at = 0
    for _, waiter in ipairs(batch) do
      if results then
        local mine = {}
        for i = 1, #waiter.items do mine[i] = results[at + i] end
        waiter.results = mine
      else
        waiter.err = err
      end
      at = at + #waiter.items
      waiter.sema:post(1)
    end
    if results and self.on_push then pcall(self.on_push) end
  end
  self.flushing = false
  if premature then return end
end

local function grouped_push(self, items)
  local waiter = { items = items, sema = require("ngx.semaphore").new(0) }
  self.queue[#self.queue + 1] = waiter
  if not self.flushing then
    local ok, err = ngx.timer.at(0, flush, self)
    if not ok then   -- no timer to spare: write this one alone, now
      table.remove(self.queue)
      local results, perr = self.store:push_many(items)
      if results and self.on_push then self.on_push() end
      return results, perr or (not results and err) or nil
    end
    self.flushing = true
  end
  local ok, err = waiter.sema:wait(nginx_inbox.PUSH_WAIT)
  if not ok then
    return nil, errors.new("inbox", "unavailable", "the inbox write did not finish within "
      .. nginx_inbox.PUSH_WAIT .. "s (" .. tostring(err) .. ")")
  end
  if waiter.results then return waiter.results end
  return nil, waiter.err
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
  return setmetatable({ store = store, queue = {}, flushing = false, backend = store.backend }, Grouped)
end

return nginx_inbox
