-- Exit codes, and the one kind of error the command raises on purpose: a failure that carries
-- its exit code. Anything else raised is a bug (INTERNAL) or Ctrl-C (INTERRUPTED).
local type, tostring, setmetatable, getmetatable, error =
  type, tostring, setmetatable, getmetatable, error
local find = string.find

local status = {
  OK = 0,
  FAILED = 1,       -- the API refused the call or answered unusably, a file or socket failed
  USAGE = 2,        -- unknown command or option, missing or malformed argument
  CONFIG = 3,       -- credentials missing or rejected, bad QUICKLYSIGN_* value, module missing
  NOT_FOUND = 4,    -- the API answered 404: no such webhook or document pack
  TEMPORARY = 5,    -- network, timeout, 5xx or 429 after the client's own retries: try again
  INTERNAL = 70,    -- a bug in the command (EX_SOFTWARE)
  INTERRUPTED = 130, -- Ctrl-C (128 + SIGINT)
}

-- For --help: code and meaning, in order.
status.TABLE = {
  { 0, "success" },
  { 1, "the operation failed: the API refused the call or answered unusably, a file could not be "
    .. "written, listen could not bind its port" },
  { 2, "usage error: unknown command or option, missing or malformed argument" },
  { 3, "configuration error: credentials missing or rejected (HTTP 401), a bad QUICKLYSIGN_* "
    .. "value, LuaSocket or the C module missing" },
  { 4, "not found: no such webhook or document pack (HTTP 404)" },
  { 5, "temporary failure: network, timeout, HTTP 5xx or 429, still failing after the client's "
    .. "retries; running the same command again may succeed" },
  { 130, "interrupted (Ctrl-C)" },
}
status.SHORT = "exit codes: 0 ok, 1 failed, 2 usage, 3 configuration, 4 not found, 5 temporary, "
  .. "130 interrupted"

local failure_mt = {
  __tostring = function(f) return tostring(f.message) end,
}

-- Raises a failure: the command stops, prints message (and hint) to stderr and exits with code.
function status.raise(code, message, hint)
  error(setmetatable({ code = code, message = message, hint = hint }, failure_mt), 0)
end

function status.is_failure(value)
  return getmetatable(value) == failure_mt
end

-- Whether a raised value is the interpreter's answer to Ctrl-C ("interrupted!", raised by the
-- standalone lua and luajit from a hook at the next instruction after SIGINT).
function status.is_interrupt(value)
  return type(value) == "string" and find(value, "interrupted!$") ~= nil
end

-- The exit code for an error of the client (returned as nil, err, or raised as an error object):
-- from its kind, reason, status and retryable, never from its message.
function status.for_api_error(err)
  if type(err) ~= "table" then return status.FAILED end
  if err.kind == "config" then return status.CONFIG end   -- e.g. reason no_token_source
  if err.status == 404 then return status.NOT_FOUND end
  if err.status == 401 then return status.CONFIG end
  if err.retryable then return status.TEMPORARY end
  return status.FAILED
end

return status
