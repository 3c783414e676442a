-- luacheck settings for the whole tree: `make check-lua`
std = "max"
max_line_length = 120
ignore = { "212/self" }   -- methods that do not use self keep the colon for a uniform API

-- the library runs on every Lua from 5.1 to 5.4 and LuaJIT: only what all of them have
files["lua"] = { std = "min" }

-- code that runs inside nginx (OpenResty) sees the ngx global
files["emulator"] = { std = "luajit", globals = { "ngx" } }
files["lua/quicklysign/openresty.lua"] = { read_globals = { "ngx" } }
files["examples/openresty"] = { globals = { "ngx" } }
files["lua/quicklysign/openresty"] = { read_globals = { "ngx" } }
files["spec/openresty/fixtures"] = { read_globals = { "ngx" } }
files["bench"] = { read_globals = { "ngx" } }
files["spec"] = { std = "+busted" }
