-- Everything the command prints goes through here: result lines and --json documents to stdout,
-- notices and errors to stderr. Every line is scrubbed of the secrets the command knows (client
-- secret, API key) on its way out, whatever produced it, and text that came from the server or a
-- callback is stripped of control characters before it reaches a terminal.
local json = require "quicklysign.cli.json"
local status = require "quicklysign.cli.status"

local type, tostring, tonumber, ipairs, setmetatable, pcall =
  type, tostring, tonumber, ipairs, setmetatable, pcall
local find, sub, rep, gsub, format, concat, floor, huge, date =
  string.find, string.sub, string.rep, string.gsub, string.format, table.concat, math.floor,
  math.huge, os.date

local output = {
  MIN_SECRET = 6,          -- shorter values would garble every line that happens to contain them
  REDACTED = "[REDACTED]",
  NONE = "-",              -- what a missing value prints as
}

local Output = {}
Output.__index = Output

-- output.new{stdout=, stderr=, json=bool, quiet=bool, secrets={...}}
function output.new(opts)
  local secrets = {}
  for _, s in ipairs(opts.secrets or {}) do
    if type(s) == "string" and #s >= output.MIN_SECRET then secrets[#secrets + 1] = s end
  end
  return setmetatable({
    stdout = opts.stdout or io.stdout,
    stderr = opts.stderr or io.stderr,
    json = opts.json == true,
    quiet = opts.quiet == true,
    secrets = secrets,
  }, Output)
end

-- One more value never to print (a Redis password in an inbox URL); short ones are ignored.
function Output:add_secret(secret)
  if type(secret) == "string" and #secret >= output.MIN_SECRET then self.secrets[#self.secrets + 1] = secret end
end

-- text with every known secret replaced (plain search: secrets may hold pattern characters).
function Output:scrub(text)
  text = tostring(text)
  for _, secret in ipairs(self.secrets) do
    local parts, pos = {}, 1
    while true do
      local i, j = find(text, secret, pos, true)
      if not i then break end
      parts[#parts + 1] = sub(text, pos, i - 1)
      parts[#parts + 1] = output.REDACTED
      pos = j + 1
    end
    if pos > 1 then
      parts[#parts + 1] = sub(text, pos)
      text = concat(parts)
    end
  end
  return text
end

-- Writes a line and flushes it (listen's lines must reach a pipe or file as they happen).
-- Returns true, or nil and the stream's error.
local function emit(self, stream, text)
  local ok, err = stream:write(self:scrub(text), "\n")
  if ok then ok, err = stream:flush() end
  return ok, err
end

-- stdout that cannot be written (`quicklysign listen | head -1` once head is gone) ends the
-- command: the result has nowhere to go. (LuaSocket ignores SIGPIPE, so nothing else would.)
local function result(self, text)
  local ok, err = emit(self, self.stdout, text)
  if not ok then status.raise(status.FAILED, "cannot write to standard output: " .. tostring(err)) end
end

-- A result line on stdout.
function Output:print(text)
  result(self, text)
end

-- A notice for people on stderr (banners, hints, "nothing found"); -q silences it.
function Output:notice(text)
  if not self.quiet then emit(self, self.stderr, text) end
end

-- An error on stderr, always: "quicklysign: <text>".
function Output:error(text)
  emit(self, self.stderr, "quicklysign: " .. tostring(text))
end

-- One JSON document on one stdout line.
function Output:document(value)
  result(self, json.encode(value))
end

---------------------------------------------------------------------------------------------
-- text for people

-- s without control characters (a server or a callback could otherwise drive the terminal).
function output.clean(s)
  if s == nil then return output.NONE end
  s = tostring(s)
  if s == "" then return output.NONE end
  return (gsub(s, "%c", "?"))
end

-- Display width, counting UTF-8 sequences as one column each.
local function width(s)
  local _, continuation = gsub(s, "[\128-\191]", "")
  return #s - continuation
end

local function pad(s, w)
  return s .. rep(" ", w - width(s))
end

-- Aligned "label  value" lines.
function Output:record(rows)
  local w = 0
  for _, row in ipairs(rows) do
    if #row[1] > w then w = #row[1] end
  end
  for _, row in ipairs(rows) do
    self:print(pad(row[1], w) .. "  " .. output.clean(row[2]))
  end
end

-- A table with a header line; cells are cleaned, columns two spaces apart, no trailing blanks.
-- A list result, in the form the options ask for: one JSON document (--json), the `key` field of
-- each item a line (-q), a notice when empty, else a table of the columns `row(item)` returns.
function Output:list(items, spec)
  if self.json then
    self:document(items)
  elseif self.quiet then
    for _, item in ipairs(items) do self:print(item[spec.key]) end
  elseif #items == 0 then
    self:notice(spec.empty)
  else
    local rows = {}
    for i, item in ipairs(items) do rows[i] = spec.row(item) end
    self:table(spec.columns, rows)
  end
end

function Output:table(columns, rows)
  local widths, cells = {}, {}
  for c, title in ipairs(columns) do widths[c] = width(title) end
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c = 1, #columns do
      local text = output.clean(row[c])
      cells[r][c] = text
      if width(text) > widths[c] then widths[c] = width(text) end
    end
  end
  local function line(values)
    local parts = {}
    for c = 1, #columns do
      parts[c] = c < #columns and pad(values[c], widths[c]) or values[c]
    end
    self:print(concat(parts, "  "))
  end
  line(columns)
  for _, row in ipairs(cells) do line(row) end
end

-- ISO 8601 UTC with milliseconds from the API's milliseconds since the epoch, which may be
-- fractional ("1659513665796.916015625" is 2022-08-03T08:01:05.796Z). Non-numbers print as is.
function output.iso8601(ms)
  if type(ms) == "string" then ms = tonumber(ms) or ms end
  if type(ms) ~= "number" or ms ~= ms or ms == huge or ms == -huge then
    return ms == nil and output.NONE or output.clean(ms)
  end
  local whole = floor(ms)
  local seconds = floor(whole / 1000)
  local millis = whole - seconds * 1000
  local ok, text = pcall(date, "!%Y-%m-%dT%H:%M:%S", seconds)
  if not ok or type(text) ~= "string" then return output.clean(ms) end
  return format("%s.%03dZ", text, millis)
end

return output
