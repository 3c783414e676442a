--- The durable inbox: a callback answered 200 is never lost. `require "quicklysign.inbox"`.
--
-- The receiving path becomes verify, store durably, answer 200; workers then do the work, at
-- least once, until it succeeds or is parked as dead for a person.
--
--     local box = assert(inbox.open("sqlite:///var/lib/app/quicklysign.db"))   -- or redis://host:port/db
--     local router = callbacks.router{ token = TOKEN, inbox = box }
--     inbox.worker{ inbox = box, router = router }:run()
--
-- Errors (`nil, err`) have kind `"inbox"` and the reasons `bad_url`, `unavailable` (the store
-- cannot be reached or opened), `store_error` (it refused a command), `lease_lost` (another
-- worker took the job over), `closed`, `no_such_job`, `bad_job` (a stored callback no longer
-- parses). Each job lives in inbox/: url.lua, box.lua, sqlite.lua, redis.lua,
-- redis_scripts.lua, redis_client.lua, worker.lua, reconcile.lua, json.lua.
-- @module quicklysign.inbox
-- @see quicklysign.callbacks
local args = require "quicklysign.callbacks.args"
local box = require "quicklysign.inbox.box"
local errors = require "quicklysign.callbacks.errors"
local url = require "quicklysign.inbox.url"

local type, tonumber, pairs, rawget = type, tonumber, pairs, rawget

local inbox = {
  DEFAULT_KEEP_DONE = 30 * 24 * 3600,   -- seconds a done job (and its once key) is remembered
}

local OPTIONS = {
  keep_done = "number", busy_timeout = "number", synchronous = "string", prefix = "string",
  timeout = "number", pool_size = "number",
}

-- The store spec: the URL's parts, its query options, then the caller's options.
local function spec_of(parsed, opts)
  local spec = {}
  for k, v in pairs(parsed) do spec[k] = v end
  for k, v in pairs(parsed.options) do
    if not OPTIONS[k] then return nil, "unknown inbox URL option '" .. k .. "'" end
    spec[k] = OPTIONS[k] == "number" and tonumber(v) or v
    if spec[k] == nil then return nil, "inbox URL option '" .. k .. "' must be a number" end
  end
  for k, v in pairs(opts) do spec[k] = v end
  spec.options = nil
  if spec.keep_done == nil then spec.keep_done = inbox.DEFAULT_KEEP_DONE end
  return spec
end

local function in_nginx_main_vm()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.run_worker_thread) == "function"
end

