local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local callbacks = require "quicklysign.callbacks"
local parse = callbacks.parse

local function reason_of(body, content_type, opts)
  local ev, err = parse(body, content_type, opts)
  assert.is_nil(ev)
  assert.equal("parse", err.kind)
  assert.is_string(err.message)
  return err.reason, err
end

describe("callbacks.parse", function()
  describe("accepts", function()
    it("the vendor's callback object", function()
      local ev = assert(parse(support.body{ webhook_key = support.WEBHOOK }, "application/json"))
      assert.equal("final_document_generated", ev.event)
      assert.equal("Document", ev.entity_type)
      assert.equal(support.ENTITY, ev.entity_key)
      assert.equal(support.WEBHOOK, ev.webhook_key)
      assert.equal("final_document_generated", ev.raw.callback_event)
      assert.equal(support.WEBHOOK, ev.raw.webhook_key)
    end)

    it("keeps every field in raw, unknown ones included", function()
      local ev = assert(parse('{"callback_event":"entity_updated","entity_key":"k","extra":{"n":[1,2]},"flag":true}'))
      assert.same({ n = { 1, 2 } }, ev.raw.extra)
      assert.is_true(ev.raw.flag)
      assert.is_nil(ev.entity_type)
      assert.is_nil(ev.webhook_key)
    end)

    it("passes unknown events through", function()
      local ev = assert(parse('{"callback_event":"something_new","entity_key":"k"}', "application/json"))
      assert.equal("something_new", ev.event)
    end)

    it("takes webhook_key first, else subscription_key", function()
      local both = assert(parse('{"callback_event":"e","entity_key":"k","webhook_key":"w","subscription_key":"s"}'))
      assert.equal("w", both.webhook_key)
      local v0 = assert(parse('{"callback_event":"e","entity_key":"k","subscription_key":"s"}'))
      assert.equal("s", v0.webhook_key)
      local null_w = assert(parse('{"callback_event":"e","entity_key":"k","webhook_key":null,"subscription_key":"s"}'))
      assert.equal("s", null_w.webhook_key)
      local empty_w = assert(parse('{"callback_event":"e","entity_key":"k","webhook_key":"","subscription_key":"s"}'))
      assert.equal("s", empty_w.webhook_key)
    end)

    it("turns JSON null into nil, nested ones too", function()
      local ev = assert(parse('{"callback_event":"e","entity_key":"k","entity_type":null,"x":{"y":null,"z":1}}'))
      assert.is_nil(ev.entity_type)
      assert.is_nil(ev.raw.entity_type)
      assert.same({ z = 1 }, ev.raw.x)
    end)

    it("reads each of the seed's event names", function()
      for name, value in pairs(callbacks.events) do
        local ev = assert(parse(support.body{ event = value }, "application/json"), name)
        assert.equal(value, ev.event)
      end
    end)

    for _, ct in ipairs({ "application/json", "APPLICATION/JSON", "Application/Json; charset=utf-8",
      "application/json;charset=UTF-8", "  application/json ; charset=utf-8" }) do
      it("content type '" .. ct .. "'", function()
        assert.is_table(parse(support.body(), ct))
      end)
    end

    it("no content type at all when none is given (nil: not checked)", function()
      assert.is_table(parse(support.body(), nil))
    end)

    it("a body exactly at the size cap", function()
      local body = support.body()
      local padded = body:sub(1, -2) .. string.rep(" ", 100) .. "}"
      assert.is_table(parse(padded, nil, { max_body = #padded }))
      assert.equal("too_large", reason_of(padded, nil, { max_body = #padded - 1 }))
    end)

    it("is not affected by settings made on the shared cjson modules", function()
      local shared, shared_safe = require "cjson", require "cjson.safe"
      local depth = shared.decode_max_depth()
      local safe_depth = shared_safe.decode_max_depth()
      shared.decode_max_depth(1)
      shared_safe.decode_max_depth(1)
      local ok, ev = pcall(parse, '{"callback_event":"e","entity_key":"k","x":{"y":[1]}}')
      shared.decode_max_depth(depth)
      shared_safe.decode_max_depth(safe_depth)
      assert.is_true(ok)
      assert.same({ y = { 1 } }, ev.raw.x)
    end)
  end)

  describe("refuses", function()
    for _, ct in ipairs({ "text/plain", "application/x-www-form-urlencoded", "", "application/jsonx",
      "application/json-patch+json", "json" }) do
      it("content type '" .. ct .. "' with reason content_type", function()
        assert.equal("content_type", reason_of(support.body(), ct))
      end)
    end

    it("a content type that is not one string (repeated header)", function()
      assert.equal("content_type", reason_of(support.body(), { "application/json", "text/plain" }))
      assert.equal("content_type", reason_of(support.body(), 42))
    end)

    it("an empty or absent body with reason no_body", function()
      assert.equal("no_body", reason_of(nil, "application/json"))
      assert.equal("no_body", reason_of("", "application/json"))
    end)

    it("a body that is not a string with reason not_json", function()
      assert.equal("not_json", reason_of(42))
      assert.equal("not_json", reason_of({}))
      assert.equal("not_json", reason_of(true))
    end)

    for _, body in ipairs({ "nope", "{", '{"callback_event":"e",}', '{"a":1} trailing',
      '{"callback_event":"e","entity_key":"k","n":NaN}', "{'callback_event':'e'}" }) do
      it("invalid JSON " .. string.format("%q", body) .. " with reason not_json", function()
        assert.equal("not_json", reason_of(body))
      end)
    end

    it("the seed's Python dict repr, saying what it is", function()
      local repr = "{\n   u'entity_type': u'Document', \n   u'entity_key': u'ahFz', \n"
        .. "   u'callback_event': u'document_updated', \n   u'subscription_key': u'ahFzf'\n}"
      local reason, err = reason_of(repr, "application/json")
      assert.equal("not_json", reason)
      assert.matches("Python dict repr", err.message, 1, true)
      local _, plain = reason_of("{'a': 'b'}")
      assert.matches("Python dict repr", plain.message, 1, true)
      local _, other = reason_of("{nope}")
      assert.not_matches("Python", other.message, 1, true)
    end)

    for _, case in ipairs({ { "[]", "array" }, { '[{"callback_event":"e","entity_key":"k"}]', "array" },
      { '"a string"', "string" }, { "42", "number" }, { "true", "boolean" }, { "null", "null" } }) do
      it("JSON " .. case[1] .. " with reason not_object", function()
        local reason, err = reason_of(case[1], "application/json")
        assert.equal("not_object", reason)
        assert.matches(case[2], err.message, 1, true)
      end)
    end

    for _, case in ipairs({
      { '{"entity_key":"k"}', "callback_event" },
      { '{"callback_event":"e"}', "entity_key" },
      { '{"callback_event":"","entity_key":"k"}', "callback_event" },
      { '{"callback_event":"e","entity_key":""}', "entity_key" },
      { '{"callback_event":"e","entity_key":null}', "entity_key" },
      { "{}", "callback_event" },
    }) do
      it(case[1] .. " with reason missing_field naming " .. case[2], function()
        local reason, err = reason_of(case[1])
        assert.equal("missing_field", reason)
        assert.matches(case[2], err.message, 1, true)
      end)
    end

    for _, case in ipairs({
      { '{"callback_event":1,"entity_key":"k"}', "callback_event" },
      { '{"callback_event":"e","entity_key":["k"]}', "entity_key" },
      { '{"callback_event":"e","entity_key":{"k":1}}', "entity_key" },
      { '{"callback_event":"e","entity_key":true}', "entity_key" },
      { '{"callback_event":"e","entity_key":"k","webhook_key":5}', "webhook_key" },
      { '{"callback_event":"e","entity_key":"k","subscription_key":false}', "subscription_key" },
      { '{"callback_event":"e","entity_key":"k","entity_type":[]}', "entity_type" },
    }) do
      it(case[1] .. " with reason bad_field naming " .. case[2], function()
        local reason, err = reason_of(case[1])
        assert.equal("bad_field", reason)
        assert.matches(case[2], err.message, 1, true)
      end)
    end

    it("a body over the default cap of 64 KiB with reason too_large", function()
      local body = '{"callback_event":"e","entity_key":"k","pad":"' .. string.rep("x", 64 * 1024) .. '"}'
      assert.equal("too_large", reason_of(body, "application/json"))
      assert.is_table(parse(body, "application/json", { max_body = #body }))
    end)

    it("a 10 MB body fast, without decoding it", function()
      local body = '{"callback_event":"e","entity_key":"k","pad":"' .. string.rep("x", 10 * 1024 * 1024) .. '"}'
      local json = require "quicklysign.callbacks.json"
      local real_decode, decodes = json.decode, 0
      json.decode = function(...) decodes = decodes + 1; return real_decode(...) end
      local t0 = os.clock()
      local ok, reason = pcall(reason_of, body, "application/json")
      local elapsed = os.clock() - t0
      json.decode = real_decode
      assert.is_true(ok, reason)
      assert.equal("too_large", reason)
      assert.equal(0, decodes)
      assert.is_true(elapsed < 0.01, "took " .. elapsed .. " s")
      -- the spy does see decoding of a normal body (so the 0 above can fail)
      json.decode = function(...) decodes = decodes + 1; return real_decode(...) end
      parse(support.body())
      json.decode = real_decode
      assert.equal(1, decodes)
    end)

    it("a nesting bomb 100k deep with reason too_deep, fast", function()
      local bomb = string.rep("[", 100000)
      local t0 = os.clock()
      local reason = reason_of(bomb, "application/json", { max_body = 1024 * 1024 })
      assert.equal("too_deep", reason)
      local bomb2 = '{"callback_event":"e","entity_key":"k","x":' .. string.rep('{"a":', 100000)
      assert.equal("too_deep", reason_of(bomb2, nil, { max_body = 1024 * 1024 }))
      assert.is_true(os.clock() - t0 < 0.05)
      -- within the default cap the size check comes first
      assert.equal("too_large", reason_of(bomb, "application/json"))
    end)

    it("nesting past max_depth, counting brackets inside strings for nothing", function()
      local deep = '{"callback_event":"e","entity_key":"k","x":[[[["[[[[[[[[[[[["]]]]}'
      assert.is_table(parse(deep, nil, { max_depth = 5 }))
      assert.equal("too_deep", reason_of(deep, nil, { max_depth = 4 }))
      local escaped = '{"callback_event":"e","entity_key":"k","x":["\\"[[[[[[[\\\\"]}'
      assert.is_table(parse(escaped, nil, { max_depth = 2 }))
    end)
  end)

  describe("its errors", function()
    it("print kind, reason and message", function()
      local _, err = parse("[]")
      assert.equal("quicklysign: parse error not_object: the body must be a JSON object, got array",
        tostring(err))
      assert.is_true(callbacks.is_error(err))
      assert.is_false(callbacks.is_error({ kind = "parse" }))
    end)
  end)

  it("never raises, whatever it is given", function()
    local garbage = { nil, 1, true, {}, function() end, "\0\255", string.rep("{", 70000),
      "{\"callback_event\":\"e\",\"entity_key\":\"k\"", "\"\\ud800\"" }
    for i = 1, 9 do
      for _, ct in ipairs({ false, "application/json", 5 }) do
        local ok, ev, err = pcall(parse, garbage[i], ct or nil, { max_body = "x", max_depth = -1 })
        assert.is_true(ok, tostring(ev))
        assert.is_nil(ev)
        assert.equal("parse", err.kind)
      end
    end
  end)
end)

describe("callbacks.events", function()
  it("names the documented and the seed's older events", function()
    local e = callbacks.events
    assert.equal("final_document_generated", e.FINAL_DOCUMENT_GENERATED)
    assert.equal("entity_updated", e.ENTITY_UPDATED)
    assert.equal("document_status_changed", e.DOCUMENT_STATUS_CHANGED)
    assert.equal("document_updated", e.DOCUMENT_UPDATED)
    assert.equal("signatory_updated", e.SIGNATORY_UPDATED)
    assert.equal("audit_trail_updated", e.AUDIT_TRAIL_UPDATED)
    local n = 0
    for _ in pairs(e) do n = n + 1 end
    assert.equal(6, n)
  end)

  it("raises on an unknown constant and on writes", function()
    assert.has_error(function() return callbacks.events.FINAL_DOCUMENT_GENERATD end,
      "quicklysign.callbacks.events has no constant 'FINAL_DOCUMENT_GENERATD'")
    assert.has_error(function() callbacks.events.NEW = "x" end, "quicklysign.callbacks.events is read-only")
  end)
end)
