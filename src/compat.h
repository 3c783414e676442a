/*
 * compat.h - the few Lua C API differences between Lua 5.1/LuaJIT and 5.4
 * that quicklysign uses, behind qs_-prefixed names so they never clash with
 * another module's shims or with the real functions.
 */
#ifndef QS_COMPAT_H
#define QS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 504
#define qs_newuserdata(L, size)    lua_newuserdatauv((L), (size), 1)
#define qs_getuservalue(L, idx)    ((void)lua_getiuservalue((L), (idx), 1))
#define qs_setuservalue(L, idx)    ((void)lua_setiuservalue((L), (idx), 1))
#elif LUA_VERSION_NUM >= 502
#define qs_newuserdata(L, size)    lua_newuserdata((L), (size))
#define qs_getuservalue(L, idx)    lua_getuservalue((L), (idx))
#define qs_setuservalue(L, idx)    lua_setuservalue((L), (idx))
#else
/* Lua 5.1 and LuaJIT: a userdata's environment table plays the uservalue. */
#define qs_newuserdata(L, size)    lua_newuserdata((L), (size))
#define qs_getuservalue(L, idx)    lua_getfenv((L), (idx))
#define qs_setuservalue(L, idx)    ((void)lua_setfenv((L), (idx)))
#endif

#if LUA_VERSION_NUM >= 502
#define qs_rawlen(L, idx)          lua_rawlen((L), (idx))
#define qs_setfuncs(L, l)          luaL_setfuncs((L), (l), 0)
#define qs_testudata(L, idx, name) luaL_testudata((L), (idx), (name))
#else
#define qs_rawlen(L, idx)          lua_objlen((L), (idx))

static inline void qs_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}

static inline void *qs_testudata(lua_State *L, int idx, const char *name)
{
    void *p = lua_touserdata(L, idx);
    if (p == NULL || !lua_getmetatable(L, idx))
        return NULL;
    luaL_getmetatable(L, name);
    if (!lua_rawequal(L, -1, -2))
        p = NULL;
    lua_pop(L, 2);
    return p;
}
#endif

#endif
