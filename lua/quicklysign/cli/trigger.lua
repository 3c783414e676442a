-- quicklysign trigger EVENT --entity KEY: makes the local emulator fire a real event for one of
-- its document packs, by driving the pack through the emulator's own endpoints (/_emulator/...)
-- the way its life would: an update, sending it, the next signature, completion. The event then
-- goes to every webhook of the pack like any other delivery (retries, callback log).
-- QuicklySign's own API has no way to drive a pack, so this works against the emulator only.
local config = require "quicklysign.cli.config"
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"

local pcall, require, type, tostring, ipairs = pcall, require, type, tostring, ipairs
local match, format, concat = string.match, string.format, table.concat

local trigger = {
  EVENTS = { "entity_updated", "document_status_changed", "final_document_generated" },
  -- the vendor's older names, which the emulator never sends
  OLD_EVENTS = { document_updated = true, signatory_updated = true, audit_trail_updated = true },
  TIMEOUT = 10,
}

-- What each step fires (emulator/qs_emulator/lifecycle.lua).
local FIRES = {
  update = { "entity_updated" },
  send = { "document_status_changed" },
  sign = { "document_status_changed" },
  fail = { "document_status_changed" },
  complete = { "document_status_changed", "final_document_generated" },
}

local function pending_signatories(pack)
  local n = 0
  for _, s in ipairs(pack.signatories or {}) do
    if s.status ~= "signed" then n = n + 1 end
  end
  return n
end

-- The step that makes `event` happen to a pack in its present state, or nil and why not.
function trigger.step_for(event, pack)
  local st = pack.status
  if event == "entity_updated" then return "update" end
  if event == "document_status_changed" then
    if st == "setup" then return "send" end
    if st == "awaiting_signatures" then return pending_signatories(pack) > 0 and "sign" or "complete" end
    if st == "conversion_error" then return "fail" end
    return nil, "the pack is " .. tostring(st) .. ": its status cannot change any more (create another pack)"
  end
  if event == "final_document_generated" then
    if st == "setup" or st == "awaiting_signatures" then return "complete" end
    return nil, "the pack is " .. tostring(st) .. ": final_document_generated happens once, on completion"
  end
  return nil, "unknown event"
end

-- The emulator's root (scheme://host:port) from the API base URL the command would use.
local function emulator_root(ctx)
  local base = ctx.options.base_url or ctx.getenv(config.BASE_URL)
  if base == "" then base = nil end
  if ctx.options.environment or not base then
    status.raise(status.CONFIG, "trigger drives the local emulator, and the API here is QuicklySign's own",
      "point --base-url or " .. config.BASE_URL .. " at the emulator, e.g. http://127.0.0.1:8089/v1")
  end
  local root = match(base, "^([Hh][Tt][Tt][Pp]://[^/?#]+)")
  if not root then
    status.raise(status.CONFIG, "trigger needs the emulator's plain http base URL (got one that is not http://)",
      "e.g. --base-url http://127.0.0.1:8089/v1")
  end
  return root, base
end

local function require_client()
  local ok = pcall(require, "socket")
  if not ok then
    status.raise(status.CONFIG, "trigger needs LuaSocket, which is not installed",
      "install it with 'apt-get install lua-socket' or 'luarocks install luasocket'")
  end
  return require "quicklysign.cli.http_client", require "quicklysign.cli.loop"
end

-- One request to the emulator: status, decoded `data` (or nil), or raises a failure.
local function call(http_client, loop, method, url, body)
  local code, headers, text = loop.run(function()
    return http_client.request{ method = method, url = url, body = body, timeout = trigger.TIMEOUT,
      headers = body and { ["Content-Type"] = "application/json" } or nil }
  end)
  if not code then
    status.raise(status.TEMPORARY, "cannot reach the emulator at " .. url .. ": " .. tostring(headers),
      "start it with emulator/qs-emulator start")
  end
  local cjson = require("cjson.safe").new()
  local doc = cjson.decode(text or "")
  return code, type(doc) == "table" and doc or nil
end

local function error_message(doc)
  local errors = type(doc) == "table" and type(doc.status) == "table" and doc.status.errors
  local first = type(errors) == "table" and errors[1]
  return type(first) == "table" and tostring(first.message) or "no message"
end

function trigger.run(ctx)
  local out, event, pack_key = ctx.out, ctx.args[1], ctx.options.entity
  if trigger.OLD_EVENTS[event] then
    ctx:usage(format("the emulator never sends %s (an older name on the vendor's page); trigger %s", event,
      concat(trigger.EVENTS, ", ")))
  end
  local known = false
  for _, e in ipairs(trigger.EVENTS) do known = known or e == event end
  if not known then
    local suggest = require "quicklysign.suggest"
    ctx:usage(format("unknown event '%s'.%s Events: %s", output.clean(event):sub(1, 40),
      suggest.phrase(event, trigger.EVENTS), concat(trigger.EVENTS, ", ")))
  end
  local root = emulator_root(ctx)
  local http_client, loop = require_client()
  local admin = root .. "/_emulator"

  local code, doc = call(http_client, loop, "GET", admin .. "/health")
  if code ~= 200 or not (doc and type(doc.data) == "table" and doc.data.ok) then
    status.raise(status.CONFIG, root .. " is not the local emulator (no answer from /_emulator/health)",
      "trigger drives the emulator's packs: start one with emulator/qs-emulator start")
  end
  local pack_url = admin .. "/document_packs/" .. (pack_key:gsub("[^%w_%-]", function(c)
    return format("%%%02X", c:byte())
  end))
  code, doc = call(http_client, loop, "GET", pack_url)
  if code == 404 then status.raise(status.NOT_FOUND, "the emulator has no document pack " .. output.clean(pack_key)) end
  if code ~= 200 or not (doc and doc.data and doc.data.document_pack) then
    status.raise(status.FAILED, format("the emulator answered %s for the pack: %s", tostring(code), error_message(doc)))
  end
  local before = doc.data.document_pack
  local step, why = trigger.step_for(event, before)
  if not step then status.raise(status.FAILED, "cannot trigger " .. event .. ": " .. why) end

  code, doc = call(http_client, loop, "POST", pack_url .. "/" .. step, "{}")
  if code ~= 200 or not (doc and doc.data and doc.data.document_pack) then
    status.raise(status.FAILED, format("the emulator refused '%s' (%s): %s", step, tostring(code), error_message(doc)))
  end
  local after = doc.data.document_pack
  local fired = FIRES[step]
  if out.json then
    out:document{ event = event, entity_key = before.key, step = step, fired = fired,
      status_before = before.status, status_after = after.status }
  elseif out.quiet then
    out:print(before.key)
  else
    out:print(format("triggered %s on %s (%s: %s -> %s)", event, output.clean(before.key), step,
      output.clean(before.status), output.clean(after.status)))
    if #fired > 1 then out:notice("the emulator sent, in order: " .. concat(fired, ", ")) end
    out:notice("every webhook of the pack gets it; see 'quicklysign webhooks logs --entity "
      .. output.clean(before.key) .. "'")
  end
  return status.OK
end

return trigger
