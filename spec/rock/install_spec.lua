-- The rock as users get it: `luarocks make --tree T` for the Lua under test, then the installed
-- `quicklysign` command and modules, run from another folder with no LUA_PATH or LUA_CPATH and
-- without `luarocks path`.
local process = require "support.process"
local rock = require "support.rock"
local emulator = require "support.emulator"

local quote = process.quote

-- runs a shell command line from / with the clean environment: code, stdout, stderr
local function sh(line, env)
  local e = {}
  for k, v in pairs(rock.clean_env) do e[k] = v end
  for k, v in pairs(env or {}) do e[k] = v end
  return process.run({ "sh", "-c", "cd / && " .. line }, e)
end

describe("the installed rock", function()
  local tree
  setup(function() tree = rock.install() end)
  teardown(function() rock.remove() end)

  it("builds the C module against the headers of the Lua it is for", function()
    local _, log = rock.install()
    local inc = process.lua == "luajit" and "/usr/include/luajit-2.1" or ("/usr/include/lua" .. rock.lua_version)
    assert.truthy(log:find("-I" .. inc .. " ", 1, true), log)
  end)

  it("runs `quicklysign` from <tree>/bin with no search paths set", function()
    local quicklysign = require "quicklysign"
    local code, out, err = sh(quote(tree .. "/bin/quicklysign") .. " --version")
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("quicklysign " .. quicklysign.version, 1, true), out)
  end)

  it("runs the script itself with the Lua under test, finding its tree from its own path", function()
    local script = ("%s/lib/luarocks/rocks-%s/quicklysign/scm-1/bin/quicklysign"):format(tree, rock.lua_version)
    local code, out, err = sh(quote(rock.interpreter) .. " " .. quote(script) .. " --json version")
    assert.are.equal(0, code, out .. err)
    local want = process.lua == "luajit" and "LuaJIT" or ("Lua " .. rock.lua_version)
    assert.truthy(out:find('"lua":"' .. want, 1, true), out)
  end)

  it("prefers its own tree's modules to others on the path", function()
    local decoy = os.tmpname()
    os.remove(decoy)
    assert(os.execute("mkdir -p " .. quote(decoy .. "/quicklysign")))
    local f = assert(io.open(decoy .. "/quicklysign/cli.lua", "w"))
    f:write('error("the decoy was loaded")\n')
    f:close()
    local code, out, err = sh(quote(tree .. "/bin/quicklysign") .. " help", { LUA_PATH = decoy .. "/?.lua;;" })
    os.execute("rm -rf " .. quote(decoy))
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:find("Usage: quicklysign", 1, true))
  end)

  it("installs the bash and zsh completion scripts", function()
    local conf = ("%s/lib/luarocks/rocks-%s/quicklysign/scm-1/conf/"):format(tree, rock.lua_version)
    for _, name in ipairs{ "quicklysign.bash", "_quicklysign" } do
      local f = io.open(conf .. name, "rb")
      assert.truthy(f, conf .. name .. " is missing")
      local text = f:read("*a")
      f:close()
      assert.truthy(text:find("__complete", 1, true))
    end
  end)

  it("talks to the API with the installed C module", function()
    emulator:reset()
    local code, out, err = sh(quote(tree .. "/bin/quicklysign") .. " --json webhooks list", {
      QUICKLYSIGN_CLIENT_ID = emulator.client_id, QUICKLYSIGN_CLIENT_SECRET = emulator.client_secret,
      QUICKLYSIGN_BASE_URL = emulator.base_url,
    })
    assert.are.equal(0, code, out .. err)
    assert.are.equal("[]\n", out)
  end)
end)
