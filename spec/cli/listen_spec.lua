-- quicklysign listen, run in the background on a free port and fed raw HTTP by the test (and, at
-- the end, real deliveries from the emulator): what it answers, what it prints, --once, --json,
-- -q, --download, Ctrl-C.
local support = require "cli.support"
local emulator = require "support.emulator"

before_each(function() emulator:reset() end)

local TOKEN = "0123456789abcdef0123456789abcdef"
local LINE = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ  "

local function escape(s)
  return (s:gsub("%p", "%%%0"))
end

local listing = support.listing

-- Starts `quicklysign listen <args>` on a free port with a token, waits for its banner, and
-- returns the handle and the port. finally() stops it whatever happens.
local function start(args, env, opts)
  local port = support.free_port()
  local argv = { "listen", "--port", tostring(port) }
  if not (opts and opts.no_token) then
    argv[#argv + 1] = "--token"
    argv[#argv + 1] = TOKEN
  end
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local h = support.start(argv, env or {})
  finally(function() h:kill() end)
  if opts and opts.quiet then
    assert.truthy(support.wait_until(function()
      local c = require("socket").tcp()
      c:settimeout(0.2)
      local ok = c:connect("127.0.0.1", port)
      c:close()
      return ok
    end, 10), "listen did not come up: " .. h:stderr())
  else
    assert.truthy(h:wait_for("stderr", "ready on", 10), "no banner: " .. h:stderr())
  end
  return h, port
end

local function path_with_token(token)
  return "/?token=" .. (token or TOKEN)
end

describe("quicklysign listen --once", function()
  it("answers 200 to a well-formed callback, prints its line and exits 0", function()
    local h, port = start{ "--once" }
    local banner = h:stderr()
    assert.truthy(banner:find("ready on http://127.0.0.1:" .. port .. "/", 1, true), banner)
    -- the token given with --token is masked in the banner
    assert.truthy(banner:find("--callback 'http://127.0.0.1:" .. port .. "/?token=****'", 1, true), banner)
    assert.falsy(banner:find(TOKEN, 1, true), banner)

    local status, headers, body = support.post(port, path_with_token(),
      support.callback("entity_updated", "pack-key-1", "webhook-key-1"))
    assert.are.equal(200, status)
    assert.are.equal("ok", body)
    assert.are.equal("close", headers.connection)
    assert.are.equal(0, h:wait(10))
    local lines = support.lines(h:stdout())
    assert.are.equal(1, #lines, h:stdout())
    assert.truthy(lines[1]:find(LINE .. "entity_updated +pack%-key%-1  webhook%-key%-1$"), lines[1])
  end)

  it("does not count refused requests as the first callback", function()
    local h, port = start{ "--once" }
    assert.are.equal(403, (support.post(port, path_with_token("wrong-token-wrong-token"),
      support.callback("entity_updated", "k", "w"))))
    assert.is_true(h:running())
    assert.are.equal(200, (support.post(port, path_with_token(), support.callback("entity_updated", "k2", "w2"))))
    assert.are.equal(0, h:wait(10))
    local lines = support.lines(h:stdout())
    assert.are.equal(1, #lines)
    assert.truthy(lines[1]:find("k2", 1, true))
  end)
end)

describe("quicklysign listen", function()
  it("keeps listening, refuses what is not a good callback, and exits 130 on Ctrl-C", function()
    local h, port = start()
    local function raw(text) return (support.raw_request(port, text)) end
    local good = support.callback("document_status_changed", "pack-a", "hook-a")

    assert.are.equal(200, (support.post(port, path_with_token(), good)))
    assert.are.equal(403, (support.post(port, path_with_token("not-the-token-at-all"), good)))
    assert.are.equal(403, (support.post(port, "/", good)))
    assert.are.equal(404, (support.post(port, "/elsewhere?token=" .. TOKEN, good)))
    assert.are.equal(405, raw("GET " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert.are.equal(415, (support.post(port, path_with_token(), good, { ["Content-Type"] = "text/plain" })))
    assert.are.equal(400, (support.post(port, path_with_token(), "{not json")))
    assert.are.equal(400, (support.post(port, path_with_token(), { entity_type = "Document", callback_event = "x" })))
    assert.are.equal(411, raw("POST " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\n"
      .. "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))
    assert.are.equal(411, raw("POST " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\n"
      .. "Content-Type: application/json\r\n\r\n{}"))
    assert.are.equal(400, raw("POST " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
      .. "Transfer-Encoding: chunked\r\n\r\n{}"))
    assert.are.equal(400, raw("POST " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
      .. "Content-Length: 3\r\n\r\n{}"))
    assert.are.equal(413, raw("POST " .. path_with_token() .. " HTTP/1.1\r\nHost: x\r\n"
      .. "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"))
    assert.are.equal(400, raw("HELLO\r\n\r\n"))
    assert.are.equal(400, raw("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")) -- no Host
    assert.are.equal(505, raw("POST / HTTP/2.0\r\nHost: x\r\n\r\n"))
    assert.are.equal(431, raw("POST / HTTP/1.1\r\nHost: x\r\nX-Big: " .. ("a"):rep(9000) .. "\r\n\r\n"))

    -- a V0-style callback (subscription_key only), sent with Expect: 100-continue
    local body = '{"entity_type":"Document","entity_key":"pack-b","callback_event":"final_document_generated",'
      .. '"subscription_key":"hook-b"}'
    local status, _, _, answer = support.raw_request(port, "POST " .. path_with_token() .. " HTTP/1.1\r\n"
      .. "Host: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " .. #body
      .. "\r\n\r\n" .. body)
    assert.are.equal(100, status)
    assert.truthy(answer:find("\r\n\r\nHTTP/1.1 200 OK\r\n", 1, true), answer)

    assert.is_true(h:running())
    -- (the line is printed just after the answer goes out)
    support.wait_until(function() return #support.lines(h:stdout()) >= 2 end, 5)
    local lines = support.lines(h:stdout())
    assert.are.equal(2, #lines, h:stdout())
    assert.truthy(lines[1]:find(LINE .. "document_status_changed +pack%-a  hook%-a$"), lines[1])
    assert.truthy(lines[2]:find(LINE .. "final_document_generated  pack%-b  hook%-b$"), lines[2])
    local err = h:stderr()
    assert.truthy(err:find("refused POST / with 403: the callback URL's 'token' parameter is wrong", 1, true), err)
    assert.truthy(err:find("refused GET / with 405", 1, true), err)
    assert.truthy(err:find("refused POST /elsewhere with 404", 1, true), err)
    assert.falsy(err:find("not-the-token-at-all", 1, true)) -- a presented token is not echoed

    h:interrupt()
    assert.are.equal(130, h:wait(10))
    assert.truthy(h:stderr():find("quicklysign: interrupted", 1, true))
  end)

  it("prints a listening document, then one JSON document per callback, with --json", function()
    local h = support.start({ "listen", "--port", "0", "--json", "--once" }, {})
    finally(function() h:kill() end)
    local first = support.wait_until(function() return support.lines(h:stdout())[1] end, 10)
    local listening = support.json(first)
    assert.are.equal("listening", listening.type)
    local port = tonumber(listening.url:match("^http://127%.0%.0%.1:(%d+)/$"))
    assert.truthy(port and port > 0, listening.url)
    assert.are.equal(listening.url, listening.callback_url) -- no token given

    local cb = support.callback("entity_updated", "pack-j", "hook-j")
    assert.are.equal(200, (support.post(port, "/", cb)))
    assert.are.equal(0, h:wait(10))
    local lines = support.lines(h:stdout())
    assert.are.equal(2, #lines)
    local doc = support.json(lines[2])
    assert.are.equal("callback", doc.type)
    assert.are.equal("entity_updated", doc.event)
    assert.are.equal("pack-j", doc.entity_key)
    assert.are.equal("hook-j", doc.webhook_key)
    assert.are.equal("Document", doc.entity_type)
    assert.are.same(cb, doc.body)
    assert.truthy(doc.received_at:find(support.ISO))
    assert.truthy(h:stderr():find("no --token", 1, true))
  end)

  it("prints only event lines with -q", function()
    local h, port = start({ "-q", "--once" }, {}, { quiet = true })
    assert.are.equal(403, (support.post(port, "/", support.callback("entity_updated", "x", "y"))))
    local cb = support.callback("entity_updated", "pack-q", "hook-q")
    assert.are.equal(200, (support.post(port, path_with_token(), cb)))
    assert.are.equal(0, h:wait(10))
    assert.are.equal("", h:stderr())
    assert.are.equal(1, #support.lines(h:stdout()))
  end)

  it("takes the token from QUICKLYSIGN_LISTEN_TOKEN", function()
    local h, port = start({ "--once" }, { QUICKLYSIGN_LISTEN_TOKEN = TOKEN .. "-env" }, { no_token = true })
    assert.are.equal(403, (support.post(port, path_with_token(), support.callback("entity_updated", "a", "b"))))
    assert.are.equal(200, (support.post(port, path_with_token(TOKEN .. "-env"),
      support.callback("entity_updated", "a", "b"))))
    assert.are.equal(0, h:wait(10))
    -- the banner names the variable, for the shell to fill in, never the token
    local banner = h:stderr()
    assert.truthy(banner:find('--callback "http://127.0.0.1:' .. port .. '/?token=$QUICKLYSIGN_LISTEN_TOKEN"', 1, true),
      banner)
    assert.falsy(banner:find(TOKEN, 1, true), banner)
  end)

  it("prints the token in the banner with --show-secrets", function()
    local h, port = start{ "--show-secrets" }
    assert.truthy(h:stderr():find("--callback 'http://127.0.0.1:" .. port .. "/?token=" .. TOKEN .. "'", 1, true))
  end)

  it("serves a --path of its own", function()
    local h, port = start{ "--once", "--path", "/hooks/qs" }
    assert.are.equal(404, (support.post(port, path_with_token(), support.callback("entity_updated", "a", "b"))))
    local cb = support.callback("entity_updated", "a", "b")
    assert.are.equal(200, (support.post(port, "/hooks/qs?token=" .. TOKEN, cb)))
    assert.are.equal(0, h:wait(10))
  end)

  it("refuses a short token, a bad path and a bad port before listening", function()
    local r = support.run{ "listen", "--token", "short" }
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find("at least 16 characters", 1, true))
    assert.are.equal(3, support.run({ "listen" }, { QUICKLYSIGN_LISTEN_TOKEN = "short" }).code)
    assert.are.equal(2, support.run{ "listen", "--path", "hooks" }.code)
    assert.are.equal(2, support.run{ "listen", "--port", "-1" }.code)
  end)

  it("exits 1 when the port is taken", function()
    local socket = require "socket"
    local busy = assert(socket.bind("127.0.0.1", 0))
    finally(function() busy:close() end)
    local _, port = busy:getsockname()
    local r = support.run{ "listen", "--port", tostring(port) }
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("^quicklysign: cannot listen on 127%.0%.0%.1 port " .. port), r.stderr)
  end)

  it("exits 3 without LuaSocket, saying how to install it", function()
    local root = support.root
    local r = support.run({ "listen" }, {
      LUA_PATH = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua",
      LUA_CPATH = root .. "/build/" .. support.lua .. "/?.so",
    })
    assert.are.equal(3, r.code, r.stderr)
    assert.truthy(r.stderr:find("listen needs LuaSocket", 1, true), r.stderr)
    assert.truthy(r.stderr:find("apt-get install lua-socket", 1, true), r.stderr)
  end)
end)

describe("quicklysign listen --download", function()
  local function new_pack()
    return emulator:create_pack{ name = "Deal", documents = { { name = "Contract" }, { name = "Schedule A" } } }
  end

  it("downloads the pack's final PDFs into DIR/<pack key>/ on final_document_generated", function()
    local pack = new_pack()
    emulator:drive(pack.key, "complete")
    local dir = support.tmpdir()
    local h, port = start({ "--once", "--download", dir }, support.creds())
    assert.are.equal(200, (support.post(port, path_with_token(),
      support.callback("final_document_generated", pack.key, "hook-d"))))
    assert.are.equal(0, h:wait(20), h:stderr())
    assert.are.same({ pack.key }, listing(dir))
    assert.are.same({ "Contract.pdf", "Schedule A.pdf" }, listing(dir .. "/" .. pack.key))
    local out = h:stdout()
    local lines = support.lines(out)
    assert.are.equal(3, #lines, out)
    assert.truthy(lines[1]:find("final_document_generated", 1, true))
    for i, name in ipairs{ "Contract.pdf", "Schedule A.pdf" } do
      local path = dir .. "/" .. pack.key .. "/" .. name
      local bytes = assert(support.read(path))
      assert.are.equal("%PDF-", bytes:sub(1, 5))
      assert.truthy(lines[i + 1]:find("^  downloaded " .. escape(path) .. " %(" .. #bytes .. " bytes%)$"), lines[i + 1])
    end
  end)

  it("reports the download as a JSON document with --json", function()
    local pack = new_pack()
    emulator:drive(pack.key, "complete")
    local dir = support.tmpdir()
    local h, port = start({ "--once", "--json", "--download", dir }, support.creds())
    assert.are.equal(200, (support.post(port, path_with_token(),
      support.callback("final_document_generated", pack.key, "hook-d"))))
    assert.are.equal(0, h:wait(20), h:stderr())
    local lines = support.lines(h:stdout())
    assert.are.equal(3, #lines)
    local doc = support.json(lines[3])
    assert.are.equal("download", doc.type)
    assert.are.equal(pack.key, doc.entity_key)
    assert.are.equal(2, #doc.files)
    assert.are.equal(dir .. "/" .. pack.key .. "/Contract.pdf", doc.files[1].path)
  end)

  it("downloads nothing for other events", function()
    local pack = new_pack()
    local dir = support.tmpdir()
    local h, port = start({ "--once", "--download", dir }, support.creds())
    assert.are.equal(200, (support.post(port, path_with_token(), support.callback("entity_updated", pack.key, "h"))))
    assert.are.equal(0, h:wait(10))
    assert.are.same({}, listing(dir))
  end)

  it("still answers 200, then exits with the download's failure (4 for an unknown pack)", function()
    local dir = support.tmpdir()
    local h, port = start({ "--once", "--download", dir }, support.creds())
    assert.are.equal(200, (support.post(port, path_with_token(),
      support.callback("final_document_generated", "no-such-pack", "h"))))
    assert.are.equal(4, h:wait(10))
    assert.truthy(h:stderr():find("quicklysign: api error 404", 1, true), h:stderr())
  end)

  it("never uses an entity key that is not a plain key as a folder name", function()
    local dir = support.tmpdir() .. "/inner"
    assert(os.execute("mkdir -p " .. support.quote(dir)))
    local h, port = start({ "--once", "--download", dir }, support.creds())
    assert.are.equal(200, (support.post(port, path_with_token(),
      support.callback("final_document_generated", "../escaped", "h"))))
    assert.are.equal(1, h:wait(10))
    assert.truthy(h:stderr():find("not downloading", 1, true))
    assert.are.same({ "inner" }, listing(dir .. "/.."))
    assert.are.same({}, listing(dir))
  end)

  it("works end to end with the emulator's own deliveries", function()
    local pack = new_pack()
    local dir = support.tmpdir()
    local h, port = start({ "--download", dir }, support.creds())
    local callback_url = "http://127.0.0.1:" .. port .. "/?token=" .. TOKEN
    local created = support.qs{ "webhooks", "create", "-q", "--entity", pack.key, "--callback", callback_url }
    assert.are.equal(0, created.code, created.stderr)
    local webhook_key = created.stdout:match("^(%S+)\n$")
    emulator:drive(pack.key, "complete")

    assert.truthy(support.wait_until(function()
      return #listing(dir .. "/" .. pack.key) == 2 and h:stdout():find("downloaded .*downloaded")
    end, 30), "no PDFs: " .. h:stdout() .. h:stderr())
    local lines = support.lines(h:stdout())
    assert.truthy(lines[1]:find(LINE .. "document_status_changed +" .. escape(pack.key) .. "  "
      .. escape(webhook_key) .. "$"), lines[1])
    assert.truthy(lines[2]:find(LINE .. "final_document_generated  " .. escape(pack.key)), lines[2])
    assert.are.equal("%PDF-", support.read(dir .. "/" .. pack.key .. "/Contract.pdf"):sub(1, 5))

    -- QuicklySign's log of those deliveries says they were answered 200 (two entries each:
    -- "Calling callback url ...", then "Successful call to url ... Received 200 response")
    local logs = support.json(support.qs{ "webhooks", "logs", "--webhook", webhook_key, "--json" }.stdout)
    assert.are.equal(4, #logs)
    for i = 2, 4, 2 do assert.truthy(logs[i].log:find("Received 200 response", 1, true), logs[i].log) end

    h:interrupt()
    assert.are.equal(130, h:wait(10))
  end)
end)
