-- The option parser: walks the command line once, through a tree of commands.
--
-- A node is { name=, options={spec...}, args={ {name=, optional=} ... }, commands={node...} }.
-- Words that name a subcommand descend the tree and bring its options into scope; the root's
-- options (the global ones) are valid anywhere on the line. An option spec is
--   { name = "entity", value = "KEY" (absent for a flag), short = "q", type = "number"|"integer",
--     min =, max =, choices = {...}, required = true, repeatable = true (values in an array) }
-- and its value lands in options[<name with - as _>].
--
-- What counts as an option: "--name", "--name=value" (a name of letters, digits and dashes that
-- starts with a letter, at most MAX_NAME long) and "-x" (one letter). Everything else is an
-- argument, so the API's keys (50 to 120 URL-safe characters, which may begin with "-" or "--")
-- need no quoting. An option's value is refused only when it is itself an option of the
-- command ("--entity --json" forgot the key). "--" ends the options.
local suggest = require "quicklysign.suggest"

local type, ipairs, tonumber, tostring = type, ipairs, tonumber, tostring
local match, gsub, format, concat, floor =
  string.match, string.gsub, string.format, table.concat, math.floor

local args = {
  MAX_NAME = 32,
}

-- Usage errors carry the node they happened in and the words that named it, so that the hint
-- names the right --help.
local function usage_error(node, path, message)
  local words = {}
  for i = 1, #path do words[i] = path[i] end
  return nil, { message = message, node = node, path = words }
end

local function key_of(spec)
  return (gsub(spec.name, "-", "_"))
end

-- Whether a word is an option by the rules above (the "--" terminator aside).
local function option_like(word)
  if match(word, "^%-%a$") then return true end
  local name = match(word, "^%-%-(%a[%w%-_]*)=") or match(word, "^%-%-(%a[%w%-_]*)$")
  return name ~= nil and #name <= args.MAX_NAME
end

function args.child(node, name)
  for _, child in ipairs(node.commands or {}) do
    if child.name == name then return child end
  end
  return nil
end

