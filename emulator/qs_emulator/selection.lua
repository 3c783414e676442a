-- Which profiles are in force (see profiles.lua): the start selection, fixed when nginx starts
-- (init_by_lua, from `qs-emulator start --profile ... --set ...`) and restored by every reset;
-- and the active one, which POST /_emulator/profile replaces until the next reset.
-- Also where the storage host listens (the second host that PDF redirects may point to).
local config = require "qs_emulator.config"
local profiles = require "qs_emulator.profiles"

local selection = {}

local start_items, active_items = {}, {}
local storage_host = "127.0.0.2"

-- Called once, in nginx's master (init_by_lua). A bad selection stops nginx from starting,
-- with this error in its log.
function selection.init(text, host)
  if host and host ~= "" then storage_host = host end
  local parsed, err = profiles.parse(text or "")
  if not parsed then error("qs-emulator: bad --profile/--set: " .. err, 0) end
  local ok, field, why = config.replace(parsed.patches, true)
  if not ok then error("qs-emulator: bad --set " .. field .. ": " .. why, 0) end
  start_items, active_items = parsed.items, parsed.items
end

-- Per test: the defaults plus the given profiles/settings (the start selection does not
-- apply meanwhile). Returns true, or nil and an error text.
function selection.select(text_or_items)
  local parsed, err = profiles.parse(text_or_items)
  if not parsed then return nil, err end
  local ok, field, why = config.replace(parsed.patches, false)
  if not ok then return nil, field .. ": " .. why end
  active_items = parsed.items
  return true
end

-- Back to the start selection (with config.reset, by state.reset).
function selection.reset()
  active_items = start_items
end

function selection.start_items() return start_items end
function selection.active_items() return active_items end
function selection.storage_host() return storage_host end

return selection