--- Opens an inbox. Inside nginx the box never blocks the event loop: SQLite runs in the thread
-- pool, Redis on cosockets, and pushes that arrive together are written together.
-- @tparam string text `"sqlite:///path/file.db"` (one machine; no server),
-- `"sqlite://relative.db"`, or `"redis://[:password@]host[:port][/db]"` (many machines); a
-- query string may carry the options
-- @tparam[opt] table opts `keep_done` (seconds a done job and its once key are kept, 30 days),
-- `synchronous` (SQLite: `"full"`, the default, or `"normal"`), `busy_timeout` (SQLite, ms),
-- `prefix` (Redis keys, `"quicklysign:inbox:"`), `timeout` (Redis, ms), `pool_size` (nginx's
-- Redis connections), `thread_pool` (nginx's, for SQLite: `"quicklysign"`)
-- @treturn box
-- @treturn[2] nil
-- @treturn[2] table an error, kind `"inbox"`
-- @raise `bad argument #2 to 'open' (...)` for an unknown option or a bad value
function inbox.open(text, opts)
  args.check(text, "string", 1, "open")
  if opts == nil then opts = {} end
  args.check(opts, "table", 2, "open")
  for k, v in pairs(opts) do
    if not OPTIONS[k] then args.fail(2, "open", "unknown option '" .. tostring(k) .. "'") end
    args.option(type(v) == OPTIONS[k], 2, "open", k, "must be a " .. OPTIONS[k])
  end
  args.option(opts.synchronous == nil or opts.synchronous == "full" or opts.synchronous == "normal", 2,
    "open", "synchronous", "must be \"full\" or \"normal\"")
  local parsed, why = url.parse(text)
  if not parsed then
    return nil, errors.new("inbox", "bad_url", "inbox URL " .. url.redact(text) .. ": " .. why)
  end
  local spec, spec_err = spec_of(parsed, opts)
  if not spec then
    return nil, errors.new("inbox", "bad_url", "inbox URL " .. url.redact(text) .. ": " .. spec_err)
  end
  local store, err
  if in_nginx_main_vm() then
    store, err = require("quicklysign.openresty.inbox").open(spec, text)
  elseif spec.backend == "sqlite" then
    store, err = require("quicklysign.inbox.sqlite").open(spec)
  else
    store, err = require("quicklysign.inbox.redis").open(spec)
  end
  if not store then return nil, err end
  return box.new(store, text)
end

--- Makes a worker for plain Lua (one job at a time; in nginx use `quicklysign.openresty.worker`).
-- @tparam table opts `inbox` (a box), `router` (its handlers), `lease` (120 s), `max_attempts`
-- (25), `retry_delay` (5 s, doubling), `max_retry_delay` (3600 s), `poll_interval` (1 s), `id`,
-- `log`; `concurrency` must be 1 outside nginx (run more processes for more)
-- @treturn worker
function inbox.worker(opts)
  return require("quicklysign.inbox.worker").new(opts)
end

--- Checks each subscribed pack with the API and queues a `final_document_generated` (with
-- `ev.source = "reconcile"`) for every complete one whose final work is neither done nor
-- underway. A webhook is a hint: run this from a timer or cron.
-- @tparam table opts `client`, `inbox`, and optionally `entity_keys` (default: the entities of
-- `client.webhooks:list{}`), `router` (its once keys), `max_packs` (1000 a call)
-- @treturn table the report: `checked`, `pushed`, `done`, `underway`, `incomplete`, `failed`
-- (`{ [key] = err }`), `stopped` (`"rate_limited"` or `"max_packs"` when it ended early)
-- @treturn[2] nil
-- @treturn[2] table the error of the webhook list or of the inbox
function inbox.reconcile(opts)
  return require("quicklysign.inbox.reconcile").run(opts)
end

--- Whether a value is a box made by `open`.
-- @function is
-- @param value
-- @treturn boolean
inbox.is = box.is

--- A stored-callbacks queue, made by `open`. Misuse raises; failures return `nil, err`.
-- @type box

--- Stores an event durably.
-- @function box:push
-- @tparam table ev an event (from `quicklysign.callbacks.parse` or `router:verify`)
-- @tparam[opt] table opts `once_key` (a one-shot event: stored once; a repeat answers
-- `"duplicate"`, runs a job waiting for its retry now, and puts a dead one back), `body` (the
-- bytes received), `source` (`"callback"`, `"reconcile"`)
-- @treturn string the job's id
-- @treturn string `"queued"` or `"duplicate"`
-- @treturn ?string for a duplicate, the stored job's state

--- Stores many events in one write: `{ {ev, opts}, ... }`.
-- @function box:push_many
-- @tparam table list
-- @treturn table `{ {id =, state =, was =}, ... }`

--- Leases up to n due jobs to `owner` for `lease` seconds (what workers do).
-- @function box:lease
-- @tparam string owner
-- @tparam number n
-- @tparam number lease seconds
-- @tparam number max_attempts a job whose lease expired after its last allowed attempt is dead
-- @treturn table jobs: `id`, `body`, `event`, `entity_key`, `source`, `attempts`, `token`, ...

--- Records a leased job done.
-- @function box:complete
-- @tparam table job
-- @treturn boolean true (or `nil, err`, reason `lease_lost`)

--- Records a failure: a retry after `delay` seconds, or dead now when delay is nil.
-- @function box:fail
-- @tparam table job
-- @tparam string message
-- @tparam[opt] number delay
-- @treturn string `"retrying"` or `"dead"`

--- Keeps a long job's lease for `lease` more seconds.
-- @function box:extend
-- @tparam table job
-- @tparam number lease
-- @treturn boolean true

--- Gives a job back at once, its attempt not counted (an interrupted worker).
-- @function box:release
-- @tparam table job
-- @treturn boolean true

--- Counts jobs as a worker sees them: a job due for its retry, or whose worker died, is queued.
-- @function box:stats
-- @treturn table `{ queued, running, retrying, dead, done }`

--- The dead jobs, oldest failure first, with their `last_error`.
-- @function box:dead
-- @tparam[opt] number limit 1000
-- @treturn table jobs

--- One job, or nil when there is none.
-- @function box:get
-- @tparam string id
-- @treturn ?table

--- Puts dead jobs back in the queue, their attempts reset.
-- @function box:retry
-- @tparam string id a job's id, or `"all"`
-- @treturn number how many

--- Puts a done or dead job back in the queue, its attempts reset: its handlers run again
-- (`quicklysign events resend`).
-- @function box:replay
-- @tparam string id
-- @treturn boolean false when no done or dead job has that id

--- Deletes a dead job for good.
-- @function box:drop
-- @tparam string id
-- @treturn boolean false when no dead job has that id

--- The state of the job stored under a once key, or nil.
-- @function box:once_state
-- @tparam string key
-- @treturn ?string

--- Closes the store's connection; idempotent.
-- @function box:close

--- A plain-Lua worker, made by `worker`.
-- @type worker

--- Runs jobs until `worker:stop()`, or with `until_idle` until none is due, or `max_jobs` jobs.
-- @function worker:run
-- @tparam[opt] table opts `until_idle`, `max_jobs`
-- @treturn table counts `{ done, retried, dead, lost }`

--- Leases and runs one round of jobs.
-- @function worker:run_once
-- @treturn number how many ran

--- Ends `run` after the job under way.
-- @function worker:stop

return inbox
