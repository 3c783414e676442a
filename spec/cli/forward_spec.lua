-- quicklysign listen --forward-to, and several connections at once: each accepted callback is
-- POSTed as it came to the developer's receiver (here: an emulator sink, a real HTTP server),
-- whose answer is printed and passed back to the sender; a stalled client holds up nobody.
local support = require "cli.support"
local emulator = require "support.emulator"
local socket = require "socket"

before_each(function() emulator:reset() end)

local TOKEN = "0123456789abcdef0123456789abcdef"

local function start(args)
  local port = support.free_port()
  local argv = { "listen", "--port", tostring(port), "--token", TOKEN }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local h = support.start(argv, support.creds())
  finally(function() h:kill() end)
  assert.truthy(h:wait_for("stderr", "ready on", 10), "no banner: " .. h:stderr())
  return h, port
end

local function sink(name) return emulator:call("GET", "/sinks/" .. name) end

describe("quicklysign listen --forward-to", function()
  it("forwards the callback as it came, prints the answer and passes it back", function()
    local url = emulator.url .. "/_emulator/sinks/fwd"
    local h, port = start{ "--forward-to", url }
    assert.truthy(h:stderr():find("forwarding each accepted callback to " .. url, 1, true), h:stderr())
    local body = '{"callback_event":"entity_updated","entity_key":"pack-f","entity_type":"Document",'
      .. '"webhook_key":"hook-f"}'
    local status = support.post(port, "/?token=" .. TOKEN, body, { ["User-Agent"] = "QuicklySign-Test" })
    assert.are.equal(200, status)
    local got = sink("fwd")
    assert.are.equal(1, got.count)
    assert.are.equal(body, got.received[1].body)                 -- byte for byte
    assert.are.equal("application/json", got.received[1].content_type)
    assert.are.equal("QuicklySign-Test", got.received[1].user_agent)
    assert.truthy(support.wait_until(function() return #support.lines(h:stdout()) >= 2 end), h:stdout())
    local lines = support.lines(h:stdout())
    assert.truthy(lines[1]:find("entity_updated +pack%-f  hook%-f$"), lines[1])
    assert.truthy(lines[2]:find("forwarded entity_updated pack-f -> 200 " .. url, 1, true), lines[2])
  end)

  it("answers the receiver's failure, so that the sender retries, and forwards nothing refused", function()
    local h, port = start{ "--forward-to", emulator.url .. "/_emulator/sinks/flaky?fail=1", "--json" }
    local cb = support.callback("document_status_changed", "pack-r", "hook-r")
    assert.are.equal(403, (support.post(port, "/?token=wrong-wrong-wrong-wrong", cb)))
    assert.are.equal(500, (support.post(port, "/?token=" .. TOKEN, cb)))
    assert.are.equal(200, (support.post(port, "/?token=" .. TOKEN, cb)))
    assert.are.equal(2, sink("flaky").count)
    assert.truthy(support.wait_until(function() return #support.lines(h:stdout()) >= 5 end), h:stdout())
    local forwards = {}
    for _, line in ipairs(support.lines(h:stdout())) do
      local doc = support.json(line)
      if doc.type == "forward" then forwards[#forwards + 1] = doc.status end
    end
    assert.are.same({ 500, 200 }, forwards)
  end)

  it("answers 502 when the receiver cannot be reached", function()
    local dead = support.free_port()
    local h, port = start{ "--forward-to", "http://127.0.0.1:" .. dead .. "/hook" }
    assert.are.equal(502, (support.post(port, "/?token=" .. TOKEN, support.callback("entity_updated", "p", "w"))))
    assert.truthy(support.wait_until(function() return h:stdout():find("failed: cannot connect", 1, true) end),
      h:stdout())
  end)

  it("takes real deliveries from the emulator through to the receiver", function()
    local h, port = start{ "--forward-to", emulator.url .. "/_emulator/sinks/e2e" }
    local pack = emulator:create_pack()
    local r = support.qs{ "webhooks", "create", "-q", "--entity", pack.key, "--callback",
      "http://127.0.0.1:" .. port .. "/?token=" .. TOKEN }
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(0, support.qs{ "trigger", "final_document_generated", "--entity", pack.key }.code)
    assert.truthy(support.wait_until(function() return sink("e2e").count >= 2 end), h:stdout() .. h:stderr())
    assert.are.equal("final_document_generated", sink("e2e").received[2].json.callback_event)
    assert.is_true(h:running())
  end)

  it("refuses a --forward-to that is not an http:// URL", function()
    for _, url in ipairs{ "https://127.0.0.1:3000/hook", "localhost:3000", "http://" } do
      local r = support.run{ "listen", "--forward-to", url }
      assert.are.equal(2, r.code, url)
      assert.truthy(r.stderr:find("--forward-to needs an http:// URL", 1, true), r.stderr)
    end
  end)
end)

describe("quicklysign listen with several connections", function()
  it("answers a callback while another client stalls in the middle of its request", function()
    local _, port = start()
    local stalled = assert(socket.tcp())
    stalled:settimeout(5)
    assert(stalled:connect("127.0.0.1", port))
    assert(stalled:send("POST /?token=" .. TOKEN .. " HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"ent"))
    -- the listener's read deadline is 10 s: served one at a time, this would not be answered in 5
    local body = '{"callback_event":"entity_updated","entity_key":"k","webhook_key":"w"}'
    local status = support.raw_request(port, "POST /?token=" .. TOKEN .. " HTTP/1.1\r\nHost: x\r\n"
      .. "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body, { timeout = 5 })
    assert.are.equal(200, status)
    stalled:settimeout(0)
    local data, err = stalled:receive(1)
    assert.is_nil(data)
    assert.are.equal("timeout", err)   -- still waiting for its body, unanswered
    stalled:close()
  end)

  it("answers many clients that connect at once", function()
    local _, port = start()
    local clients = {}
    for i = 1, 20 do
      local c = assert(socket.tcp())
      c:settimeout(5)
      assert(c:connect("127.0.0.1", port))
      clients[i] = c
    end
    local body = '{"callback_event":"entity_updated","entity_key":"k","webhook_key":"w"}'
    for i = 20, 1, -1 do   -- the last to connect sends first
      assert(clients[i]:send("POST /?token=" .. TOKEN .. " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        .. "Content-Length: " .. #body .. "\r\n\r\n" .. body))
      local line = clients[i]:receive("*l")
      assert.are.equal("HTTP/1.1 200 OK", line)
      clients[i]:close()
    end
  end)
end)
