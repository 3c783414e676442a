--- Test support: the rock installed as users install it, `luarocks make --tree T`, for the Lua
-- the specs run on (QUICKLYSIGN_TEST_LUA; LuaJIT: `--lua-version 5.1` against LuaJIT's headers),
-- from a copy of the checkout (LuaRocks writes its objects beside the sources). Made once per
-- run of the specs and removed at exit.
local process = require "support.process"

local rock = {}

local root = (debug.getinfo(1, "S").source:match("^@(.*)/spec/support/rock%.lua$"))
if root == nil or root == "" then root = "." end
rock.root = root

local flavour = process.lua
rock.lua_version = flavour == "luajit" and "5.1" or flavour:match("^lua(%d+%.%d+)$")
rock.interpreter = flavour
-- what each flavour adds to `luarocks make`
rock.make_args = { "--lua-version", rock.lua_version }
if flavour == "luajit" then rock.make_args[#rock.make_args + 1] = "LUA_INCDIR=/usr/include/luajit-2.1" end

local installed

--- Installs the scm rockspec into a fresh tree (once); returns tree, the build log.
function rock.install()
  if installed then return installed.tree, installed.log end
  local work = os.tmpname()
  os.remove(work)
  local q = process.quote
  local copy = ("mkdir -p %s/src %s/tree && cd %s && cp -r src lua bin *.rockspec %s/src/ && " ..
    "{ [ ! -d completions ] || cp -r completions %s/src/; }"):format(q(work), q(work), q(root), q(work), q(work))
  assert(os.execute(copy))
  local argv = { "env", "-C", work .. "/src", "luarocks" }
  for _, a in ipairs(rock.make_args) do argv[#argv + 1] = a end
  for _, a in ipairs{ "make", "--deps-mode=none", "--tree", work .. "/tree", "quicklysign-scm-1.rockspec" } do
    argv[#argv + 1] = a
  end
  local code, out, err = process.run(argv)
  assert(code == 0, "luarocks make failed:\n" .. out .. err)
  installed = { tree = work .. "/tree", log = out .. err, work = work }
  return installed.tree, installed.log
end

--- Removes the tree and its sources.
function rock.remove()
  if installed then
    os.execute("rm -rf " .. process.quote(installed.work))
    installed = nil
  end
end

--- The environment of a run that knows nothing of the checkout: no LUA_PATH/LUA_CPATH.
rock.clean_env = { LUA_PATH = false, LUA_CPATH = false, LUA_INIT = false, ["LUA_PATH_5_4"] = false }

return rock
