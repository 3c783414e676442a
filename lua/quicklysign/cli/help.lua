-- Help text, rendered from the command tree: the root's help lists every command, the global
-- options, the environment and the exit codes; a command's help its usage, arguments, options
-- and a line of exit codes.
local status = require "quicklysign.cli.status"

local ipairs, format, rep, concat, gmatch = ipairs, string.format, string.rep, table.concat, string.gmatch

local help = {
  WIDTH = 79,
}

-- Splits text into lines of at most width characters, at spaces.
local function wrap(text, width)
  local lines, line = {}, ""
  for word in gmatch(text, "%S+") do
    if line ~= "" and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = word
    else
      line = line == "" and word or (line .. " " .. word)
    end
  end
  lines[#lines + 1] = line
  return lines
end

local function option_label(spec)
  local label = spec.short and ("-" .. spec.short .. ", --" .. spec.name) or ("--" .. spec.name)
  if spec.value then label = label .. " " .. spec.value end
  return label
end

-- Two-column lines, "  left  right", the left column as wide as its widest entry and the right
-- one wrapped under itself.
local function columns(lines, rows)
  local w = 0
  for _, row in ipairs(rows) do
    if #row[1] > w then w = #row[1] end
  end
  local indent = w + 4
  for _, row in ipairs(rows) do
    for i, part in ipairs(wrap(row[2], help.WIDTH - indent)) do
      local left = i == 1 and ("  " .. row[1] .. rep(" ", w - #row[1]) .. "  ") or rep(" ", indent)
      lines[#lines + 1] = left .. part
    end
  end
end

local function option_rows(options)
  local rows = {}
  for _, spec in ipairs(options or {}) do
    rows[#rows + 1] = { option_label(spec), spec.help .. (spec.required and " (required)" or "") }
  end
  return rows
end

-- The commands under node, flattened to "webhooks create" etc.
local function command_rows(node, prefix, rows)
  for _, child in ipairs(node.commands or {}) do
    local name = prefix and (prefix .. " " .. child.name) or child.name
    if child.hidden then   -- luacheck: ignore 542 (for scripts: not listed)
    elseif child.commands then
      command_rows(child, name, rows)
    else
      rows[#rows + 1] = { name, child.summary }
    end
  end
  return rows
end

-- help.text(root, node, path) -> the help of node (path: the words that name it).
function help.text(root, node, path)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  local name = #path > 0 and ("quicklysign " .. concat(path, " ")) or "quicklysign"
  if node == root then
    add("quicklysign - QuicklySign webhooks and document packs from the shell")
  else
    add(name .. " - " .. node.summary)
  end
  add("")
  for i, l in ipairs(wrap(node.usage, help.WIDTH - 7)) do add((i == 1 and "Usage: " or rep(" ", 7)) .. l) end
  add("")
  for _, l in ipairs(wrap(concat(node.description or {}, " "), help.WIDTH)) do add(l) end

  if node.commands then
    add("")
    add("Commands:")
    columns(lines, command_rows(node, nil, {}))
  end
  if node.args and #node.args > 0 then
    add("")
    add("Arguments:")
    local rows = {}
    for _, a in ipairs(node.args) do rows[#rows + 1] = { a.name, a.help } end
    columns(lines, rows)
  end
  if node ~= root and node.options and #node.options > 0 then
    add("")
    add("Options:")
    columns(lines, option_rows(node.options))
  end
  add("")
  add(node == root and "Global options (anywhere on the line):" or "Global options:")
  columns(lines, option_rows(root.options))

  if node == root then
    add("")
    add("Environment (credentials are read from here only, never from flags):")
    columns(lines, root.environment)
    add("")
    add("Exit codes:")
    local rows = {}
    for _, row in ipairs(status.TABLE) do rows[#rows + 1] = { format("%d", row[1]), row[2] } end
    columns(lines, rows)
    add("")
    for _, l in ipairs(root.notes) do add(l) end
    add("Run 'quicklysign <command> --help' for the options of a command.")
  else
    add("")
    for _, l in ipairs(wrap(status.SHORT:sub(1, 1):upper() .. status.SHORT:sub(2) .. ".", help.WIDTH)) do
      add(l)
    end
    if node.commands then
      add(format("Run '%s <subcommand> --help' for the options of a subcommand.", name))
    else
      add("Run 'quicklysign --help' for the environment and what each exit code means.")
    end
  end
  return concat(lines, "\n")
end

return help
