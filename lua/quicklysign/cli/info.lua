-- quicklysign version
local config = require "quicklysign.cli.config"
local status = require "quicklysign.cli.status"

local type, tostring, rawget = type, tostring, rawget

local info = {}

local function lua_version()
  local jit = rawget(_G, "jit")
  if type(jit) == "table" and jit.version then return jit.version end
  return _VERSION
end

function info.version(ctx)
  local out = ctx.out
  local quicklysign = config.library()
  local version, curl = tostring(quicklysign.version), tostring(quicklysign.curl_version)
  if out.json then
    out:document{ version = version, lua = lua_version(), curl = curl }
  elseif out.quiet then
    out:print(version)
  else
    out:print("quicklysign " .. version .. " (" .. lua_version() .. ", " .. curl .. ")")
  end
  return status.OK
end

return info
