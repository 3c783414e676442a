-- What the host gives by default, looked up at call time: inside OpenResty (a global `ngx`)
-- nginx's error log and clock, elsewhere standard error and os.time().
local rawget, type, tostring = rawget, type, tostring

local host = {}

-- Log lines: nginx's error log, or standard error for warnings and errors only ("info" lines
-- are for a configured logger).
function host.log(level, msg)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.log) == "function" then
    local ngx_level = (level == "error" and ngx.ERR) or (level == "warn" and ngx.WARN) or ngx.INFO
    ngx.log(ngx_level, msg)
  elseif level ~= "info" then
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
