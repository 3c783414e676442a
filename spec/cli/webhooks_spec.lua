-- quicklysign webhooks ... against the emulator: every subcommand's output in the three modes
-- (human, --json, -q), and the exit codes of failed calls.
local support = require "cli.support"
local emulator = require "support.emulator"

local qs = support.qs

-- every test starts from an empty emulator: no packs, webhooks, faults or config changes
before_each(function() emulator:reset() end)

local CALLBACK = "https://app.example.com/quicklysign?token=abc"
local MASKED = "https://app.example.com/quicklysign?token=****"   -- as printed without --show-secrets

local function ok(r)
  assert.are.equal(0, r.code, "exit " .. tostring(r.code) .. ": " .. r.stderr .. r.stdout)
  return r
end

-- A label's value in "label  value" lines.
local function field(text, label)
  return text:match("\n" .. label .. " +([^\n]*)") or text:match("^" .. label .. " +([^\n]*)")
end

local function create(entity, callback)
  return support.json(ok(qs{ "webhooks", "create", "--entity", entity, "--callback", callback or CALLBACK,
    "--json" }).stdout)
end

describe("quicklysign webhooks create", function()
  it("subscribes and prints the webhook with ISO 8601 dates", function()
    local entity = emulator.new_entity()
    local r = ok(qs{ "webhooks", "create", "--entity", entity, "--callback", CALLBACK })
    assert.are.equal("", r.stderr)
    local key = field(r.stdout, "key")
    assert.truthy(key and #key >= 50, r.stdout)
    assert.are.equal(entity, field(r.stdout, "entity"))
    assert.are.equal(MASKED, field(r.stdout, "callback"))
    assert.truthy(field(r.stdout, "created"):find(support.ISO), r.stdout)
    assert.truthy(field(r.stdout, "updated"):find(support.ISO), r.stdout)
    local got = assert(emulator.client().webhooks:get(key))
    assert.are.equal(entity, got.entity_key)
  end)

  it("prints the webhook as one JSON document with --json, fractional timestamps intact", function()
    local entity = emulator.new_entity()
    local r = ok(qs{ "--json", "--show-secrets", "webhooks", "create", "--entity", entity, "--callback", CALLBACK })
    assert.are.equal(1, #support.lines(r.stdout))
    local wh = support.json(r.stdout)
    assert.are.equal(entity, wh.entity_key)
    assert.are.equal(CALLBACK, wh.callback)
    local truth = assert(emulator.client().webhooks:get(wh.key))
    assert.are.equal(truth.date_created, wh.date_created)
    assert.are.equal(truth.date_updated, wh.date_updated)
    assert.are_not.equal(math.floor(wh.date_updated), wh.date_updated) -- the emulator's are fractional
  end)

  it("prints only the key with -q", function()
    local entity = emulator.new_entity()
    local r = ok(qs{ "webhooks", "create", "-q", "--entity", entity, "--callback", CALLBACK })
    local lines = support.lines(r.stdout)
    assert.are.equal(1, #lines)
    assert.truthy(lines[1]:find("^[%w_%-]+$"))
    assert(emulator.client().webhooks:get(lines[1]))
  end)

  it("shows dates as UTC ISO 8601 of the millisecond timestamps", function()
    local entity = emulator.new_entity()
    local wh = create(entity)
    local r = ok(qs{ "webhooks", "get", wh.key })
    local seconds = math.floor(wh.date_created / 1000)
    local expected = os.date("!%Y-%m-%dT%H:%M:%S", seconds)
      .. string.format(".%03dZ", math.floor(wh.date_created) % 1000)
    assert.are.equal(expected, field(r.stdout, "created"))
  end)

  it("exits 1 with the API's error when the call is refused", function()
    local r = qs{ "webhooks", "create", "--entity", "no-such-pack-key", "--callback", CALLBACK }
    assert.are.equal(1, r.code)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("^quicklysign: api error 400 invalid_field: "), r.stderr)
    assert.falsy(r.stderr:find("quicklysign: quicklysign:", 1, true))
  end)

  it("takes a key that begins with a dash as a value", function()
    local r = qs{ "webhooks", "create", "--entity", "-not-a-pack", "--callback", CALLBACK }
    assert.are.equal(1, r.code, r.stderr) -- refused by the API, not by the parser
    assert.truthy(r.stderr:find("invalid_field", 1, true))
  end)
end)

describe("quicklysign webhooks ensure", function()
  it("creates once, then finds the same webhook", function()
    local entity = emulator.new_entity()
    local argv = { "webhooks", "ensure", "--entity", entity, "--callback", CALLBACK, "--json" }
    local first = support.json(ok(qs(argv)).stdout)
    assert.is_true(first.created)
    local second = support.json(ok(qs(argv)).stdout)
    assert.is_false(second.created)
    assert.are.equal(first.webhook.key, second.webhook.key)
    assert.are.equal(1, #assert(emulator.client().webhooks:list{ entity_key = entity }))
    local human = ok(qs{ "webhooks", "ensure", "--entity", entity, "--callback", CALLBACK })
    assert.truthy(field(human.stdout, "result"):find("already subscribed", 1, true))
    assert.are.equal(first.webhook.key, field(human.stdout, "key"))
    assert.are.equal(first.webhook.key .. "\n",
      ok(qs{ "webhooks", "ensure", "-q", "--entity", entity, "--callback", CALLBACK }).stdout)
  end)
end)

describe("quicklysign webhooks get", function()
  it("prints one webhook", function()
    local entity = emulator.new_entity()
    local wh = create(entity)
    local r = ok(qs{ "webhooks", "get", wh.key })
    assert.are.equal(wh.key, field(r.stdout, "key"))
    assert.are.equal(MASKED, field(r.stdout, "callback"))
    assert.are.same(wh, support.json(ok(qs{ "webhooks", "get", wh.key, "--json" }).stdout))
  end)

  it("exits 4 when there is no such webhook", function()
    local r = qs{ "webhooks", "get", "no-such-webhook" }
    assert.are.equal(4, r.code)
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("^quicklysign: api error 404"), r.stderr)
  end)

  it("takes a key that begins with a dash as an argument", function()
    local r = qs{ "webhooks", "get", "-no-such-webhook" }
    assert.are.equal(4, r.code, r.stderr)
  end)

  it("takes a key after -- even when it looks like an option", function()
    local r = qs{ "webhooks", "get", "--", "--no-such-key" }
    assert.are.equal(4, r.code, r.stderr)
  end)

  it("takes a key that begins with -- as an argument or a value (keys are 50+ characters)", function()
    local key = "--" .. ("k"):rep(60)
    local r = qs{ "webhooks", "get", key }
    assert.are.equal(4, r.code, r.stderr)
    r = qs{ "webhooks", "list", "--entity", key, "--json" }
    assert.are.equal(0, r.code, r.stderr)
    assert.are.same({}, support.json(r.stdout))
  end)
end)

describe("quicklysign webhooks list", function()
  it("lists every webhook, or one pack's, as a table", function()
    local a, b = emulator.new_entity(), emulator.new_entity()
    local wa = create(a, CALLBACK .. "1")
    local wb = create(b, CALLBACK .. "2")
    local r = ok(qs{ "webhooks", "list" })
    local lines = support.lines(r.stdout)
    assert.are.equal(3, #lines)
    assert.truthy(lines[1]:find("^KEY +ENTITY +CALLBACK +CREATED$"), lines[1])
    assert.truthy(r.stdout:find(wa.key, 1, true))
    assert.truthy(r.stdout:find(wb.key, 1, true))
    -- aligned: every row's callback starts where the header's CALLBACK does
    local column = lines[1]:find("CALLBACK", 1, true)
    for i = 2, 3 do assert.are.equal(column, lines[i]:find("https://", 1, true)) end

    local mine = ok(qs{ "webhooks", "list", "--entity", a })
    assert.are.equal(2, #support.lines(mine.stdout))
    assert.truthy(mine.stdout:find(wa.key, 1, true))
    assert.falsy(mine.stdout:find(wb.key, 1, true))
  end)

  it("prints a JSON array with --json and keys with -q, following pages", function()
    emulator:config{ page_size = 2 }
    local entity = emulator.new_entity()
    local keys = {}
    for i = 1, 5 do keys[i] = create(entity, CALLBACK .. i).key end
    local list = support.json(ok(qs{ "webhooks", "list", "--entity", entity, "--json" }).stdout)
    assert.are.equal(5, #list)
    for i, wh in ipairs(list) do assert.are.equal(keys[i], wh.key) end
    assert.are.equal(table.concat(keys, "\n") .. "\n", ok(qs{ "webhooks", "list", "-q", "--entity", entity }).stdout)
  end)

  it("prints [] for no webhooks with --json, nothing on stdout for people", function()
    assert.are.equal("[]\n", ok(qs{ "webhooks", "list", "--json" }).stdout)
    local r = ok(qs{ "webhooks", "list" })
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("no webhooks", 1, true))
    assert.are.equal("", ok(qs{ "webhooks", "list", "-q" }).stderr)
  end)
end)

describe("quicklysign webhooks delete", function()
  it("deletes one webhook by key, then exits 4 for it", function()
    local entity = emulator.new_entity()
    local wh = create(entity)
    local r = ok(qs{ "webhooks", "delete", wh.key })
    assert.truthy(r.stdout:find("deleted webhook " .. wh.key, 1, true))
    local again = qs{ "webhooks", "delete", wh.key }
    assert.are.equal(4, again.code)
    assert.are.equal(4, qs{ "webhooks", "get", wh.key }.code)
  end)

  it("deletes every webhook of a pack with --entity", function()
    local entity, other = emulator.new_entity(), emulator.new_entity()
    create(entity, CALLBACK .. "1")
    create(entity, CALLBACK .. "2")
    local kept = create(other)
    local doc = support.json(ok(qs{ "webhooks", "delete", "--entity", entity, "--json" }).stdout)
    assert.are.same({ deleted = true, entity_key = entity }, doc)
    assert.are.equal(0, #assert(emulator.client().webhooks:list{ entity_key = entity }))
    assert(emulator.client().webhooks:get(kept.key))
  end)

  it("prints nothing with -q and a JSON document with --json", function()
    local wh = create(emulator.new_entity())
    local r = ok(qs{ "webhooks", "delete", "-q", wh.key })
    assert.are.equal("", r.stdout .. r.stderr)
    local wh2 = create(emulator.new_entity())
    assert.are.same({ deleted = true, webhook_key = wh2.key },
      support.json(ok(qs{ "--json", "webhooks", "delete", wh2.key }).stdout))
  end)
end)

describe("quicklysign webhooks logs", function()
  -- A webhook whose callbacks land in an emulator sink (answers 200), and one delivered event
  -- (logged as two entries: "Calling callback url ...", then "Successful call to url ...").
  local function delivered()
    local entity = emulator.new_entity()
    local wh = create(entity, emulator.url .. "/_emulator/sinks/cli-logs")
    emulator:drive(entity, "update")
    local logs = support.wait_until(function()
      local r = qs{ "webhooks", "logs", "--entity", entity, "--json" }
      local list = r.code == 0 and support.json(r.stdout)
      return list and #list >= 2 and list
    end, 10)
    assert.truthy(logs, "the emulator delivered nothing")
    return entity, wh, logs
  end

  it("lists the deliveries of a pack or of a webhook", function()
    local entity, wh, logs = delivered()
    assert.are.equal("entity_updated", logs[1].callback_event)
    local by_webhook = support.json(ok(qs{ "webhooks", "logs", "--webhook", wh.key, "--json" }).stdout)
    assert.are.same(logs, by_webhook)

    local r = ok(qs{ "webhooks", "logs", "--entity", entity })
    local lines = support.lines(r.stdout)
    assert.truthy(lines[1]:find("^CREATED +EVENT +WEBHOOK +LOG$"), lines[1])
    local pattern = "^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z +entity_updated +" .. wh.key:gsub("%-", "%%-")
    assert.truthy(lines[2]:find(pattern), lines[2])
    assert.truthy(lines[2]:find("Calling callback url", 1, true), lines[2])
    local by_hook = ok(qs{ "webhooks", "logs", "--webhook", wh.key })
    assert.truthy(support.lines(by_hook.stdout)[1]:find("^CREATED +EVENT +LOG$"))
    assert.are.equal(logs[1].key .. "\n" .. logs[2].key .. "\n",
      ok(qs{ "webhooks", "logs", "-q", "--webhook", wh.key }).stdout)
  end)

  it("says so when nothing was logged", function()
    local r = ok(qs{ "webhooks", "logs", "--entity", emulator.new_entity() })
    assert.are.equal("", r.stdout)
    assert.truthy(r.stderr:find("no callbacks logged", 1, true))
  end)
end)

describe("quicklysign webhooks: failures and exit codes", function()
  it("exits 5 when the API stays unavailable (503) after the client's retries", function()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 10, status = 503 }
    local r = qs{ "webhooks", "list" }
    assert.are.equal(5, r.code, r.stderr)
    assert.truthy(r.stderr:find("^quicklysign: %a+ error 503"), r.stderr)
  end)

  it("exits 1 for a server error that is not worth retrying (500)", function()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 10, status = 500 }
    local r = qs{ "webhooks", "list" }
    assert.are.equal(1, r.code, r.stderr)
  end)

  it("exits 5 when the API cannot be reached", function()
    local r = qs({ "webhooks", "list" }, { QUICKLYSIGN_BASE_URL = "http://127.0.0.1:" .. support.free_port() .. "/v1" })
    assert.are.equal(5, r.code, r.stderr)
    assert.truthy(r.stderr:find("^quicklysign: network error"), r.stderr)
  end)

  it("honours --timeout", function()
    emulator:fault{ method = "GET", path_prefix = "/v1/webhooks", count = 10, delay_ms = 5000 }
    local started = require("socket").gettime()
    local r = qs{ "webhooks", "list", "--timeout", "0.5" }
    local took = require("socket").gettime() - started
    assert.are.equal(5, r.code, r.stderr)
    assert.truthy(r.stderr:find("^quicklysign: timeout error"), r.stderr)
    assert.truthy(took < 4, "took " .. took .. " s")
  end)

  it("exits 1, not 5, for a create that timed out after reaching the server", function()
    emulator:fault{ method = "POST", path_prefix = "/v1/webhooks", count = 1, delay_ms = 3000 }
    local r = qs{ "webhooks", "create", "--entity", emulator.new_entity(), "--callback", CALLBACK,
      "--timeout", "0.5" }
    assert.are.equal(1, r.code, r.stderr)
    assert.truthy(r.stderr:find("timeout", 1, true))
  end)
end)
