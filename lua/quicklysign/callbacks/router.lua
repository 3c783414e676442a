-- The callback endpoint: takes a plain request table from any server, checks it layer by layer,
-- then either stores it in the inbox or runs the handlers, and says what to answer. Never raises
-- from handle/verify/accept/dispatch/process. A 200 means the work is done or durably stored:
--
--   request -> method -> token -> content type/size -> parse -> allow -> confirm   (verify)
--     with an inbox:    -> once key -> inbox:push -> 200 (503 if the push failed)   (accept)
--                       ... a worker later: handlers -> done, retry or dead         (process)
--     without one:      -> dedupe claim -> handlers -> commit/release              (dispatch)
--                       -> 200 only when every handler succeeded, else 500 (the vendor retries)
local args = require "quicklysign.callbacks.args"
local auth = require "quicklysign.callbacks.auth"
local confirm = require "quicklysign.callbacks.confirm"
local dedupe = require "quicklysign.callbacks.dedupe"
local errors = require "quicklysign.callbacks.errors"
local events = require "quicklysign.callbacks.events"
local suggest = require "quicklysign.suggest"
local host = require "quicklysign.callbacks.host"
local log = require "quicklysign.callbacks.log"
local parse = require "quicklysign.callbacks.parse"
local url = require "quicklysign.callbacks.url"

local type, pairs, ipairs, pcall, tostring, tonumber, setmetatable =
  type, pairs, ipairs, pcall, tostring, tonumber, setmetatable
local lower, format = string.lower, string.format

local router = {}

-- What each status says. Bodies are short and never tell why a request was refused: that goes
-- to the log and the on_error hooks only.
local BODIES = {
  [200] = "ok",
  [400] = "bad request",
  [403] = "forbidden",
  [405] = "method not allowed",
  [413] = "payload too large",
  [415] = "unsupported media type",
  [500] = "internal error",
  [503] = "unavailable",
}

local function answer(status, body, extra_headers)
  local headers = { ["Content-Type"] = "text/plain; charset=utf-8" }
  if extra_headers then
    for k, v in pairs(extra_headers) do headers[k] = v end
  end
  return status, body or BODIES[status], headers
end

local PARSE_STATUS = { content_type = 415, too_large = 413 } -- other parse reasons: 400

---------------------------------------------------------------------------------------------
-- construction

local Router = {}
Router.__index = Router

local KNOWN = {
  token = true, token_param = true, allow = true,
  confirm = true, confirm_ttl = true, confirm_negative_ttl = true, confirm_cache_size = true,
  dedupe = true, retry_on_handler_error = true, max_body = true, max_depth = true,
  log = true, now = true, inbox = true, strict = true, metrics = true,
}

local function check_tokens(token)
  local given = type(token) == "table" and token or { token }
  local list, ok = {}, #given > 0
  for i, t in ipairs(given) do -- copied: a later change to the caller's table is not checked
    if type(t) ~= "string" or #t < url.MIN_TOKEN_LENGTH then ok = false end
    list[i] = t
  end
  args.option(ok, 1, "router", "token", format(
    "must be a string (or an array of strings) of at least %d characters", url.MIN_TOKEN_LENGTH), 2)
  return list
end

local function positive_integer(v)
  return args.positive_number(v) and v % 1 == 0
end

