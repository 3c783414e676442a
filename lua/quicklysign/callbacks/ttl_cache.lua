-- A bounded map whose entries expire: the confirmation cache and the in-process dedupe store.
-- When full, the oldest entry goes first (entries of one cache share a TTL or two, so oldest
-- inserted is close to soonest expiring). Expired entries are dropped when met.
local setmetatable = setmetatable

local ttl_cache = {}

local Cache = {}
Cache.__index = Cache

-- size: most entries kept; now: function returning seconds.
function ttl_cache.new(size, now)
  return setmetatable({
    size = size, now = now,
    map = {}, count = 0,
    queue = {}, head = 1, tail = 0, -- insertion order; a node is live while map[node.key] == node
  }, Cache)
end

function Cache:_unlink(key)
  if self.map[key] then
    self.map[key] = nil
    self.count = self.count - 1
  end
end

-- Rebuilds the queue from live nodes when stale ones (replaced or deleted keys) pile up.
function Cache:_compact()
  local queue, map, fresh, n = self.queue, self.map, {}, 0
  for i = self.head, self.tail do
    local node = queue[i]
    if map[node.key] == node then
      n = n + 1
      fresh[n] = node
    end
  end
  self.queue, self.head, self.tail = fresh, 1, n
end

function Cache:_evict_oldest()
  local queue, map = self.queue, self.map
  while self.head <= self.tail do
    local node = queue[self.head]
    queue[self.head] = nil
    self.head = self.head + 1
    if map[node.key] == node then
      self:_unlink(node.key)
      return
    end
  end
end

-- Returns the live value for key, or nil.
function Cache:get(key)
  local node = self.map[key]
  if not node then return nil end
  if node.expires <= self.now() then
    self:_unlink(key)
    return nil
  end
  return node.value
end

-- Stores value for ttl seconds (ttl <= 0 stores nothing and forgets any old value).
function Cache:set(key, value, ttl)
  self:_unlink(key)
  if ttl ~= ttl or ttl <= 0 then return end -- (NaN too)
  while self.count >= self.size do self:_evict_oldest() end
  local node = { key = key, value = value, expires = self.now() + ttl }
  self.map[key] = node
  self.count = self.count + 1
  self.tail = self.tail + 1
  self.queue[self.tail] = node
  if self.tail - self.head + 1 > 2 * self.size + 16 then self:_compact() end
end

function Cache:delete(key)
  self:_unlink(key)
end

return ttl_cache
