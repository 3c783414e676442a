-- quicklysign doctor: asks the API at hand, read-only, which reading of the vendor's pages it plays
-- on each point they leave open (docs/vendor-api.md, "Open points"), and says what to configure.
-- Each finding names the emulator profile that plays the same reading (emulator/README.md), so
-- that what the live service does can be replayed offline. It mints a token, lists webhooks with
-- and without one (in each header), reads the list's shape, follows one page, reads the callback
-- log without a filter, asks for a webhook that does not exist, and with --pack KEY downloads the
-- pack's first PDF into a temporary file (a GET, as the client does: a storage service's signed
-- URL may refuse a HEAD), which it removes. It deletes and creates nothing. Nothing secret is
-- printed: the output's scrubbing applies, and only hosts of URLs are shown.
local config = require "quicklysign.cli.config"
local status = require "quicklysign.cli.status"

local type, tostring, pairs, ipairs, pcall = type, tostring, pairs, ipairs, pcall
local match, lower, format, remove, tmpname = string.match, string.lower, string.format, os.remove, os.tmpname

local doctor = {}

local UNKNOWN_KEY = "quicklysign-doctor-no-such-webhook"

local SHAPES = { ["data.webhooks"] = "list-webhooks", data = "list-data-array",
  ["data.webhook"] = "list-webhook-array", ["data.items"] = "list-items" }

-- scheme://host:port of a URL, lower-cased, for origin comparisons and for printing.
local function origin(url)
  local scheme, host = match(type(url) == "string" and url or "", "^(%a[%w+.%-]*)://([^/?#]+)")
  if not scheme then return nil end
  scheme, host = lower(scheme), lower(host)
  if not match(host, ":%d+$") then host = host .. (scheme == "https" and ":443" or ":80") end
  return scheme .. "://" .. host
end

-- A client like the command's own, with some options changed (api_key = false: none, not even
-- QUICKLYSIGN_API_KEY, which the client reads by itself).
local function variant(ctx, main, over)
  local quicklysign = config.library()
  local function env(name)
    local v = ctx.getenv(name)
    if v == "" then return nil end
    return v
  end
  local o = {
    client_id = env(config.CLIENT_ID), client_secret = env(config.CLIENT_SECRET), api_key = env(config.API_KEY),
    base_url = main.base_url, timeout = ctx.options.timeout or 20, max_retries = 1,
    user_agent = format("quicklysign-cli/%s doctor", tostring(quicklysign.version)),
  }
  for k, v in pairs(over or {}) do o[k] = v end
  return quicklysign.new(o)
end

-- Whether an error says a token is missing or refused (not that the credentials are wrong).
local function token_refused(err)
  return type(err) == "table" and (err.code == "invalid_access_token" or
    (err.status == 401 and err.code ~= "unauthorised"))
end

-- A finding: { check, found, reading (a profile name, or nil), ok, advice, code }.
local function finding(check, found, reading, ok, advice, code)
  return { check = check, found = found, reading = reading, ok = ok ~= false, advice = advice, code = code }
end

local function failed(check, err, code)
  return finding(check, "failed: " .. tostring(err), nil, false, nil, code or status.for_api_error(err))
end

-- The access token: minted from the API key, when there is one.
local function check_mint(client, has_key)
  if not has_key then
    return finding("access token", "no QUICKLYSIGN_API_KEY: nothing to mint with", nil, true)
  end
  local ok, err = client:authenticate()
  if not ok then return failed("access token", err) end
  return finding("access token", "minted from QUICKLYSIGN_API_KEY", nil, true)
end

local TOKEN_READINGS = {
  [true] = { [true] = "token-either", [false] = "token-access-token" },
  [false] = { [true] = "token-bearer", [false] = nil },
}

