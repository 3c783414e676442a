--- quicklysign inside nginx (OpenResty, lua-nginx-module): `require "quicklysign.openresty"`.
--
-- The callbacks router as a `content_by_lua` handler, workers that run an inbox's jobs in
-- timers, and a client whose calls run in nginx's thread pool. nginx must not wait on libcurl
-- or SQLite in its event loop: those calls go through `ngx.run_worker_thread` (needs
-- `thread_pool quicklysign threads=N;` in nginx.conf's main block), each call waiting its turn
-- on one semaphore per nginx worker (`openresty.threads`). Downloads (a PDF can take seconds)
-- run in a pool of their own, `thread_pool quicklysign_downloads threads=N;`, with a bound of
-- their own inside that one, so that the calls that verify callbacks (and the SQLite inbox's
-- writes) never wait behind them. A 200 means "done or durably stored":
--
-- - with an inbox (`quicklysign.inbox.open` in init_worker), the handler answers 200 once the
--   callback is stored, and `openresty.worker{...}` runs the handlers in the background;
-- - without one, the handlers run in the request and the answer is their outcome (500 when
--   one failed, so that the vendor retries).
--
-- Files: openresty/threads.lua (bounded thread calls), openresty/client_thread.lua and
-- openresty/inbox_thread.lua (the thread side), openresty/inbox.lua (the inbox in nginx),
-- openresty/jobs.lua (workers in timers).
-- @module quicklysign.openresty
-- @see quicklysign.callbacks
-- @see quicklysign.inbox
local quicklysign = require "quicklysign"
local callbacks = require "quicklysign.callbacks"
local threads = require "quicklysign.openresty.threads"

local ngx = ngx   -- luacheck: ignore (set by nginx)
local type, pairs, ipairs, error, tostring, tonumber, select, pcall =
  type, pairs, ipairs, error, tostring, tonumber, select, pcall
local io_open, format, concat = io.open, string.format, table.concat
local unpack = table.unpack or unpack -- luacheck: ignore (LuaJIT)

local openresty = {
  DEFAULT_THREAD_POOL = "quicklysign",
  DEFAULT_DOWNLOAD_POOL = "quicklysign_downloads",
  CLIENT_THREAD_MODULE = "quicklysign.openresty.client_thread",
}
openresty.threads = threads

local WEBHOOK_METHODS = quicklysign.methods.webhooks   -- as the C core declares them
local PACK_METHODS = quicklysign.methods.document_packs

local function fail(fn, msg)
  error(format("bad argument #1 to '%s' (%s)", fn, msg), 3)
end

-- The methods that download (client:download, document_packs:download): their own pool.
local DOWNLOADS = { download = true }

local warned_pools = {}

-- A download pool nginx.conf does not declare, when it was not asked for by name: downloads then
-- share the call pool (nothing breaks), and the error log says so once per nginx worker.
local function fall_back(pools, message)
  if not pools.default_downloads or message ~= "thread pool " .. pools.downloads .. " not found" then
    return false
  end
  if not warned_pools[pools.downloads] then
    warned_pools[pools.downloads] = true
    ngx.log(ngx.WARN, "quicklysign.openresty: nginx.conf has no `thread_pool ", pools.downloads,
      " threads=N;`: downloads share the '", pools.calls, "' pool, where verifying a callback can wait ",
      "behind them")
  end
  pools.downloads = pools.calls
  return true
end

local function pack(...) return { n = select("#", ...), ... } end

--- The default on_event of openresty.client: each record a line of nginx's error log, at debug.
-- Its URL is redacted by the client; no record holds a credential or the callback token.
-- @tparam table record as quicklysign.new's on_event gets it
function openresty.log_event(record)
  local parts = { "quicklysign: ", tostring(record.type), " ", tostring(record.method or ""), " ",
    tostring(record.url or "") }
  for _, k in ipairs{ "status", "attempt", "index", "seconds", "connects", "reason", "wait", "bytes", "total" } do
    if record[k] ~= nil then parts[#parts + 1] = format(" %s=%s", k, tostring(record[k])) end
  end
  ngx.log(ngx.DEBUG, concat(parts))
end

-- Hands the records a call collected in the thread to on_event, in the caller's VM.
local function deliver(on_event, records)
  if not on_event or type(records) ~= "table" then return end
  for i = 1, #records do on_event(records[i]) end
end

-- The results of a call from the thread: errors get their metatable back (a batch call's too).
local function results(method, res)
  local a, b = res[3], res[4]
  if a == nil and type(b) == "table" then
    res[4] = quicklysign.as_error(b)
  elseif type(b) == "table" and method:find("_many$") then
    for k, e in pairs(b) do b[k] = quicklysign.as_error(e) end
  end
  return unpack(res, 3, res.n)
end

local function run(pools, opts, on_event, resource, method, ...)
  local pool = DOWNLOADS[method] and pools.downloads or pools.calls
  local module = openresty.CLIENT_THREAD_MODULE
  local res = pack(threads.run(pool, module, "call", opts, resource, method, ...))
  if not res[1] and pool ~= pools.calls and fall_back(pools, res[2]) then
    res = pack(threads.run(pools.calls, module, "call", opts, resource, method, ...))
  end
  if not res[1] then
    local a = res[2]
    if type(a) == "string" and a:find("^quicklysign: no thread%-pool turn") then
      return nil, quicklysign.as_error{ kind = "network", message = a, retryable = true }
    end
    error(a, 3)   -- misuse raised in the thread: raise here, where it was called
  end
  deliver(on_event, res[2])
  return results(method, res)
end

local function proxy(pools, opts, on_event, resource, methods)
  local r = {}
  for _, m in pairs(methods) do
    r[m] = function(_, ...) return run(pools, opts, on_event, resource, m, ...) end
  end
  return r
end

-- Whether nginx logs at debug level (its error_log's level), so that the default on_event has
-- somewhere to write: records are collected only for someone.
local function debug_logged()
  local ok, errlog = pcall(require, "ngx.errlog")
  if not ok or type(errlog) ~= "table" or type(errlog.get_sys_filter_level) ~= "function" then return false end
  local got, level = pcall(errlog.get_sys_filter_level)
  return got and type(level) == "number" and level >= ngx.DEBUG
end

local CLIENT_SETTINGS = { thread_pool = true, download_thread_pool = true }

--- A client with the methods of `quicklysign.new`'s, each call run in the thread pool, whose
-- Lua VMs keep one client per set of options (so keep-alive holds across calls). Options are
-- checked here, at once; functions (`on_warning`) cannot cross into a thread and are refused,
-- but for `on_event`: the thread collects the records and this VM hands them to it after each
-- call (by default, when nginx logs at debug level, `openresty.log_event` writes them there).
-- Downloads (`download`, `document_packs:download`) run in `download_thread_pool`, so that they
-- never hold up the calls that verify callbacks; when nginx.conf has no such pool and none was
-- named, they share `thread_pool`, and nginx's error log says so (once, at warn).
-- @tparam table opts the options of `quicklysign.new`
-- @tparam[opt] table settings `thread_pool` (`"quicklysign"`), `download_thread_pool`
-- (`"quicklysign_downloads"`; its bound: `threads.configure{ pools = { name = N } }`, 16 by default)
-- @treturn table `webhooks`, `document_packs`, `download(url, path)`, `thread_pool`,
-- `download_thread_pool`
-- @raise misuse, as `quicklysign.new` does
function openresty.client(opts, settings)
  if type(opts) ~= "table" then fail("client", "table of client options expected, got " .. type(opts)) end
  settings = settings or {}
  local plain, on_event = {}, nil
  for k, v in pairs(opts) do
    if k == "on_event" then
      if type(v) ~= "function" then fail("client", "option 'on_event': a function expected") end
      on_event = v
    elseif type(v) == "function" then
      fail("client", format("option '%s': a function cannot cross into a worker thread", tostring(k)))
    else
      plain[k] = v
    end
  end
  quicklysign.new(plain):close()   -- validates, raising as new() does
  if on_event == nil and ngx ~= nil and debug_logged() then on_event = openresty.log_event end
  if on_event then plain[require(openresty.CLIENT_THREAD_MODULE).EVENTS] = true end
  if type(settings) ~= "table" then fail("client", "settings: a table expected, got " .. type(settings)) end
  for k, v in pairs(settings) do
    if not CLIENT_SETTINGS[k] then fail("client", format("unknown setting '%s'", tostring(k))) end
    if type(v) ~= "string" or v == "" then
      fail("client", format("setting '%s': the name of a thread pool expected", tostring(k)))
    end
  end
  local pools = {
    calls = settings.thread_pool or openresty.DEFAULT_THREAD_POOL,
    downloads = settings.download_thread_pool or openresty.DEFAULT_DOWNLOAD_POOL,
    default_downloads = settings.download_thread_pool == nil,
  }
  return {
    webhooks = proxy(pools, plain, on_event, "webhooks", WEBHOOK_METHODS),
    document_packs = proxy(pools, plain, on_event, "document_packs", PACK_METHODS),
    download = function(_, url, path) return run(pools, plain, on_event, false, "download", url, path) end,
    thread_pool = pools.calls,
    download_thread_pool = pools.downloads,
  }
end

-- The request body: in memory, or in the temp file nginx spilled it to.
local function read_body(max_body)
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local path = ngx.req.get_body_file()
  if not path then return nil end
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  body = f:read(max_body + 1)   -- one byte more than allowed lets the router say 413
  f:close()
  return body
end

local HANDLER_OPTIONS = { respond = true, max_body = true }

--- The content handler of a callback location. With an inbox on the router, a verified
-- callback is stored, then answered (200; 503 when the store failed). Without one, its
-- handlers run in the request (their client calls still in the thread pool) and the answer is
-- their outcome. It reads the body also when nginx spilled it to a temp file.
-- `respond = "first"` (answer, then run the handlers) is refused: it answered 200 for work that
-- then failed and was lost.
-- @tparam router router made by `quicklysign.callbacks.router`
-- @tparam[opt] table opts `max_body` (bytes; default the router's)
-- @treturn function for `content_by_lua`
function openresty.handler(router, opts)
  if type(router) ~= "table" or type(router.verify) ~= "function" then
    fail("handler", "a router made by quicklysign.callbacks.router expected")
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not HANDLER_OPTIONS[k] then fail("handler", format("unknown option '%s'", tostring(k))) end
  end
  if opts.respond == "first" then
    fail("handler", "respond = 'first' answered 200 before the work was done, and failed work was lost: "
      .. "give the router an inbox (quicklysign.inbox) to answer at once and work in the background, "
      .. "or leave respond out to answer with the handlers' outcome")
  end
  if opts.respond ~= nil and opts.respond ~= "after" then
    fail("handler", "option 'respond' must be 'after' (the only mode; it may be left out)")
  end
  local max_body = opts.max_body or router.max_body or 65536

  local function send(status, body, headers)
    ngx.status = status
    for k, v in pairs(headers or {}) do ngx.header[k] = v end
    ngx.header["Content-Length"] = body and #body or 0
    if body then ngx.print(body) end
    return ngx.exit(ngx.HTTP_OK)   -- the status line is already out
  end

  return function()
    local headers = ngx.req.get_headers(100)
    local request = { method = ngx.req.get_method(), headers = headers, query = ngx.req.get_uri_args(100) }
    local length = tonumber(headers["content-length"])
    if request.method == "POST" and not (length and length > max_body) then
      local body, err = read_body(max_body)
      if err then
        router.log("error", "quicklysign.openresty: cannot read the request body: " .. tostring(err))
        return send(500, "internal error")
      end
      request.body = body
    end
    local ev, status, body, answer_headers = router:verify(request)
    if ev == nil then return send(status, body, answer_headers) end
    return send(router:accept(ev, request.body))
  end
end

--- Workers inside nginx: runs an inbox's jobs in timers, `concurrency` at a time per nginx
-- worker process, extending a running job's lease every `lease / 3`. On reload or stop it
-- leases no more; a job cut short runs again after its lease.
-- @tparam table opts `inbox`, `router`, `concurrency` (4; below the thread-call limit),
-- `lease` (120 s), `max_attempts` (25), `retry_delay` (5 s), `max_retry_delay` (3600 s),
-- `poll_interval` (1 s), `id`, `log`
-- @treturn table a runner: `runner:start()` (in init_worker_by_lua), `runner:stop()`,
-- `runner:stats()` (`{ running, done, retried, dead, lost }` of this nginx worker)
function openresty.worker(opts)
  return require("quicklysign.openresty.jobs").new(opts)
end

--- `quicklysign.callbacks`, for convenience.
-- @table callbacks
openresty.callbacks = callbacks

--- The bounded thread-pool calls: `threads.configure{ limit = 64, wait = 30, pools = {
-- quicklysign_downloads = 16 } }` (before the first call), `threads.stats()` (`{ in_flight,
-- waiting, limit, pools = { [name] = { in_flight, waiting, limit } } }`),
-- `threads.run(pool, module, func, ...)`.
-- @table threads

return openresty
