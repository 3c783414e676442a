/*
 * json.c - JSON through lua-cjson, called from C on a private instance
 * (cjson.new()), so that a user's settings of the shared `cjson` module never
 * change the client, nor the client theirs. Decoded JSON null becomes nil.
 */
#include <math.h>
#include <string.h>

#include "qs.h"

#define QS_JSON_MAX_DEPTH 64


void qs_json_init(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "new");
    if (!lua_isfunction(L, -1))
        luaL_error(L, "quicklysign needs lua-cjson 2.1 or later (cjson.new is missing)");
    lua_call(L, 0, 1);               /* the private instance */
    lua_remove(L, -2);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, QS_JSON_MAX_DEPTH);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "encode_max_depth");
    lua_pushinteger(L, QS_JSON_MAX_DEPTH);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, QS_JSON_KEY);
}

/* Pushes the JSON text of the value at idx; raises on values JSON can't hold. */
void qs_json_encode(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_getfield(L, LUA_REGISTRYINDEX, QS_JSON_KEY);
    lua_getfield(L, -1, "encode");
    lua_remove(L, -2);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
}

static int is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/*
 * Walks the decoded value on top: JSON null becomes nil; on Lua 5.3+ a
 * whole number that cjson decoded as a float becomes an integer (exactly the
 * same value), so that timestamps print as 1401645889795, not 1.4016e+12.
 * Fractional numbers are kept as they are.
 */
static void normalise(lua_State *L)
{
    /* A key, a value and two temporaries per level: a C function is only
       promised LUA_MINSTACK slots, and cjson nests up to QS_JSON_MAX_DEPTH. */
    luaL_checkstack(L, 4, "quicklysign: JSON nested too deeply");
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        if (is_null(L, -1)) {
            lua_pushvalue(L, -2);
            lua_pushnil(L);
            lua_rawset(L, -5);       /* clearing an existing field is allowed mid-traversal */
        } else if (lua_type(L, -1) == LUA_TTABLE) {
            normalise(L);
        }
#if LUA_VERSION_NUM >= 503
        else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number n = lua_tonumber(L, -1);
            if (n == floor(n) && fabs(n) <= 9007199254740992.0) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, (lua_Integer)n);
                lua_rawset(L, -5);
            }
        }
#endif
        lua_pop(L, 1);
    }
}

/*
 * Whether an error raised during the decode is not about the text: out of
 * memory, or the interpreter's "interrupted!" (lua.c and luajit.c raise it
 * from a hook on Ctrl-C, here at the decode's call event). Those propagate;
 * everything else is cjson's verdict, whatever its wording ("Expected value
 * but found invalid token at character 1", "JSON parser does not support
 * UTF-16 or UTF-32", ...), and the server's bad JSON. (cjson.safe would not
 * help: it catches everything in a pcall of its own.)
 */
static int foreign_error(lua_State *L, int status)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    return status == LUA_ERRMEM || (msg != NULL && strstr(msg, "interrupted!") != NULL);
}

/* Pushes the decoded value and returns 1, or pushes a message and returns 0. */
int qs_json_decode(lua_State *L, const char *s, size_t len)
{
    lua_getfield(L, LUA_REGISTRYINDEX, QS_JSON_KEY);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    lua_pushlstring(L, s, len);
    int status = lua_pcall(L, 1, 1, 0);
    if (status != 0) {
        if (foreign_error(L, status))
            lua_error(L);            /* an interrupt, out of memory: not the server's fault */
        return 0;
    }
    if (is_null(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        normalise(L);
    }
    return 1;
}
