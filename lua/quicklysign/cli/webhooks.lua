-- quicklysign webhooks create|ensure|get|list|delete|logs (logs --follow polls for new entries)
local output = require "quicklysign.cli.output"
local status = require "quicklysign.cli.status"

local type, tostring, ipairs, pcall, require = type, tostring, ipairs, pcall, require
local find, lower, insert, gsub = string.find, string.lower, table.insert, string.gsub
local iso = output.iso8601

local webhooks = {}

-- How the client's argument names read on this command line (for misuse messages).
local FLAGS = { entity_key = "--entity", callback = "--callback", webhook_key = "KEY" }

-- A callback URL QuicklySign could call: absolute http(s), a host, no blanks or control
-- characters; https unless the API itself is plain http (the local emulator), as the client
-- decides it too, but said in the command line's terms.
local function check_callback(ctx, url)
  if not find(url, "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#%s]+") or find(url, "[%s%c]") then
    ctx:usage("option --callback needs an absolute http(s) URL (got something else)")
  end
end

local function check_callback_scheme(ctx, client, url)
  if find(lower(client.base_url), "^https://") and not find(lower(url), "^https://") then
    ctx:usage("option --callback needs an https URL: QuicklySign calls https URLs only "
      .. "(to reach 'quicklysign listen', subscribe an https tunnel to it)")
  end
end

