-- What a log line may hold. Every line the receiver and the workers write goes through
-- log.writer, which (1) scrubs the callback tokens it was given, raw and percent-encoded, and
-- any `<token_param>=...` query value, and (2) escapes control characters, so that text an
-- attacker controls (keys, event names, error messages) can neither forge a line nor smuggle
-- terminal escapes. Credentials of the API client never reach here unredacted: the C core
-- scrubs its own errors.
local type, tostring, pcall, ipairs = type, tostring, pcall, ipairs
local format, gsub, byte, find, sub = string.format, string.gsub, string.byte, string.find, string.sub

local log = {
  MAX_LINE = 4000,   -- bytes of one message kept (the rest is cut, and says so)
  REDACTED = "REDACTED",
}

local function escape_byte(c)
  if c == "\n" then return "\\n" end
  if c == "\r" then return "\\r" end
  if c == "\t" then return "\\t" end
  return format("\\x%02x", byte(c))
end

--- log.sanitize(text) --> one printable line: control characters as \n, \r, \t or \xNN.
function log.sanitize(text)
  text = tostring(text)
  if #text > log.MAX_LINE then
    text = sub(text, 1, log.MAX_LINE) .. format(" ... (%d bytes cut)", #text - log.MAX_LINE)
  end
  return (gsub(text, "[%z\1-\31\127]", escape_byte))
end

local function pct(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end

local function replace_plain(text, needle, with)
  if needle == "" then return text end
  local out, pos = {}, 1
  while true do
    local i, j = find(text, needle, pos, true)
    if not i then break end
    out[#out + 1] = sub(text, pos, i - 1)
    out[#out + 1] = with
    pos = j + 1
  end
  if pos == 1 then return text end
  out[#out + 1] = sub(text, pos)
  return table.concat(out)
end

--- log.scrubber(secrets, param) --> function(text) that hides each secret and param's values.
function log.scrubber(secrets, param)
  local needles = {}
  for _, s in ipairs(secrets or {}) do
    if type(s) == "string" and #s >= 4 then
      needles[#needles + 1] = s
      local encoded = pct(s)
      if encoded ~= s then needles[#needles + 1] = encoded end
    end
  end
  local pattern = param and ("([?&]" .. gsub(param, "%p", "%%%0") .. "=)[^&%s#\"']*")
  return function(text)
    text = tostring(text)
    for _, needle in ipairs(needles) do text = replace_plain(text, needle, log.REDACTED) end
    if pattern then text = gsub(text, pattern, "%1" .. log.REDACTED) end
    return text
  end
end

--- log.writer(fn, scrub) --> function(level, msg): fn(level, clean msg), never raising.
function log.writer(fn, scrub)
  return function(level, msg)
    local line = log.sanitize(scrub and scrub(msg) or msg)
    pcall(fn, level, line)
  end
end

return log
