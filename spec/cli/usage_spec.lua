-- quicklysign: help on every command, usage errors (exit 2), configuration errors (exit 3) and
-- version. Each case runs the real command as a subprocess.
local support = require "cli.support"
local emulator = require "support.emulator"
local commands = require "quicklysign.cli.commands"

-- every test starts from an empty emulator: no packs, webhooks, faults or config changes
before_each(function() emulator:reset() end)

local run, qs = support.run, support.qs

-- Every command path in the tree: {}, {"webhooks"}, {"webhooks", "create"}, ...
local function all_paths()
  local paths = { {} }
  local function walk(node, prefix)
    for _, child in ipairs(node.commands or {}) do
      local path = {}
      for i, w in ipairs(prefix) do path[i] = w end
      path[#path + 1] = child.name
      paths[#paths + 1] = path
      walk(child, path)
    end
  end
  walk(commands.root, {})
  return paths
end

local function plus(path, ...)
  local argv = {}
  for i, w in ipairs(path) do argv[i] = w end
  for _, w in ipairs{ ... } do argv[#argv + 1] = w end
  return argv
end

local function assert_usage_error(r, fragment, help_path)
  assert.are.equal(2, r.code, r.stderr)
  assert.are.equal("", r.stdout)
  local lines = support.lines(r.stderr)
  assert.truthy(lines[1]:find("^quicklysign: "), r.stderr)
  assert.truthy(r.stderr:find(fragment, 1, true), "expected '" .. fragment .. "' in: " .. r.stderr)
  assert.truthy(r.stderr:find("Run 'quicklysign " .. help_path .. "--help' for usage.", 1, true), r.stderr)
end

describe("quicklysign --help", function()
  local paths = all_paths()

  it("covers at least every documented command", function()
    local names = {}
    for _, p in ipairs(paths) do names[#names + 1] = table.concat(p, " ") end
    for _, expected in ipairs{ "webhooks create", "webhooks ensure", "webhooks get", "webhooks list",
      "webhooks delete", "webhooks logs", "packs get", "packs download", "listen", "version", "help" } do
      assert.truthy(table.concat(names, ","):find(expected, 1, true), expected)
    end
  end)

  for _, path in ipairs(paths) do
    local name = table.concat(path, " ")
    for _, flag in ipairs{ "--help", "-h" } do
      it("answers '" .. name .. " " .. flag .. "' with its help on stdout, exit 0", function()
        local r = run(plus(path, flag))
        assert.are.equal(0, r.code, r.stderr)
        assert.are.equal("", r.stderr)
        local usage = "Usage: quicklysign" .. (name ~= "" and (" " .. name) or "")
        assert.truthy(r.stdout:find(usage, 1, true), r.stdout)
        assert.truthy(r.stdout:find("--json", 1, true))
        assert.truthy(r.stdout:find("0 ok, 1 failed, 2 usage, 3 configuration, 4 not found", 1, true)
          or r.stdout:find("Exit codes:", 1, true))
      end)
    end
    if #path > 0 and path[1] ~= "help" then
      it("answers 'help " .. name .. "' like '" .. name .. " --help'", function()
        local argv = { "help" }
        for _, w in ipairs(path) do argv[#argv + 1] = w end
        local a, b = run(argv), run(plus(path, "--help"))
        assert.are.equal(0, a.code)
        assert.are.equal(b.stdout, a.stdout)
      end)
    end
  end

  it("documents every exit code on the top-level help", function()
    local r = run{ "--help" }
    for _, code in ipairs{ "0", "1", "2", "3", "4", "5", "130" } do
      assert.truthy(r.stdout:find("\n  " .. code .. " +%S"), "exit code " .. code .. " missing")
    end
    assert.truthy(r.stdout:find("QUICKLYSIGN_CLIENT_SECRET", 1, true))
  end)

  it("shows help even when the command's arguments are missing", function()
    local r = run{ "webhooks", "create", "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.stdout:find("--entity KEY", 1, true))
    assert.truthy(r.stdout:find("--callback URL", 1, true))
  end)
end)

describe("quicklysign usage errors", function()
  it("prints the overview to stderr and exits 2 without a command", function()
    local r = run{}
    assert.are.equal(2, r.code)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("Usage: quicklysign", 1, true))
  end)

  it("refuses an unknown command, suggesting the one meant", function()
    assert_usage_error(run{ "webhook" }, "unknown command 'webhook'. Did you mean 'webhooks'?", "")
    assert_usage_error(run{ "lsten" }, "unknown command 'lsten'. Did you mean 'listen'?", "")
    assert_usage_error(run{ "pcks" }, "unknown command 'pcks'. Did you mean 'packs'?", "")
    local r = run{ "frobnicate" }
    assert_usage_error(r, "unknown command 'frobnicate'", "")
    assert.falsy(r.stderr:find("Did you mean", 1, true), r.stderr)
    -- commands for scripts are never suggested
    assert.falsy(run{ "__complet" }.stderr:find("__complete", 1, true))
  end)

  it("refuses an unknown subcommand, suggesting the one meant", function()
    assert_usage_error(run{ "webhooks", "remove" }, "unknown command 'remove' for 'webhooks'", "webhooks ")
    assert_usage_error(run{ "webhooks", "lst" }, "unknown command 'lst' for 'webhooks'. Did you mean 'list'?",
      "webhooks ")
    assert_usage_error(run{ "webhooks", "delet", "k" }, "Did you mean 'delete'?", "webhooks ")
    assert_usage_error(run{ "webhooks", "l" }, "unknown command 'l' for 'webhooks'", "webhooks ")
    assert_usage_error(run{ "help", "webhooks", "lst" }, "Did you mean 'list'?", "webhooks ")
  end)

  it("suggests the option meant, among those of the command", function()
    assert_usage_error(run{ "webhooks", "list", "--entitty", "x" },
      "unknown option --entitty. Did you mean '--entity'?", "webhooks list ")
    assert_usage_error(run{ "webhooks", "logs", "--folow" }, "Did you mean '--follow'?", "webhooks logs ")
    assert_usage_error(run{ "--jsno", "webhooks", "list" }, "Did you mean '--json'?", "")
    -- --follow belongs to logs only
    assert.falsy(run{ "webhooks", "list", "--folow" }.stderr:find("--follow", 1, true))
  end)

  it("refuses a group without its subcommand", function()
    assert_usage_error(run{ "packs" }, "'packs' needs a subcommand", "packs ")
  end)

  it("refuses an unknown option, naming the command's help", function()
    assert_usage_error(run{ "webhooks", "list", "--entitty", "x" }, "unknown option --entitty",
      "webhooks list ")
  end)

  it("refuses an option of another command", function()
    assert_usage_error(run{ "webhooks", "get", "k", "--callback", "https://x.test/" },
      "unknown option --callback", "webhooks get ")
  end)

  it("refuses a missing option value", function()
    assert_usage_error(run{ "webhooks", "create", "--callback", "https://x.test/", "--entity" },
      "option --entity needs a value", "webhooks create ")
    assert_usage_error(run{ "webhooks", "create", "--entity", "--callback", "https://x.test/" },
      "option --entity needs a value", "webhooks create ")
  end)

  it("refuses a missing required option", function()
    assert_usage_error(run{ "webhooks", "create", "--entity", "k" }, "option --callback is required",
      "webhooks create ")
  end)

  it("refuses a missing argument and an extra one", function()
    assert_usage_error(run{ "packs", "download", "k" }, "missing argument DIR", "packs download ")
    assert_usage_error(run{ "webhooks", "get", "a", "b" }, "unexpected argument #2", "webhooks get ")
  end)

  it("refuses a flag given a value", function()
    assert_usage_error(run{ "version", "--json=yes" }, "option --json takes no value", "version ")
  end)

  it("checks option values: environment, timeout, port", function()
    assert_usage_error(run{ "webhooks", "list", "--environment", "staging" },
      "option --environment must be one of sandbox, production", "webhooks list ")
    -- before the command is named, the hint points at the top-level help
    assert_usage_error(run{ "--environment", "staging", "webhooks", "list" },
      "option --environment must be one of sandbox, production (got 'staging')", "")
    assert_usage_error(run{ "webhooks", "list", "--timeout", "soon" }, "option --timeout needs a number",
      "webhooks list ")
    assert_usage_error(run{ "webhooks", "list", "--timeout", "0" }, "option --timeout must be between",
      "webhooks list ")
    assert_usage_error(run{ "listen", "--port", "70000" }, "option --port must be between", "listen ")
    assert_usage_error(run{ "listen", "--port", "80.5" }, "option --port needs a whole number", "listen ")
  end)

  it("refuses webhooks delete with both a key and --entity, or neither", function()
    assert_usage_error(qs{ "webhooks", "delete", "k", "--entity", "e" }, "not both", "webhooks delete ")
    assert_usage_error(qs{ "webhooks", "delete" }, "not both and not neither", "webhooks delete ")
  end)

  it("refuses webhooks logs without exactly one filter", function()
    assert_usage_error(qs{ "webhooks", "logs" }, "exactly one", "webhooks logs ")
    assert_usage_error(qs{ "webhooks", "logs", "--entity", "e", "--webhook", "w" }, "exactly one",
      "webhooks logs ")
  end)

  it("refuses a callback that is not an absolute http(s) URL", function()
    assert_usage_error(qs{ "webhooks", "create", "--entity", "e", "--callback", "example.com/cb" },
      "--callback needs an absolute http(s) URL", "webhooks create ")
    -- a usage error, even before the credentials are looked at
    assert_usage_error(run{ "webhooks", "ensure", "--entity", "e", "--callback", "example.com/cb" },
      "--callback needs an absolute http(s) URL", "webhooks ensure ")
  end)

  it("refuses a plain http callback when the API is https (checked before any call)", function()
    for _, env in ipairs{ { QUICKLYSIGN_BASE_URL = false }, { QUICKLYSIGN_BASE_URL = false,
        QUICKLYSIGN_ENVIRONMENT = "production" } } do
      for _, command in ipairs{ "create", "ensure" } do
        local r = qs({ "webhooks", command, "--entity", "e", "--callback", "http://127.0.0.1:8090/" }, env)
        assert_usage_error(r, "option --callback needs an https URL", "webhooks " .. command .. " ")
      end
    end
  end)

  it("refuses --base-url and --environment together, and a bad --base-url", function()
    assert_usage_error(qs{ "webhooks", "list", "--base-url", emulator.base_url, "--environment", "sandbox" },
      "not both", "webhooks list ")
    assert_usage_error(qs{ "webhooks", "list", "--base-url", "ftp://x/v1" }, "--base-url needs an http(s) URL",
      "webhooks list ")
  end)

  it("takes global options before the command as well as after it", function()
    local r = qs{ "--json", "webhooks", "list" }
    assert.are.equal(0, r.code, r.stderr)
    assert.are.same({}, support.json(r.stdout))
    r = qs{ "webhooks", "list", "--json" }
    assert.are.same({}, support.json(r.stdout))
  end)

  it("keeps usage errors human and on stderr with --json", function()
    local r = run{ "--json", "webhooks", "nope" }
    assert.are.equal(2, r.code)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("quicklysign: unknown command 'nope'", 1, true))
  end)

  it("refuses credentials given as flags, pointing to the environment without echoing them", function()
    local r = run{ "webhooks", "list", "--client-secret=hunter2-hunter2" }
    assert_usage_error(r, "QUICKLYSIGN_CLIENT_SECRET", "webhooks list ")
    assert.falsy(r.stderr:find("hunter2", 1, true))
    r = run{ "webhooks", "list", "--api-key", "hunter2-hunter2" }
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("QUICKLYSIGN_API_KEY", 1, true))
    assert.falsy(r.stderr:find("hunter2", 1, true))
  end)
end)

describe("quicklysign configuration errors", function()
  local function assert_config_error(r, fragment)
    assert.are.equal(3, r.code, r.stdout .. r.stderr)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("^quicklysign: "), r.stderr)
    assert.truthy(r.stderr:find(fragment, 1, true), "expected '" .. fragment .. "' in: " .. r.stderr)
  end

  it("names the missing credentials", function()
    assert_config_error(run{ "webhooks", "list" },
      "missing credentials: set QUICKLYSIGN_CLIENT_ID and QUICKLYSIGN_CLIENT_SECRET")
    assert_config_error(run({ "webhooks", "list" }, { QUICKLYSIGN_CLIENT_ID = "id" }),
      "missing credentials: set QUICKLYSIGN_CLIENT_SECRET")
  end)

  it("treats empty variables as missing", function()
    assert_config_error(run({ "webhooks", "list" }, { QUICKLYSIGN_CLIENT_ID = "", QUICKLYSIGN_CLIENT_SECRET = "" }),
      "QUICKLYSIGN_CLIENT_ID and QUICKLYSIGN_CLIENT_SECRET")
  end)

  it("needs QUICKLYSIGN_API_KEY for document packs", function()
    local env = { QUICKLYSIGN_API_KEY = false }
    assert_config_error(qs({ "packs", "get", "k" }, env), "set QUICKLYSIGN_API_KEY")
    assert_config_error(qs({ "packs", "download", "k", support.tmpdir() }, env), "set QUICKLYSIGN_API_KEY")
    assert_config_error(qs({ "listen", "--download", support.tmpdir(), "--port", "0" }, env),
      "set QUICKLYSIGN_API_KEY")
  end)

  it("refuses bad QUICKLYSIGN_ENVIRONMENT and QUICKLYSIGN_BASE_URL values", function()
    assert_config_error(qs({ "webhooks", "list" }, { QUICKLYSIGN_BASE_URL = false, QUICKLYSIGN_ENVIRONMENT = "prod" }),
      "QUICKLYSIGN_ENVIRONMENT must be 'sandbox' or 'production'")
    assert_config_error(qs({ "webhooks", "list" }, { QUICKLYSIGN_BASE_URL = "api.quicklysign.com" }),
      "QUICKLYSIGN_BASE_URL must be an http(s) URL")
  end)

  it("reports credentials the API rejects (401) as configuration, exit 3", function()
    local r = qs({ "webhooks", "list" }, { QUICKLYSIGN_CLIENT_SECRET = "not-the-secret" })
    assert_config_error(r, "api error 401 unauthorised")
  end)

  it("says how to get the C module when it cannot be loaded", function()
    local r = qs({ "webhooks", "list" }, { LUA_CPATH = "/nonexistent/?.so" })
    assert_config_error(r, "cannot load the quicklysign module")
    assert.truthy(r.stderr:find("make build", 1, true))
  end)

  it("lets --base-url win over QUICKLYSIGN_BASE_URL", function()
    local r = qs({ "webhooks", "list", "--json", "--base-url", emulator.base_url },
      { QUICKLYSIGN_BASE_URL = "http://127.0.0.1:9/v1" })
    assert.are.equal(0, r.code, r.stderr)
  end)
end)

describe("quicklysign --version", function()
  it("prints what 'version' prints, anywhere on the line, as -v too", function()
    local want = run{ "version" }
    assert.are.equal(0, want.code)
    for _, argv in ipairs{ { "--version" }, { "-v" }, { "webhooks", "list", "--version" } } do
      local r = run(argv)
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(want.stdout, r.stdout)
    end
    assert.are.equal(run{ "version", "--json" }.stdout, run{ "--version", "--json" }.stdout)
  end)
end)

describe("quicklysign version", function()
  it("prints the library, Lua and libcurl versions", function()
    local quicklysign = require "quicklysign"
    local r = run{ "version" }
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("^quicklysign " .. quicklysign.version:gsub("%.", "%%.") .. " %("), r.stdout)
    assert.truthy(r.stdout:find("libcurl", 1, true))
  end)

  it("prints JSON with --json and the bare version with -q", function()
    local quicklysign = require "quicklysign"
    local doc = support.json(run{ "version", "--json" }.stdout)
    assert.are.equal(quicklysign.version, doc.version)
    assert.is_string(doc.lua)
    assert.is_string(doc.curl)
    assert.are.equal(quicklysign.version .. "\n", run{ "-q", "version" }.stdout)
  end)
end)
