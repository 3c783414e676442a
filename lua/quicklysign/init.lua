--- quicklysign: QuicklySign's webhooks and document packs, from Lua.
-- The client lives in the C core (`quicklysign.core`); receiving callbacks is
-- in `quicklysign.callbacks` (pure Lua) and `quicklysign.openresty`.
local core = require "quicklysign.core"

local quicklysign = {
  --- quicklysign.new{client_id=, client_secret=, ...} --> client (see README)
  new = core.new,
  --- true when v is an error of quicklysign: a failed call's, or a callback's refusal
  is_error = core.is_error,
  --- gives a plain table (an error that crossed from another Lua state) the error metatable
  as_error = core.as_error,
  --- the error vocabulary: { [reason] = kind } for every reason an error of the client can have
  reasons = core.reasons,
  --- the methods of each class, declared once in the core: { client = {...}, webhooks = {...},
  -- document_packs = {...} } (names in declaration order)
  methods = core.methods,
  --- the options of new, declared once in the core: { [name] = { type =, env =, default =,
  -- min =, max =, required = } }
  options = core.options,
  version = core.version,
  curl_version = core.curl_version,
  --- base URLs by environment name
  environments = core.environments,
}

return quicklysign
