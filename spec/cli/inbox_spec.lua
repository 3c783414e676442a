-- quicklysign worker | inbox | reconcile against real inboxes (SQLite files, a redis-server
-- started here) and the emulator.
local support = dofile("spec/cli/support.lua")
local callbacks = require "quicklysign.callbacks"
local emulator = require "support.emulator"
local inbox = require "quicklysign.inbox"
local redis_server = require "support.redis_server"

local TOKEN = "cli-inbox-spec-token-0123456789"
local server

setup(function() server = redis_server.start() end)
teardown(function() server:close() end)

local function sqlite_url()
  local path = os.tmpname()
  os.remove(path)
  return "sqlite://" .. path .. ".db"
end

local function store(url, event, key)
  local box = assert(inbox.open(url))
  local r = callbacks.router{ token = TOKEN, inbox = box, log = false }
  local status = r:handle{ method = "POST", headers = { ["content-type"] = "application/json" },
    body = ('{"callback_event":"%s","entity_key":"%s"}'):format(event, key), query = { token = TOKEN } }
  box:close()
  assert.are.equal(200, status)
end

-- A handlers module (a .lua file) whose handler fails for packs named in FAIL_KEYS.
local function handlers_file(body)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(body or [[
    return function(router, client)
      router:on_any(function(ev)
        if (os.getenv("FAIL_KEYS") or ""):find(ev.entity_key, 1, true) then return nil, "refused on purpose" end
        io.stdout:write("handled ", ev.event, " ", ev.entity_key, " attempt ", ev.attempt, "\n")
      end)
      assert(client.webhooks)
    end
  ]])
  f:close()
  return path
end

