-- quicklysign listen: a local receiver that prints each callback as it arrives.
--
-- The HTTP side is http_server.lua; what a callback is and what to answer is decided by
-- quicklysign.callbacks' router, exactly as in an application, so the two never disagree. The
-- router's handler only records the event: the answer goes out and the connection closes first,
-- then the event is printed and, with --download, the pack's PDFs are fetched.
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"

local pcall, require, type, tostring, ipairs, error = pcall, require, type, tostring, ipairs, error
local format, find, sub, lower = string.format, string.find, string.sub, string.lower

local listen = {
  DEFAULT_HOST = "127.0.0.1",
  DEFAULT_PORT = 8090,
  DEFAULT_PATH = "/",
  TOKEN_ENV = "QUICKLYSIGN_LISTEN_TOKEN",
  MIN_TOKEN = 16,          -- the callbacks router's own minimum
  MAX_BODY = 64 * 1024,    -- the same limit for the HTTP reader and the router
  ACCEPT_WAIT = 0.5,       -- seconds between two looks at Ctrl-C while idle
  MAX_KEY = 200,           -- an entity key used as a folder name: [A-Za-z0-9_-], this long at most
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
  return host, port, path, token
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
-- learns the port that --port 0 picked).
local function announce(out, host, base, callback_url, token, download_dir)
  if out.json then
    out:document{ type = "listening", url = base, callback_url = callback_url }
  end
  out:notice(format("quicklysign listen: ready on %s (Ctrl-C to stop)", base))
  out:notice("subscribe with: quicklysign webhooks create --entity <pack key> --callback '"
    .. callback_url .. "'")
  out:notice("(QuicklySign itself calls https URLs only: subscribe an https tunnel to this address)")
  if not token then
    out:notice(loopback(host)
      and "note: no --token, so any program on this machine can post callbacks here"
      or "warning: no --token, so anyone who can reach this port can post callbacks here")
  end
  if download_dir then out:notice("final PDFs go to " .. download_dir .. "/<pack key>/") end
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

function listen.run(ctx)
  local out = ctx.out
  local http_server = require_socket()
  local gettime = require("socket").gettime
  local callbacks = require "quicklysign.callbacks"
  local host, port, path, token = check_options(ctx)
  local download_dir = ctx.options.download
  local client = download_dir and ctx:client{ api_key = true } -- credentials are checked now
  local router, decision = make_router(callbacks, token)

  local server, err = http_server.open(host, port)
  if not server then
    status.raise(status.FAILED, format("cannot listen on %s port %s: %s", host, tostring(port), tostring(err)))
  end
  local base = format("http://%s:%d%s", url_host(host), server.port, path)
  announce(out, host, base, token and callbacks.callback_url(base, token) or base, token, download_dir)

  -- One connection: read the request, answer it, close. Returns the request (or the part of it
  -- that was read), the status sent, and when the router accepted a callback, its event.
  local function serve(conn)
    decision.clear()
    local request, answer, why, partial = http_server.read_request(conn, { max_body = listen.MAX_BODY })
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
    local seen = request or partial or {}
    if answer then http_server.respond(conn, answer, body, headers, seen.method) end
    http_server.finish(conn, not (request and request.complete))
    return seen, answer, answer == 200 and decision.accepted or nil
  end

  while true do
    local conn = server:accept(listen.ACCEPT_WAIT)
    if conn then
      local received_at = timestamp(gettime())
      local request, answer, ev = serve(conn)
      if decision.interrupted then error("interrupted!", 0) end
      if ev then
        print_event(out, ev, received_at)
        local code = status.OK
        if download_dir and ev.event == "final_document_generated" then
          code = download(ctx, client, download_dir, ev)
        end
        if ctx.options.once then
          server:close()
          return code
        end
      elseif answer then
        out:notice(format("%s  refused %s %s with %d: %s", received_at, output.clean(request.method),
          output.clean(sub(request.path or "?", 1, 100)), answer, output.clean(refusal_text(decision.refusal))))
      end
    end
  end
end

return listen
