-- Shell completion. The bash and zsh scripts are small and know nothing of the commands: on
-- each Tab they ask `quicklysign __complete -- <words so far>`, which answers from the command
-- tree (commands.lua), so a command added there completes at once. `quicklysign completion
-- bash|zsh` prints a script; the rock also installs both (completions/, kept equal to these by
-- spec/cli/completion_spec.lua; `make completions` writes them).
local args = require "quicklysign.cli.args"
local commands = require "quicklysign.cli.commands"
local status = require "quicklysign.cli.status"

local ipairs, sub, concat = ipairs, string.sub, table.concat

local completion = {}

completion.SCRIPTS = {
  bash = [==[
# bash completion for quicklysign: source this file, or `source <(quicklysign completion bash)`.
# The command answers for itself (quicklysign __complete), so new commands complete at once.
_quicklysign() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local candidates
  candidates=$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _quicklysign quicklysign
]==],
  zsh = [==[
#compdef quicklysign
# zsh completion for quicklysign: put this file on $fpath as _quicklysign, or
# `source <(quicklysign completion zsh)` after compinit.
# The command answers for itself (quicklysign __complete), so new commands complete at once.
_quicklysign() {
  local -a candidates
  candidates=("${(@f)$(${words[1]} __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(${candidates:#})
  if (( ${#candidates} )); then
    compadd -a candidates
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_quicklysign" ]]; then
  _quicklysign "$@"
else
  compdef _quicklysign quicklysign
fi
]==],
}

-- The files the rock installs, by shell.
completion.FILES = { bash = "completions/quicklysign.bash", zsh = "completions/_quicklysign" }

-- quicklysign completion bash|zsh
function completion.script(ctx)
  local text = completion.SCRIPTS[ctx.args[1]]
  if not text then ctx:usage("completion is for bash or zsh (got another shell name)") end
  ctx.out.stdout:write(text)
  return status.OK
end

local function option_spec(scope, word)
  local name = word:match("^%-%-([^=]+)$")
  if name then return scope.long[name] end
  name = word:match("^%-(%a)$")
  if name then return scope.short[name] end
  return nil
end

-- completion.candidates(words) -> the candidates for the last word, given the ones before it.
function completion.candidates(words)
  local node = commands.root
  local scope = { long = {}, short = {}, list = {} }
  local function bring(n)
    for _, spec in ipairs(n.options or {}) do
      if not scope.long[spec.name] then scope.list[#scope.list + 1] = spec end
      scope.long[spec.name] = spec
      if spec.short then scope.short[spec.short] = spec end
    end
  end
  bring(node)
  local current = words[#words] or ""
  local positional, i, only_args = 0, 1, false
  local value_of -- the option whose value is the current word
  while i < #words do
    local w = words[i]
    local spec = not only_args and option_spec(scope, w)
    if w == "--" then
      only_args = true
    elseif spec then
      if spec.value then
        if i + 1 == #words then value_of = spec end
        i = i + 1
      end
    elseif node.commands and positional == 0 and args.child(node, w) then
      node = args.child(node, w)
      bring(node)
    elseif not w:find("^%-") or only_args then
      positional = positional + 1
    end
    i = i + 1
  end
  local out = {}
  local function offer(name)
    if sub(name, 1, #current) == current then out[#out + 1] = name end
  end
  if value_of then
    for _, c in ipairs(value_of.choices or {}) do offer(c) end
    return out
  end
  if current:find("^%-") and not only_args then
    for _, spec in ipairs(scope.list) do offer("--" .. spec.name) end
    return out
  end
  if node.commands and positional == 0 then
    for _, name in ipairs(args.visible_children(node)) do offer(name) end
  elseif node.name == "help" then
    local target = commands.root
    for j = 2, #words - 1 do   -- the words after "help"
      if args.child(target, words[j]) then target = args.child(target, words[j]) end
    end
    for _, name in ipairs(args.visible_children(target)) do offer(name) end
  else
    local spec = (node.args or {})[positional + 1]
    for _, c in ipairs(spec and spec.choices or {}) do offer(c) end
  end
  return out
end

-- quicklysign __complete -- WORD...: one candidate a line.
function completion.complete(ctx)
  local list = completion.candidates(ctx.args)
  if #list > 0 then ctx.out.stdout:write(concat(list, "\n"), "\n") end
  return status.OK
end

return completion
