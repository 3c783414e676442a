-- Matches (method, path) against a route table (see routes.lua). Patterns are Lua patterns
-- anchored at both ends; captures are passed to the handler. HEAD is routed like GET.
-- A route with `enabled` (a function) exists only while it returns true (config-dependent
-- paths): otherwise it neither matches nor counts for 405's Allow.
local router = {}
router.__index = router

local match, concat = string.match, table.concat

-- routes: array of { method, pattern, handler, api = bool, storage = bool, enabled = fn? }
function router.new(routes)
  local compiled = {}
  for i, r in ipairs(routes) do
    compiled[i] = {
      method = r[1], pattern = "^" .. r[2] .. "$", handler = r[3], api = r.api or false,
      storage = r.storage or false, enabled = r.enabled,
      has_captures = r[2]:find("(", 1, true) ~= nil,
    }
  end
  return setmetatable({ routes = compiled }, router)
end

-- Returns route, captures (array); or nil, allowed methods ("GET, POST") when the path exists
-- with other methods; or nil, nil when no route has this path.
function router:match(method, path)
  if method == "HEAD" then method = "GET" end
  local allowed
  for _, r in ipairs(self.routes) do
    local caps = (not r.enabled or r.enabled()) and { match(path, r.pattern) } or {}
    if caps[1] ~= nil then
      if not r.has_captures then caps = {} end
      if r.method == method then return r, caps end
      allowed = allowed or {}
      allowed[#allowed + 1] = r.method
    end
  end
  return nil, allowed and concat(allowed, ", ") or nil
end

return router
