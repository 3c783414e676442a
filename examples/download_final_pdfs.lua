--- Download the final PDF of every document in a pack (what to do on
-- final_document_generated). Needs QUICKLYSIGN_API_KEY for the access token.
--   lua5.4 examples/download_final_pdfs.lua PACK_KEY DIR
local quicklysign = require "quicklysign"

local pack_key, dir = arg[1], arg[2]
if not (pack_key and dir) then
  io.stderr:write("usage: download_final_pdfs.lua PACK_KEY DIR\n")
  os.exit(2)
end

local client = quicklysign.new{}
local pack, err = client.document_packs:get(pack_key)
if not pack then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
if pack.status ~= "complete" then
  io.stderr:write(("note: the pack is %s, not complete: these are not the final PDFs\n"):format(pack.status))
end
local files
files, err = client.document_packs:download(pack_key, dir)
if not files then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
for _, f in ipairs(files) do
  print(("%10d bytes  %s"):format(f.bytes, f.path))
end
client:close()