-- Webhook calls with and without a token, and in which header. Returns the finding and a client
-- whose webhook calls work (nil when none does).
local function check_tokens(ctx, main, has_key)
  local bare = variant(ctx, main, { api_key = false })
  local page, err = bare.webhooks:page{ page_size = 1 }
  if page then
    return finding("webhook calls", "need client_id and client_secret only, no token", "token-none", true), bare
  elseif not token_refused(err) then
    return failed("webhook calls", err), nil
  elseif not has_key then
    return finding("webhook calls", "need an access token, and there is no QUICKLYSIGN_API_KEY to mint one",
      nil, false, "set QUICKLYSIGN_API_KEY (the client's api_key): webhook calls need an access token here",
      status.CONFIG), nil
  end
  local works = {}
  for _, header in ipairs{ "access_token", "authorization" } do
    local c = variant(ctx, main, { token_header = header })
    works[header] = c.webhooks:page{ page_size = 1 } ~= nil
    if works[header] then works.client = c end
  end
  local reading = TOKEN_READINGS[works.access_token][works.authorization]
  if not reading then
    return finding("webhook calls", "need a token, and refuse it in either header", nil, false), nil
  end
  local advice
  if reading ~= "token-either" then
    local header = works.access_token and "access_token" or "authorization"
    advice = format("token_header = %q (QUICKLYSIGN_TOKEN_HEADER=%s) sends only the header this API reads; "
      .. "the default, \"both\", works too", header, header)
  end
  local where = reading == "token-either" and "access_token or Authorization: Bearer"
    or works.access_token and "the access_token header" or "Authorization: Bearer"
  return finding("webhook calls", "need an access token, in " .. where, reading, true, advice), works.client
end

-- The list's shape, and one step of its pagination (a page of one, then the next page).
local function check_list(client)
  local page, next_pos = client.webhooks:page{ page_size = 1 }
  if not page then return { failed("list answer", next_pos) } end
  local shape = client:last_response().list_shape
  local kind = client:last_response().next_kind
  local found = { finding("list answer", "the webhooks are in " .. tostring(shape), SHAPES[shape], true) }
  if next_pos == nil then
    found[2] = finding("pagination", "not seen: the application has fewer than two webhooks", nil, true)
    return found
  end
  local second, err = client.webhooks:page{ page_size = 1, after = next_pos }
  if not second then
    found[2] = failed("pagination", err)
  else
    found[2] = finding("pagination", "pagination.next is " .. (kind == "cursor" and "an opaque cursor"
      or kind == "absolute" and "an absolute URL" or "a relative URL") .. ", followed", "pages-" .. kind, true)
  end
  return found
end

local function check_logs(client)
  local logs, err = client.webhooks:log_page{ page_size = 1 }
  if logs then
    return finding("callback log filter", "optional: every log of the application without one",
      "logs-filter-optional", true)
  elseif type(err) == "table" and err.kind == "api" and err.status == 400 then
    return finding("callback log filter", "required: entity_key or webhook_key", "logs-filter-required", true,
      "give webhooks:logs an entity_key or a webhook_key (quicklysign webhooks logs --entity or --webhook)")
  end
  return failed("callback log filter", err)
end

local function check_unknown_key(client)
  local webhook, err = client.webhooks:get(UNKNOWN_KEY)
  if webhook then return finding("unknown webhook key", "answered with a webhook", nil, false) end
  if type(err) == "table" and err.kind == "api" and (err.status == 404 or err.status == 400) then
    return finding("unknown webhook key", format("%d %s", err.status, tostring(err.code)),
      "unknown-key-" .. err.status, true)
  end
  return failed("unknown webhook key", err)
end

local BODY_READINGS = { html = "pdf-body-html", json = "pdf-body-json" }

-- What a download of url came to: its redirects, and the body's reading (or a failure).
local function download(client, url)
  local path = tmpname()
  local bytes, err = client:download(url, path)
  remove(path)
  if bytes then return client:last_response().redirects or {}, "pdf-body-pdf" end
  local redirects = type(err) == "table" and err.redirects or {}
  if type(err) == "table" and err.reason == "not_pdf" then
    local ct = lower(tostring(err.content_type))
    local reading = BODY_READINGS[match(ct, "html") and "html" or match(ct, "json") and "json" or ""]
    return redirects, reading or "pdf-body-mislabelled", err
  end
  return redirects, nil, err
end

