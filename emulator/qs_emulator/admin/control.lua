-- Emulator control: health, reset, config, profiles, expiring tokens.
local envelope = require "qs_emulator.envelope"
local config = require "qs_emulator.config"
local json = require "qs_emulator.json"
local profiles = require "qs_emulator.profiles"
local selection = require "qs_emulator.selection"
local state = require "qs_emulator.state"
local access_tokens = require "qs_emulator.store.access_tokens"

local type = type

local admin = {}

-- GET /_emulator/health
function admin.health()
  return envelope.ok({ ok = true, emulator = "quicklysign", worker_pid = ngx.worker.pid() })
end

-- POST /_emulator/reset: empty state, the start configuration (defaults + start profiles).
function admin.reset()
  state.reset()
  return envelope.ok({ reset = true })
end

-- GET /_emulator/config
function admin.get_config()
  return envelope.ok({ config = config.get() })
end

-- POST /_emulator/config {partial config}: validated and merged; answers the whole config.
function admin.set_config(ctx)
  local body, reason = ctx:json()
  if not body then return envelope.bad_body(reason) end
  local ok, field, why = config.merge(body)
  if not ok then return envelope.invalid_field(field, why) end
  return envelope.ok({ config = config.get() })
end

-- GET /_emulator/profiles: every profile, in catalogue order.
function admin.profiles()
  local out = json.array()
  for i, p in ipairs(profiles.list()) do
    out[i] = { name = p.name, point = p.point, plays = p.plays, settings = p.settings, default = p.default }
  end
  return envelope.ok({ profiles = out })
end

local function profile_answer()
  return envelope.ok({
    start = json.array(selection.start_items()),
    active = json.array(selection.active_items()),
    config = config.get(),
    storage_host = selection.storage_host(),
  })
end

-- GET /_emulator/profile: the start and active selections, and the config they make.
function admin.get_profile()
  return profile_answer()
end

-- POST /_emulator/profile {"profile": "a,b,key=value"} or {"profile": ["a", "b"]}: the
-- config becomes the defaults plus these (the start selection aside) until the next reset.
function admin.set_profile(ctx)
  local body, reason = ctx:json()
  if not body then return envelope.bad_body(reason) end
  local items = body.profile
  if type(items) ~= "string" and not (type(items) == "table" and (items[1] ~= nil or next(items) == nil)) then
    return envelope.invalid_field("profile", 'a string "a,b,key=value" or an array of names expected')
  end
  local ok, err = selection.select(items)
  if not ok then return envelope.invalid_field("profile", err) end
  return profile_answer()
end

-- POST /_emulator/tokens/expire
function admin.expire_tokens()
  return envelope.ok({ expired = access_tokens.expire_all() })
end

return admin
