-- What the command does on a terminal, in a real pseudo-terminal (tmux): tables cut to the
-- terminal's width with "…" (whole with --wide or when not a terminal), and shell completion
-- in interactive bash and zsh.
local support = require "cli.support"
local emulator = require "support.emulator"
local tty = require "support.tty"
local output = require "quicklysign.cli.output"

local quote = support.quote

before_each(function() emulator:reset() end)

-- A line that runs the command in the session, then says how it ended and waits.
local function in_session(argv, env)
  return "sh -c " .. quote(support.command_line(argv, env) .. '; echo "[exit $?]"; sleep 60')
end

-- Three webhooks with long callback URLs: a table of them is far wider than 80 columns.
local function three_webhooks()
  local entity = emulator.new_entity()
  for i = 1, 3 do
    local r = support.qs{ "webhooks", "create", "--entity", entity, "--callback",
      "https://receiver-number-" .. i .. ".app.example.com/quicklysign/callbacks/with/a/long/path" }
    assert.are.equal(0, r.code, r.stderr)
  end
  return entity
end

local function lines_of(screen)
  local lines = {}
  for line in screen:gmatch("([^\n]*)\n") do
    if line:find("%S") then lines[#lines + 1] = line end
  end
  return lines
end

describe("quicklysign on a terminal", function()
  it("cuts a table to the terminal's width, with … where a value was cut", function()
    local entity = three_webhooks()
    local sessions = {}
    finally(function() for _, s in ipairs(sessions) do s:close() end end)   -- one finally per test
    for _, width in ipairs{ 80, 120 } do
      local s = tty.start(in_session({ "webhooks", "list", "--entity", entity }, support.creds()), { width = width })
      sessions[#sessions + 1] = s
      local screen = assert(s:wait_for("[exit 0]"), s:screen())
      local rows = 0
      for _, line in ipairs(lines_of(s:screen(true))) do
        assert.truthy(output.width(line) <= width, ("%d columns > %d: %s"):format(output.width(line), width, line))
        if line:find("^%S+  %S+  https://") then rows = rows + 1 end
      end
      assert.are.equal(3, rows, screen)
      assert.truthy(screen:find(output.ELLIPSIS, 1, true), screen)
      assert.truthy(screen:find("--wide shows them whole", 1, true), screen)
    end
  end)

  it("prints the table whole with --wide, and when the output is not a terminal", function()
    local entity = three_webhooks()
    local s = tty.start(in_session({ "webhooks", "list", "--entity", entity, "--wide" }, support.creds()))
    finally(function() s:close() end)
    local screen = assert(s:wait_for("[exit 0]"), s:screen())
    assert.falsy(screen:find(output.ELLIPSIS, 1, true), screen)
    assert.truthy(screen:find("/with/a/long/path", 1, true), screen)

    local piped = support.qs{ "webhooks", "list", "--entity", entity }
    assert.are.equal(0, piped.code)
    assert.falsy(piped.stdout:find(output.ELLIPSIS, 1, true))
    for _, line in ipairs(support.lines(piped.stdout)) do
      if line:find("receiver%-number") then assert.truthy(output.width(line) > 80) end
    end
    -- $COLUMNS, when set, is the width even without a terminal
    local narrow = support.qs({ "webhooks", "list", "--entity", entity }, { COLUMNS = "70" })
    for _, line in ipairs(support.lines(narrow.stdout)) do assert.truthy(output.width(line) <= 70, line) end
    assert.truthy(narrow.stdout:find(output.ELLIPSIS, 1, true))
  end)
end)

describe("shell completion", function()
  local dir
  setup(function() dir = tty.command_dir(support.root, support.lua) end)
  teardown(function() os.execute("rm -rf " .. quote(dir)) end)

  local function shell(cmd)
    local s = tty.start("env -i HOME=" .. quote(dir) .. " TERM=screen PATH=" .. quote(dir) .. ":/usr/bin:/bin "
      .. cmd, { width = 100 })
    finally(function() s:close() end)
    return s
  end

  it("completes commands, subcommands, options and values in bash", function()
    local s = shell("bash --norc --noprofile -i")
    s:keys("PS1='$ '; source " .. quote(support.root .. "/completions/quicklysign.bash") .. "; clear; echo ready", true)
    s:keys("Enter")
    assert.truthy(s:wait_for("ready\n$"), s:screen())
    s:keys("quicklysign webh", true)
    s:keys("Tab")
    -- (the screen keeps no trailing blanks: each completion is checked by what is typed next)
    assert.truthy(s:wait_for("$ quicklysign webhooks"), s:screen())
    s:keys("li", true)
    s:keys("Tab")
    assert.truthy(s:wait_for("$ quicklysign webhooks list"), s:screen())
    s:keys("--ent", true)
    s:keys("Tab")
    assert.truthy(s:wait_for("$ quicklysign webhooks list --entity"), s:screen())
    s:keys("C-u")
    s:keys("quicklysign trigger final", true)
    s:keys("Tab")
    s:keys("--", true)
    assert.truthy(s:wait_for("$ quicklysign trigger final_document_generated --"), s:screen())
  end)

  it("completes commands and lists the choices in zsh", function()
    local s = shell("zsh -f -i")
    s:keys("PS1='%% '; autoload -Uz compinit; compinit -u -d " .. quote(dir .. "/zcompdump")
      .. "; source " .. quote(support.root .. "/completions/_quicklysign") .. "; clear; echo ready", true)
    s:keys("Enter")
    assert.truthy(s:wait_for("ready\n%"), s:screen())
    s:keys("quicklysign webh", true)
    s:keys("Tab")
    assert.truthy(s:wait_for("% quicklysign webhooks"), s:screen())
    s:keys("l", true)
    s:keys("Tab")
    local screen = s:wait_for("logs", 10)
    assert.truthy(screen and screen:find("list", 1, true), s:screen())
  end)

  it("installs scripts equal to what 'quicklysign completion' prints", function()
    local completion = require "quicklysign.cli.completion"
    for shell_name, file in pairs(completion.FILES) do
      local r = support.run{ "completion", shell_name }
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(support.read(support.root .. "/" .. file), r.stdout,
        file .. " is stale: make completions")
    end
  end)
end)