-- router.new(opts): see the option list in KNOWN and the README.
function router.new(opts)
  if opts == nil then opts = {} end
  args.check(opts, "table", 1, "router")
  args.known_options(opts, KNOWN, 1, "router")
  local self = setmetatable({
    handlers = {}, any_handlers = {}, error_hooks = {},
    max_body = parse.DEFAULT_MAX_BODY,
  }, Router)

  if opts.token ~= nil then
    self.tokens = check_tokens(opts.token)
    self.token_bytes = auth.prepare_tokens(self.tokens)
  end
  self.token_param = opts.token_param or url.DEFAULT_TOKEN_PARAM
  args.option(type(self.token_param) == "string" and self.token_param ~= "", 1, "router",
    "token_param", "must be a non-empty string")

  if opts.allow ~= nil then
    local allow, why = auth.compile_allow(opts.allow)
    args.option(allow ~= nil, 1, "router", "allow", why or "")
    self.allow = allow
  end

  local now = opts.now or host.now
  args.option(args.is_callable(now), 1, "router", "now", "must be a function")
  for _, name in ipairs({ "confirm_ttl", "confirm_negative_ttl" }) do
    local v = opts[name]
    args.option(v == nil or (type(v) == "number" and v >= 0), 1, "router", name,
      "must be a number of seconds >= 0")
  end
  args.option(opts.confirm_cache_size == nil or positive_integer(opts.confirm_cache_size), 1,
    "router", "confirm_cache_size", "must be a positive integer")
  if opts.confirm ~= nil then
    args.option(args.is_callable(opts.confirm) or confirm.is_client(opts.confirm), 1, "router",
      "confirm", "must be a client (with webhooks:get) or a function(ev)")
    local check = opts.confirm
    if type(check) ~= "function" and args.is_callable(check) and not confirm.is_client(check) then
      check = function(ev) return opts.confirm(ev) end
    end
    self.confirmer = confirm.new(check, {
      ttl = opts.confirm_ttl, negative_ttl = opts.confirm_negative_ttl,
      cache_size = opts.confirm_cache_size, now = now,
    })
  end

  if opts.inbox ~= nil then
    args.option(type(opts.inbox) == "table" and type(opts.inbox.push) == "function", 1, "router",
      "inbox", "must be an inbox made by quicklysign.inbox.open")
    self.inbox = opts.inbox
    -- The inbox keeps the once keys: dedupe only chooses them (true: the default key).
    args.option(opts.dedupe == nil or type(opts.dedupe) == "boolean" or dedupe.is(opts.dedupe), 1, "router",
      "dedupe", "must be true, false or an object made by callbacks.dedupe{...}")
    if opts.dedupe ~= false then
      self.once = dedupe.is(opts.dedupe) and opts.dedupe or dedupe.new{}
    end
  elseif opts.dedupe == true then
    self.dedupe = dedupe.new{ now = opts.now }
  elseif opts.dedupe ~= nil and opts.dedupe ~= false then
    args.option(dedupe.is(opts.dedupe), 1, "router", "dedupe",
      "must be true or an object made by callbacks.dedupe{...}")
    self.dedupe = opts.dedupe
  end

  -- A failed handler always answers 500 now (a 200 would lose the work): only true is accepted.
  args.option(opts.retry_on_handler_error == nil or opts.retry_on_handler_error == true, 1, "router",
    "retry_on_handler_error", "can only be true: a failed handler always answers 500, so that the "
    .. "vendor retries (a 200 would lose the work); give the router an inbox to answer at once")

  if opts.max_body ~= nil then
    args.option(positive_integer(opts.max_body), 1, "router", "max_body",
      "must be a positive integer (bytes)")
    self.max_body = opts.max_body
  end
  if opts.max_depth ~= nil then
    args.option(positive_integer(opts.max_depth), 1, "router", "max_depth",
      "must be a positive integer")
    self.max_depth = opts.max_depth
  end

  self.scrub = log.scrubber(self.tokens, self.token_param)   -- also for messages kept elsewhere
  if opts.log == false then
    self.log = function() end
  else
    local sink = opts.log or host.log
    args.option(args.is_callable(sink), 1, "router", "log", "must be a function or false")
    self.log = log.writer(sink, self.scrub)
  end

  args.option(opts.metrics == nil or (type(opts.metrics) == "table" and type(opts.metrics.inc) == "function"), 1,
    "router", "metrics", "must be counters made by quicklysign.metrics.new")
  self.metrics = opts.metrics
  args.option(opts.strict == nil or type(opts.strict) == "boolean", 1, "router", "strict", "must be a boolean")
  self.strict = opts.strict == true
  self.unguarded = not (self.tokens or self.allow or self.confirmer)
  return self
end

---------------------------------------------------------------------------------------------
-- registration

