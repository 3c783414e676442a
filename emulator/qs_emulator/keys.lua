-- Opaque, URL-safe ([A-Za-z0-9_-]) random keys, like the vendor's 50-120 character keys.
-- Each key is derived from a per-process secret (read from /dev/urandom once, or from
-- QUICKLYSIGN_EMULATOR_SEED for a reproducible sequence) and a counter, via SHA-1.
local sha1_bin, encode_base64 = ngx.sha1_bin, ngx.encode_base64
local gsub, sub, concat = string.gsub, string.sub, table.concat

local keys = {}

-- Lengths per kind of key; they differ on purpose so clients do not assume one size.
local LENGTHS = {
  document_pack = 86,
  document = 72,
  webhook = 78,
  callback_log = 64,
  access_token = 56,
  application = 52,
}
local DEFAULT_LENGTH = 64

local secret
local counter = 0

local function read_urandom()
  local f = io.open("/dev/urandom", "rb")
  if not f then return tostring(ngx.now()) .. tostring({}) end
  local bytes = f:read(32)
  f:close()
  return bytes
end

-- Called once per worker (init_worker) and again on reset. With a fixed seed the sequence
-- restarts, so a run after /_emulator/reset sees the same keys again; without one the
-- sequence just goes on (keys are never reused).
function keys.init()
  local seed = os.getenv("QUICKLYSIGN_EMULATOR_SEED")
  if seed and seed ~= "" then
    secret, counter = "seed:" .. seed, 0
  elseif not secret then
    secret = read_urandom()
  end
end

local function url_safe(b64)
  return (gsub(b64, "[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }))
end

-- A new key of the given kind.
function keys.new(kind)
  if not secret then keys.init() end
  counter = counter + 1
  local length = LENGTHS[kind] or DEFAULT_LENGTH
  local parts, have, block = {}, 0, 0
  while have < length do
    block = block + 1
    local chunk = url_safe(encode_base64(sha1_bin(secret .. ":" .. kind .. ":" .. counter .. ":" .. block)))
    parts[#parts + 1] = chunk
    have = have + #chunk
  end
  return sub(concat(parts), 1, length)
end

-- A stable key derived from a name (e.g. the application's key from its client_id).
function keys.derived(kind, name)
  local length = LENGTHS[kind] or DEFAULT_LENGTH
  local parts, have, block = {}, 0, 0
  while have < length do
    block = block + 1
    local chunk = url_safe(encode_base64(sha1_bin("derived:" .. kind .. ":" .. name .. ":" .. block)))
    parts[#parts + 1] = chunk
    have = have + #chunk
  end
  return sub(concat(parts), 1, length)
end

-- A random version-4 style UUID (lowercase hex), for signatories.
function keys.uuid()
  if not secret then keys.init() end
  counter = counter + 1
  local hex = sha1_bin(secret .. ":uuid:" .. counter):gsub(".", function(c)
    return string.format("%02x", c:byte())
  end)
  local variant = ("89ab"):sub(tonumber(hex:sub(17, 17), 16) % 4 + 1, tonumber(hex:sub(17, 17), 16) % 4 + 1)
  return hex:sub(1, 8) .. "-" .. hex:sub(9, 12) .. "-4" .. hex:sub(14, 16) .. "-"
    .. variant .. hex:sub(18, 20) .. "-" .. hex:sub(21, 32)
end

-- True when s looks like a key we accept in paths and bodies.
function keys.is_valid(s)
  return type(s) == "string" and #s >= 1 and #s <= 200 and not s:find("[^%w_%-]")
end

return keys
