-- The PDF bytes of each document, rendered once and cached: the draft (re-rendered when the
-- pack changes) and, once the pack is complete, the final ("signed by ...") version.
local pdf = require "qs_emulator.pdf"

local concat = table.concat

local pdf_files = {}

local cache = {} -- doc key -> { draft = string, draft_version = n, final = string }

function pdf_files.reset()
  cache = {}
end

local function signatory_line(s)
  return "  " .. (s.name or "") .. " <" .. (s.email or "") .. "> - " .. s.status
end

local function render(pack, doc, variant)
  local lines = {
    variant == "final" and "QuicklySign emulator - FINAL signed document"
      or "QuicklySign emulator - DRAFT (not signed)",
    "Document: " .. doc.name,
    "Document key: " .. doc.key,
    "Document pack: " .. pack.name,
    "Pack key: " .. pack.key,
    "Status: " .. pack.status,
    "",
  }
  local names = {}
  if variant == "final" then
    lines[#lines + 1] = "Signed by:"
  else
    lines[#lines + 1] = "Signatories:"
  end
  for _, s in ipairs(pack.signatories) do
    lines[#lines + 1] = signatory_line(s)
    names[#names + 1] = s.name or ""
  end
  if #pack.signatories == 0 then lines[#lines + 1] = "  (none)" end
  return pdf.render({
    title = doc.name,
    subject = "Document pack: " .. pack.name,
    keywords = "status: " .. pack.status
      .. (variant == "final" and ("; signed by " .. concat(names, ", ")) or "; draft"),
    lines = lines,
    created_ms = doc.date_created,
    modified_ms = pack.date_updated,
    size = doc.pdf_bytes,
  })
end

-- The bytes of variant ("draft" | "final") of doc, or nil when that variant does not exist
-- (no final before completion).
function pdf_files.get(pack, doc, variant)
  local entry = cache[doc.key]
  if not entry then
    entry = {}
    cache[doc.key] = entry
  end
  if variant == "final" then
    if pack.status ~= "complete" then return nil end
    if not entry.final then
      entry.final = render(pack, doc, "final")
      entry.draft = nil -- no longer served
    end
    return entry.final
  end
  if entry.draft_version ~= pack.version or not entry.draft then
    entry.draft = render(pack, doc, "draft")
    entry.draft_version = pack.version
  end
  return entry.draft
end

-- What GET .../pdf serves now: the final once the pack is complete, else the draft.
function pdf_files.current_variant(pack)
  return pack.status == "complete" and "final" or "draft"
end

return pdf_files
