-- Access tokens minted by POST /v1/access_tokens, each with an expiry (config token_ttl).
local keys = require "qs_emulator.keys"
local clock = require "qs_emulator.clock"
local config = require "qs_emulator.config"

local access_tokens = {}

local expiries = {}   -- token -> expiry (seconds since epoch)
local minted = 0      -- tokens minted since the last sweep

function access_tokens.reset()
  expiries, minted = {}, 0
end

local function sweep(now)
  for t, exp in pairs(expiries) do
    if exp <= now then expiries[t] = nil end
  end
  minted = 0
end

function access_tokens.mint()
  local now = clock.now_s()
  minted = minted + 1
  if minted >= 1000 then sweep(now) end
  local token = keys.new("access_token")
  expiries[token] = now + config.get().token_ttl
  return token
end

-- True when token is known and not expired.
function access_tokens.valid(token)
  local exp = token and expiries[token]
  if not exp then return false end
  if exp <= clock.now_s() then
    expiries[token] = nil
    return false
  end
  return true
end

-- Invalidates every token; returns how many were live.
function access_tokens.expire_all()
  local n = 0
  for _ in pairs(expiries) do n = n + 1 end
  expiries = {}
  return n
end

return access_tokens
