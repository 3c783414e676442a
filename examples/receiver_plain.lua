--- A callback receiver outside OpenResty: any Lua HTTP server hands router:handle a plain request
-- table. Here a small LuaSocket loop (one connection at a time; use your framework's server in
-- real life). Each verified callback is stored in the inbox and answered 200; a worker process
-- does the work:
--   lua5.4 examples/receiver_plain.lua PORT INBOX_URL      (QUICKLYSIGN_CALLBACK_TOKEN and the client's
--                                                           QUICKLYSIGN_* variables in the environment)
--   quicklysign worker --inbox INBOX_URL --handlers examples/handlers.lua
-- It also shows dedupe with a key of your own: document_status_changed is stored once per pack
-- and *status*, as the API gives it when the callback arrives. The deliveries of one change
-- merge (every webhook of a pack delivers its own copy), and so do changes that the API already
-- shows as one state by then: a handler that acts on the pack's state does the same work for
-- them. Two different states are never merged.
local callbacks = require "quicklysign.callbacks"
local inbox = require "quicklysign.inbox"
local quicklysign = require "quicklysign"
local socket = require "socket"

local port, inbox_url = tonumber(arg[1]), arg[2]
if not (port and inbox_url) then
  io.stderr:write("usage: lua5.4 examples/receiver_plain.lua PORT INBOX_URL\n")
  os.exit(2)
end

local client = quicklysign.new{}   -- credentials from QUICKLYSIGN_*
local box = assert(inbox.open(inbox_url))

-- The once key of a callback: final_document_generated once per pack (the default), and
-- document_status_changed once per pack and status; other events are stored every time.
local function key(ev)
  if ev.event == callbacks.events.FINAL_DOCUMENT_GENERATED then return callbacks.dedupe.default_key(ev) end
  if ev.event == callbacks.events.DOCUMENT_STATUS_CHANGED then
    local pack, err = client.document_packs:get(ev.entity_key)
    if not pack then return nil, err end   -- the receiver answers 503: the vendor retries
    return ev.event .. ":" .. ev.entity_key .. ":" .. tostring(pack.status)
  end
  return nil
end

local router = callbacks.router{
  token = assert(os.getenv("QUICKLYSIGN_CALLBACK_TOKEN"), "set QUICKLYSIGN_CALLBACK_TOKEN"),
  inbox = box,
  dedupe = callbacks.dedupe{ key = key },
}

-- One HTTP/1.1 request from a connection: method, path, query, headers, body.
local function read_request(conn)
  local line = conn:receive("*l")
  if not line then return nil end
  local method, target = line:match("^(%u+) (%S+) HTTP/1%.[01]$")
  if not method then return nil end
  local headers = {}
  while true do
    local h = conn:receive("*l")
    if not h or h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name then headers[name:lower()] = value end
  end
  local length = tonumber(headers["content-length"] or "0") or 0
  local body = length > 0 and length <= 1024 * 1024 and conn:receive(length) or nil
  local path, query = target:match("^([^?]*)%??(.*)$")
  return { method = method, path = path, query = query, headers = headers, body = body }
end

local server = assert(socket.bind("127.0.0.1", port))
print(("listening on http://127.0.0.1:%d/quicklysign"):format(port))
io.stdout:flush()
while true do
  local conn = server:accept()
  conn:settimeout(5)
  local request = read_request(conn)
  if request then
    local status, body, headers = 404, "not found", {}
    if request.path == "/quicklysign" then status, body, headers = router:handle(request) end
    local out = { ("HTTP/1.1 %d %s\r\n"):format(status, status == 200 and "OK" or "Error"),
      ("Content-Length: %d\r\nConnection: close\r\n"):format(#body) }
    for k, v in pairs(headers) do out[#out + 1] = k .. ": " .. v .. "\r\n" end
    conn:send(table.concat(out) .. "\r\n" .. body)
  end
  conn:close()
end
