# bash completion for quicklysign: source this file, or `source <(quicklysign completion bash)`.
# The command answers for itself (quicklysign __complete), so new commands complete at once.
_quicklysign() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local candidates
  candidates=$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _quicklysign quicklysign