-- --pack KEY: where the first document's serve_pdf_url leads, whether it needs the token, and
-- what its body is.
local function check_pdf(ctx, main, client, pack_key)
  local pack, err = client.document_packs:get(pack_key)
  if not pack then return { failed("serve_pdf_url", err) } end
  local doc = type(pack.documents) == "table" and pack.documents[1]
  local url = type(doc) == "table" and doc.serve_pdf_url
  if type(url) ~= "string" then return { finding("serve_pdf_url", "the pack has no document with one", nil, false) } end
  local redirects, body, derr = download(client, url)
  if not body then return { failed("serve_pdf_url", derr) } end
  local api, where = origin(main.base_url), origin(url)
  local reading
  if where ~= api then
    reading, where = "pdf-storage-url", "on another host (" .. tostring(where) .. "), which gets no token"
  elseif #redirects > 0 then
    local to = origin(redirects[1])
    reading = to == api and "pdf-redirect-same-host" or "pdf-redirect-storage"
    where = to == api and "redirects on the API's host" or "redirects to another host (" .. tostring(to)
      .. "), which gets no token"
  else
    local bare = variant(ctx, main, { api_key = false })
    local _, bare_body = download(bare, url)
    reading = bare_body and "pdf-no-token" or "pdf-api"
    where = "on the API's host, " .. (bare_body and "no token needed" or "with the access token")
  end
  local ok_body = body == "pdf-body-pdf"
  return {
    finding("serve_pdf_url", where, reading, true),
    finding("PDF body", ok_body and "a PDF" or ("no PDF: " .. tostring(derr.message)), body, ok_body, not ok_body
      and "the client refuses to save it (not_pdf): check the pack's state and the account's access" or nil),
  }
end

local function add(list, items)
  for _, f in ipairs(items) do list[#list + 1] = f end
end

-- Every check, in order; later ones need a client whose webhook calls work.
local function run_checks(ctx, main, has_key)
  local found = { check_mint(main, has_key) }
  if not found[1].ok then return found end
  local token, client = check_tokens(ctx, main, has_key)
  found[2] = token
  if not client then return found end
  add(found, check_list(client))
  found[#found + 1] = check_logs(client)
  found[#found + 1] = check_unknown_key(client)
  if ctx.options.pack then
    if has_key then
      add(found, check_pdf(ctx, main, main, ctx.options.pack))
    else
      found[#found + 1] = finding("serve_pdf_url", "not checked: document packs need QUICKLYSIGN_API_KEY", nil,
        false, nil, status.CONFIG)
    end
  end
  found[#found + 1] = finding("delete path", "not probed (read-only): the client tries /webhook, then /webhooks",
    nil, true)
  return found
end

local function show(out, main, found)
  if out.json then
    local readings, checks, configure = {}, {}, {}
    for _, f in ipairs(found) do
      if f.reading then readings[f.check] = f.reading end
      checks[#checks + 1] = { check = f.check, found = f.found, reading = f.reading, ok = f.ok }
      if f.advice then configure[#configure + 1] = f.advice end
    end
    out:document{ base_url = main.base_url, environment = main.environment, readings = readings, checks = checks,
      configure = configure }
    return
  end
  out:notice(format("quicklysign doctor: %s (%s), read-only", tostring(main.base_url), tostring(main.environment)))
  local rows = {}
  for i, f in ipairs(found) do rows[i] = { f.check, (f.ok and "" or "PROBLEM: ") .. f.found, f.reading or "-" } end
  out:table({ "CHECK", { title = "FOUND", cut = 1 }, "READING (emulator profile)" }, rows)
  local advice, problems = {}, false
  for _, f in ipairs(found) do
    if f.advice then advice[#advice + 1] = "  " .. f.advice end
    problems = problems or not f.ok
  end
  out:print(#advice > 0 and "configure:" or problems and "configure: nothing; but see the PROBLEM above"
    or "configure: nothing; the client works with what was found")
  for _, line in ipairs(advice) do out:print(line) end
end

function doctor.run(ctx)
  local main = ctx:client()
  local has_key = (ctx.getenv(config.API_KEY) or "") ~= ""
  local ok, found = pcall(run_checks, ctx, main, has_key)
  if not ok then
    if status.is_failure(found) or status.is_interrupt(found) then error(found, 0) end
    found = { failed("doctor", found, status.FAILED) }
  end
  show(ctx.out, main, found)
  local code = status.OK
  for _, f in ipairs(found) do
    if not f.ok and (code == status.OK or f.code == status.CONFIG) then code = f.code or status.FAILED end
  end
  return code
end

return doctor
