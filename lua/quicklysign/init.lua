--- quicklysign: QuicklySign's webhooks and document packs, from Lua.
-- The client lives in the C core (`quicklysign.core`); receiving callbacks is
-- in `quicklysign.callbacks` (pure Lua) and `quicklysign.openresty`.
local core = require "quicklysign.core"

local quicklysign = {
  --- quicklysign.new{client_id=, client_secret=, ...} --> client (see README)
  new = core.new,
  --- true when v is an error object returned by a failed call
  is_error = core.is_error,
  --- gives a plain table (an error that crossed from another Lua state) the error metatable
  as_error = core.as_error,
  version = core.version,
  curl_version = core.curl_version,
  --- base URLs by environment name
  environments = core.environments,
}

return quicklysign
