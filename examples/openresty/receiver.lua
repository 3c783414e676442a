--- The example receiver behind examples/openresty/nginx.conf: verifies each
-- QuicklySign callback (token in the URL, then confirmation against the API),
-- answers at once, and on final_document_generated downloads the pack's final
-- PDFs into $QUICKLYSIGN_PDF_DIR/<pack key>/. The C client's calls run in
-- nginx's thread pool through quicklysign.openresty.client.
local callbacks = require "quicklysign.callbacks"
local openresty = require "quicklysign.openresty"
local cjson = require "cjson.safe"

local ngx = ngx -- luacheck: ignore
local getenv, assert, ipairs, tostring = os.getenv, assert, ipairs, tostring

local receiver = {}

local handler

-- Appends one record to the events dict (for GET /events).
local function record(kind, fields)
  local dict = ngx.shared.quicklysign_events
  local n = dict:incr("count", 1, 0)
  fields.kind = kind
  fields.at = ngx.now()
  dict:set("event:" .. n, cjson.encode(fields))
end

local function build_router()
  local client = openresty.client{
    client_id = getenv("QUICKLYSIGN_CLIENT_ID"),
    client_secret = getenv("QUICKLYSIGN_CLIENT_SECRET"),
    api_key = getenv("QUICKLYSIGN_API_KEY"),
    base_url = getenv("QUICKLYSIGN_BASE_URL"),
  }
  local pdf_dir = assert(getenv("QUICKLYSIGN_PDF_DIR"), "set QUICKLYSIGN_PDF_DIR")

  local router = callbacks.router{
    token = getenv("QUICKLYSIGN_CALLBACK_TOKEN"),
    confirm = client,
    dedupe = callbacks.dedupe{ store = callbacks.dedupe.ngx_shared_store(ngx.shared.quicklysign_dedupe) },
  }

  router:on(callbacks.events.FINAL_DOCUMENT_GENERATED, function(ev)
    -- keys are URL-safe; anything else would be a path trick: refuse it
    if not ev.entity_key:find("^[%w_-]+$") then return nil, "odd entity_key" end
    local files, err = client.document_packs:download(ev.entity_key, pdf_dir .. "/" .. ev.entity_key)
    if not files then return nil, err end
    for _, f in ipairs(files) do
      record("file", { entity_key = ev.entity_key, name = f.name, path = f.path, bytes = f.bytes })
    end
    return true
  end)

  router:on_any(function(ev)
    record("event", { event = ev.event, entity_key = ev.entity_key, webhook_key = ev.webhook_key })
  end)

  router:on_error(function(err, ev)
    record("error", { reason = err.reason, message = tostring(err), event = ev and ev.event })
  end)

  return router
end

function receiver.init_worker()
  handler = openresty.handler(build_router())
end

function receiver.handle()
  return handler()
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
