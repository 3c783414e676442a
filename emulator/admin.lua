--- A Lua client for the emulator's own endpoints (/_emulator/...), used by the
-- specs, the demo and the benchmarks. It speaks through lua-socket, so that
-- the code under test (the libcurl client) is never also the test's client.
--   local admin = require("emulator.admin").new("http://127.0.0.1:8089")
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson.safe").new()

local setmetatable, assert, tostring, type, ipairs = setmetatable, assert, tostring, type, ipairs
local concat = table.concat

local Admin = {}
Admin.__index = Admin

local admin = {}

--- admin.new(url): url is the emulator's root, e.g. "http://127.0.0.1:8089"
function admin.new(url)
  return setmetatable({ url = url, base_url = url .. "/v1" }, Admin)
end

--- One request to the emulator: returns status, decoded body (or raw text).
function Admin:request(method, path, body)
  local chunks = {}
  local payload = body ~= nil and assert(cjson.encode(body)) or nil
  local _, status = http.request{
    url = self.url .. path,
    method = method,
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and ltn12.source.string(payload) or nil,
    sink = ltn12.sink.table(chunks),
  }
  local text = concat(chunks)
  local decoded = cjson.decode(text)
  if decoded ~= nil then return status, decoded end
  return status, text
end

function Admin:call(method, path, body)
  local status, answer = self:request(method, "/_emulator" .. path, body)
  assert(status == 200, ("emulator %s %s answered %s: %s"):format(method, path, tostring(status),
    type(answer) == "string" and answer or cjson.encode(answer)))
  return type(answer) == "table" and answer.data or answer
end

function Admin:reset() return self:call("POST", "/reset") end
function Admin:config(settings) return self:call("POST", "/config", settings) end

--- Plays other readings of the vendor's pages until the next reset: the defaults plus the
-- given profiles and key=value settings, e.g. admin:profile("token-bearer,list-items") or
-- admin:profile{ "pages-relative", "page_size=2" } (emulator/README.md lists the profiles).
-- Returns { start = {...}, active = {...}, config = {...}, storage_host = "127.0.0.2" }.
function Admin:profile(selection)
  return self:call("POST", "/profile", { profile = selection })
end

--- The start and active selections and the config they make (as :profile returns).
function Admin:current_profile() return self:call("GET", "/profile") end

--- Every profile: { {name=, point=, plays=, settings=, default=}, ... }
function Admin:profiles() return self:call("GET", "/profiles").profiles end
function Admin:fault(f) return self:call("POST", "/faults", f) end
function Admin:clear_faults() return self:call("DELETE", "/faults") end
function Admin:expire_tokens() return self:call("POST", "/tokens/expire") end
function Admin:clear_requests() return self:call("DELETE", "/requests") end
function Admin:deliveries() return self:call("GET", "/deliveries").deliveries end

--- The requests the emulator saw (oldest first), optionally only under a path prefix.
function Admin:requests(prefix)
  local out = {}
  for _, r in ipairs(self:call("GET", "/requests").requests) do
    if not prefix or r.path:sub(1, #prefix) == prefix then out[#out + 1] = r end
  end
  return out
end

--- Creates a document pack: {name=, documents={{name=, pdf_bytes=}}, signatories=}
function Admin:create_pack(spec)
  return self:call("POST", "/document_packs",
    spec or { name = "Test pack", documents = { { name = "Contract" } } }).document_pack
end

--- Moves a pack along its life: "update", "send", "sign", "complete".
function Admin:drive(pack_key, step, body)
  return self:call("POST", "/document_packs/" .. pack_key .. "/" .. step, body or {})
end

return admin
