-- What the host gives by default, looked up at call time: inside OpenResty (a global `ngx`)
-- nginx's error log and clock, elsewhere standard error and os.time().
--
-- In nginx, a line logged while a request is being served gets the request line appended by
-- nginx itself (`request: "POST /quicklysign?token=..."`): the callback token would land in the
-- error log. Lines logged in a request are therefore queued and written from a timer (no request
-- attached) a moment later, in order; at most MAX_PENDING wait, past that they are counted and
-- the count is logged instead.
local rawget, type, tostring = rawget, type, tostring

local host = {
  MAX_PENDING = 1000,
}

local REQUEST_PHASES = {
  set = true, rewrite = true, server_rewrite = true, access = true, content = true,
  header_filter = true, body_filter = true, log = true, balancer = true,
  ssl_cert = true, ssl_session_fetch = true, ssl_session_store = true, ssl_client_hello = true,
}

local pending, scheduled, dropped = {}, false, 0

local function nginx_level(ngx, level)
  return (level == "error" and ngx.ERR) or (level == "warn" and ngx.WARN)
    or (level == "debug" and ngx.DEBUG) or ngx.INFO
end

local function flush(premature)
  local ngx = rawget(_G, "ngx")
  scheduled = false
  local lines = pending
  pending = {}
  for i = 1, #lines do ngx.log(lines[i][1], lines[i][2]) end
  if dropped > 0 then
    ngx.log(ngx.WARN, "quicklysign: ", dropped, " log lines were dropped (too many at once)")
    dropped = 0
  end
  if premature then return end
end

local function defer(ngx, lvl, msg)
  if #pending >= host.MAX_PENDING then
    dropped = dropped + 1
    return
  end
  pending[#pending + 1] = { lvl, msg }
  if not scheduled then
    local ok = ngx.timer.at(0, flush)
    scheduled = ok and true or false   -- no timer now: the next line tries again
  end
end

-- Log lines: nginx's error log, or standard error for warnings and errors only ("info" and
-- "debug" lines are for a configured logger).
function host.log(level, msg)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.log) == "function" then
    local lvl = nginx_level(ngx, level)
    local phase = type(ngx.get_phase) == "function" and ngx.get_phase()
    if REQUEST_PHASES[phase] and type(ngx.timer) == "table" then return defer(ngx, lvl, msg) end
    ngx.log(lvl, msg)
  elseif level ~= "info" and level ~= "debug" then
    io.stderr:write("quicklysign.callbacks ", tostring(level), ": ", tostring(msg), "\n")
  end
end

-- The default clock: ngx.now() inside OpenResty, else os.time().
function host.now()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.now) == "function" then return ngx.now() end
  return os.time()
end

return host
