-- An insertion-ordered collection of records with keys, for paginated lists.
-- Each record gets an increasing `seq`; pages are "records with seq > cursor" (oldest first)
-- or "seq < cursor" (newest first), so a page boundary stays put when records are deleted
-- (deletes leave tombstones that are compacted away lazily).
local setmetatable, floor = setmetatable, math.floor

local collection = {}
collection.__index = collection

local next_seq = 0 -- shared by all collections: seq values are globally increasing

function collection.new()
  return setmetatable({ items = {}, by_key = {}, count = 0, dead = 0 }, collection)
end

-- Adds record (a table with a `key`); sets record.seq unless already set. Returns record.
function collection:add(record)
  if not record.seq then
    next_seq = next_seq + 1
    record.seq = next_seq
  end
  local items = self.items
  items[#items + 1] = record
  self.by_key[record.key] = record
  self.count = self.count + 1
  return record
end

function collection:get(key)
  return self.by_key[key]
end

local function compact(self)
  local kept = {}
  local items = self.items
  for i = 1, #items do
    local r = items[i]
    if self.by_key[r.key] == r then kept[#kept + 1] = r end
  end
  self.items, self.dead = kept, 0
end

-- Removes the record with key; returns it or nil.
function collection:remove(key)
  local r = self.by_key[key]
  if not r then return nil end
  self.by_key[key] = nil
  self.count = self.count - 1
  self.dead = self.dead + 1
  if self.dead > 64 and self.dead > self.count then compact(self) end
  return r
end

-- Index of the first item whose seq > after_seq.
local function first_after(items, after_seq)
  local lo, hi = 1, #items + 1
  while lo < hi do
    local mid = floor((lo + hi) / 2)
    if items[mid].seq > after_seq then hi = mid else lo = mid + 1 end
  end
  return lo
end

-- Up to limit live records with seq > after_seq, oldest first; plus whether more remain.
function collection:page(after_seq, limit)
  local items, by_key = self.items, self.by_key
  local out = {}
  local i = first_after(items, after_seq or 0)
  local n = #items
  while i <= n do
    local r = items[i]
    if by_key[r.key] == r then
      if #out == limit then return out, true end
      out[#out + 1] = r
    end
    i = i + 1
  end
  return out, false
end

-- Up to limit live records with seq < before_seq (nil: from the newest), newest first; plus
-- whether more remain.
function collection:page_desc(before_seq, limit)
  local items, by_key = self.items, self.by_key
  local out = {}
  local i = before_seq and first_after(items, before_seq - 1) - 1 or #items
  while i >= 1 do
    local r = items[i]
    if by_key[r.key] == r then
      if #out == limit then return out, true end
      out[#out + 1] = r
    end
    i = i - 1
  end
  return out, false
end

-- Every live record, oldest first.
function collection:all()
  local out = self:page(0, self.count + 1)
  return out
end

return collection
