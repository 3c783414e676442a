/*
 * class.c - the classes of quicklysign.core (the client, its webhooks and
 * document_packs tables), each declared once as a qs_class: its name, its
 * methods, its metamethods. In the spirit of luasocket's auxiliar_newclass
 * and liolib's createmeta: one function makes every metatable the same way
 * (locked, __name, __index finding the methods, a default __tostring), and
 * one checks `self`. The method names are exported as core.methods, so that
 * Lua code that proxies a client (openresty.client) derives its list from
 * the one declaration instead of copying it; a class's local methods (the
 * page iterators, whose results cannot cross into another Lua state) are
 * left out of that list.
 */
#include <string.h>

#include "qs.h"

/* "<name> 0x...": a class without a __tostring of its own. */
static int class_tostring(lua_State *L)
{
    luaL_getmetafield(L, 1, "__name");
    lua_pushfstring(L, "%s %p", lua_tostring(L, -1), lua_touserdata(L, 1));
    return 1;
}

/* Pushes a table of the names in l, in their order. */
static void push_names(lua_State *L, const luaL_Reg *l)
{
    lua_newtable(L);
    for (int i = 0; l[i].name != NULL; i++) {
        lua_pushstring(L, l[i].name);
        lua_rawseti(L, -2, i + 1);
    }
}

/*
 * Registers class k's metatable, and sets methods[k->field] (the table at
 * methods_idx) to the list of its method names. __index is the table of
 * methods, or k->index closed over it (for a class that also has fields).
 */
void qs_class_open(lua_State *L, const qs_class *k, int methods_idx)
{
    luaL_newmetatable(L, k->name);
    lua_pushstring(L, k->name);
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, class_tostring);
    lua_setfield(L, -2, "__tostring");
    if (k->meta != NULL)
        qs_setfuncs(L, k->meta);          /* may replace __tostring */
    lua_newtable(L);
    qs_setfuncs(L, k->methods);
    if (k->local_methods != NULL)
        qs_setfuncs(L, k->local_methods);
    if (k->index != NULL)
        lua_pushcclosure(L, k->index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    push_names(L, k->methods);
    lua_setfield(L, methods_idx, k->field);
}

/* The userdata at idx as an object of class k, or a bad argument that says
   how the method should have been called. */
void *qs_class_check(lua_State *L, int idx, const qs_class *k, const char *method)
{
    void *p = qs_testudata(L, idx, k->name);
    if (p == NULL) {
        const char *msg = lua_pushfstring(L, "%s expected, got %s; call it with a colon: %s:%s(...)",
                                          k->name, luaL_typename(L, idx), k->field, method);
        luaL_argerror(L, idx, msg);
    }
    return p;
}
