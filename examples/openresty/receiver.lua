--- The example receiver behind examples/openresty/nginx.conf. Each QuicklySign callback is
-- verified (token in the URL, then confirmation against the API), stored in the inbox
-- ($QUICKLYSIGN_INBOX: SQLite by default, or Redis) and only then answered 200. Workers inside
-- nginx (openresty.worker) run the handlers: on final_document_generated they download the
-- pack's final PDFs into $QUICKLYSIGN_PDF_DIR/<pack key>/ once the API says the pack is
-- complete, retrying until that succeeds or the job is parked as dead. With
-- QUICKLYSIGN_WORKER_CONCURRENCY=0 it only receives, and `quicklysign worker` processes elsewhere
-- do the work.
local callbacks = require "quicklysign.callbacks"
local handlers = require "quicklysign.handlers"
local inbox = require "quicklysign.inbox"
local metrics = require "quicklysign.metrics"
local openresty = require "quicklysign.openresty"
local cjson = require "cjson.safe"

local ngx = ngx -- luacheck: ignore
local getenv, tostring, tonumber, pcall, error = os.getenv, tostring, tonumber, pcall, error

local receiver = {}

local handler, box, runner, counters, init_error

-- Appends one record to the events dict (for GET /events).
local function record(kind, fields)
  local dict = ngx.shared.quicklysign_events
  local n = dict:incr("count", 1, 0)
  fields.kind = kind
  fields.at = ngx.now()
  dict:set("event:" .. n, cjson.encode(fields))
end

local function required(name)
  local v = getenv(name)
  if v == nil or v == "" then error("set " .. name, 0) end
  return v
end

local function number(name, default)
  local v = getenv(name)
  if v == nil or v == "" then return default end
  return tonumber(v) or error(name .. " must be a number", 0)
end

local function build()
  local client = openresty.client{
    client_id = required("QUICKLYSIGN_CLIENT_ID"),
    client_secret = required("QUICKLYSIGN_CLIENT_SECRET"),
    api_key = required("QUICKLYSIGN_API_KEY"),
    base_url = getenv("QUICKLYSIGN_BASE_URL"),
  }
  local pdf_dir = required("QUICKLYSIGN_PDF_DIR")
  local err
  box, err = inbox.open(required("QUICKLYSIGN_INBOX"))
  if not box then error(tostring(err), 0) end

  counters = metrics.new{ dict = ngx.shared.quicklysign_metrics }
  local router = callbacks.router{ token = required("QUICKLYSIGN_CALLBACK_TOKEN"), confirm = client, inbox = box,
    metrics = counters }

  router:on(callbacks.events.FINAL_DOCUMENT_GENERATED, handlers.download_final_pdfs{
    client = client, dir = pdf_dir,
    on_done = function(ev, files)
      for _, f in ipairs(files) do
        record("file", { entity_key = ev.entity_key, name = f.name, path = f.path, bytes = f.bytes,
          attempt = ev.attempt, source = ev.source })
      end
    end,
  })
  router:on_any(function(ev)
    record("event", { event = ev.event, entity_key = ev.entity_key, webhook_key = ev.webhook_key,
      attempt = ev.attempt, source = ev.source })
  end)
  router:on_error(function(e, ev)
    record("error", { reason = e.reason, message = router.scrub(tostring(e)), event = ev and ev.event,
      entity_key = ev and ev.entity_key, attempt = ev and ev.attempt })
  end)

  handler = openresty.handler(router)
  -- 0: this receiver only receives; workers elsewhere (quicklysign worker) do the work
  local concurrency = number("QUICKLYSIGN_WORKER_CONCURRENCY", 4)
  if concurrency == 0 then return end
  runner = openresty.worker{
    inbox = box, router = router,
    concurrency = concurrency,
    lease = number("QUICKLYSIGN_WORKER_LEASE", 120),
    retry_delay = number("QUICKLYSIGN_WORKER_RETRY_DELAY", 5),
    max_attempts = number("QUICKLYSIGN_WORKER_MAX_ATTEMPTS", 25),
    max_retry_delay = number("QUICKLYSIGN_WORKER_MAX_RETRY_DELAY", 3600),
  }
  assert(runner:start())
end

function receiver.init_worker()
  local ok, err = pcall(build)
  if not ok then
    init_error = tostring(err)
    ngx.log(ngx.ERR, "receiver: cannot initialise: ", init_error)
  end
end

function receiver.handle()
  if not handler then   -- not initialised: let the vendor come back later
    ngx.status = 503
    ngx.header["Retry-After"] = "30"
    return ngx.say("unavailable")
  end
  return handler()
end

--- GET /health: 200 {"ok":true} once initialised with a reachable inbox; else 503 and why.
function receiver.health()
  local why = init_error
  if not why then
    local stats, err = box:stats()
    if not stats then why = "the inbox does not answer: " .. tostring(err) end
  end
  if why then
    ngx.status = 503
    return ngx.say(cjson.encode({ ok = false, error = why }))
  end
  ngx.say(cjson.encode({ ok = true, inbox = tostring(box) }))
end

--- GET /stats: the inbox's counts and this nginx worker's job counts.
function receiver.stats()
  local counts, err
  if box then counts, err = box:stats() end
  if not counts then
    ngx.status = 503
    return ngx.say(cjson.encode({ error = tostring(err or init_error) }))
  end
  ngx.say(cjson.encode({ inbox = counts, worker = runner and runner:stats() or cjson.null }))
end

--- GET /metrics: the counters (every nginx worker's) and the inbox's jobs by state.
function receiver.metrics()
  if not counters then
    ngx.status = 503
    return ngx.say("# not initialised")
  end
  ngx.print(counters:render{ inbox = box })
end

--- GET /events: every record, oldest first, as a JSON array.
function receiver.events()
  local dict = ngx.shared.quicklysign_events
  local out = {}
  for i = 1, dict:get("count") or 0 do
    local item = cjson.decode(dict:get("event:" .. i) or "null")
    if item then out[#out + 1] = item end
  end
  ngx.say(#out == 0 and "[]" or cjson.encode(out))
end

return receiver
