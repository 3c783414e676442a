-- An inbox: the durable queue between the callback receiver and the workers. Wraps one store
-- (sqlite.lua or redis.lua, or their nginx forms in openresty/inbox.lua) with the checks and
-- the shapes users see. Every method returns its result, or nil and an error (kind "inbox",
-- reason "unavailable" | "store_error" | "lease_lost" | "closed"); misuse raises.
local args = require "quicklysign.callbacks.args"
local json = require "quicklysign.inbox.json"
local url = require "quicklysign.inbox.url"

local type, tostring, setmetatable, getmetatable, ipairs = type, tostring, setmetatable, getmetatable, ipairs

local box = {}

local Box = {}
Box.__index = Box
Box.__tostring = function(self) return "quicklysign.inbox " .. self.url end

--- box.new(store, url_text) --> box
function box.new(store, url_text)
  return setmetatable({ store = store, url = url.redact(url_text), backend = store.backend }, Box)
end

function box.is(value)
  return getmetatable(value) == Box
end

local function item_of(ev, opts, fname)
  args.check(ev, "table", 1, fname, 2)
  if type(ev.event) ~= "string" or type(ev.entity_key) ~= "string" then
    args.fail(1, fname, "an event (from callbacks.parse or router:verify) expected", 2)
  end
  opts = opts or {}
  args.check(opts, "table", 2, fname, 2)
  local once = opts.once_key
  args.option(once == nil or (type(once) == "string" and once ~= ""), 2, fname, "once_key",
    "must be a non-empty string", 2)
  local body = opts.body or json.encode(ev.raw or { callback_event = ev.event, entity_key = ev.entity_key,
    entity_type = ev.entity_type, webhook_key = ev.webhook_key })
  return { body = body, event = ev.event, entity_key = ev.entity_key, once_key = once,
    source = opts.source or ev.source or "callback" }
end

--- box:push(ev [, opts]) --> id, state | nil, err
-- Stores the event durably. opts: once_key (a one-shot event: stored once; a repeat answers
-- state "duplicate" with the stored job's id), body (the callback's bytes, kept as received),
-- source ("callback", "reconcile", ...). state: "queued" or "duplicate".
function Box:push(ev, opts)
  local results, err = self.store:push_many({ item_of(ev, opts, "push") })
  if not results then return nil, err end
  return results[1].id, results[1].state, results[1].was
end

--- box:push_many({ {ev, opts}, ... }) --> { {id=, state=, was=}, ... } | nil, err: one write for all.
function Box:push_many(list)
  args.check(list, "table", 1, "push_many")
  local items = {}
  for i, pair in ipairs(list) do items[i] = item_of(pair[1], pair[2], "push_many") end
  return self.store:push_many(items)
end

local function positive(v) return type(v) == "number" and v > 0 and v == v and v < math.huge end

--- box:lease(owner, n, lease, max_attempts) --> { job, ... } | nil, err  (for workers)
function Box:lease(owner, n, lease, max_attempts)
  args.check(owner, "string", 1, "lease")
  args.option(positive(n) and n % 1 == 0, 2, "lease", "n", "must be a positive integer")
  args.option(positive(lease), 3, "lease", "lease", "must be a positive number of seconds")
  args.option(positive(max_attempts) and max_attempts % 1 == 0, 4, "lease", "max_attempts",
    "must be a positive integer")
  return self.store:lease(owner, n, lease, max_attempts)
end

local function check_job(job, fname)
  if type(job) ~= "table" or job.id == nil then args.fail(1, fname, "a job from box:lease expected", 2) end
end

function Box:complete(job) check_job(job, "complete"); return self.store:complete(job) end
function Box:release(job) check_job(job, "release"); return self.store:release(job) end

function Box:fail(job, message, delay)
  check_job(job, "fail")
  args.option(delay == nil or (type(delay) == "number" and delay >= 0), 3, "fail", "delay",
    "must be nil (dead now) or seconds >= 0")
  return self.store:fail(job, tostring(message), delay)
end

function Box:extend(job, lease)
  check_job(job, "extend")
  args.option(positive(lease), 2, "extend", "lease", "must be a positive number of seconds")
  return self.store:extend(job, lease)
end

--- box:stats() --> { queued, running, retrying, dead, done } | nil, err
function Box:stats() return self.store:stats() end

--- box:dead([limit]) --> { { id, event, entity_key, attempts, last_error, ... }, ... } | nil, err
function Box:dead(limit)
  args.option(limit == nil or (positive(limit) and limit % 1 == 0), 1, "dead", "limit",
    "must be a positive integer")
  return self.store:dead(limit)
end

--- box:get(id) --> job | nil (none) | nil, err
function Box:get(id)
  args.option(type(id) == "string" or type(id) == "number", 1, "get", "id", "must be a job id")
  return self.store:get(id)
end

--- box:retry(id | "all") --> how many dead jobs went back to the queue | nil, err
function Box:retry(which)
  args.option(type(which) == "string" or type(which) == "number", 1, "retry", "id",
    "must be a job id or \"all\"")
  return self.store:retry(which)
end

--- box:drop(id) --> true | false (no dead job with that id) | nil, err
function Box:drop(id)
  args.option(type(id) == "string" or type(id) == "number", 1, "drop", "id", "must be a job id")
  return self.store:drop(id)
end

--- box:replay(id) --> true (a done or dead job back in the queue, attempts reset) | false | nil, err
-- (quicklysign events resend: run a stored callback's handlers again)
function Box:replay(id)
  args.option(type(id) == "string" or type(id) == "number", 1, "replay", "id", "must be a job id")
  return self.store:replay(id)
end

--- box:once_state(key) --> the state of the job stored under a once key, or nil | nil, err
function Box:once_state(key)
  args.check(key, "string", 1, "once_state")
  return self.store:once_state(key)
end

--- box:close(): idempotent
function Box:close() return self.store:close() end

Box.__close = function(self) self:close() end

return box
