-- The handlers that scripts/chaos gives `quicklysign worker`: the real checked download of the
-- final PDFs, bracketed by "start" and "end" lines in $CHAOS_LOG (one write each, O_APPEND),
-- so that the run can tell a job that ran twice because its worker died in the middle from one
-- that ran twice for another reason.
local handlers = require "quicklysign.handlers"

local LOG, DIR = assert(os.getenv("CHAOS_LOG")), assert(os.getenv("CHAOS_PDF_DIR"))

local ID = (function()   -- this process's pid (Linux), which the run matches against the ones it killed
  local f = io.open("/proc/self/stat")
  local pid = f and f:read("*n")
  if f then f:close() end
  return tostring(pid or "?")
end)()

local function note(what, ev)
  local f = assert(io.open(LOG, "a"))
  f:setvbuf("no")
  f:write(("%s %s %s %d\n"):format(what, ev.entity_key, ID, ev.attempt))
  f:close()
end

return function(router, client)
  local download = handlers.download_final_pdfs{ client = client, dir = DIR }
  router:on("final_document_generated", function(ev)
    note("start", ev)
    local ok, err = download(ev)
    if ok then note("end", ev) end
    return ok, err
  end)
end
