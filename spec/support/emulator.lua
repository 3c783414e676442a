--- Test support: the local emulator's address, credentials and its
-- emulator-only endpoints (/_emulator/...), driven through lua-socket so
-- that the code under test (libcurl) is not also the test's own client.
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson.safe").new()

local emulator = {}

emulator.url = os.getenv("QUICKLYSIGN_EMULATOR_URL") or "http://127.0.0.1:18089"
emulator.base_url = emulator.url .. "/v1"
emulator.tls_url = "https://127.0.0.1:" .. (os.getenv("QUICKLYSIGN_EMULATOR_TLS_PORT") or "18443") .. "/v1"
emulator.ca_file = os.getenv("QUICKLYSIGN_EMULATOR_CA_FILE")
emulator.client_id = "qs_test_client_id"
emulator.client_secret = "qs_test_client_secret"
emulator.api_key = "qs_test_api_key"

--- One request to the emulator: returns status, decoded body (or raw text).
function emulator.request(method, path, body)
  local chunks = {}
  local payload = body and assert(cjson.encode(body)) or nil
  local _, status = http.request{
    url = emulator.url .. path,
    method = method,
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and ltn12.source.string(payload) or nil,
    sink = ltn12.sink.table(chunks),
  }
  local text = table.concat(chunks)
  local decoded = cjson.decode(text)
  return status, decoded ~= nil and decoded or text
end

local function admin(method, path, body)
  local status, answer = emulator.request(method, "/_emulator" .. path, body)
  assert(status == 200, ("emulator %s %s answered %s: %s"):format(method, path, tostring(status),
    type(answer) == "string" and answer or cjson.encode(answer)))
  return type(answer) == "table" and answer.data or answer
end

function emulator.reset() return admin("POST", "/reset") end
function emulator.config(settings) return admin("POST", "/config", settings) end
function emulator.fault(f) return admin("POST", "/faults", f) end
function emulator.clear_faults() return admin("DELETE", "/faults") end
function emulator.expire_tokens() return admin("POST", "/tokens/expire") end
function emulator.clear_requests() return admin("DELETE", "/requests") end
function emulator.deliveries() return admin("GET", "/deliveries") end

--- The requests the emulator saw (newest last), optionally only those under a path prefix.
function emulator.requests(prefix)
  local answer = admin("GET", "/requests")
  local list = answer.requests
  local out = {}
  for _, r in ipairs(list) do
    if not prefix or r.path:sub(1, #prefix) == prefix then out[#out + 1] = r end
  end
  return out
end

--- Creates a document pack: {name=, documents={{name=, pdf_bytes=}}, signatories=}
function emulator.create_pack(spec)
  local answer = admin("POST", "/document_packs", spec or { name = "Test pack", documents = { { name = "Contract" } } })
  return answer.document_pack
end

--- Moves a pack along: "update", "send", "sign", "complete".
function emulator.drive(pack_key, step, body)
  return admin("POST", "/document_packs/" .. pack_key .. "/" .. step, body or {})
end

--- A fresh client on the emulator; opts override the defaults.
function emulator.client(opts)
  local quicklysign = require "quicklysign"
  local o = {
    client_id = emulator.client_id, client_secret = emulator.client_secret,
    base_url = emulator.base_url, timeout = 10, retry_base_delay = 0.01,
  }
  for k, v in pairs(opts or {}) do o[k] = v end
  return quicklysign.new(o)
end

--- An entity key of a new pack, for webhook tests.
function emulator.new_entity()
  return emulator.create_pack{ name = "Pack", documents = { { name = "Doc" } } }.key
end

return emulator
