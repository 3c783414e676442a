-- Argument checks for the public functions: misuse raises an error that names the function and
-- the argument, in the wording of Lua's own "bad argument" errors, pointing at the caller's line.
local type, error, getmetatable, tostring = type, error, getmetatable, tostring
local format = string.format

local args = {}

-- Raises "bad argument #n to 'fname' (msg)". `level` counts from the public function that calls
-- this helper (1 = that function's caller), so the message points at the user's code.
function args.fail(n, fname, msg, level)
  error(format("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 1) + 2)
end

function args.is_callable(value)
  if type(value) == "function" then return true end
  local mt = getmetatable(value)
  return type(mt) == "table" and mt.__call ~= nil
end

-- Checks that `value` has Lua type `expected`; "callable" accepts functions and __call tables.
function args.check(value, expected, n, fname, level)
  local ok
  if expected == "callable" then
    ok = args.is_callable(value)
    expected = "function"
  else
    ok = type(value) == expected
  end
  if not ok then
    args.fail(n, fname, format("%s expected, got %s", expected, type(value)), (level or 1) + 1)
  end
  return value
end

-- Checks an option of an options table: `what` describes what was expected.
function args.option(ok, n, fname, name, what, level)
  if not ok then
    args.fail(n, fname, format("option '%s' %s", tostring(name), what), (level or 1) + 1)
  end
end

-- Raises when `opts` holds a key that is not in `known` (a typo would otherwise silently turn
-- a security layer off).
function args.known_options(opts, known, n, fname, level)
  for key in pairs(opts) do
    if not known[key] then
      args.fail(n, fname, format("unknown option '%s'", tostring(key)), (level or 1) + 1)
    end
  end
end

function args.positive_number(value)
  return type(value) == "number" and value > 0 and value == value and value ~= math.huge
end

return args
