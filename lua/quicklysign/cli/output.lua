-- Everything the command prints goes through here: result lines and --json documents to stdout,
-- notices and errors to stderr. Every line is scrubbed of the secrets the command knows (client
-- secret, API key) on its way out, whatever produced it; callback tokens (the values of query
-- parameters such as ?token=) are masked unless --show-secrets; text that came from the server
-- or a callback is stripped of control characters before it reaches a terminal; tables are cut
-- to the terminal's width (long values end in "…") unless --wide.
local json = require "quicklysign.cli.json"
local status = require "quicklysign.cli.status"
local terminal = require "quicklysign.cli.terminal"

local type, tostring, tonumber, ipairs, setmetatable, pcall =
  type, tostring, tonumber, ipairs, setmetatable, pcall
local find, sub, rep, gsub, format, concat, floor, huge, date, lower =
  string.find, string.sub, string.rep, string.gsub, string.format, table.concat, math.floor,
  math.huge, os.date, string.lower

local output = {
  MIN_SECRET = 6,          -- shorter values would garble every line that happens to contain them
  REDACTED = "[REDACTED]",
  MASK = "****",           -- a masked token: always this, so that its length shows nothing
  NONE = "-",              -- what a missing value prints as
  ELLIPSIS = "\226\128\166", -- "…", the end of a value cut to fit
  MIN_CUT = 8,             -- a column cut to fit keeps at least this many characters
}

-- Query parameters whose values are secrets (lower case; "_" and "-" alike).
local SECRET_PARAMS = {
  token = true, access_token = true, callback_token = true, secret = true, client_secret = true,
  password = true, passwd = true, pass = true, pwd = true, sig = true, signature = true,
  auth = true, key = true, api_key = true, apikey = true,
}

local function secret_param(name)
  name = gsub(lower(name), "%-", "_")
  return SECRET_PARAMS[name] or find(name, "token$") ~= nil or find(name, "secret$") ~= nil
end

-- text with the values of secret query parameters (in URLs, or in a log line that quotes one)
-- and the password of a URL's user info replaced by output.MASK.
function output.mask(text)
  text = gsub(text, "([?&;])([%w_%-%.]+)=([^&;#%s\"'<>)]*)", function(lead, name, value)
    -- a shell variable ("$QUICKLYSIGN_LISTEN_TOKEN") is not the secret itself
    -- (nor is the client's own REDACTED)
    if value ~= "" and value ~= "REDACTED" and sub(value, 1, 1) ~= "$" and secret_param(name) then
      return lead .. name .. "=" .. output.MASK
    end
  end)
  return (gsub(text, "(%a[%w+.%-]*://[^/?#%s:@]*):[^/?#%s@]+@", "%1:" .. output.MASK .. "@"))
end

local Output = {}
Output.__index = Output

-- output.new{stdout=, stderr=, json=bool, quiet=bool, secrets={...}, wide=bool,
--   show_secrets=bool, terminal=<terminal.new(...)>}
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
    wide = opts.wide == true,
    show_secrets = opts.show_secrets == true,
    terminal = opts.terminal or terminal.new(os.getenv),
    secrets = secrets,
  }, Output)
end

-- Adds a value the output must never show (e.g. a token read from the environment).
function Output:add_secret(value)
  if type(value) == "string" and #value >= output.MIN_SECRET then self.secrets[#self.secrets + 1] = value end
end

-- text with every known secret replaced (plain search: secrets may hold pattern characters),
-- and callback tokens masked unless --show-secrets.
function Output:scrub(text)
  text = tostring(text)
  if not self.show_secrets then text = output.mask(text) end
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
output.width = width

local function pad(s, w)
  return s .. rep(" ", w - width(s))
end

-- s cut to w columns, ending in "…" when anything was cut (never inside a UTF-8 sequence).
function output.cut(s, w)
  if width(s) <= w then return s end
  local keep, cols, i = w - 1, 0, 1
  while i <= #s and cols < keep do
    local j = i + 1
    while j <= #s and find(sub(s, j, j), "^[\128-\191]") do j = j + 1 end
    i, cols = j, cols + 1
  end
  return sub(s, 1, i - 1) .. output.ELLIPSIS
end

