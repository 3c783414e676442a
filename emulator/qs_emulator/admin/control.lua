-- Emulator control: health, reset, config, expiring tokens.
local envelope = require "qs_emulator.envelope"
local config = require "qs_emulator.config"
local state = require "qs_emulator.state"
local access_tokens = require "qs_emulator.store.access_tokens"

local admin = {}

-- GET /_emulator/health
function admin.health()
  return envelope.ok({ ok = true, emulator = "quicklysign", worker_pid = ngx.worker.pid() })
end

-- POST /_emulator/reset: empty state, default config.
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

-- POST /_emulator/tokens/expire
function admin.expire_tokens()
  return envelope.ok({ expired = access_tokens.expire_all() })
end

return admin
