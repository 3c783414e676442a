-- quicklysign listen: a local receiver that prints each callback as it arrives, and with
-- --forward-to hands it on to the developer's own receiver.
--
-- The HTTP side is http_server.lua, and each connection is a task of loop.lua, so that many are
-- served at once and a stalled client holds up nobody. What a callback is and what to answer is
-- decided by quicklysign.callbacks' router, exactly as in an application, so the two never
-- disagree. With --forward-to, an accepted callback is POSTed as it came (body, Content-Type,
-- User-Agent) to the URL, and the sender gets the receiver's answer: QuicklySign resends until it
-- gets a 200, so a receiver that fails is retried as it would be in production (listen never
-- answers 200 for work that was not done). --download fetches the final PDFs once answered.
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"

local pcall, require, type, tostring, ipairs, error, floor = pcall, require, type, tostring, ipairs, error,
  math.floor
local format, find, sub, lower, rep = string.format, string.find, string.sub, string.lower, string.rep

local listen = {
  DEFAULT_HOST = "127.0.0.1",
  DEFAULT_PORT = 8090,
  DEFAULT_PATH = "/",
  TOKEN_ENV = "QUICKLYSIGN_LISTEN_TOKEN",
  MIN_TOKEN = 16,          -- the callbacks router's own minimum
  MAX_BODY = 64 * 1024,    -- the same limit for the HTTP reader and the router
  ACCEPT_WAIT = 0.5,       -- seconds between two looks at Ctrl-C while idle
  MAX_KEY = 200,           -- an entity key used as a folder name: [A-Za-z0-9_-], this long at most
  MAX_CONNECTIONS = 256,   -- at once; more are closed at once (select() handles 1024 sockets)
  FORWARD_TIMEOUT = 10,    -- seconds the receiver behind --forward-to has to answer
  MAX_ANSWER = 1024,       -- bytes of the receiver's answer passed back to the sender
}

local FLAGS = { pack_key = "entity_key", dir = "--download" }

-- socket.gettime() as ISO 8601 UTC with milliseconds.
local function timestamp(now)
  return output.iso8601(now * 1000)
end

local function loopback(host)
  return host == "localhost" or find(host, "^127%.") ~= nil or host == "::1"
end

local function url_host(host)
  if find(host, ":", 1, true) then return "[" .. host .. "]" end
  return host
end

local function check_options(ctx)
  local o = ctx.options
  local host = o.host or listen.DEFAULT_HOST
  local port = o.port
  if port == nil then port = listen.DEFAULT_PORT end
  local path = o.path or listen.DEFAULT_PATH
  if sub(path, 1, 1) ~= "/" or find(path, "[?#%s%c]") then
    ctx:usage("option --path needs a path that starts with / (no query, fragment or blanks)")
  end
  local token, from_env = o.token, false
  if token == nil then
    token, from_env = ctx.getenv(listen.TOKEN_ENV), true
    if token == "" then token = nil end
  end
  if token ~= nil and #token < listen.MIN_TOKEN then
    local message = format("%s needs at least %d characters (e.g. openssl rand -hex 16)",
      from_env and listen.TOKEN_ENV or "option --token", listen.MIN_TOKEN)
    status.raise(from_env and status.CONFIG or status.USAGE, message)
  end
  return host, port, path, token, token ~= nil and from_env
end

-- --forward-to: an http:// URL, parsed (https would need TLS that LuaSocket alone lacks).
local function check_forward(ctx)
  local url = ctx.options.forward_to
  if url == nil then return nil end
  local parsed, why = require("quicklysign.cli.http_client").parse_url(url)
  if not parsed then
    ctx:usage("option --forward-to needs an http:// URL of your receiver (" .. why .. ")")
  end
  parsed.url = url
  return parsed
end

local function require_socket()
  local ok = pcall(require, "socket")
  if not ok then
    status.raise(status.CONFIG, "listen needs LuaSocket, which is not installed",
      "install it with 'apt-get install lua-socket' or 'luarocks install luasocket'")
  end
  return require "quicklysign.cli.http_server"
end

