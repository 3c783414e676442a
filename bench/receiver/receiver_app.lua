-- luacheck: globals ngx
--- The receiver under test in benchmark 5: a callbacks router with a token and an empty handler,
-- served by quicklysign.openresty.handler (loaded once per nginx worker); and `micro`, which
-- times the parts of that path inside the worker against cjson.decode of the same body.
local openresty = require "quicklysign.openresty"
local inbox = require "quicklysign.inbox"
local cjson = require "cjson"

local TOKEN = "bench-callback-token-0123456789abcdef"   -- bench/receiver/post.lua sends it

local router = openresty.callbacks.router{ token = TOKEN }
router:on("document_status_changed", function() end)

local app = {
  TOKEN = TOKEN,
  ours = openresty.handler(router),   -- no inbox: the (empty) handlers run, then the answer
}

-- With an inbox: each callback stored (SQLite in the thread pool, or Redis on cosockets), then
-- answered. The inboxes are opened in each worker on first use.
local handlers = {}
local function with_inbox(name, url_var)
  return function()
    local h = handlers[name]
    if not h then
      local box = assert(inbox.open((assert(os.getenv(url_var), url_var .. " is not set"))))
      local r = openresty.callbacks.router{ token = TOKEN, inbox = box }
      h = openresty.handler(r)
      handlers[name] = h
    end
    return h()
  end
end
app.ours_sqlite = with_inbox("sqlite", "QS_BENCH_INBOX_SQLITE")
app.ours_redis = with_inbox("redis", "QS_BENCH_INBOX_REDIS")

--- GET-less POST /micro?token=..&rounds=R&m=M with the callback body: R interleaved rounds of
-- M calls of each part; prints "round decode=<s> verify=<s> request=<s>" (CPU s).
function app.micro()
  ngx.req.read_body()
  local args = ngx.req.get_uri_args(100)
  local rounds, m = tonumber(args.rounds), tonumber(args.m)
  local body = ngx.req.get_body_data()
  local request = { method = "POST", headers = ngx.req.get_headers(100), query = args, body = body }
  local decode = cjson.decode
  local parts = {
    decode = function(n) for _ = 1, n do decode(body) end end,
    verify = function(n)
      for _ = 1, n do
        if not router:verify(request) then error("verify failed") end
      end
    end,
    -- what the handler reads from nginx before verifying (openresty.lua's handler)
    request = function(n)
      for _ = 1, n do
        local r = { method = ngx.req.get_method(), headers = ngx.req.get_headers(100),
                    query = ngx.req.get_uri_args(100) }
        if not r.headers then error("no headers") end
      end
    end,
  }
  local names = { "decode", "verify", "request" }
  for _, name in ipairs(names) do parts[name](m); ngx.sleep(0.01) end   -- warm-up
  local out = {}
  for r = 1, rounds do
    local t = {}
    for j = 0, #names - 1 do
      local name = names[(r - 1 + j) % #names + 1]
      local c = os.clock()
      parts[name](m)
      t[name] = os.clock() - c
      ngx.sleep(0.01)   -- let the timers run, outside the timed block
    end
    out[#out + 1] = string.format("%d decode=%.9f verify=%.9f request=%.9f", r, t.decode, t.verify, t.request)
  end
  ngx.say(table.concat(out, "\n"))
end

return app
