-- The request pipeline, called by nginx (see nginx.conf.template; init_by_lua, in the
-- master, is selection.init: the start profiles):
--   init_worker: seed the key generator;
--   content:     injected faults -> route -> handler -> response (envelope or raw), or, for a
--                close_after fault, the connection dropped once the handler is done;
--   log:         remember the request for /_emulator/requests.
local router = require "qs_emulator.router"
local routes = require "qs_emulator.routes"
local request = require "qs_emulator.request"
local response = require "qs_emulator.response"
local envelope = require "qs_emulator.envelope"
local config = require "qs_emulator.config"
local faults = require "qs_emulator.faults"
local keys = require "qs_emulator.keys"
local auth = require "qs_emulator.auth"
local request_log = require "qs_emulator.request_log"

local ngx = ngx
local xpcall, traceback, unpack, sub = xpcall, debug.traceback, unpack, string.sub

local app = {}

-- Errors go to <run dir>/logs/emulator-errors.log, not through ngx.log: nginx would append the
-- request line, whose query string may hold the client_secret.
local function report(message)
  local f = io.open(ngx.config.prefix() .. "logs/emulator-errors.log", "a")
  if f then
    f:write(ngx.localtime(), " ", message, "\n")
    f:close()
  end
end

local table_router = router.new(routes)

function app.init_worker()
  local ok, err = pcall(keys.init)
  if not ok then report("init_worker failed: " .. tostring(err)) end
end

local function is_api_path(path)
  return path == "/v1" or sub(path, 1, 4) == "/v1/"
end

function app.handle()
  local ctx = request.new()
  local path = ctx.path

  local drop_after = false
  if faults.applies_to(path) then
    local f = faults.take(ctx.method, path)
    if f and faults.apply(f) then return end
    drop_after = f ~= nil and f.close_after
  end

  -- route on the path as sent (keys may hold encoded "/"), captures decoded; else on the
  -- normalised path (encoded letters, "//", "./" segments)
  local route, found = table_router:match(ctx.method, ctx.raw_path)
  if route then
    for i = 1, #found do found[i] = request.percent_decode(found[i]) end
  else
    local route2, found2 = table_router:match(ctx.method, path)
    if route2 or found2 then route, found = route2, found2 end
  end
  -- the storage host (a second address of the same nginx) serves storage only
  if ctx:on_storage_host() and not (route and route.storage) then route, found = nil, nil end
  local api = route and route.api or (not route and is_api_path(path))
  local res
  if not route then
    res = found and envelope.method_not_allowed(found) or envelope.not_found("Route")
  else
    local ok, result = xpcall(function() return route.handler(ctx, unpack(found)) end, traceback)
    if ok then
      res = result
    else
      report("handler failed for " .. ctx.method .. " " .. path .. ": " .. tostring(result))
      res = envelope.error(500, "internal_error", "The emulator failed to handle this request")
    end
  end

  if drop_after then return faults.drop() end   -- the work is done; the answer is lost
  local force_200 = false
  if api and res.kind == "envelope" then
    force_200 = config.get().always_200 or ctx:wants_http_200()
  end
  response.send(res, force_200)
end

function app.log()
  local ok, err = pcall(request_log.record, auth.token_of_request() ~= nil)
  if not ok then report("request log failed: " .. tostring(err)) end
end

return app