-- The banner on stderr (and a "listening" document first with --json, which is how a script
-- learns the port that --port 0 picked). The token shows only with --show-secrets; one read from
-- the environment is shown as the variable, which a shell fills in when the line is pasted.
local function announce(out, o)
  local callback_url = o.token and o.callbacks.callback_url(o.base, o.token) or o.base
  if out.json then
    out:document{ type = "listening", url = o.base, callback_url = callback_url,
      forward_to = o.forward and o.forward.url or nil }
  end
  out:notice(format("quicklysign listen: ready on %s (Ctrl-C to stop)", o.base))
  local shown = "'" .. callback_url .. "'"
  if o.token and o.token_from_env and not out.show_secrets then
    local placeholder = rep("X", listen.MIN_TOKEN)
    shown = '"' .. o.callbacks.callback_url(o.base, placeholder):gsub(placeholder .. "$", "$" .. listen.TOKEN_ENV)
      .. '"'
  end
  out:notice("subscribe with: quicklysign webhooks create --entity <pack key> --callback " .. shown)
  if o.token and not o.token_from_env and not out.show_secrets then
    out:notice("(the token is masked: --show-secrets prints it)")
  end
  out:notice("(QuicklySign itself calls https URLs only: subscribe an https tunnel to this address)")
  if not o.token then
    out:notice(loopback(o.host)
      and "note: no --token, so any program on this machine can post callbacks here"
      or "warning: no --token, so anyone who can reach this port can post callbacks here")
  end
  if o.forward then
    out:notice("forwarding each accepted callback to " .. o.forward.url .. ", and its answer to the sender")
  end
  if o.download_dir then out:notice("final PDFs go to " .. o.download_dir .. "/<pack key>/") end
end

local function print_event(out, ev, received_at)
  if out.json then
    out:document{
      type = "callback", received_at = received_at, event = ev.event,
      entity_type = ev.entity_type, entity_key = ev.entity_key, webhook_key = ev.webhook_key,
      body = ev.raw,
    }
  else
    out:print(format("%s  %-24s  %s  %s", received_at, output.clean(ev.event),
      output.clean(ev.entity_key), output.clean(ev.webhook_key)))
  end
end

-- Downloads the final PDFs of the callback's pack into <dir>/<pack key>/ (a folder per pack, so
-- that two packs with a "Contract" never overwrite each other). Returns an exit code.
local function download(ctx, client, dir, ev)
  local out, key = ctx.out, ev.entity_key
  -- the key comes from an unauthenticated request: it becomes a folder name only when plain
  if #key > listen.MAX_KEY or not find(key, "^[%w_%-]+$") then
    out:error("not downloading: the callback's entity_key is not a plain key")
    return status.FAILED
  end
  local files, err = ctx:call(FLAGS, client.document_packs.download, client.document_packs, key,
    dir .. "/" .. key)
  if ctx.progress_bar then ctx.progress_bar:finish() end
  if not files then return ctx:fail(err) end
  if out.json then
    out:document{ type = "download", entity_key = key, files = files }
  else
    for _, f in ipairs(files) do
      out:print(format("  downloaded %s (%d bytes)", output.clean(f.path), f.bytes))
    end
  end
  return status.OK
end

-- The router, and what it decided for the request in progress (reset by decision.clear()).
local function make_router(callbacks, token)
  local decision = {}
  local constructing = true
  local function log(level, msg)
    if constructing then return end -- its no-token warning: the banner says it for listen
    if find(tostring(msg), "interrupted!", 1, true) then decision.interrupted = true end
    if level == "error" and decision.refusal == nil then decision.refusal = msg end
  end
  local router = callbacks.router{ token = token, max_body = listen.MAX_BODY, log = log }
  constructing = false
  router:on_any(function(ev) decision.accepted = ev end)
  router:on_error(function(err)
    if type(err) == "table" and status.is_interrupt(err.cause) then decision.interrupted = true end
    decision.refusal = err
  end)
  function decision.clear()
    decision.accepted, decision.refusal = nil, nil
  end
  return router, decision
end

-- What a refused request's line says: the router's error, or the HTTP reader's reason.
local function refusal_text(refusal)
  if type(refusal) == "table" then return tostring(refusal.message or refusal.reason) end
  return tostring(refusal)
end

