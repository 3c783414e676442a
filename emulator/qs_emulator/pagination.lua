-- Pagination of lists: page size (config page_size, or query page_size), where to start
-- (query cursor), and the "pagination" member of the answer when more remain:
--   pagination_style "cursor":   {"next": "<opaque cursor>"}  (client re-sends it as ?cursor=)
--   pagination_style "url":      {"next": "<absolute URL of the next page>"}
--   pagination_style "relative": {"next": "/v1/<list path>?...&cursor=..."} (a path, no origin)
-- The URL forms carry every query parameter of the request but client_secret (and the old
-- cursor). A cursor names the last record returned (its seq), so deletes do not shift pages.
local config = require "qs_emulator.config"
local envelope = require "qs_emulator.envelope"

local ngx = ngx
local tonumber, floor, match, gsub, concat = tonumber, math.floor, string.match, string.gsub, table.concat

local pagination = {}

local function b64url(s)
  return (gsub(ngx.encode_base64(s), "[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

local function unb64url(s)
  s = gsub(s, "[-_]", { ["-"] = "+", ["_"] = "/" })
  local pad = #s % 4
  if pad == 2 then s = s .. "==" elseif pad == 3 then s = s .. "=" elseif pad == 1 then return nil end
  return ngx.decode_base64(s)
end

local function encode_cursor(list, seq)
  return b64url("qs-cursor:" .. list .. ":" .. seq)
end

-- Reads page_size and cursor for list `list` (a name, so a cursor of another list is refused).
-- Returns { size, after } (after: the seq the cursor names, nil without a cursor) or nil,
-- error response.
function pagination.read(ctx, list)
  local size = config.get().page_size
  local raw = ctx:arg("page_size")
  if raw then
    size = tonumber(raw)
    if not size or size ~= floor(size) or size < 1 or size > 1000 then
      return nil, envelope.invalid_field("page_size", "an integer from 1 to 1000 is expected")
    end
  end
  local after
  local cursor = ctx:arg("cursor")
  if cursor then
    local decoded = unb64url(cursor)
    local l, seq = match(decoded or "", "^qs%-cursor:([%w_]+):(%d+)$")
    if l ~= list then
      return nil, envelope.invalid_field("cursor", "not a cursor this list gave")
    end
    after = tonumber(seq)
  end
  return { size = size, after = after }
end

local function next_target(ctx, cursor)
  local parts = {}
  for _, p in ipairs(ctx:raw_arg_pairs()) do
    if p.name ~= "client_secret" and p.name ~= "cursor" then parts[#parts + 1] = p.raw end
  end
  parts[#parts + 1] = "cursor=" .. cursor
  return ctx.path .. "?" .. concat(parts, "&")
end

-- The "pagination" member for a page whose last record is `last` (nil when no more remain).
function pagination.next(ctx, list, last, has_more)
  if not has_more or not last then return nil end
  local cursor = encode_cursor(list, last.seq)
  local style = config.get().pagination_style
  if style == "url" then
    return { next = ctx:origin() .. next_target(ctx, cursor) }
  elseif style == "relative" then
    return { next = next_target(ctx, cursor) }
  end
  return { next = cursor }
end

return pagination