-- A cell as people see it: cleaned, and with its tokens masked unless --show-secrets.
function Output:cell(v)
  local text = output.clean(v)
  if not self.show_secrets then text = output.mask(text) end
  return text
end

-- Aligned "label  value" lines.
function Output:record(rows)
  local w = 0
  for _, row in ipairs(rows) do
    if #row[1] > w then w = #row[1] end
  end
  for _, row in ipairs(rows) do
    self:print(pad(row[1], w) .. "  " .. self:cell(row[2]))
  end
end

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

-- The width output must fit, or nil for none (--wide, or not a terminal and no $COLUMNS).
function Output:fit_width()
  if self.wide then return nil end
  return self.terminal:width()
end

-- Column widths that fit `limit`. Columns that may be cut (`cut = 1`, or `true`: keys, first;
-- `cut = 2`: URLs and text, after them) give up a column at a time, the widest of the lowest
-- level first, down to their `min` (output.MIN_CUT, and never below the title), until the line fits.
local function fit(widths, specs, limit)
  local total = 2 * (#widths - 1)
  for _, w in ipairs(widths) do total = total + w end
  for level = 1, 2 do
    while limit and total > limit do
      local widest
      for c, spec in ipairs(specs) do
        local lv = spec.cut == true and 1 or spec.cut
        local least = spec.min or output.MIN_CUT
        if least < width(spec.title) then least = width(spec.title) end
        if lv == level and widths[c] > least and (not widest or widths[c] > widths[widest]) then widest = c end
      end
      if not widest then break end
      widths[widest] = widths[widest] - 1
      total = total - 1
    end
  end
  return widths
end

-- A table with a header line; cells are cleaned, columns two spaces apart, no trailing blanks.
-- columns: titles, or { title = "KEY", cut = 1 | 2, min = N } for columns whose values may be
-- cut with "…" to fit the terminal (see fit). Returns whether anything was cut.
function Output:table(columns, rows)
  local specs, widths, cells = {}, {}, {}
  for c, col in ipairs(columns) do
    specs[c] = type(col) == "table" and col or { title = col }
    widths[c] = width(specs[c].title)
  end
  for r, row in ipairs(rows) do
    cells[r] = {}
    for c = 1, #columns do
      local text = self:cell(row[c])
      cells[r][c] = text
      if width(text) > widths[c] then widths[c] = width(text) end
    end
  end
  fit(widths, specs, self:fit_width())
  local cut = false
  local function line(values)
    local parts = {}
    for c = 1, #columns do
      local v = output.cut(values[c], widths[c])
      if v ~= values[c] then cut = true end
      parts[c] = c < #columns and pad(v, widths[c]) or v
    end
    self:print(concat(parts, "  "))
  end
  local titles = {}
  for c, spec in ipairs(specs) do titles[c] = spec.title end
  line(titles)
  for _, row in ipairs(cells) do line(row) end
  if cut then
    self:notice("(values ending in " .. output.ELLIPSIS .. " are cut to fit the terminal: --wide shows them whole)")
  end
  return cut
end

-- A table printed row by row as rows come (webhooks logs --follow): the header now, then a
-- function that prints one row. Each column but the last is `width` wide (a value of a `cut`
-- column is cut to it when output fits a terminal); the last one takes what is left.
function Output:stream(columns)
  local limit = self:fit_width()
  local widths, used = {}, 0
  for c, spec in ipairs(columns) do
    if c < #columns then
      widths[c] = spec.width or width(spec.title)
      used = used + widths[c] + 2
    end
  end
  local last = limit and (limit - used) or nil
  if last and last < output.MIN_CUT then last = output.MIN_CUT end
  local function line(values, cells)
    local parts = {}
    for c, spec in ipairs(columns) do
      local v = cells and self:cell(values[c]) or values[c]
      if c < #columns then
        if limit and spec.cut then v = output.cut(v, widths[c]) end
        parts[c] = pad(v, widths[c] > width(v) and widths[c] or width(v))
      else
        parts[c] = last and output.cut(v, last) or v
      end
    end
    self:print(concat(parts, "  "))
  end
  local titles = {}
  for c, spec in ipairs(columns) do titles[c] = spec.title end
  line(titles, false)
  return function(row) line(row, true) end
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
