--- The benchmark's own emulator (started by bench/run): its address, the
-- test credentials, and the /_emulator control calls used to set up fixtures,
-- through luasocket so that the code under test is not also the set-up tool.
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require "cjson"

local emu = {}

emu.url = assert(os.getenv("QS_BENCH_EMULATOR"), "QS_BENCH_EMULATOR is not set (bench/run sets it)")
emu.base_url = emu.url .. "/v1"
emu.client_id = "qs_test_client_id"
emu.client_secret = "qs_test_client_secret"
emu.api_key = "qs_test_api_key"

--- One request: returns the HTTP status, the decoded body and the raw body.
function emu.request(method, path, body)
  local chunks = {}
  local payload = body and cjson.encode(body) or nil
  local _, status = http.request{
    url = emu.url .. path, method = method,
    headers = payload and { ["content-type"] = "application/json", ["content-length"] = #payload } or nil,
    source = payload and ltn12.source.string(payload) or nil,
    sink = ltn12.sink.table(chunks),
  }
  local text = table.concat(chunks)
  local ok, decoded = pcall(cjson.decode, text)
  return status, ok and decoded or text, text
end

local function admin(method, path, body)
  local status, answer = emu.request(method, "/_emulator" .. path, body)
  assert(status == 200, ("emulator %s %s answered %s"):format(method, path, tostring(status)))
  return answer.data
end

function emu.reset() return admin("POST", "/reset") end
function emu.config(settings) return admin("POST", "/config", settings) end

--- A new document pack; documents = { { name =, pdf_bytes = } }.
function emu.create_pack(documents)
  return admin("POST", "/document_packs", { name = "Bench pack", documents = documents }).document_pack
end

--- A fresh access token (the same one is given to our client and to curl).
function emu.access_token()
  local status, answer = emu.request("POST", "/v1/access_tokens",
    { client_id = emu.client_id, client_secret = emu.client_secret, api_key = emu.api_key })
  assert(status == 200, "cannot mint an access token")
  return answer.data.access_token
end

--- The query string that carries the client credentials (webhook calls).
function emu.credentials_query()
  return "client_id=" .. emu.client_id .. "&client_secret=" .. emu.client_secret
end

return emu
