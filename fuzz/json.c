/*
 * json.c - qs_json_decode (json.c): the private cjson instance, then the
 * walk that turns JSON null into nil and, on Lua 5.4, whole floats into
 * integers. Every answer body the client receives goes through it.
 *
 * Input: byte 0 sets how deep in a fresh coroutine's stack the decode
 * starts (a C call is only promised LUA_MINSTACK slots); the rest is the
 * body.
 *
 * Checks: exactly one value pushed (the decoded value, or a message); no
 * JSON null (a NULL light userdata) left anywhere in the result; no float
 * with an integral value of at most 2^53 left as a float (Lua 5.4); the
 * decoded value's nesting within the decoder's limit. Then the result goes
 * through qs_push_redacted_copy, as an error's errors list does.
 *
 * Note: the Lua interpreter itself is not instrumented, so a push past the
 * Lua stack is not seen by ASan at the write; replay the corpus under
 * valgrind for that (fuzz/README.md).
 */
#include <math.h>

#include "common.h"

static void walk(lua_State *L, int idx, int depth)
{
    FUZZ_CHECK(depth <= 70, "nested %d deep", depth);
    FUZZ_CHECK(lua_checkstack(L, 3), "no stack");
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int t = lua_type(L, -1);
        FUZZ_CHECK(t != LUA_TLIGHTUSERDATA, "a JSON null was left in the result");
#if LUA_VERSION_NUM >= 503
        if (t == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            FUZZ_CHECK(!(n == floor(n) && fabs(n) <= 9007199254740992.0), "whole float %.17g left", n);
        }
#endif
        if (t == LUA_TTABLE)
            walk(L, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    unsigned pad = fuzz_byte(&data, &size) % 64;
    lua_State *co = lua_newthread(L);   /* anchored at top + 1 */
    for (unsigned i = 0; i < pad; i++) {
        FUZZ_CHECK(lua_checkstack(co, 1), "no stack");
        lua_pushinteger(co, (lua_Integer)i);
    }
    int before = lua_gettop(co);
    int ok = qs_json_decode(co, (const char *)data, size);
    FUZZ_CHECK(lua_gettop(co) == before + 1, "decode pushed %d values", lua_gettop(co) - before);
    if (ok) {
        FUZZ_CHECK(lua_type(co, -1) != LUA_TLIGHTUSERDATA, "top-level null not turned into nil");
        if (lua_istable(co, -1)) {
            walk(co, lua_gettop(co), 1);
            qs_client c;
            memset(&c, 0, sizeof c);
            c.client_secret = "s3cr+t/xyz";
            qs_push_redacted_copy(co, &c, lua_gettop(co), 3);
            FUZZ_CHECK(lua_istable(co, -1), "copy is not a table");
        }
    } else {
        FUZZ_CHECK(lua_type(co, -1) == LUA_TSTRING, "no message for a refused body");
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
