-- The client the commands use: credentials from the environment only (flags would put them in
-- shell history and in `ps`), where the API is from --base-url/--environment or the environment.
-- Every problem here is a configuration error (exit 3), except a bad flag value (usage, exit 2).
local status = require "quicklysign.cli.status"

local type, pcall, require, tostring, error = type, pcall, require, tostring, error
local match, find, sub, format, concat = string.match, string.find, string.sub, string.format, table.concat

local config = {
  CLIENT_ID = "QUICKLYSIGN_CLIENT_ID",
  CLIENT_SECRET = "QUICKLYSIGN_CLIENT_SECRET",
  API_KEY = "QUICKLYSIGN_API_KEY",
  BASE_URL = "QUICKLYSIGN_BASE_URL",
  ENVIRONMENT = "QUICKLYSIGN_ENVIRONMENT",
  ENVIRONMENTS = { "sandbox", "production" },
  MAX_CONNECT_TIMEOUT = 10,
}

-- getenv, with "" meaning unset (as the C core reads it).
local function reader(getenv)
  return function(name)
    local v = getenv(name)
    if v == "" then return nil end
    return v
  end
end

-- The values output must never show, whatever prints them.
function config.secrets(getenv)
  local env = reader(getenv)
  return { env(config.CLIENT_SECRET), env(config.API_KEY) }
end

local function valid_base_url(url)
  return match(url, "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#%s]+[^?#%s]*$") ~= nil
end

-- The C module, or a configuration error saying what is missing.
function config.library()
  local ok, quicklysign = pcall(require, "quicklysign")
  if not ok then
    -- the loader's first line, and the reason on the next one when it gives one (a dlopen
    -- error), but not the long list of places it searched
    local text = tostring(quicklysign)
    local first, second = match(text, "^([^\n]*)\n[ \t]*([^\n]*)")
    if not first then first = text end
    if second and sub(first, -1) == ":" and not find(second, "^no f") then
      first = first .. " " .. second
    end
    status.raise(status.CONFIG, "cannot load the quicklysign module: " .. first,
      "build it with 'make build' and set LUA_CPATH, or install the rock")
  end
  return quicklysign
end

-- Turns a raised "bad argument #1 to 'new' (...)" into its parenthesised part.
local function misuse_text(raised)
  local text = tostring(raised)
  return match(text, "^bad argument #%d+ to '[^']*' %((.*)%)$") or text
end

-- config.client(options, getenv, opts) -> client; opts.api_key = true when the command needs
-- QUICKLYSIGN_API_KEY (document packs), opts.on_event the client's on_event (a progress bar).
-- Raises a status failure on any problem.
function config.client(options, getenv, opts)
  local env = reader(getenv)
  local missing = {}
  local client_id, client_secret, api_key = env(config.CLIENT_ID), env(config.CLIENT_SECRET), env(config.API_KEY)
  if not client_id then missing[#missing + 1] = config.CLIENT_ID end
  if not client_secret then missing[#missing + 1] = config.CLIENT_SECRET end
  if opts and opts.api_key and not api_key then missing[#missing + 1] = config.API_KEY end
  if #missing > 0 then
    status.raise(status.CONFIG, "missing credentials: set " .. concat(missing, " and "),
      "credentials are read only from the environment, never from flags")
  end

  local o = {
    client_id = client_id, client_secret = client_secret, api_key = api_key,
  }
  if options.download_timeout then o.download_timeout = options.download_timeout end
  if opts and opts.on_event then o.on_event = opts.on_event end
  if options.timeout then
    o.timeout = options.timeout
    o.connect_timeout = options.timeout < config.MAX_CONNECT_TIMEOUT and options.timeout
      or config.MAX_CONNECT_TIMEOUT
  end
  if options.base_url and options.environment then
    status.raise(status.USAGE, "give --base-url or --environment, not both")
  elseif options.base_url then
    if not valid_base_url(options.base_url) then
      status.raise(status.USAGE, "option --base-url needs an http(s) URL without query or fragment")
    end
    o.base_url = options.base_url
  elseif options.environment then
    o.environment = options.environment
  elseif env(config.BASE_URL) then
    if not valid_base_url(env(config.BASE_URL)) then
      status.raise(status.CONFIG, config.BASE_URL .. " must be an http(s) URL without query or fragment")
    end
    o.base_url = env(config.BASE_URL)
  elseif env(config.ENVIRONMENT) then
    local e = env(config.ENVIRONMENT)
    if e ~= "sandbox" and e ~= "production" then
      status.raise(status.CONFIG, format("%s must be 'sandbox' or 'production'", config.ENVIRONMENT))
    end
    o.environment = e
  end

  local quicklysign = config.library()
  o.user_agent = format("quicklysign-cli/%s (%s)", tostring(quicklysign.version),
    tostring(quicklysign.curl_version))
  local ok, client = pcall(quicklysign.new, o)
  if not ok then
    status.raise(status.CONFIG, "cannot set up the client: " .. misuse_text(client))
  end
  return client
end

-- What a raised error of the client (an error object, kind "config") tells the user to do.
local CONFIG_MESSAGES = {
  no_token_source = "missing credentials: set " .. config.API_KEY,
}

-- Runs client method fn(...) and turns a raised misuse ("bad argument ...", Lua's own form for
-- it, which the CLI's own checks should have caught) into a usage failure, and a raised error
-- object into the failure its kind and reason say. Returns what fn returns.
function config.call(flag_of_field, fn, ...)
  local result = { pcall(fn, ...) }
  if result[1] then return result[2], result[3] end
  local raised = result[2]
  if type(raised) == "string" and find(raised, "^bad argument") then
    local text = misuse_text(raised)
    local field, rest = match(text, "^field '([^']+)': (.*)$")
    if field and flag_of_field[field] then text = flag_of_field[field] .. ": " .. rest end
    status.raise(status.USAGE, text)
  end
  if type(raised) == "table" and raised.kind == "config" then
    status.raise(status.for_api_error(raised),
      CONFIG_MESSAGES[raised.reason] or tostring(raised.message or raised.reason))
  end
  error(raised, 0)
end

return config
