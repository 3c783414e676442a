--- Driver: document_packs:download(PACK_KEY, DIR) once, with a given access token (so that no
-- token is minted in the timed run, as the curl anchor has one too). Prints "files=N bytes=B".
--   lua5.4|luajit bench/drivers/pack_download.lua BASE_URL CA_FILE ACCESS_TOKEN PACK_KEY DIR
local quicklysign = require "quicklysign"

local base_url, ca_file, token, pack_key, dir = arg[1], arg[2], arg[3], arg[4], arg[5]

local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret", access_token = token,
  base_url = base_url, ca_file = ca_file ~= "" and ca_file or nil, timeout = 120, download_timeout = 120,
}
local files, err = client.document_packs:download(pack_key, dir)
if not files then error(tostring(err)) end
local bytes = 0
for _, f in ipairs(files) do bytes = bytes + f.bytes end
client:close()
io.write("files=", #files, " bytes=", bytes, "\n")
