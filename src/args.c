/*
 * args.c - checking the arguments of the resource methods: misuse raises,
 * naming the argument or field, as luaL_argerror does.
 */
#include <string.h>

#include "qs.h"

/* Raises on a key of the table at idx that known(set, key) does not know
   (a typo): "bad argument #1 to 'fn' (unknown <what> 'key')". */
void qs_check_known(lua_State *L, int idx, const char *fn, const char *what, qs_known_fn known,
                    const void *set)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !known(set, lua_tostring(L, -2))) {
            lua_pushvalue(L, -2);
            luaL_error(L, "bad argument #1 to '%s' (unknown %s '%s')", fn, what,
                       lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
}

static int in_list(const void *set, const char *name)
{
    for (const char *const *p = set; *p != NULL; p++)
        if (strcmp(*p, name) == 0)
            return 1;
    return 0;
}

/* Raises on a field of args[idx] that the method does not know. */
void qs_check_fields(lua_State *L, int idx, const char *method, const char *const *allowed)
{
    qs_check_known(L, idx, method, "field", in_list, allowed);
}

/*
 * args[field] as a non-empty string, or NULL when absent and optional. The
 * value stays pushed, and so the string alive: an __index function can
 * return a string that nothing else holds.
 */
const char *qs_field_string(lua_State *L, int idx, const char *field,
                                const char *method, int required)
{
    lua_getfield(L, idx, field);
    const char *s = NULL;
    if (lua_type(L, -1) == LUA_TSTRING && lua_tostring(L, -1)[0] != '\0')
        s = lua_tostring(L, -1);
    else if (required || !lua_isnil(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (field '%s': non-empty string expected, got %s)",
                   method, field, lua_isnil(L, -1) ? "nil" : luaL_typename(L, -1));
    if (s != NULL && qs_has_nul(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (field '%s': must not contain a NUL byte)",
                   method, field);
    return s;
}

const char *qs_check_key(lua_State *L, int idx, const char *name)
{
    if (lua_type(L, idx) != LUA_TSTRING || lua_tostring(L, idx)[0] == '\0') {
        const char *msg = lua_pushfstring(L, "%s: non-empty string expected, got %s",
                                          name, luaL_typename(L, idx));
        luaL_argerror(L, idx, msg);   /* numbered from after self for a colon call */
    }
    if (qs_has_nul(L, idx)) {
        const char *msg = lua_pushfstring(L, "%s: must not contain a NUL byte", name);
        luaL_argerror(L, idx, msg);
    }
    return lua_tostring(L, idx);
}

/* The string at idx has a NUL byte: as a C string it would be cut short, and
   the call would act on another key, URL or path than the one given. */
int qs_has_nul(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return s != NULL && strlen(s) != len;
}

void qs_check_args_table(lua_State *L, int idx, int optional)
{
    if (optional && lua_isnoneornil(L, idx))
        return;
    if (!lua_istable(L, idx)) {
        const char *msg = lua_pushfstring(L, "table expected, got %s", luaL_typename(L, idx));
        luaL_argerror(L, idx, msg);
    }
}

