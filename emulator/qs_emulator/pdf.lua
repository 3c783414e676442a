-- Builds small, valid PDF 1.4 files (one page, Helvetica text, a correct xref table) that name
-- a document, its pack, the pack's status and its signatories. With `size`, an unreferenced
-- padding stream makes the file exactly that many bytes, so tests can stream multi-MiB files.
-- Pure string building: no ngx, no I/O.
local utf8 = require "qs_emulator.utf8"

local format, rep, sub, gsub, byte = string.format, string.rep, string.sub, string.gsub, string.byte
local concat = table.concat
local floor, date = math.floor, os.date

local pdf = {}

local PAGE_WIDTH, PAGE_HEIGHT = 595, 842
local MAX_LINE = 100

-- A PDF literal string of printable ASCII (other bytes shown as "?"), escaped, cut to MAX_LINE.
local function literal(s)
  s = gsub(s, "[^\32-\126]+", "?")
  if #s > MAX_LINE then s = sub(s, 1, MAX_LINE - 3) .. "..." end
  return "(" .. gsub(s, "[()\\]", "\\%0") .. ")"
end

-- A PDF text string holding any Unicode text: <FEFF + UTF-16BE hex>.
local function unicode_text(s)
  local hex = gsub(utf8.to_utf16be(s), ".", function(c) return format("%02X", byte(c)) end)
  return "<FEFF" .. hex .. ">"
end

local function pdf_date(ms)
  return "(D:" .. date("!%Y%m%d%H%M%S", floor((ms or 0) / 1000)) .. "Z)"
end

local function content_stream(lines)
  local out = { "BT", "/F1 10 Tf", "13 TL", "56 790 Td" }
  for i, line in ipairs(lines) do
    if i == 1 then
      out[#out + 1] = "/F1 18 Tf " .. literal(line) .. " Tj /F1 10 Tf T* T*"
    else
      out[#out + 1] = literal(line) .. " Tj T*"
    end
  end
  out[#out + 1] = "ET"
  return concat(out, "\n")
end

local PAD_LINE = "% QuicklySign emulator padding: this stream only makes the file larger.\n"

local function padding(n)
  if n <= 0 then return "" end
  local reps = floor(n / #PAD_LINE) + 1
  return sub(rep(PAD_LINE, reps), 1, n)
end

-- Assembles the file from its objects with `pad` bytes of padding; returns the string and its
-- size (with measure_only, the size alone: the padding is counted, not built).
local function assemble(objects, info_dict, pad, eof_newline, measure_only)
  local parts, offsets, pos = {}, {}, 0
  local function add(s)
    parts[#parts + 1] = s
    pos = pos + #s
  end
  add("%PDF-1.4\n%\226\227\207\211\n")
  for i, body in ipairs(objects) do
    offsets[i] = pos
    add(i .. " 0 obj\n" .. body .. "\nendobj\n")
  end
  local info_num = #objects + 1
  offsets[info_num] = pos
  add(info_num .. " 0 obj\n" .. info_dict .. "\nendobj\n")
  local pad_num = info_num + 1
  offsets[pad_num] = pos
  -- fixed-width /Length so that the padding size does not change the header's size
  add(pad_num .. " 0 obj\n<< /Length " .. format("%-12d", pad) .. ">>\nstream\n")
  if measure_only then pos = pos + pad else add(padding(pad)) end
  add("\nendstream\nendobj\n")
  local xref_at = pos
  local xref = { "xref\n0 " .. (pad_num + 1) .. "\n", "0000000000 65535 f \n" }
  for i = 1, pad_num do xref[#xref + 1] = format("%010d 00000 n \n", offsets[i]) end
  add(concat(xref))
  add("trailer\n<< /Size " .. (pad_num + 1) .. " /Root 1 0 R /Info " .. info_num .. " 0 R >>\n")
  add("startxref\n" .. xref_at .. "\n%%EOF" .. (eof_newline and "\n" or ""))
  if measure_only then return nil, pos end
  return concat(parts), pos
end

-- doc: { title, lines = {...}, subject, keywords, created_ms, size? }
function pdf.render(doc)
  local stream = content_stream(doc.lines)
  local objects = {
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " .. PAGE_WIDTH .. " " .. PAGE_HEIGHT .. "]"
      .. " /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    "<< /Length " .. #stream .. " >>\nstream\n" .. stream .. "\nendstream",
  }
  local info = "<< /Title " .. unicode_text(doc.title)
    .. " /Subject " .. unicode_text(doc.subject or "")
    .. " /Keywords " .. unicode_text(doc.keywords or "")
    .. " /Producer (QuicklySign emulator) /Creator (QuicklySign emulator)"
    .. " /CreationDate " .. pdf_date(doc.created_ms) .. " /ModDate " .. pdf_date(doc.modified_ms or doc.created_ms)
    .. " >>"
  local target = doc.size
  local _, natural = assemble(objects, info, 0, true, true)
  if not target or target <= natural then return (assemble(objects, info, 0, true)) end
  -- size(pad) = natural + pad + (growth of the xref offset's digits): find the pad that hits
  -- target, using the optional final newline to bridge a digit roll-over.
  local pad = target - natural
  for _ = 1, 4 do
    local _, size = assemble(objects, info, pad, true, true)
    if size == target then return (assemble(objects, info, pad, true)) end
    local _, size_no_nl = assemble(objects, info, pad, false, true)
    if size_no_nl == target then return (assemble(objects, info, pad, false)) end
    pad = pad - (size - target)
  end
  return (assemble(objects, info, pad, true))
end

return pdf