-- The names of node's subcommands that people see (hidden ones, for scripts, are left out).
function args.visible_children(node)
  local names = {}
  for _, child in ipairs(node.commands or {}) do
    if not child.hidden then names[#names + 1] = child.name end
  end
  return names
end

-- The message for a word that names no subcommand of node, with what it was likely meant to be.
function args.unknown_command(node, path, word)
  local where = #path > 0 and format(" for '%s'", concat(path, " ")) or ""
  -- a typo is short; a long word is more likely a key or a secret pasted in the wrong place
  if #word > args.MAX_NAME then return format("unknown command (a %d-character word)%s", #word, where) end
  local hint = suggest.phrase(word, args.visible_children(node))
  return format("unknown command '%s'%s", word, where) .. (hint ~= "" and ("." .. hint) or "")
end

-- Names people try for credentials; the answer says where credentials come from instead.
local CREDENTIAL_FLAGS = {
  ["client-id"] = "QUICKLYSIGN_CLIENT_ID", ["client_id"] = "QUICKLYSIGN_CLIENT_ID",
  ["client-secret"] = "QUICKLYSIGN_CLIENT_SECRET", ["client_secret"] = "QUICKLYSIGN_CLIENT_SECRET",
  ["secret"] = "QUICKLYSIGN_CLIENT_SECRET",
  ["api-key"] = "QUICKLYSIGN_API_KEY", ["api_key"] = "QUICKLYSIGN_API_KEY",
  ["access-token"] = "QUICKLYSIGN_API_KEY", ["access_token"] = "QUICKLYSIGN_API_KEY",
}

-- Converts and checks an option's value; returns value or nil, message.
local function convert(spec, text)
  local label = "--" .. spec.name
  if text == "" then return nil, format("option %s needs a non-empty value", label) end
  if spec.choices then
    for _, choice in ipairs(spec.choices) do
      if text == choice then return text end
    end
    return nil, format("option %s must be one of %s (got '%s')", label,
      concat(spec.choices, ", "), text)
  end
  if spec.type == "number" or spec.type == "integer" then
    local n = tonumber(text)
    if n == nil or n ~= n or (spec.type == "integer" and n ~= floor(n)) then
      return nil, format("option %s needs %s (got '%s')", label,
        spec.type == "integer" and "a whole number" or "a number", text)
    end
    if (spec.min and n < spec.min) or (spec.max and n > spec.max) then
      return nil, format("option %s must be between %s and %s (got %s)", label,
        tostring(spec.min), tostring(spec.max), text)
    end
    if spec.type == "integer" then n = floor(n) end
    return n
  end
  return text
end

-- args.parse(argv, root) -> { node=, path={...}, options={...}, args={...}, help=bool }
--                        or nil, { message=, node=, path= }
-- Only what the words say is checked here; args.validate checks what must be there.
function args.parse(argv, root)
  local node, path = root, {}
  local long, short, names = {}, {}, {}
  local function bring_into_scope(n)
    for _, spec in ipairs(n.options or {}) do
      if not long[spec.name] then names[#names + 1] = spec.name end
      long[spec.name] = spec
      if spec.short then short[spec.short] = spec end
    end
  end
  bring_into_scope(root)

  local options, positional = {}, {}
  local only_arguments = false
  local i = 1
  while i <= #argv do
    local word = argv[i]
    if type(word) ~= "string" then word = tostring(word) end
    if not only_arguments and word == "--" then
      only_arguments = true
    elseif not only_arguments and option_like(word) then
      local name, value = match(word, "^%-%-([^=]+)=(.*)$")
      local spec
      if name then
        spec = long[name]
      elseif match(word, "^%-%-") then
        name = word:sub(3)
        spec = long[name]
      else
        name = word:sub(2)
        spec = short[name]
      end
      local shown = (match(word, "^%-%-") and "--" or "-") .. name
      if spec == nil then
        -- only the option's name is ever echoed, never a value given with "="
        local env = CREDENTIAL_FLAGS[name]
        if env then
          return usage_error(node, path, format("option %s does not exist: credentials are read only "
            .. "from the environment (set %s), never from the command line", shown, env))
        end
        local hint = match(word, "^%-%-") and suggest.phrase(name, names, "--") or ""
        return usage_error(node, path, format("unknown option %s", shown) .. (hint ~= "" and ("." .. hint) or ""))
      end
      local key = key_of(spec)
      if not spec.value then
        if value ~= nil then
          return usage_error(node, path, format("option --%s takes no value", spec.name))
        end
        options[key] = true
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          local other = value and option_like(value) and
            (long[match(value, "^%-%-([^=]+)") or ""] or short[match(value, "^%-(%a)$") or ""])
          if value == nil or other then
            return usage_error(node, path, format("option --%s needs a value (%s)", spec.name, spec.value))
          end
        end
        local converted, why = convert(spec, value)
        if converted == nil then return usage_error(node, path, why) end
        if spec.repeatable then   -- --entity A --entity B: every value, in order
          options[key] = options[key] or {}
          options[key][#options[key] + 1] = converted
        else
          options[key] = converted
        end
      end
    elseif node.commands and #positional == 0 then
      local child = args.child(node, word)
      if child == nil then return usage_error(node, path, args.unknown_command(node, path, word)) end
      node = child
      path[#path + 1] = word
      bring_into_scope(child)
    else
      positional[#positional + 1] = word
    end
    i = i + 1
  end
  return { node = node, path = path, options = options, args = positional, help = options.help == true }
end

-- args.validate(result) -> true or nil, { message=, node=, path= }: a command (not a group) was named,
-- its arguments are all there and no more, its required options are given.
function args.validate(result)
  local node, path = result.node, result.path
  if node.commands then
    if #result.path == 0 then return usage_error(node, path, "no command given") end
    return usage_error(node, path, format("'%s' needs a subcommand", concat(result.path, " ")))
  end
  local specs = node.args or {}
  local required = 0
  for _, a in ipairs(specs) do
    if not a.optional then required = required + 1 end
  end
  if #result.args < required then
    return usage_error(node, path, format("missing argument %s", specs[#result.args + 1].name))
  end
  local repeated = #specs > 0 and specs[#specs].repeated
  if #result.args > #specs and not repeated then
    -- arguments are echoed only by position: a misplaced secret must not reach the terminal
    return usage_error(node, path, format("unexpected argument #%d (this command takes %s)",
      #specs + 1, #specs == 0 and "no arguments" or ("at most " .. #specs)))
  end
  for _, spec in ipairs(node.options or {}) do
    if spec.required and result.options[key_of(spec)] == nil then
      return usage_error(node, path, format("option --%s is required", spec.name))
    end
  end
  return true
end

args.key_of = key_of

return args
