--- Counters of the receiver and the workers, as Prometheus text: `require "quicklysign.metrics"`.
--
-- The router counts every callback it answered (by outcome, and by reason when refused), the
-- workers every job they ran (by outcome), and `render` adds the inbox's job counts by state as
-- gauges, read when scraped. In nginx, give a `lua_shared_dict` so that every worker process
-- counts into one place; elsewhere counters live in this process.
--
--   local m = metrics.new{ dict = ngx.shared.quicklysign_metrics }   -- or metrics.new()
--   callbacks.router{ ..., metrics = m };  openresty.worker{ ..., metrics = m }
--   location = /metrics { content_by_lua_block { ngx.print(m:render{ inbox = box }) } }
-- @module quicklysign.metrics
local args = require "quicklysign.callbacks.args"

local type, pairs, ipairs, tostring, setmetatable, getmetatable, tonumber =
  type, pairs, ipairs, tostring, setmetatable, getmetatable, tonumber
local format, gsub, concat, sort = string.format, string.gsub, table.concat, table.sort

local metrics = {}

-- name -> { type, help }, and the labels each counter takes, in this order
local FAMILIES = {
  { name = "quicklysign_callbacks_total", type = "counter", labels = { "outcome", "reason" },
    help = "Callbacks the receiver answered: outcome stored, duplicate, handled, failed or refused (with reason)." },
  { name = "quicklysign_jobs_total", type = "counter", labels = { "outcome" },
    help = "Inbox jobs the workers ran: outcome done, retried, dead or lost (its lease was taken over)." },
  { name = "quicklysign_inbox_jobs", type = "gauge", labels = { "state" },
    help = "Inbox jobs by state when scraped: queued, running, retrying, dead, done." },
}

local Metrics = {}
Metrics.__index = Metrics

--- Makes counters.
-- @tparam[opt] table opts `dict`: an nginx shared dict, so that every worker process counts into
-- one place (default: this process)
-- @treturn counters
function metrics.new(opts)
  opts = opts or {}
  args.check(opts, "table", 1, "metrics")
  local dict = opts.dict
  args.option(dict == nil or (type(dict) ~= "string" and dict.incr ~= nil), 1, "metrics", "dict",
    "must be an nginx shared dict (ngx.shared.NAME)")
  return setmetatable({ dict = dict, local_counts = {} }, Metrics)
end

--- Whether a value is counters made by `new`.
-- @param value
-- @treturn boolean
function metrics.is(value)
  return getmetatable(value) == Metrics
end

local function escape(v)
  return (gsub(tostring(v), '[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- The series key: name{a="x",b="y"} with the family's labels in order, absent ones left out.
local function series(name, labels)
  local family
  for _, f in ipairs(FAMILIES) do if f.name == name then family = f end end
  local parts = {}
  for _, l in ipairs(family.labels) do
    if labels[l] ~= nil then parts[#parts + 1] = l .. '="' .. escape(labels[l]) .. '"' end
  end
  return #parts > 0 and (name .. "{" .. concat(parts, ",") .. "}") or name
end

--- Counters, made by `new`.
-- @type counters

--- Adds one to a counter: `quicklysign_callbacks_total` (labels `outcome`, `reason`) or
-- `quicklysign_jobs_total` (`outcome`).
-- @tparam string name
-- @tparam[opt] table labels
function Metrics:inc(name, labels)
  local key = series(name, labels or {})
  if self.dict then
    self.dict:incr("c:" .. key, 1, 0)   -- atomic across nginx's worker processes
  else
    self.local_counts[key] = (self.local_counts[key] or 0) + 1
  end
end

-- Every counter series and its value.
function Metrics:_counts()
  if not self.dict then
    local out = {}
    for k, v in pairs(self.local_counts) do out[k] = v end
    return out
  end
  local out = {}
  for _, k in ipairs(self.dict:get_keys(0)) do
    if k:sub(1, 2) == "c:" then out[k:sub(3)] = tonumber(self.dict:get(k)) or 0 end
  end
  return out
end

--- The Prometheus text exposition (version 0.0.4), with the inbox's jobs by state as gauges.
-- @tparam[opt] table opts `inbox`: a box
-- @treturn string
function Metrics:render(opts)
  local counts = self:_counts()
  if opts and opts.inbox then
    local stats = opts.inbox:stats()
    if stats then
      for state, n in pairs(stats) do counts[series("quicklysign_inbox_jobs", { state = state })] = n end
    end
  end
  local lines = {}
  for _, f in ipairs(FAMILIES) do
    local keys = {}
    for key in pairs(counts) do
      if key == f.name or key:sub(1, #f.name + 1) == f.name .. "{" then keys[#keys + 1] = key end
    end
    if #keys > 0 then
      sort(keys)
      lines[#lines + 1] = "# HELP " .. f.name .. " " .. f.help
      lines[#lines + 1] = "# TYPE " .. f.name .. " " .. f.type
      for _, key in ipairs(keys) do lines[#lines + 1] = format("%s %d", key, counts[key]) end
    end
  end
  return concat(lines, "\n") .. "\n"
end

return metrics
