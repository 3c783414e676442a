--- quicklysign.openresty: a callbacks router as a content_by_lua handler, and
-- a client whose calls run in nginx's thread pool.
--
-- nginx must not wait on libcurl in its event loop, so calls into the C core
-- go through ngx.run_worker_thread (needs `thread_pool quicklysign threads=N;`
-- in nginx.conf's main block). The handler answers the vendor as soon as the
-- callback is verified, then runs the handlers in a timer, off the request.
local quicklysign = require "quicklysign"
local callbacks = require "quicklysign.callbacks"

local ngx = ngx   -- luacheck: ignore (set by nginx)
local type, pairs, error, tostring, tonumber = type, pairs, error, tostring, tonumber
local io_open, format = io.open, string.format

local openresty = {
  DEFAULT_THREAD_POOL = "quicklysign",
  WORKER_MODULE = "quicklysign.openresty.worker",
}

local WEBHOOK_METHODS = quicklysign.methods.webhooks   -- as the C core declares them
local PACK_METHODS = quicklysign.methods.document_packs

local function fail(fn, msg)
  error(format("bad argument #1 to '%s' (%s)", fn, msg), 3)
end

local function run(pool, opts, resource, method, ...)
  local ok, a, b = ngx.run_worker_thread(pool, openresty.WORKER_MODULE, "call", opts, resource, method, ...)
  if not ok then
    error(a, 3)   -- misuse raised in the thread: raise here, where it was called
  end
  if a == nil and type(b) == "table" then
    b = quicklysign.as_error(b)
  end
  return a, b
end

local function proxy(pool, opts, resource, methods)
  local r = {}
  for _, m in pairs(methods) do
    r[m] = function(_, ...) return run(pool, opts, resource, m, ...) end
  end
  return r
end

--- openresty.client(opts [, settings]) --> a client with the same methods as
-- quicklysign.new(opts), each run in the thread pool (settings.thread_pool).
-- Options are checked here, at once; functions (on_warning) cannot cross into
-- a thread and are refused.
function openresty.client(opts, settings)
  if type(opts) ~= "table" then fail("client", "table of client options expected, got " .. type(opts)) end
  settings = settings or {}
  local plain = {}
  for k, v in pairs(opts) do
    if type(v) == "function" then
      fail("client", format("option '%s': a function cannot cross into a worker thread", tostring(k)))
    end
    plain[k] = v
  end
  quicklysign.new(plain):close()   -- validates, raising as new() does
  local pool = settings.thread_pool or openresty.DEFAULT_THREAD_POOL
  return {
    webhooks = proxy(pool, plain, "webhooks", WEBHOOK_METHODS),
    document_packs = proxy(pool, plain, "document_packs", PACK_METHODS),
    download = function(_, url, path) return run(pool, plain, false, "download", url, path) end,
    thread_pool = pool,
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

--- openresty.handler(router [, opts]) --> function() for content_by_lua.
-- opts.respond: "first" (default) answers 200 once the callback is verified
-- and runs the handlers in a timer; "after" runs them in the request (still
-- without blocking nginx when they use openresty.client) and answers with
-- their outcome, which is what retry_on_handler_error needs.
function openresty.handler(router, opts)
  if type(router) ~= "table" or type(router.verify) ~= "function" then
    fail("handler", "a router made by quicklysign.callbacks.router expected")
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not HANDLER_OPTIONS[k] then fail("handler", format("unknown option '%s'", tostring(k))) end
  end
  local respond = opts.respond or "first"
  if respond ~= "first" and respond ~= "after" then
    fail("handler", "option 'respond' must be 'first' or 'after'")
  end
  if respond == "first" and router.retry_on_handler_error then
    fail("handler", "retry_on_handler_error needs respond = 'after': "
      .. "with 'first' the answer is sent before handlers run")
  end
  local max_body = opts.max_body or router.max_body or 65536

  local function send(status, body, headers)
    ngx.status = status
    for k, v in pairs(headers or {}) do ngx.header[k] = v end
    ngx.header["Content-Length"] = body and #body or 0
    if body then ngx.print(body) end
    return ngx.exit(ngx.HTTP_OK)   -- the status line is already out
  end

  local function dispatch(premature, ev)
    if premature then return end
    router:dispatch(ev)   -- never raises; failures go to on_error and the log
  end

  return function()
    local headers = ngx.req.get_headers(100)
    local request = { method = ngx.req.get_method(), headers = headers, query = ngx.req.get_uri_args(100) }
    local length = tonumber(headers["content-length"])
    if request.method == "POST" and not (length and length > max_body) then
      local body, err = read_body(max_body)
      if err then
        ngx.log(ngx.ERR, "quicklysign.openresty: cannot read the request body: ", err)
        return send(500, "internal error")
      end
      request.body = body
    end
    local ev, status, body, answer_headers = router:verify(request)
    if ev == nil then return send(status, body, answer_headers) end
    if respond == "after" then return send(router:dispatch(ev)) end
    local ok, err = ngx.timer.at(0, dispatch, ev)
    if not ok then   -- no timer to run the handlers: let the vendor come back
      ngx.log(ngx.ERR, "quicklysign.openresty: cannot schedule the handlers: ", err)
      return send(503, "unavailable", { ["Retry-After"] = "30" })
    end
    return send(200, "ok", { ["Content-Type"] = "text/plain; charset=utf-8" })
  end
end

openresty.callbacks = callbacks

return openresty