describe("quicklysign worker", function()
  it("runs the stored callbacks with the handlers module, until idle", function()
    local url = sqlite_url()
    store(url, "entity_updated", "P1")
    store(url, "final_document_generated", "P2")
    local r = support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("handled entity_updated P1 attempt 1", 1, true), r.stdout)
    assert.truthy(r.stdout:find("handled final_document_generated P2 attempt 1", 1, true), r.stdout)
    assert.truthy(r.stderr:find("worker: 2 done, 0 retried, 0 dead", 1, true), r.stderr)
  end)

  it("takes the inbox from QUICKLYSIGN_INBOX, parks failures as dead, and inbox retry puts them back", function()
    local url = server.url .. "?prefix=cli" .. os.time() .. ":"
    store(url, "entity_updated", "BAD1")
    local env = { QUICKLYSIGN_INBOX = url, FAIL_KEYS = "BAD1" }
    local h = handlers_file()
    local r = support.qs({ "worker", "--handlers", h, "--until-idle", "--max-attempts", "1", "--json" }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.same({ done = 0, retried = 0, dead = 1, lost = 0 }, support.json(r.stdout))
    r = support.qs({ "inbox", "stats", "--json" }, env)
    assert.are.equal(1, support.json(r.stdout).dead)
    r = support.qs({ "inbox", "dead", "--json" }, env)
    local dead = support.json(r.stdout)
    assert.are.equal(1, #dead)
    assert.are.equal("BAD1", dead[1].entity_key)
    assert.truthy(dead[1].last_error:find("refused on purpose", 1, true))
    r = support.qs({ "inbox", "retry", dead[1].id }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("1 job back in the queue\n", r.stdout)
    env.FAIL_KEYS = nil
    r = support.qs({ "worker", "--handlers", h, "--until-idle", "--json" }, env)
    assert.truthy(r.stdout:find("handled entity_updated BAD1 attempt 1", 1, true))   -- attempts were reset
    assert.are.equal(1, support.json(r.stdout:match("([^\n]+)\n$")).done)
  end)

  it("drops a dead job, and says 4 for an unknown one", function()
    local url = sqlite_url()
    store(url, "entity_updated", "BAD2")
    support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle", "--max-attempts", "1" },
      { FAIL_KEYS = "BAD2" })
    local dead = support.json(support.qs({ "inbox", "dead", "--inbox", url, "--json" }).stdout)
    local r = support.qs({ "inbox", "drop", dead[1].id, "--inbox", url })
    assert.are.equal(0, r.code, r.stderr)
    r = support.qs({ "inbox", "drop", dead[1].id, "--inbox", url })
    assert.are.equal(4, r.code)
    assert.truthy(r.stderr:find("no dead job has the id", 1, true))
    assert.are.equal(4, support.qs({ "inbox", "retry", "999", "--inbox", url }).code)
  end)

  it("runs N processes with --concurrency N and restarts one that is killed", function()
    local url = sqlite_url()
    for i = 1, 6 do store(url, "entity_updated", "C" .. i) end
    local h = handlers_file([[
      return function(router)
        router:on_any(function(ev)
          io.stdout:write("pid-job ", ev.entity_key, "\n"); io.stdout:flush()
          os.execute("sleep 0.3")
        end)
      end
    ]])
    local bg = support.start({ "worker", "--inbox", url, "--handlers", h, "--concurrency", "3" }, support.creds())
    finally(function()
      bg:kill()
      os.execute("pkill -f -- '" .. url .. "' 2>/dev/null")
    end)
    assert.truthy(support.wait_until(function()
      local box = assert(inbox.open(url))
      local s = box:stats()
      box:close()
      return s.done == 6
    end, 20), bg:stderr())
    -- kill one of the worker processes: the supervisor starts it again
    local function workers()
      local p = io.popen("pgrep -f -- '" .. url .. " .*[-]-worker-id worker-'")
      local pids = {}
      for line in p:lines() do pids[#pids + 1] = line end
      p:close()
      return pids
    end
    local pids = workers()
    assert.are.equal(3, #pids)
    os.execute("kill -9 " .. pids[1])
    assert.truthy(bg:wait_for("stderr", "exited with 137; starting it again", 10), bg:stderr())
    assert.truthy(support.wait_until(function() return #workers() == 3 end, 5))
    -- stopping quicklysign stops its workers
    os.execute("kill -TERM " .. bg.pid)
    assert.is_not_nil(bg:wait(10))
    assert.truthy(support.wait_until(function() return #workers() == 0 end, 5), "worker processes were left")
  end)

  it("refuses to run without an inbox, and says why", function()
    local r = support.qs({ "worker", "--handlers", handlers_file() })
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("give --inbox URL or set QUICKLYSIGN_INBOX", 1, true))
    r = support.qs({ "inbox", "stats", "--inbox", "redis://:pw-secret-value@127.0.0.1:1/0" })
    assert.are.equal(5, r.code)
    assert.falsy((r.stdout .. r.stderr):find("pw-secret-value", 1, true))
  end)
end)

describe("quicklysign reconcile", function()
  before_each(function() emulator:reset() end)

  it("queues a final event for each complete subscribed pack whose work is not done", function()
    local url = sqlite_url()
    local client = emulator.client()
    local done_pack = emulator:create_pack()
    local missed = emulator:create_pack()
    local open_pack = emulator:create_pack()
    for _, p in ipairs{ done_pack, missed, open_pack } do
      assert(client.webhooks:create{ entity_key = p.key, callback = "http://127.0.0.1:9/never" })
    end
    emulator:drive(done_pack.key, "complete")
    emulator:drive(missed.key, "complete")
    -- the receiver got done_pack's final event and a worker did the work
    store(url, "final_document_generated", done_pack.key)
    support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle" })
    local r = support.qs({ "reconcile", "--inbox", url, "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local report = support.json(r.stdout)
    assert.are.equal(1, report.pushed)
    assert.are.equal(1, report.done)
    assert.are.equal(1, report.incomplete)
    -- the pushed event is the missed pack's, from reconcile
    r = support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle" })
    assert.truthy(r.stdout:find("handled final_document_generated " .. missed.key, 1, true), r.stdout)
    -- and running it again pushes nothing
    report = support.json(support.qs({ "reconcile", "--inbox", url, "--json" }).stdout)
    assert.are.equal(0, report.pushed)
    assert.are.equal(2, report.done)
    -- --entity limits the check
    report = support.json(support.qs({ "reconcile", "--inbox", url, "--json", "--entity", open_pack.key }).stdout)
    assert.are.equal(1, report.checked)
    assert.are.equal(1, report.incomplete)
  end)
end)

describe("quicklysign events resend", function()
  it("puts a done job back for the workers, or POSTs its body to a receiver", function()
    local url = sqlite_url()
    store(url, "entity_updated", "R1")
    support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle" })
    local dead = inbox.open(url)
    local id = dead:lease("x", 1, 1, 1)[1]
    assert.is_nil(id)   -- the job is done, not leasable
    dead:close()
    local r = support.qs({ "events", "resend", "1", "--inbox", url })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("job 1 back in the queue\n", r.stdout)
    r = support.qs({ "worker", "--inbox", url, "--handlers", handlers_file(), "--until-idle" })
    assert.truthy(r.stdout:find("handled entity_updated R1 attempt 1", 1, true), r.stdout)
    assert.are.equal(4, support.qs({ "events", "resend", "42", "--inbox", url }).code)
    -- to a receiver: the emulator's sink records what it got
    r = support.qs({ "events", "resend", "1", "--inbox", url, "--to", emulator.url .. "/_emulator/sinks/resend" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("resent job 1 (entity_updated R1) to " .. emulator.url, 1, true), r.stdout)
    local got = emulator:call("GET", "/sinks/resend").received
    assert.are.equal(1, #got)
    assert.are.equal('{"callback_event":"entity_updated","entity_key":"R1"}', got[1].body)
  end)
end)
