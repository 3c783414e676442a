-- The Redis client behind the Redis inbox: lua-resty-redis, OpenResty's own client (Debian
-- lua-nginx-redis installs it as `nginx.redis`; OpenResty as `resty.redis`). Inside nginx it
-- runs on cosockets, as designed, so nothing blocks the event loop. Outside nginx the same code
-- is loaded with a cosocket-shaped adapter over LuaSocket (connect, send, receive, timeouts):
-- one protocol implementation, maintained upstream, serves every host. Why this client and not
-- another is in the README ("Redis for many receivers and workers").
local type, pcall, require, setmetatable, tostring, rawget, concat =
  type, pcall, require, setmetatable, tostring, rawget, table.concat

local redis_client = {
  MODULES = { "resty.redis", "nginx.redis" },
}

local function in_nginx()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.socket.tcp) == "function"
end

---------------------------------------------------------------------------------------------
-- LuaSocket in the shape of an nginx cosocket (only what lua-resty-redis uses)

local Socket = {}
Socket.__index = Socket

local function flatten(data, out)
  if type(data) ~= "table" then
    out[#out + 1] = tostring(data)
    return out
  end
  for i = 1, #data do flatten(data[i], out) end
  return out
end

function Socket:settimeout(ms)
  self.sock:settimeout(ms and ms / 1000 or nil)
end

function Socket:connect(host, port)
  if type(host) == "string" and host:sub(1, 5) == "unix:" then
    return nil, "unix sockets need OpenResty; use host:port outside nginx"
  end
  local ok, err = self.sock:connect(host, port)
  if not ok then return nil, err end
  self.sock:setoption("tcp-nodelay", true)
  return 1
end

function Socket:send(data)
  local s = type(data) == "table" and concat(flatten(data, {})) or data
  local sent, err = self.sock:send(s)
  if not sent then return nil, err end
  return sent
end

function Socket:receive(pattern)
  return self.sock:receive(pattern or "*l")
end

function Socket:close()
  return self.sock:close()
end

function Socket:setkeepalive()
  -- No connection pool outside nginx: the inbox keeps its one connection open itself.
  self.sock:close()
  return 1
end

function Socket:getreusedtimes() return 0 end

local NULL = setmetatable({}, { __tostring = function() return "null" end })

local function luasocket_ngx()
  local socket = require "socket"
  return {
    null = NULL,
    socket = { tcp = function() return setmetatable({ sock = socket.tcp() }, Socket) end },
  }
end

-- Where lua-resty-redis is looked for outside nginx: package.path, then the Lua 5.1 trees that
-- Debian's lua-nginx-redis and a LuaRocks install for OpenResty use (it is plain Lua that runs
-- on every version once `ngx` and `unpack` are supplied).
redis_client.EXTRA_PATH = "/usr/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?.lua"

local function search(name, path)
  for template in path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", (name:gsub("%.", "/")))
    local f = io.open(candidate, "rb")
    if f then
      f:close()
      return candidate
    end
  end
  return nil
end

-- Loads the module's file with `ngx` (and 5.1's `unpack`) supplied as its globals.
local function load_outside_nginx(name)
  local path = search(name, package.path) or search(name, redis_client.EXTRA_PATH)
  if not path then return nil end
  local f = assert(io.open(path, "rb"))
  local source = f:read("*a")
  f:close()
  local env = setmetatable({ ngx = luasocket_ngx(), unpack = rawget(_G, "unpack") or rawget(table, "unpack") },
    { __index = _G })
  local chunk, err
  local setfenv = rawget(_G, "setfenv")   -- Lua 5.1 and LuaJIT
  if setfenv then
    chunk, err = rawget(_G, "loadstring")(source, "@" .. path)
    if chunk then setfenv(chunk, env) end
  else
    chunk, err = load(source, "@" .. path, "t", env)
  end
  if not chunk then return nil, err end
  local ok, module = pcall(chunk, name)
  if not ok then return nil, module end
  return module, nil, env.ngx.null
end

local loaded, loaded_null

--- redis_client.module() --> the lua-resty-redis module and its null value | nil, message
function redis_client.module()
  if loaded then return loaded, loaded_null end
  if in_nginx() then
    for _, name in ipairs(redis_client.MODULES) do
      local ok, module = pcall(require, name)
      if ok and type(module) == "table" then
        loaded, loaded_null = module, rawget(_G, "ngx").null
        return loaded, loaded_null
      end
    end
  else
    for _, name in ipairs(redis_client.MODULES) do
      local module, _, null = load_outside_nginx(name)
      if module then
        loaded, loaded_null = module, null
        return loaded, loaded_null
      end
    end
  end
  return nil, "the Redis inbox needs lua-resty-redis (Debian: apt-get install lua-nginx-redis; "
    .. "LuaRocks: lua-resty-redis)" .. (in_nginx() and "" or ", and LuaSocket outside nginx")
end

redis_client.in_nginx = in_nginx

return redis_client
