--- Ready-made callback handlers whose work is checked before it counts:
-- `require "quicklysign.handlers"`.
--
-- A webhook is a hint, not proof: a callback can come early, twice, or forged, and the vendor's
-- `final_document_generated` is the only cue for the signed PDFs. These handlers ask the API
-- for the truth and fail (so that the inbox retries them) until the work really is done.
-- Their errors have kind `"handler"` and the reasons `not_ready` (the pack is not complete,
-- lists no documents, or a document has no `serve_pdf_url`), `not_pdf`, `incomplete_download`,
-- `bad_entity_key`, or are the client's.
-- @module quicklysign.handlers
local args = require "quicklysign.callbacks.args"
local errors = require "quicklysign.callbacks.errors"

local type, ipairs, tostring, pcall, format = type, ipairs, tostring, pcall, string.format
local io_open = io.open

local handlers = {}

local function not_ready(message, extra)
  return nil, errors.new("handler", "not_ready", message, extra)
end

-- Reads the first bytes of a file: what a PDF must start with.
local function starts_like_pdf(path)
  local f = io_open(path, "rb")
  if not f then return false end
  local head = f:read(5)
  f:close()
  return head == "%PDF-"
end

--- Whether a pack's final PDFs can be fetched: complete, with a `serve_pdf_url` for each of a
-- non-empty list of documents.
-- @tparam table pack from `client.document_packs:get`
-- @treturn boolean true
-- @treturn[2] nil
-- @treturn[2] table why not (reason `not_ready`)
function handlers.final_pdfs_ready(pack)
  if type(pack) ~= "table" then return not_ready("the API returned no document pack") end
  if pack.status ~= "complete" then
    return not_ready(format("document pack %s is not complete (status %s): its final PDFs are not ready "
      .. "yet", tostring(pack.key), tostring(pack.status)), { pack_status = pack.status })
  end
  local docs = pack.documents
  if type(docs) ~= "table" or #docs == 0 then
    return not_ready(format("document pack %s lists no documents", tostring(pack.key)))
  end
  for i, doc in ipairs(docs) do
    if type(doc) ~= "table" or type(doc.serve_pdf_url) ~= "string" or doc.serve_pdf_url == "" then
      return not_ready(format("document %d of pack %s has no serve_pdf_url", i, tostring(pack.key)))
    end
  end
  return true
end

--- A handler for `final_document_generated`. It fetches the pack, fails unless the pack is
-- complete and every document has a `serve_pdf_url`, downloads every final PDF into
-- `dir/<pack key>/` (each file renamed into place only when whole), checks that each one is a
-- PDF, and only then succeeds. A draft is never taken for the final: an early or forged event
-- fails until the pack completes, and is retried.
-- @tparam table opts `client` (`quicklysign.new` or `quicklysign.openresty.client`), `dir`,
-- `on_done` (function(ev, files), optional)
-- @treturn function the handler, for `router:on`
-- @usage router:on("final_document_generated", handlers.download_final_pdfs{ client = c, dir = "/srv/pdfs" })
function handlers.download_final_pdfs(opts)
  args.check(opts, "table", 1, "download_final_pdfs")
  local client, dir = opts.client, opts.dir
  args.option(type(client) == "table" or type(client) == "userdata", 1, "download_final_pdfs", "client",
    "must be a quicklysign client (quicklysign.new or openresty.client)")
  args.option(type(dir) == "string" and dir ~= "", 1, "download_final_pdfs", "dir",
    "must be a folder path")
  args.option(opts.on_done == nil or args.is_callable(opts.on_done), 1, "download_final_pdfs", "on_done",
    "must be a function")
  local on_done = opts.on_done

  return function(ev)
    -- keys are URL-safe; anything else would be a path trick
    if type(ev.entity_key) ~= "string" or not ev.entity_key:find("^[%w_-]+$") then
      return nil, errors.new("handler", "bad_entity_key", "the entity key is not URL-safe; refused as a folder name")
    end
    local pack, err = client.document_packs:get(ev.entity_key)
    if not pack then return nil, err end
    local ready, why = handlers.final_pdfs_ready(pack)
    if not ready then return nil, why end
    local files
    files, err = client.document_packs:download(ev.entity_key, dir .. "/" .. ev.entity_key)
    if not files then return nil, err end
    if #files ~= #pack.documents then
      return nil, errors.new("handler", "incomplete_download", format("%d of %d documents were downloaded",
        #files, #pack.documents))
    end
    for _, file in ipairs(files) do
      if not starts_like_pdf(file.path) then
        os.remove(file.path)
        return nil, errors.new("handler", "not_pdf", format("%s is not a PDF; removed", tostring(file.path)))
      end
    end
    if on_done then
      local ok, hook_err = pcall(on_done, ev, files)
      if not ok then return nil, hook_err end
    end
    return true
  end
end

return handlers
