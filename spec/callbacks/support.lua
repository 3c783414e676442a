-- Shared helpers of the callbacks specs (loaded with dofile; not a spec itself).
local support = {}

support.TOKEN = "s3cret-token-0123456789abcdef"
support.ENTITY = "ahFzfnF1aWNrbHlzaWduLWRldnInCxIIRG9jdW1lbnQiGWY2VDNXNW9DejVnQWJnMTgyYjYwMDQyZTAM"
support.WEBHOOK = "ahNkZXZ-cXVpY2tseXNpZ24tZGV2chkLEgxTdWJzY3JpcHRpb24YgICAgIDwiwoM"

-- A JSON callback body. fields: event, entity_key, webhook_key, subscription_key, entity_type.
function support.body(fields)
  fields = fields or {}
  local cjson = require "cjson"
  return cjson.encode({
    callback_event = fields.event or "final_document_generated",
    entity_key = fields.entity_key or support.ENTITY,
    entity_type = fields.entity_type or "Document",
    webhook_key = fields.webhook_key,
    subscription_key = fields.subscription_key,
  })
end

-- A request table as a server would hand it over; `over` replaces fields.
function support.request(over)
  local r = {
    method = "POST",
    headers = { ["Content-Type"] = "application/json" },
    body = support.body{ webhook_key = support.WEBHOOK },
    query = { token = support.TOKEN },
  }
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

-- A logger that records { level, msg } lines.
function support.recorder()
  local lines = {}
  local function log(level, msg) lines[#lines + 1] = { level = level, msg = msg } end
  return log, lines
end

-- A clock the test moves by hand.
function support.clock(start)
  local c = { t = start or 1000 }
  function c.now() return c.t end
  function c.advance(s) c.t = c.t + s end
  return c
end

-- A small in-Lua double of an nginx shared dict (ngx.shared.DICT): add/get/set/delete with
-- expiry in seconds (0 = never), add failing with "exists" on a live key.
function support.fake_shared_dict(clock)
  local data = {}
  local dict = { calls = {} }
  local function live(key)
    local e = data[key]
    if e and e.expires ~= 0 and e.expires <= clock.now() then
      data[key] = nil
      e = nil
    end
    return e
  end
  function dict:add(key, value, exptime)
    self.calls[#self.calls + 1] = "add"
    if live(key) then return false, "exists", false end
    data[key] = { value = value, expires = (exptime and exptime > 0) and clock.now() + exptime or 0 }
    return true, nil, false
  end
  function dict:get(key)
    self.calls[#self.calls + 1] = "get"
    local e = live(key)
    if e then return e.value, 0 end
    return nil
  end
  function dict:set(key, value, exptime)
    self.calls[#self.calls + 1] = "set"
    data[key] = { value = value, expires = (exptime and exptime > 0) and clock.now() + exptime or 0 }
    return true, nil, false
  end
  function dict:delete(key)
    self.calls[#self.calls + 1] = "delete"
    data[key] = nil
  end
  function dict.raw(_, key) local e = live(key); return e and e.value end
  return dict
end

return support
