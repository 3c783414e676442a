--- Driver: client:download(url, path) K times (default once); prints the peak RSS (VmHWM, KiB)
-- before the first and after the last, and the bytes of the last:
-- "hwm_before=... hwm_after=... bytes=...".
--   lua5.4|luajit bench/drivers/download.lua BASE_URL ACCESS_TOKEN PDF_URL PATH [K]
local quicklysign = require "quicklysign"

local base_url, token, url, path, k = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5] or 1)

local function vm_hwm()
  local f = assert(io.open("/proc/self/status", "r"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmHWM:%s*(%d+)"))
end

local client = quicklysign.new{
  client_id = "qs_test_client_id", client_secret = "qs_test_client_secret",
  access_token = token, base_url = base_url, download_timeout = 120,
}
local before = vm_hwm()
local bytes, err
for _ = 1, k do
  bytes, err = client:download(url, path)
  if not bytes then error(tostring(err)) end
end
local after = vm_hwm()
client:close()
io.write(("hwm_before=%d hwm_after=%d bytes=%d\n"):format(before, after, bytes))