-- POSTs an accepted callback, as it came, to the --forward-to receiver and prints what it
-- answered. Returns the answer for the sender: the receiver's status, its Content-Type and the
-- head of its body; 502 when it could not be reached or gave no answer.
local function forward_callback(out, forward, request, ev, gettime)
  local http_client = require "quicklysign.cli.http_client"
  local started = gettime()
  local h = request.headers
  local code, headers, body = http_client.request{
    method = "POST", url = forward.url, body = request.body, timeout = listen.FORWARD_TIMEOUT,
    headers = { ["Content-Type"] = type(h["content-type"]) == "string" and h["content-type"] or "application/json",
      ["User-Agent"] = type(h["user-agent"]) == "string" and h["user-agent"] or nil },
  }
  local ms = floor((gettime() - started) * 1000 + 0.5)
  local failure = not code and tostring(headers) or nil
  if out.json then
    out:document{ type = "forward", url = forward.url, event = ev.event, entity_key = ev.entity_key,
      webhook_key = ev.webhook_key, status = code, error = failure, duration_ms = ms }
  elseif code then
    out:print(format("%s  forwarded %s %s -> %d %s (%d ms)", output.iso8601(gettime() * 1000), output.clean(ev.event),
      output.clean(ev.entity_key), code, forward.url, ms))
  else
    out:print(format("%s  forwarded %s %s -> failed: %s (answered 502)", output.iso8601(gettime() * 1000),
      output.clean(ev.event), output.clean(ev.entity_key), output.clean(failure)))
  end
  if not code then return 502, "the receiver behind quicklysign listen did not answer" end
  local answer = sub(body or "", 1, listen.MAX_ANSWER)
  local ctype = headers["content-type"]
  return code, answer, ctype and { ["Content-Type"] = ctype } or nil
end

function listen.run(ctx)
  local out = ctx.out
  local http_server = require_socket()
  local loop = require "quicklysign.cli.loop"
  local gettime = require("socket").gettime
  local callbacks = require "quicklysign.callbacks"
  local host, port, path, token, token_from_env = check_options(ctx)
  local forward = check_forward(ctx)
  local download_dir = ctx.options.download
  local on_event, bar
  if download_dir then on_event, bar = require("quicklysign.cli.progress").for_command(ctx, gettime) end
  local client = download_dir and ctx:client{ api_key = true, on_event = on_event } -- credentials are checked now
  ctx.progress_bar = bar
  local router, decision = make_router(callbacks, token)

  local server, err = http_server.open(host, port)
  if not server then
    status.raise(status.FAILED, format("cannot listen on %s port %s: %s", host, tostring(port), tostring(err)))
  end
  local base = format("http://%s:%d%s", url_host(host), server.port, path)
  announce(out, { host = host, base = base, token = token, token_from_env = token_from_env,
    callbacks = callbacks, forward = forward, download_dir = download_dir })

  local done -- the exit code once --once has its callback

  -- One connection, in its own task: read the request, decide, forward, answer, close, then
  -- print and download. The router runs without waiting, so `decision` is this request's.
  local function serve(conn, received_at)
    local request, answer, why, partial = http_server.read_request(conn, { max_body = listen.MAX_BODY })
    decision.clear()
    local body, headers
    if not request then
      decision.refusal = why
      body = answer and lower(http_server.REASONS[answer] or "")
    elseif request.path ~= path then
      answer, body = 404, "not found"
      decision.refusal = "no callbacks on this path (they go to " .. path .. ")"
    else
      answer, body, headers = router:handle{
        method = request.method, headers = request.headers, body = request.body, query = request.query,
      }
    end
    local ev, refusal = answer == 200 and decision.accepted or nil, decision.refusal
    if decision.interrupted then error("interrupted!", 0) end
    local seen = request or partial or {}
    if ev then
      print_event(out, ev, received_at)
      if forward then answer, body, headers = forward_callback(out, forward, request, ev, gettime) end
    end
    if answer then http_server.respond(conn, answer, body, headers, seen.method) end
    http_server.finish(conn, not (request and request.complete))
    if ev then
      local code = status.OK
      if download_dir and ev.event == "final_document_generated" then
        code = download(ctx, client, download_dir, ev)
      end
      if ctx.options.once and done == nil and (not forward or answer == 200) then done = code end
    elseif answer then
      out:notice(format("%s  refused %s %s with %d: %s", received_at, output.clean(seen.method),
        output.clean(sub(seen.path or "?", 1, 100)), answer, output.clean(refusal_text(refusal))))
    end
  end

  local tasks = loop.new()
  tasks:spawn(function()
    while true do
      loop.wait(server.sock, "r")
      while true do
        local conn = server:accept()
        if not conn then break end
        if tasks:size() > listen.MAX_CONNECTIONS then
          conn:close()   -- too many at once: the sender retries
        else
          tasks:spawn(serve, conn, timestamp(gettime()))
        end
      end
    end
  end)
  while done == nil do tasks:step(listen.ACCEPT_WAIT) end
  server:close()
  return done
end

return listen
