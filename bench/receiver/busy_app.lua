--- The receiver of benchmark 8 (busy.nginx.conf.template): the example receiver's shape. A
-- callback is verified (token, then confirmed against the API: a webhooks:get in the thread
-- pool), stored in a SQLite inbox (thread pool), answered 200; workers in timers download a
-- pack's final PDFs on final_document_generated.
local callbacks = require "quicklysign.callbacks"
local handlers = require "quicklysign.handlers"
local inbox = require "quicklysign.inbox"
local openresty = require "quicklysign.openresty"
local cjson = require "cjson.safe"

local ngx = ngx -- luacheck: ignore
local getenv = os.getenv

local app = {}

local TOKEN = "bench-callback-token-0123456789abcdef"
local handler, runner, downloads = nil, nil, 0

function app.init_worker()
  local settings = getenv("QS_BENCH_SHARED_POOL") == "1" and { download_thread_pool = "quicklysign" } or nil
  local client = openresty.client({ client_id = "qs_test_client_id", client_secret = "qs_test_client_secret",
    api_key = "qs_test_api_key", base_url = getenv("QS_BENCH_BASE_URL"), download_timeout = 120 }, settings)
  local box = assert(inbox.open(getenv("QS_BENCH_INBOX")))
  local router = callbacks.router{ token = TOKEN, confirm = client, inbox = box, log = false }
  local download = handlers.download_final_pdfs{ client = client, dir = getenv("QS_BENCH_PDF_DIR") }
  router:on(callbacks.events.FINAL_DOCUMENT_GENERATED, function(ev)
    downloads = downloads + 1
    local ok, err = download(ev)
    downloads = downloads - 1
    return ok, err
  end)
  handler = openresty.handler(router)
  runner = openresty.worker{ inbox = box, router = router, concurrency = 4, lease = 300 }
  assert(runner:start())
end

function app.handle() return handler() end

--- GET /stats: the thread calls in flight and the downloads under way.
function app.stats()
  local s = openresty.threads.stats()
  s.downloads = downloads
  s.jobs = runner:stats()
  ngx.say(cjson.encode(s))
end

return app
