-- What a command gets to run with: its options and arguments, the output, the environment, the
-- client (made on first use) and the ways to fail.
local config = require "quicklysign.cli.config"
local status = require "quicklysign.cli.status"

local setmetatable, tostring, pcall = setmetatable, tostring, pcall
local gsub = string.gsub

local context = {}

local Context = {}
Context.__index = Context

-- context.new{options=, args=, out=, getenv=, path=}
function context.new(fields)
  return setmetatable(fields, Context)
end

-- The API client; opts.api_key = true when the command needs QUICKLYSIGN_API_KEY.
function Context:client(opts)
  if not self._client then
    self._client = config.client(self.options, self.getenv, opts)
  end
  return self._client
end

-- Calls a client method, turning a raised misuse into a usage failure (see config.call).
function Context.call(_, flag_of_field, fn, ...)
  return config.call(flag_of_field, fn, ...)
end

-- Stops the command with a usage error.
function Context.usage(_, message)
  status.raise(status.USAGE, message)
end

-- Prints a failed call's error ("quicklysign: <tostring(err)>") and returns its exit code.
function Context:fail(err)
  -- tostring(err) already starts with "quicklysign: "; one prefix is enough
  self.out:error((gsub(tostring(err), "^quicklysign: ", "")))
  local code = status.for_api_error(err)
  if code == status.CONFIG then
    self.out:notice("the API refused the credentials: check " .. config.CLIENT_ID .. ", "
      .. config.CLIENT_SECRET .. " and " .. config.API_KEY)
  end
  return code
end

function Context:close()
  if self.box then
    pcall(self.box.close, self.box)
    self.box = nil
  end
  if self._client then
    pcall(self._client.close, self._client)
    self._client = nil
  end
end

return context