-- router:on(event, fn): fn(ev) runs for callbacks of that event, in registration order.
function Router:on(event, fn)
  args.check(event, "string", 1, "on")
  if event == "" then args.fail(1, "on", "non-empty string expected") end
  args.check(fn, "callable", 2, "on")
  if not events.is_known(event) then   -- a typo would register a handler nothing ever calls
    local close = suggest.closest(event, events.list())[1]
    local why = format("'%s' is not an event quicklysign knows%s (callbacks.events.list() has them)", event,
      close and format("; did you mean '%s'?", close) or "")
    if self.strict then args.fail(1, "on", why) end
    self.warned = self.warned or {}
    if not self.warned[event] then
      self.warned[event] = true
      self:_log("warn", "quicklysign.callbacks router:on(" .. why .. "): registered all the same")
    end
  end
  local list = self.handlers[event]
  if not list then
    list = {}
    self.handlers[event] = list
  end
  list[#list + 1] = fn
  return self
end

-- router:on_any(fn): fn(ev) runs for every accepted callback, after the event's own handlers.
function Router:on_any(fn)
  args.check(fn, "callable", 1, "on_any")
  self.any_handlers[#self.any_handlers + 1] = fn
  return self
end

-- router:on_error(fn): fn(err, ev) hears every refusal and failure, with the reason; ev is nil
-- when the body could not be parsed.
function Router:on_error(fn)
  args.check(fn, "callable", 1, "on_error")
  self.error_hooks[#self.error_hooks + 1] = fn
  return self
end

---------------------------------------------------------------------------------------------
-- reporting

function Router:_log(level, msg)
  pcall(self.log, level, msg)
end

-- Tells the log and every on_error hook; a failing hook is logged, never raised.
function Router:_report(level, err, ev)
  local where = ev and format(" [%s %s]", tostring(ev.event), tostring(ev.entity_key)) or ""
  self:_log(level, tostring(err) .. where)
  for _, hook in ipairs(self.error_hooks) do
    local ok, hook_err = pcall(hook, err, ev)
    if not ok then self:_log("error", "quicklysign.callbacks on_error hook raised: " .. tostring(hook_err)) end
  end
end

-- Counts one answered callback (quicklysign.metrics), when the router has counters.
function Router:_count(outcome, reason)
  if self.metrics then pcall(self.metrics.inc, self.metrics, "quicklysign_callbacks_total",
    { outcome = outcome, reason = reason }) end
end

-- Reports err and returns the answer for it.
function Router:_refuse(status, level, err, ev, extra_headers)
  self:_count(status >= 500 and "unavailable" or "refused", err.reason)
  err.status = status
  self:_report(level, err, ev)
  return answer(status, nil, extra_headers)
end

---------------------------------------------------------------------------------------------
-- request helpers

-- Header value by case-insensitive name. A repeated header (array value) is returned as is.
local function header(headers, name)
  if type(headers) ~= "table" then return nil end
  local exact = headers[name] -- OpenResty (and most servers) give lower-case keys: skip the scan
  if exact ~= nil then return exact end
  for k, v in pairs(headers) do
    if type(k) == "string" and lower(k) == name then return v end
  end
  return nil
end

---------------------------------------------------------------------------------------------
-- the checks

-- router:verify(request) -> ev | nil, status, body, headers
-- Everything up to and including confirmation; nothing runs and nothing is committed.
function Router:_verify(request)
  if self.unguarded then   -- said once, when the router first receives (a worker's never does)
    self.unguarded = false
    self:_log("warn", "router has no authenticity layer (token, allow or confirm): "
      .. "anyone who finds the URL can post callbacks")
  end
  if type(request) ~= "table" then
    return nil, self:_refuse(400, "warn", errors.new("request", "bad_request",
      "the request must be a table, got " .. type(request)))
  end
  if request.method ~= "POST" then
    return nil, self:_refuse(405, "info", errors.new("request", "method",
      "method " .. tostring(request.method):sub(1, 32) .. " is not POST"), nil, { Allow = "POST" })
  end

  if self.tokens then
    local presented = auth.query_param(request.query, self.token_param)
    if presented == nil then
      return nil, self:_refuse(403, "warn", errors.new("auth", "token_missing",
        "the callback URL carries no '" .. self.token_param .. "' parameter"))
    end
    if not auth.token_matches(presented, self.token_bytes) then
      return nil, self:_refuse(403, "warn", errors.new("auth", "token_mismatch",
        "the callback URL's '" .. self.token_param .. "' parameter is wrong"))
    end
  end

  local headers = request.headers
  local content_type = header(headers, "content-type")
  if content_type == nil then content_type = "" end -- parse(…, nil) would skip the check
  local declared = tonumber(header(headers, "content-length"))
  local body = request.body
  if declared and declared > self.max_body and parse.is_json_content_type(content_type) then
    return nil, self:_refuse(413, "warn", errors.new("parse", "too_large", format(
      "Content-Length %s is over the limit of %d", tostring(declared), self.max_body)))
  end

  local ev, perr = parse.parse(body, content_type, { max_body = self.max_body, max_depth = self.max_depth })
  if not ev then
    return nil, self:_refuse(PARSE_STATUS[perr.reason] or 400, "warn", perr)
  end

  if self.allow then
    local ok, allowed = pcall(self.allow, ev)
    if not ok then
      return nil, self:_refuse(500, "error", errors.new("internal", "allow_error",
        "the allow function raised: " .. tostring(allowed), { cause = allowed }), ev)
    end
    if not allowed then
      return nil, self:_refuse(403, "warn", errors.new("auth", "not_allowed",
        "neither the webhook key nor the entity key is in the allow-list"), ev)
    end
  end

  if self.confirmer then
    local outcome, detail = self.confirmer:run(ev)
    if outcome == "refused" then
      return nil, self:_refuse(403, "warn", errors.new("auth", "not_confirmed",
        "the API does not confirm this webhook: " .. tostring(detail)), ev)
    elseif outcome == "unavailable" then
      return nil, self:_refuse(503, "error", errors.new("confirm", "unavailable",
        "could not ask the API to confirm the webhook (the vendor will retry): " .. tostring(detail),
        { cause = detail }), ev, { ["Retry-After"] = "60" })
    elseif outcome == "failed" then
      return nil, self:_refuse(500, "error", errors.new("confirm", "confirm_error",
        "the confirm function raised: " .. tostring(detail), { cause = detail }), ev)
    end
  end
  return ev
end

-- Runs fn(ev); returns nil on success or the error it raised or returned (as nil/false, err).
-- An interrupt (Ctrl-C) or out of memory is not a handler's failure: it propagates.
local function run_handler(fn, ev)
  local res = { pcall(fn, ev) }
  if not res[1] then
    local e = res[2]
    if type(e) == "string" and (e:find("interrupted!", 1, true) or e == "not enough memory") then
      error(e, 0)
    end
    return { raised = true, cause = e }
  end
  if not res[2] and res[3] ~= nil then return { raised = false, cause = res[3] } end
  return nil
end

-- Runs every handler for ev (the event's own, then on_any), each reported when it fails.
-- Returns nil, or an error naming how many failed and the first cause.
function Router:_run_handlers(ev)
  local failures, first = 0, nil
  local lists = { self.handlers[ev.event] or {}, self.any_handlers }
  for _, list in ipairs(lists) do
    for i = 1, #list do
      local failure = list[i] and run_handler(list[i], ev)
      if failure then
        failures = failures + 1
        local err = errors.new("handler", "handler_error", format(
          "a handler for %s %s: %s", ev.event, failure.raised and "raised" or "returned an error",
          tostring(failure.cause)), { cause = failure.cause })
        first = first or err
        self:_report("error", err, ev)
      end
    end
  end
  if failures == 0 then return nil end
  if failures > 1 then
    first = errors.new("handler", "handler_error", format("%d handlers failed; the first: %s", failures,
      first.message), { cause = first.cause, failures = failures })
  end
  return first
end

-- Without an inbox: dedupe, then the handlers, in the request.
function Router:_dispatch(ev)
  local claim_key
  if self.dedupe then
    local state, key, store_err = self.dedupe:claim(ev)
    if state == nil then
      return self:_refuse(503, "error", key, ev, { ["Retry-After"] = "60" })
    elseif state == "duplicate" then
      self:_log("info", format("quicklysign.callbacks duplicate %s %s: already processed",
        ev.event, ev.entity_key))
      self:_count("duplicate")
      return answer(200, "duplicate")
    elseif state == "in_progress" then
      self:_log("info", format("quicklysign.callbacks %s %s is being processed: asking for a retry",
        ev.event, ev.entity_key))
      return answer(503, nil, { ["Retry-After"] = "30" })
    elseif state == "unguarded" then
      self:_report("warn", store_err, ev)
    elseif state == "new" then
      claim_key = key
    end
  end

  local failed = self:_run_handlers(ev)
  if failed then
    if claim_key then
      local ok, err = self.dedupe:release(claim_key)
      if not ok then self:_report("error", err, ev) end
    end
    self:_count("failed", failed.reason)
    return answer(500)   -- the vendor retries: a 200 here would lose the work
  end
  if claim_key then
    local ok, err = self.dedupe:commit(claim_key)
    if not ok then self:_report("warn", err, ev) end
  end
  self:_count("handled")
  return answer(200)
end

-- The once key of an event (one-shot events, or the dedupe key function's): key, or nil.
function Router:_once_key(ev)
  if not self.once then return nil end
  local ok, key, key_err = pcall(self.once.key, ev)
  if not ok then
    return nil, errors.new("dedupe", "key_error", "the dedupe key function raised: " .. tostring(key))
  end
  if key == nil or key == false then
    if key_err ~= nil then
      return nil, errors.new("dedupe", "key_error", "the dedupe key function failed: " .. tostring(key_err),
        { cause = key_err })
    end
    return nil
  end
  if type(key) ~= "string" and type(key) ~= "number" then
    return nil, errors.new("dedupe", "key_error", "the dedupe key function returned a " .. type(key))
  end
  return self.once.prefix .. key
end

-- router:once_key(ev) -> the key under which the inbox stores ev once, or nil (stored each time).
function Router:once_key(ev)
  return (self:_once_key(ev))
end

-- With an inbox: store the event, then answer. 200 only once the push succeeded.
function Router:_accept(ev, body)
  local once_key, key_err = self:_once_key(ev)
  if key_err then return self:_refuse(503, "error", key_err, ev, { ["Retry-After"] = "60" }) end
  local id, state, was = self.inbox:push(ev, { once_key = once_key, body = body })
  if not id then
    return self:_refuse(503, "error", errors.new("inbox", "push_failed",
      "could not store the callback (the vendor will retry): " .. tostring(state), { cause = state }),
      ev, { ["Retry-After"] = "30" })
  end
  if state == "duplicate" then
    self:_log("info", format("quicklysign.callbacks duplicate %s %s: stored once already as job %s (%s)",
      ev.event, ev.entity_key, tostring(id), tostring(was)))
    self:_count("duplicate")
    return answer(200, "duplicate")
  end
  self:_count("stored")
  return answer(200)
end

-- Public entry points: each guarded, so that a bug here or in a hook still gives an answer.
local function internal_error(self, err)
  pcall(self.log, "error", "quicklysign.callbacks internal error: " .. tostring(err))
  return answer(500)
end

local function is_event(ev)
  return type(ev) == "table" and type(ev.event) == "string" and type(ev.entity_key) == "string"
end

local function guarded(self, fn, ...)
  local ok, status, body, headers = pcall(fn, self, ...)
  if ok then return status, body, headers end
  if type(status) == "string" and (status:find("interrupted!", 1, true) or status == "not enough memory") then
    error(status, 0)
  end
  return internal_error(self, status)
end

-- router:verify(request) -> ev | nil, status, body, headers
function Router:verify(request)
  local ok, ev, status, body, headers = pcall(Router._verify, self, request)
  if not ok then return nil, internal_error(self, ev) end
  return ev, status, body, headers
end

-- router:dispatch(ev) -> status, body, headers: the handlers now, in the caller (no inbox).
function Router:dispatch(ev)
  if not is_event(ev) then
    return internal_error(self, "dispatch needs an event made by verify or parse")
  end
  return guarded(self, Router._dispatch, ev)
end

-- router:accept(ev [, body]) -> status, body, headers: what a verified callback gets. With an
-- inbox, it is stored (body: the bytes received, kept as they came) and answered; without one,
-- the handlers run first (dispatch).
function Router:accept(ev, body)
  if not is_event(ev) then
    return internal_error(self, "accept needs an event made by verify or parse")
  end
  if not self.inbox then return self:dispatch(ev) end
  return guarded(self, Router._accept, ev, body)
end

-- router:process(ev) -> true | nil, err: runs the handlers for a stored event (what a worker
-- does). No dedupe: the inbox stored it once already.
function Router:process(ev)
  if not is_event(ev) then
    return nil, errors.new("internal", "bad_event", "process needs an event made by parse")
  end
  local ok, err = pcall(Router._run_handlers, self, ev)
  if not ok then
    if type(err) == "string" and (err:find("interrupted!", 1, true) or err == "not enough memory") then
      error(err, 0)
    end
    pcall(self.log, "error", "quicklysign.callbacks internal error: " .. tostring(err))
    return nil, errors.new("internal", "internal_error", tostring(err))
  end
  if err then return nil, err end
  return true
end

-- router:handle(request) -> status, body, headers
function Router:handle(request)
  local ev, status, body, headers = self:verify(request)
  if ev == nil then return status, body, headers end
  return self:accept(ev, type(request) == "table" and request.body or nil)
end

return router
