-- /_emulator/document_packs: create a pack, read it (no token), and drive it through its life
-- (update, send, sign, complete, fail), which fires the webhook callbacks (see lifecycle.lua).
local envelope = require "qs_emulator.envelope"
local views = require "qs_emulator.views"
local keys = require "qs_emulator.keys"
local lifecycle = require "qs_emulator.lifecycle"
local document_packs = require "qs_emulator.store.document_packs"

local type, floor = type, math.floor

local admin = {}

local MAX_PDF_BYTES = 512 * 1024 * 1024

local function is_list(v)
  return type(v) == "table" and (v[1] ~= nil or next(v) == nil)
end

-- Validates [{name, email}]; returns a list or nil, error response.
local function read_signatories(v, field)
  if v == nil then return {} end
  if not is_list(v) then return nil, envelope.invalid_field(field, "an array of {name, email} is expected") end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "table" or type(s.name) ~= "string" or type(s.email) ~= "string" then
      return nil, envelope.invalid_field(field .. "[" .. (i - 1) .. "]", "name and email strings are expected")
    end
    out[i] = { name = s.name, email = s.email }
  end
  return out
end

-- Validates [{name, pdf_bytes?}]; names are stored exactly as given.
local function read_documents(v, field)
  if v == nil then return {} end
  if not is_list(v) then return nil, envelope.invalid_field(field, "an array of {name, pdf_bytes?} is expected") end
  local out = {}
  for i, d in ipairs(v) do
    local where = field .. "[" .. (i - 1) .. "]"
    if type(d) ~= "table" or type(d.name) ~= "string" then
      return nil, envelope.invalid_field(where .. ".name", "a string is expected")
    end
    local size = d.pdf_bytes
    if size ~= nil and (type(size) ~= "number" or size ~= floor(size) or size < 0 or size > MAX_PDF_BYTES) then
      return nil, envelope.invalid_field(where .. ".pdf_bytes", "an integer 0..536870912 is expected")
    end
    out[i] = { name = d.name, pdf_bytes = size }
  end
  return out
end

local function answer(ctx, pack)
  return envelope.ok({ document_pack = views.document_pack(pack, ctx:origin(), ctx:storage_origin()) })
end

-- POST /_emulator/document_packs {"key"?, "name", "signatories":[...], "documents":[...]}
function admin.create(ctx)
  local body, reason = ctx:json()
  if not body then return envelope.bad_body(reason) end
  if body.key ~= nil then
    if not keys.is_valid(body.key) then
      return envelope.invalid_field("key", "1..200 characters of [A-Za-z0-9_-] are expected")
    end
    if document_packs.exists(body.key) then
      return envelope.invalid_field("key", "a document pack with this key exists")
    end
  end
  local name = body.name
  if name == nil then name = "Document pack" end
  if type(name) ~= "string" then return envelope.invalid_field("name", "a string is expected") end
  local signatories, err = read_signatories(body.signatories, "signatories")
  if not signatories then return err end
  local documents
  documents, err = read_documents(body.documents, "documents")
  if not documents then return err end
  local pack = document_packs.create({
    key = body.key, name = name, signatories = signatories, documents = documents,
  })
  return answer(ctx, pack)
end

local function pack_or_404(key)
  local pack = document_packs.get(key)
  if not pack then return nil, envelope.not_found("Document pack") end
  return pack
end

-- GET /_emulator/document_packs/<key>
function admin.get(ctx, key)
  local pack, err = pack_or_404(key)
  if not pack then return err end
  return answer(ctx, pack)
end

-- POST /_emulator/document_packs/<key>/update {"name"?, "add_signatories"?, "add_documents"?}
function admin.update(ctx, key)
  local pack, err = pack_or_404(key)
  if not pack then return err end
  local body, reason = ctx:json()
  if not body and reason ~= "empty" then return envelope.bad_body(reason) end
  body = body or {}
  if body.name ~= nil and type(body.name) ~= "string" then
    return envelope.invalid_field("name", "a string is expected")
  end
  local add_signatories, add_documents
  add_signatories, err = read_signatories(body.add_signatories, "add_signatories")
  if not add_signatories then return err end
  add_documents, err = read_documents(body.add_documents, "add_documents")
  if not add_documents then return err end
  lifecycle.update(pack, { name = body.name, add_signatories = add_signatories, add_documents = add_documents })
  return answer(ctx, pack)
end

local function step(fn)
  return function(ctx, key)
    local pack, err = pack_or_404(key)
    if not pack then return err end
    local problem = fn(pack, ctx)
    if problem then return envelope.bad_request(problem) end
    return answer(ctx, pack)
  end
end

admin.send = step(function(pack) return lifecycle.send(pack) end)
admin.complete = step(function(pack) return lifecycle.complete(pack) end)
admin.fail = step(function(pack) return lifecycle.fail(pack) end)
-- POST .../sign {"signatory": 0-based index | email} (none: the first who has not signed)
admin.sign = step(function(pack, ctx)
  local body = ctx:json() or {}
  return lifecycle.sign(pack, body.signatory)
end)

return admin
