-- /_emulator/sinks/<name>: a callback receiver inside the emulator.
--   POST   records the callback and answers 200; query options shape the answer:
--            fail=N      the first N callbacks of this sink get HTTP 500 (then 200)
--            status=S    answer S instead of 200 (after the failures above)
--            delay_ms=D  answer after D ms (to make deliveries time out)
--   GET    data.received = [{body, json, content_type, user_agent, at_ms}], data.count
--   DELETE forgets the sink
local envelope = require "qs_emulator.envelope"
local json = require "qs_emulator.json"
local clock = require "qs_emulator.clock"
local sinks = require "qs_emulator.store.sinks"

local ngx = ngx
local tonumber, floor = tonumber, math.floor

local admin = {}

local function int_arg(ctx, name)
  local v = tonumber(ctx:arg(name) or "")
  if v and v >= 0 and v == floor(v) then return v end
  return nil
end

function admin.receive(ctx, name)
  local body = ctx:body()
  local decoded = json.decode(body)
  local count = sinks.record(name, {
    body = body,
    json = decoded == nil and json.null or decoded,
    content_type = ngx.var.http_content_type or json.null,
    user_agent = ngx.var.http_user_agent or json.null,
    at_ms = clock.now_ms(),
  })
  local delay = int_arg(ctx, "delay_ms")
  if delay and delay > 0 then ngx.sleep(delay / 1000) end
  local fail = int_arg(ctx, "fail") or 0
  local status = 200
  if count <= fail then
    status = 500
  else
    local s = int_arg(ctx, "status")
    if s and s >= 100 and s <= 599 then status = s end
  end
  return { kind = "raw", status = status, content_type = "text/plain", body = status == 200 and "OK\n" or "NOT OK\n" }
end

function admin.get(_, name)
  local received, total = sinks.get(name)
  return envelope.ok({ received = json.array(received), count = total })
end

function admin.clear(_, name)
  sinks.clear(name)
  return envelope.ok({ received = json.array(), count = 0 })
end

return admin
