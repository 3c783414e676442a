package = "quicklysign"
version = "scm-1"
source = {
  url = "git+https://github.com/quicklysign-lua/quicklysign.git",
}
description = {
  summary = "QuicklySign e-signature webhooks for Lua and OpenResty",
  detailed = [[
    A client for QuicklySign's webhooks and document packs (C core over
    libcurl and lua-cjson), and pure-Lua helpers that receive, verify and
    route QuicklySign's callbacks, in plain Lua or inside OpenResty. The
    `quicklysign` command's `listen` also wants LuaSocket (optional). A durable
    inbox (SQLite, or Redis through lua-resty-redis) makes every callback
    answered 200 get its work done, whatever fails afterwards.
  ]],
  homepage = "https://github.com/quicklysign-lua/quicklysign",
  license = "MIT",
}
-- luasql-sqlite3 is the durable inbox's embedded store (the default). Optional, not
-- declared: lua-resty-redis (the Redis inbox), luasocket (`quicklysign listen`, and the Redis
-- inbox outside nginx).
dependencies = {
  "lua >= 5.1",
  "lua-cjson >= 2.1.0",
  "luasql-sqlite3 >= 2.6.0",
}
-- Only the library is looked up: Debian keeps curl/curl.h in the multiarch
-- include folder, which LuaRocks does not search but the compiler does.
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["quicklysign.core"] = {
      sources = {
        "src/api.c", "src/args.c", "src/attempt.c", "src/buffer.c", "src/class.c", "src/client.c",
        "src/core.c", "src/document_packs.c", "src/download.c", "src/envelope.c", "src/error.c",
        "src/event.c", "src/fs.c", "src/json.c", "src/many.c", "src/options.c", "src/redact.c",
        "src/retry.c", "src/transfer.c", "src/url.c", "src/webhooks.c",
      },
      defines = {},
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl", "pthread" },
    },
    -- @lua-modules (kept in step with lua/ by scripts/check-rock)
    ["quicklysign"] = "lua/quicklysign/init.lua",
    ["quicklysign.callbacks"] = "lua/quicklysign/callbacks.lua",
    ["quicklysign.callbacks.args"] = "lua/quicklysign/callbacks/args.lua",
    ["quicklysign.callbacks.auth"] = "lua/quicklysign/callbacks/auth.lua",
    ["quicklysign.callbacks.confirm"] = "lua/quicklysign/callbacks/confirm.lua",
    ["quicklysign.callbacks.dedupe"] = "lua/quicklysign/callbacks/dedupe.lua",
    ["quicklysign.callbacks.errors"] = "lua/quicklysign/callbacks/errors.lua",
    ["quicklysign.callbacks.events"] = "lua/quicklysign/callbacks/events.lua",
    ["quicklysign.callbacks.host"] = "lua/quicklysign/callbacks/host.lua",
    ["quicklysign.callbacks.json"] = "lua/quicklysign/callbacks/json.lua",
    ["quicklysign.callbacks.log"] = "lua/quicklysign/callbacks/log.lua",
    ["quicklysign.callbacks.parse"] = "lua/quicklysign/callbacks/parse.lua",
    ["quicklysign.callbacks.router"] = "lua/quicklysign/callbacks/router.lua",
    ["quicklysign.callbacks.ttl_cache"] = "lua/quicklysign/callbacks/ttl_cache.lua",
    ["quicklysign.callbacks.url"] = "lua/quicklysign/callbacks/url.lua",
    ["quicklysign.openresty"] = "lua/quicklysign/openresty.lua",
    ["quicklysign.openresty.client_thread"] = "lua/quicklysign/openresty/client_thread.lua",
    ["quicklysign.openresty.inbox"] = "lua/quicklysign/openresty/inbox.lua",
    ["quicklysign.openresty.inbox_thread"] = "lua/quicklysign/openresty/inbox_thread.lua",
    ["quicklysign.openresty.jobs"] = "lua/quicklysign/openresty/jobs.lua",
    ["quicklysign.openresty.thread_vm"] = "lua/quicklysign/openresty/thread_vm.lua",
    ["quicklysign.openresty.threads"] = "lua/quicklysign/openresty/threads.lua",
    ["quicklysign.handlers"] = "lua/quicklysign/handlers.lua",
    ["quicklysign.metrics"] = "lua/quicklysign/metrics.lua",
    ["quicklysign.inbox"] = "lua/quicklysign/inbox.lua",
    ["quicklysign.inbox.box"] = "lua/quicklysign/inbox/box.lua",
    ["quicklysign.inbox.json"] = "lua/quicklysign/inbox/json.lua",
    ["quicklysign.inbox.reconcile"] = "lua/quicklysign/inbox/reconcile.lua",
    ["quicklysign.inbox.redis"] = "lua/quicklysign/inbox/redis.lua",
    ["quicklysign.inbox.redis_client"] = "lua/quicklysign/inbox/redis_client.lua",
    ["quicklysign.inbox.redis_scripts"] = "lua/quicklysign/inbox/redis_scripts.lua",
    ["quicklysign.inbox.sqlite"] = "lua/quicklysign/inbox/sqlite.lua",
    ["quicklysign.inbox.url"] = "lua/quicklysign/inbox/url.lua",
    ["quicklysign.inbox.worker"] = "lua/quicklysign/inbox/worker.lua",
    ["quicklysign.cli"] = "lua/quicklysign/cli.lua",
    ["quicklysign.cli.args"] = "lua/quicklysign/cli/args.lua",
    ["quicklysign.cli.commands"] = "lua/quicklysign/cli/commands.lua",
    ["quicklysign.cli.completion"] = "lua/quicklysign/cli/completion.lua",
    ["quicklysign.cli.config"] = "lua/quicklysign/cli/config.lua",
    ["quicklysign.cli.context"] = "lua/quicklysign/cli/context.lua",
    ["quicklysign.cli.doctor"] = "lua/quicklysign/cli/doctor.lua",
    ["quicklysign.cli.help"] = "lua/quicklysign/cli/help.lua",
    ["quicklysign.cli.http_client"] = "lua/quicklysign/cli/http_client.lua",
    ["quicklysign.cli.http_server"] = "lua/quicklysign/cli/http_server.lua",
    ["quicklysign.cli.inbox"] = "lua/quicklysign/cli/inbox.lua",
    ["quicklysign.cli.info"] = "lua/quicklysign/cli/info.lua",
    ["quicklysign.cli.json"] = "lua/quicklysign/cli/json.lua",
    ["quicklysign.cli.listen"] = "lua/quicklysign/cli/listen.lua",
    ["quicklysign.cli.loop"] = "lua/quicklysign/cli/loop.lua",
    ["quicklysign.cli.output"] = "lua/quicklysign/cli/output.lua",
    ["quicklysign.cli.packs"] = "lua/quicklysign/cli/packs.lua",
    ["quicklysign.cli.progress"] = "lua/quicklysign/cli/progress.lua",
    ["quicklysign.cli.status"] = "lua/quicklysign/cli/status.lua",
    ["quicklysign.suggest"] = "lua/quicklysign/suggest.lua",
    ["quicklysign.cli.terminal"] = "lua/quicklysign/cli/terminal.lua",
    ["quicklysign.cli.trigger"] = "lua/quicklysign/cli/trigger.lua",
    ["quicklysign.cli.webhooks"] = "lua/quicklysign/cli/webhooks.lua",
    -- @end
  },
  install = {
    bin = { quicklysign = "bin/quicklysign" },
    -- shell completion: <tree>/lib/luarocks/rocks-<v>/quicklysign/<version>/conf/
    conf = {
      ["quicklysign.bash"] = "completions/quicklysign.bash",
      ["_quicklysign"] = "completions/_quicklysign",
    },
  },
}
