-- quicklysign packs get|download
local output = require "quicklysign.cli.output"
local progress = require "quicklysign.cli.progress"
local status = require "quicklysign.cli.status"

local type, ipairs, tostring = type, ipairs, tostring
local iso = output.iso8601

local packs = {}

local FLAGS = { pack_key = "KEY", dir = "DIR" }

local function show_pack(out, pack)
  out:record{
    { "key", pack.key },
    { "name", pack.document_pack_name },
    { "status", pack.status },
    { "created", iso(pack.date_created) },
    { "updated", iso(pack.date_updated) },
  }
  local signatories, documents = pack.signatories or {}, pack.documents or {}
  out:print("")
  if #signatories == 0 then
    out:print("no signatories")
  else
    local rows = {}
    for i, s in ipairs(signatories) do rows[i] = { s.name, s.email, s.status } end
    out:table({ "SIGNATORY", "EMAIL", "STATUS" }, rows)
  end
  out:print("")
  if #documents == 0 then
    out:print("no documents")
  else
    local rows = {}
    for i, d in ipairs(documents) do rows[i] = { d.key, d.document_name } end
    out:table({ "DOCUMENT", "NAME" }, rows)
  end
end

function packs.get(ctx)
  local out = ctx.out
  local client = ctx:client{ api_key = true }
  local pack, err = ctx:call(FLAGS, client.document_packs.get, client.document_packs, ctx.args[1])
  if not pack then return ctx:fail(err) end
  if out.json then
    out:document(pack)
  elseif out.quiet then
    out:print(pack.key)
  else
    show_pack(out, pack)
  end
  return status.OK
end

local function show_files(out, files)
  out:list(files, { key = "path", empty = "the pack has no documents to download", columns = { "FILE", "BYTES" },
    row = function(f) return { f.path, tostring(f.bytes) } end })
end
packs.show_files = show_files

function packs.download(ctx)
  local out = ctx.out
  local on_event, bar = progress.for_command(ctx, progress.clock())
  local client = ctx:client{ api_key = true, on_event = on_event }
  local files, err = ctx:call(FLAGS, client.document_packs.download, client.document_packs,
    ctx.args[1], ctx.args[2])
  if bar then bar:finish() end
  if not files then
    local code = ctx:fail(err)
    local partial = type(err) == "table" and err.downloaded
    if partial and #partial > 0 then
      out:notice("downloaded before the failure:")
      for _, f in ipairs(partial) do out:notice("  " .. output.clean(f.path)) end
    end
    return code
  end
  show_files(out, files)
  return status.OK
end

return packs
