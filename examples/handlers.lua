--- The handlers a `quicklysign worker` runs for the callbacks a receiver stored in the inbox:
--   quicklysign worker --inbox INBOX_URL --handlers examples/handlers.lua
-- The module returns function(router, client); the worker makes the client from QUICKLYSIGN_*.
-- Final PDFs go to $QUICKLYSIGN_PDF_DIR/<pack key>/, checked: never a draft.
local handlers = require "quicklysign.handlers"

return function(router, client)
  router:on("final_document_generated", handlers.download_final_pdfs{
    client = client, dir = assert(os.getenv("QUICKLYSIGN_PDF_DIR"), "set QUICKLYSIGN_PDF_DIR"),
    on_done = function(ev, files)
      print(("%s: %d final PDFs (attempt %d)"):format(ev.entity_key, #files, ev.attempt))
    end,
  })
  router:on("document_status_changed", function(ev)
    print(("%s: status changed"):format(ev.entity_key))
  end)
end