local function webhook_rows(wh)
  local rows = {
    { "key", wh.key },
    { "entity", wh.entity_key },
    { "callback", wh.callback },
  }
  if wh.webhook_key ~= nil then rows[#rows + 1] = { "webhook_key", wh.webhook_key } end
  rows[#rows + 1] = { "created", iso(wh.date_created) }
  rows[#rows + 1] = { "updated", iso(wh.date_updated) }
  return rows
end

local function show_webhook(out, wh)
  if out.json then
    out:document(wh)
  elseif out.quiet then
    out:print(wh.key)
  else
    out:record(webhook_rows(wh))
  end
end

function webhooks.create(ctx)
  local o = ctx.options
  check_callback(ctx, o.callback)
  local client = ctx:client()
  check_callback_scheme(ctx, client, o.callback)
  local wh, err = ctx:call(FLAGS, client.webhooks.create, client.webhooks,
    { entity_key = o.entity, callback = o.callback })
  if not wh then return ctx:fail(err) end
  show_webhook(ctx.out, wh)
  return status.OK
end

function webhooks.ensure(ctx)
  local o, out = ctx.options, ctx.out
  check_callback(ctx, o.callback)
  local client = ctx:client()
  check_callback_scheme(ctx, client, o.callback)
  local wh, created = ctx:call(FLAGS, client.webhooks.ensure, client.webhooks,
    { entity_key = o.entity, callback = o.callback })
  if not wh then return ctx:fail(created) end
  if out.json then
    out:document{ created = created == true, webhook = wh }
  elseif out.quiet then
    out:print(wh.key)
  else
    local rows = webhook_rows(wh)
    insert(rows, 1, { "result", created and "created" or "already subscribed (nothing changed)" })
    out:record(rows)
  end
  return status.OK
end

function webhooks.get(ctx)
  local client = ctx:client()
  local wh, err = ctx:call(FLAGS, client.webhooks.get, client.webhooks, ctx.args[1])
  if not wh then return ctx:fail(err) end
  show_webhook(ctx.out, wh)
  return status.OK
end

function webhooks.list(ctx)
  local out = ctx.out
  local client = ctx:client()
  local list, err = ctx:call(FLAGS, client.webhooks.list, client.webhooks,
    ctx.options.entity and { entity_key = ctx.options.entity } or nil)
  if not list then return ctx:fail(err) end
  out:list(list, { key = "key", empty = "no webhooks",
    columns = { { title = "KEY", cut = 1, min = 12 }, { title = "ENTITY", cut = 1, min = 12 },
      { title = "CALLBACK", cut = 2 }, "CREATED" },
    row = function(wh) return { wh.key, wh.entity_key, wh.callback, iso(wh.date_created) } end })
  return status.OK
end

function webhooks.delete(ctx)
  local key, entity, out = ctx.args[1], ctx.options.entity, ctx.out
  if (key == nil) == (entity == nil) then
    ctx:usage("give a webhook KEY or --entity KEY, not both and not neither")
  end
  local client = ctx:client()
  local ok, err
  if key then
    ok, err = ctx:call(FLAGS, client.webhooks.delete, client.webhooks, key)
  else
    ok, err = ctx:call(FLAGS, client.webhooks.delete_by_entity, client.webhooks, entity)
  end
  if not ok then return ctx:fail(err) end
  if out.json then
    out:document(key and { deleted = true, webhook_key = key } or { deleted = true, entity_key = entity })
  elseif not out.quiet then
    out:print(key and ("deleted webhook " .. output.clean(key))
      or ("deleted every webhook of " .. output.clean(entity)))
  end
  return status.OK
end

-- The columns of the callback log, and an entry's row in them.
local function log_columns(entity)
  local columns = { { title = "CREATED", width = 24 }, { title = "EVENT", width = 24 } }
  if entity then columns[#columns + 1] = { title = "WEBHOOK", cut = 1, min = 12, width = 16 } end
  columns[#columns + 1] = { title = "LOG", cut = 2 }
  return columns
end

local function log_row(entry, entity)
  local row = { iso(entry.date_created), entry.callback_event }
  if entity then row[#row + 1] = entry.webhook_key or entry.subscription_key end
  row[#row + 1] = entry.log
  return row
end

-- An entry's identity across polls: its key, else what it says.
local function log_id(entry)
  if entry.key ~= nil then return "k:" .. tostring(entry.key) end
  return "v:" .. tostring(entry.date_created) .. "\0" .. tostring(entry.callback_event) .. "\0" .. tostring(entry.log)
end

-- Waits `seconds` in short steps (Ctrl-C is noticed between two), with LuaSocket when it is
-- there, else the system's sleep.
local function pause(seconds)
  local ok, socket = pcall(require, "socket")
  if ok then
    local deadline = socket.gettime() + seconds
    while true do
      local left = deadline - socket.gettime()
      if left <= 0 then return end
      socket.sleep(left < 0.2 and left or 0.2)
    end
  else
    os.execute(("sleep %.3f"):format(seconds))
  end
end
webhooks.pause = pause

-- --follow: polls the log every interval seconds and prints the entries not seen before, until
-- Ctrl-C. A failure that may pass (network, 5xx) is reported and polling goes on.
local function follow(ctx, client, filter, entity)
  local out, interval = ctx.out, ctx.options.interval or 2
  local seen, print_row = {}, nil
  while true do
    local logs, err = ctx:call(FLAGS, client.webhooks.logs, client.webhooks, filter)
    if logs then
      for _, entry in ipairs(logs) do
        local id = log_id(entry)
        if not seen[id] then
          seen[id] = true
          if out.json then
            out:document(entry)
          elseif out.quiet then
            out:print(entry.key)
          else
            print_row = print_row or out:stream(log_columns(entity))
            print_row(log_row(entry, entity))
          end
        end
      end
    elseif type(err) == "table" and err.retryable then
      out:notice("quicklysign: " .. (gsub(tostring(err), "^quicklysign: ", "")) .. " (still following)")
    else
      return ctx:fail(err)
    end
    pause(interval)
  end
end

function webhooks.logs(ctx)
  local entity, webhook, out = ctx.options.entity, ctx.options.webhook, ctx.out
  if (entity == nil) == (webhook == nil) then
    ctx:usage("give --entity KEY or --webhook KEY (exactly one)")
  end
  if ctx.options.interval and not ctx.options.follow then ctx:usage("option --interval goes with --follow") end
  local client = ctx:client()
  local filter = entity and { entity_key = entity } or { webhook_key = webhook }
  if ctx.options.follow then return follow(ctx, client, filter, entity) end
  local logs, err = ctx:call(FLAGS, client.webhooks.logs, client.webhooks, filter)
  if not logs then return ctx:fail(err) end
  out:list(logs, { key = "key", empty = "no callbacks logged", columns = log_columns(entity),
    row = function(entry) return log_row(entry, entity) end })
  return status.OK
end

return webhooks
