/*
 * response.c - qs_envelope_read (envelope.c): an answer, as the server chooses
 * it, turned into data or an error - the envelope's status over HTTP's,
 * error lists, snippets of non-JSON bodies, last_response and on_warning -
 * with the client's secrets in play.
 *
 * Input: byte 0: HTTP status (100..599 by a table), byte 1: flags (whole
 * envelope or data; an on_warning hook), then the body. Bytes 0x01..0x0f of
 * the body are replaced by a secret in one of five forms (see redact.c),
 * the JSON-escaped forms being what a JSON string needs.
 *
 * Checks: the function returns 1 (a value on top) or 0 (an error table on
 * top, whose reason is one of the vocabulary's, with that reason's kind,
 * and which names the request's method and url); no secret reaches any
 * string in the error (its tostring included), in last_response or in what
 * on_warning receives.
 */
#include "common.h"

static const char *const secrets[3] = { "s3cr+t/w1th=odd&chars", "key-k3y-(x)", "tok.tok_tok~1" };

static void assert_clean(lua_State *L, int idx, int depth, const char *where)
{
    FUZZ_CHECK(lua_checkstack(L, 4), "no stack");
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        for (int k = 0; k < 3; k++)
            fuzz_assert_no_secret(s, len, secrets[k], where);
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE || depth > 8)
        return;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int v = lua_gettop(L);
        assert_clean(L, v - 1, depth + 1, where);
        assert_clean(L, v, depth + 1, where);
        lua_pop(L, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 201, 204, 299, 301, 400, 401, 404, 429, 500, 502, 503, 100, 599 };
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    long status = statuses[fuzz_byte(&data, &size) % (sizeof statuses / sizeof statuses[0])];
    unsigned flags = fuzz_byte(&data, &size);

    /* The client: a userdata with its uservalue table, as new() makes it. */
    qs_client *c = qs_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    int ci = lua_gettop(L);
    lua_newtable(L);
    if (flags & 2) {   /* on_warning stores what it is given in _G.seen */
        luaL_dostring(L, "seen = {} return function(w, info) seen[#seen + 1] = { w, info } end");
        lua_setfield(L, -2, "on_warning");
    }
    qs_setuservalue(L, ci);
    c->client_secret = (char *)secrets[0];
    c->api_key = (char *)secrets[1];
    c->access_token = (char *)secrets[2];
    c->max_body_size = 1 << 20;

    char *body = malloc(size * 70 + 1);
    if (body == NULL)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned b = data[i];
        if (b >= 1 && b <= 3 * FORM_COUNT)
            n += fuzz_form(body + n, secrets[(b - 1) / FORM_COUNT], (int)((b - 1) % FORM_COUNT));
        else
            body[n++] = (char)b;
    }
    qs_slot slot;   /* where an exchange's answer lies (transfer.c fills it) */
    memset(&slot, 0, sizeof slot);
    slot.body.data = body;
    slot.body.len = n;
    slot.body.cap = size * 70 + 1;

    qs_call call = { c, ci, 0, NULL };
    lua_pushliteral(L, "http://127.0.0.1:8089/v1/webhooks?client_id=id&client_secret=s3cr%2Bt");
    qs_request r;
    qs_request_init(&r, &call, "GET", QS_TOKEN_NONE, lua_gettop(L));
    r.envelope = (int)(flags & 1);
    qs_transfer t;
    memset(&t, 0, sizeof t);
    t.status = status;
    t.slot = &slot;
    int before = lua_gettop(L);
    int ok = qs_envelope_read(L, &r, &t);
    FUZZ_CHECK(lua_gettop(L) > before, "nothing pushed");
    if (!ok) {
        FUZZ_CHECK(lua_istable(L, -1), "error is a %s", luaL_typename(L, -1));
        int err = lua_gettop(L);
        lua_getfield(L, err, "kind");
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING, "error without a kind");
        lua_getfield(L, err, "reason");
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING, "error without a reason");
        qs_push_reasons(L);
        lua_getfield(L, -1, lua_tostring(L, -2));
        FUZZ_CHECK(lua_rawequal(L, -1, -4), "reason %s is not one of kind %s", lua_tostring(L, -3),
                   lua_tostring(L, -4));
        lua_getfield(L, err, "method");
        lua_getfield(L, err, "url");
        FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING, "error without its request");
        lua_settop(L, err);
        assert_clean(L, lua_gettop(L), 0, "error");
        luaL_tolstring(L, -1, NULL);
        assert_clean(L, lua_gettop(L), 0, "tostring(err)");
    }
    qs_getuservalue(L, ci);
    lua_getfield(L, -1, "last_response");
    assert_clean(L, lua_gettop(L), 0, "last_response");
    if (flags & 2) {
        lua_getglobal(L, "seen");
        assert_clean(L, lua_gettop(L), 0, "on_warning");
    }
    lua_settop(L, top);
    free(body);            /* the userdata is left to the collector */
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
