-- The inbox inside real nginx: SQLite through the thread pool, Redis on cosockets; callbacks that
-- arrive together are stored in grouped writes (one transaction / one script call), and each
-- push still learns its own result.
local inbox = require "quicklysign.inbox"
local ports = require "support.ports"
local process = require "support.process"
local redis_server = require "support.redis_server"
local http = require "socket.http"

local server

setup(function() server = redis_server.start() end)
teardown(function() server:close() end)

for _, backend in ipairs({ "sqlite", "redis" }) do
  describe("the inbox in nginx (" .. backend .. ")", function()
    local port, url

    setup(function()
      port = ports.free()
      if backend == "sqlite" then
        local path = os.tmpname()
        os.remove(path)
        url = "sqlite://" .. path .. ".db"
      else
        url = server.url .. "?prefix=nginx" .. port .. ":"
      end
      local code, out, err = process.run({ "examples/openresty/run", "start", "--port", port,
        "--conf", "spec/openresty/fixtures/glue.nginx.conf" }, { QUICKLYSIGN_SPEC_INBOX = url })
      assert(code == 0, "nginx did not start: " .. out .. err)
    end)

    teardown(function()
      process.run({ "examples/openresty/run", "stop", "--port", port })
    end)

    it("stores 200 pushes made at once in a few grouped writes, none lost", function()
      local body, status = http.request(("http://127.0.0.1:%d/inbox?n=200"):format(port))
      assert.are.equal(200, status)
      local stored, failed, writes = body:match("stored (%d+) failed (%d+) writes (%d+)")
      assert.are.equal("200", stored, body)
      assert.are.equal("0", failed, body)
      assert.truthy(tonumber(writes) <= 10, body)   -- one by one would be 200 writes
      local box = assert(inbox.open(url))
      assert.are.equal(200, box:stats().queued)
      box:close()
    end)
  end)
end
