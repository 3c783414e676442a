-- luacheck settings for the emulator's Lua (LuaJIT inside nginx): `luacheck emulator/`
std = "luajit"
globals = { "ngx" } -- ngx.status and ngx.header are assigned
max_line_length = 120
ignore = { "212/self" }
