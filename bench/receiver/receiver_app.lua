--- The receiver under test in benchmark 5: a callbacks router with a token and an empty handler,
-- served by quicklysign.openresty.handler (loaded once per nginx worker).
local openresty = require "quicklysign.openresty"

local TOKEN = "bench-callback-token-0123456789abcdef"   -- bench/receiver/post.lua sends it

local router = openresty.callbacks.router{ token = TOKEN }
router:on("document_status_changed", function() end)

return {
  TOKEN = TOKEN,
  first = openresty.handler(router),                      -- answers, then handlers in a timer
  after = openresty.handler(router, { respond = "after" }), -- handlers, then the answer
}
