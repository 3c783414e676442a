--- The `quicklysign` command as a function: `require("quicklysign.cli").main(argv)`.
-- `main` parses the line, shows help or runs the command, and returns the exit code; it never
-- raises and never calls `os.exit` (bin/quicklysign does). The commands themselves are described
-- in the README and by `quicklysign --help`.
--
-- Each job lives in cli/:
--
--     args.lua      the option parser        commands.lua  the command tree and its help text
--     help.lua      rendering help            context.lua   what a command runs with
--     config.lua    client from environment   status.lua    exit codes and failures
--     output.lua    lines, tables, masking    json.lua      --json text
--     terminal.lua  is stdout one, its width  suggest.lua   "did you mean"
--     webhooks.lua  packs.lua  info.lua       the commands; trigger.lua drives the emulator;
--     doctor.lua    which reading of the vendor's pages the API plays
--     inbox.lua     worker, inbox, reconcile  (the durable inbox)
--     listen.lua    the callback receiver     http_server.lua  its HTTP/1.1 reader and writer
--     loop.lua      connections at once       http_client.lua  --forward-to and trigger's requests
--     completion.lua  bash and zsh completion
-- @module quicklysign.cli
local args = require "quicklysign.cli.args"
local commands = require "quicklysign.cli.commands"
local config = require "quicklysign.cli.config"
local context = require "quicklysign.cli.context"
local help = require "quicklysign.cli.help"
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"
local terminal = require "quicklysign.cli.terminal"

local type, tostring, xpcall, pcall, ipairs = type, tostring, xpcall, pcall, ipairs
local concat, traceback = table.concat, debug.traceback

local cli = {}

local function help_command(path)
  return "quicklysign " .. (#path > 0 and (concat(path, " ") .. " ") or "") .. "--help"
end

local function usage_failure(out, err)
  out:error(err.message)
  out:notice("Run '" .. help_command(err.path) .. "' for usage.")
  return status.USAGE
end

-- `quicklysign help [words...]`: the help of the node the words name.
local function run_help(out, root, words)
  local node, path = root, {}
  for _, word in ipairs(words) do
    local child = args.child(node, word)
    if not child then
      return usage_failure(out, { message = "no help: " .. args.unknown_command(node, path, word), path = path })
    end
    node = child
    path[#path + 1] = word
  end
  out:print(help.text(root, node, path))
  return status.OK
end

-- The error handler of a running command: failures and Ctrl-C pass as they are, anything else
-- is a bug and keeps its traceback.
local function on_raise(raised)
  if status.is_failure(raised) or status.is_interrupt(raised) then return raised end
  return { internal = tostring(raised), traceback = traceback(tostring(raised), 2) }
end

local function report(out, getenv, raised, path)
  if status.is_failure(raised) then
    out:error(raised.message)
    if raised.code == status.USAGE then
      out:notice("Run '" .. help_command(path) .. "' for usage.")
    elseif raised.hint then
      out:notice(raised.hint)
    end
    return raised.code
  end
  if status.is_interrupt(raised) then
    out:notice("quicklysign: interrupted")
    return status.INTERRUPTED
  end
  local text = type(raised) == "table" and raised.internal or tostring(raised)
  out:error("internal error: " .. text)
  if type(raised) == "table" and getenv("QUICKLYSIGN_DEBUG") then
    out:error(raised.traceback)
  else
    out:notice("please report this; set QUICKLYSIGN_DEBUG=1 to see where it happened")
  end
  return status.INTERNAL
end

local function main(argv, host)
  local getenv = host.getenv or os.getenv
  local root = commands.root
  local parsed, perr = args.parse(argv, root)
  local options = parsed and parsed.options or {}
  local out = output.new{
    stdout = host.stdout, stderr = host.stderr,
    json = options.json, quiet = options.quiet,
    secrets = config.secrets(getenv),
    wide = options.wide, show_secrets = options.show_secrets,
    terminal = terminal.new(getenv, host.isatty),
  }
  if not parsed then return usage_failure(out, perr) end

  local node = parsed.node
  if node.name == "help" and #parsed.path == 1 and not parsed.help then
    return run_help(out, root, parsed.args)
  end
  if parsed.help then
    out:print(help.text(root, node, parsed.path))
    return status.OK
  end
  if options.version then node = args.child(root, "version") end
  local ok, verr = true, nil
  if not options.version then ok, verr = args.validate(parsed) end
  if not ok then
    if #parsed.path == 0 then
      -- a bare `quicklysign`: the overview is what a person wants to see
      out.stderr:write(help.text(root, root, {}), "\n")
      return status.USAGE
    end
    return usage_failure(out, verr)
  end

  local ctx = context.new{
    options = options, args = parsed.args, out = out, getenv = getenv, path = parsed.path, argv = argv,
  }
  local done, result = xpcall(function() return node.run(ctx) end, on_raise)
  ctx:close()
  if done then return result or status.OK end
  return report(out, getenv, result, parsed.path)
end

--- Runs the command line `argv` and returns its exit code (0 success, 1 failed, 2 usage,
-- 3 configuration, 4 not found, 5 temporary, 130 interrupted; see `quicklysign --help`).
-- @tparam {string,...} argv the words after `quicklysign`
-- @tparam[opt] table host for embedding: `stdout`, `stderr` (file handles), `getenv`
-- (function), `isatty` (function: whether stdout is a terminal; by default asked of the system)
-- @treturn integer the exit code
-- @usage os.exit(require("quicklysign.cli").main{ "webhooks", "list", "--json" })
function cli.main(argv, host)
  host = host or {}
  local ok, code = pcall(main, argv or {}, host)
  if ok then return code end
  -- raised outside a command (Ctrl-C while parsing, or a bug in main itself)
  local getenv = host.getenv or os.getenv
  local out = output.new{ stderr = host.stderr, secrets = config.secrets(getenv) }
  return report(out, getenv, on_raise(code), {})
end

return cli
