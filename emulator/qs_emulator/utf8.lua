-- UTF-8 helpers: validity check, repair, and UTF-16BE conversion (for PDF text strings).
local byte, char, find, concat = string.byte, string.char, string.find, table.concat
local floor = math.floor

local utf8 = {}

local REPLACEMENT = "\239\191\189" -- U+FFFD

-- Decodes one code point at position i; returns code point and next position, or nil when the
-- sequence is invalid (overlong, surrogate, truncated or out of range).
local function decode_at(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, i + 1 end
  local n, min, cp
  if c >= 0xC2 and c <= 0xDF then n, min, cp = 1, 0x80, c - 0xC0
  elseif c >= 0xE0 and c <= 0xEF then n, min, cp = 2, 0x800, c - 0xE0
  elseif c >= 0xF0 and c <= 0xF4 then n, min, cp = 3, 0x10000, c - 0xF0
  else return nil end
  for k = 1, n do
    local cc = byte(s, i + k)
    if not cc or cc < 0x80 or cc > 0xBF then return nil end
    cp = cp * 64 + (cc - 0x80)
  end
  if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
  return cp, i + n + 1
end

-- Returns s when it is valid UTF-8, else a copy with each invalid byte replaced by U+FFFD.
function utf8.repair(s)
  if not find(s, "[\128-\255]") then return s end
  local out, i, len, start, bad = {}, 1, #s, 1, false
  while i <= len do
    local cp, nxt = decode_at(s, i)
    if cp then
      i = nxt
    else
      bad = true
      out[#out + 1] = s:sub(start, i - 1)
      out[#out + 1] = REPLACEMENT
      i = i + 1
      start = i
    end
  end
  if not bad then return s end
  out[#out + 1] = s:sub(start)
  return concat(out)
end

-- UTF-16BE bytes of s (invalid bytes become U+FFFD), without BOM.
function utf8.to_utf16be(s)
  local out, i, len = {}, 1, #s
  while i <= len do
    local cp, nxt = decode_at(s, i)
    if not cp then cp, nxt = 0xFFFD, i + 1 end
    if cp >= 0x10000 then
      local v = cp - 0x10000
      local hi, lo = 0xD800 + floor(v / 0x400), 0xDC00 + v % 0x400
      out[#out + 1] = char(floor(hi / 256), hi % 256, floor(lo / 256), lo % 256)
    else
      out[#out + 1] = char(floor(cp / 256), cp % 256)
    end
    i = nxt
  end
  return concat(out)
end

return utf8
