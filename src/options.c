/*
 * options.c - the options of quicklysign.new, declared once: each one's
 * name, type, environment variable, default and range, and where its value
 * goes in the client. One walk over that table refuses unknown names,
 * reads every option (the caller's table, else the environment, else the
 * default), checks it and stores it; one release frees what they hold. The
 * table is exported as quicklysign.options.
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "qs.h"

#define QS_UNSET (-1.0)   /* a boolean's default that client.c derives */
#define KIB 1024.0
#define AT(field) offsetof(qs_client, field)
#define NOWHERE 0   /* a function: kept in the client's uservalue, under its name */

/* The headers an access token goes in: the vendor's pages name both (docs/vendor-api.md, "token
   header"), and a server reads the one it knows, so both by default. */
static const qs_choice token_headers[] = {
    { "access_token", QS_TOKEN_IN_ACCESS_TOKEN },
    { "authorization", QS_TOKEN_IN_AUTHORIZATION },
    { "both", QS_TOKEN_IN_ACCESS_TOKEN | QS_TOKEN_IN_AUTHORIZATION },
    { NULL, 0 }
};
#define TOKEN_HEADER_DEFAULT 2   /* "both" */

static const qs_option options[] = {
    /* where the API is: an environment variable counts only when the caller gives neither */
    { "base_url", QS_OPT_STRING, "QUICKLYSIGN_BASE_URL", QS_OPT_PLACE, 0, 0, 0, AT(base_url), NULL },
    { "environment", QS_OPT_STRING, "QUICKLYSIGN_ENVIRONMENT", QS_OPT_PLACE, 0, 0, 0, AT(environment), NULL },
    /* credentials */
    { "client_id", QS_OPT_STRING, "QUICKLYSIGN_CLIENT_ID", QS_OPT_REQUIRED, 0, 0, 0, AT(client_id), NULL },
    { "client_secret", QS_OPT_STRING, "QUICKLYSIGN_CLIENT_SECRET", QS_OPT_REQUIRED, 0, 0, 0, AT(client_secret), NULL },
    { "api_key", QS_OPT_STRING, "QUICKLYSIGN_API_KEY", 0, 0, 0, 0, AT(api_key), NULL },
    { "access_token", QS_OPT_STRING, NULL, QS_OPT_HEADER, 0, 0, 0, AT(access_token), NULL },
    { "token_header", QS_OPT_CHOICE, "QUICKLYSIGN_TOKEN_HEADER", 0, TOKEN_HEADER_DEFAULT, 0, 0,
      AT(token_header), token_headers },
    /* limits: seconds, counts, bytes */
    { "timeout", QS_OPT_NUMBER, NULL, 0, 30, 0.001, 86400, AT(timeout), NULL },
    { "connect_timeout", QS_OPT_NUMBER, NULL, 0, 10, 0.001, 86400, AT(connect_timeout), NULL },
    { "download_timeout", QS_OPT_NUMBER, NULL, 0, 300, 0.001, 86400, AT(download_timeout), NULL },
    { "max_retries", QS_OPT_INTEGER, NULL, 0, 2, 0, 10, AT(max_retries), NULL },
    { "retry_base_delay", QS_OPT_NUMBER, NULL, 0, 0.25, 0, 60, AT(retry_base_delay), NULL },
    { "max_retry_delay", QS_OPT_NUMBER, NULL, 0, 30, 0, 3600, AT(max_retry_delay), NULL },
    { "max_body_size", QS_OPT_SIZE, NULL, 0, 8 * KIB * KIB, KIB, KIB * KIB * KIB, AT(max_body_size), NULL },
    { "always_use_http_status_code_200", QS_OPT_BOOLEAN, NULL, 0, 0, 0, 1, AT(always_200), NULL },
    /* https callbacks only, unless the API itself is plain http (the emulator) */
    { "allow_insecure_callbacks", QS_OPT_BOOLEAN, NULL, 0, QS_UNSET, 0, 1, AT(allow_insecure_callbacks), NULL },
    /* the connection */
    { "ca_file", QS_OPT_STRING, NULL, 0, 0, 0, 0, AT(ca_file), NULL },
    { "proxy", QS_OPT_STRING, NULL, 0, 0, 0, 0, AT(proxy), NULL },
    { "user_agent", QS_OPT_STRING, NULL, 0, 0, 0, 0, AT(user_agent), NULL },
    { "concurrency", QS_OPT_INTEGER, NULL, 0, 8, 1, QS_MAX_CONCURRENCY, AT(concurrency), NULL },
    { "http2", QS_OPT_BOOLEAN, NULL, 0, 1, 0, 1, AT(http2), NULL },
    { "on_warning", QS_OPT_FUNCTION, NULL, 0, 0, 0, 0, NOWHERE, NULL },
    { "on_event", QS_OPT_FUNCTION, NULL, 0, 0, 0, 0, NOWHERE, NULL },
    { NULL, 0, NULL, 0, 0, 0, 0, 0, NULL }
};

/*
 * Calls a hook (on_warning, on_event: a function option), pushed with its
 * nargs arguments after it as lua_pcall takes them, the client marked as in
 * that hook (which: QS_HOOK_*), so that it may not call the client; an error
 * it raises goes on to the caller of the call under way.
 */
void qs_call_hook(lua_State *L, qs_client *c, int nargs, int which)
{
    c->in_hook = which;         /* the call under way still owns the client */
    int rc = lua_pcall(L, nargs, 0, 0);
    c->in_hook = 0;
    if (rc != 0)
        lua_error(L);           /* the hook's own error, raised to the caller */
}

static const char *const type_names[] = {
    [QS_OPT_STRING] = "string", [QS_OPT_NUMBER] = "number", [QS_OPT_INTEGER] = "integer",
    [QS_OPT_SIZE] = "integer", [QS_OPT_BOOLEAN] = "boolean", [QS_OPT_FUNCTION] = "function",
    [QS_OPT_CHOICE] = "string",
};

/* The field of c that option o's value goes to (not for a function). */
static void *slot(qs_client *c, const qs_option *o)
{
    return (char *)c + o->offset;
}

static int known_option(const void *set, const char *name)
{
    (void)set;
    for (const qs_option *o = options; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return 1;
    return 0;
}

static int type_error(lua_State *L, const qs_option *o, const char *expected)
{
    return luaL_error(L, "bad argument #1 to 'new' (option '%s': %s expected, got %s)",
                      o->name, expected, luaL_typename(L, -1));
}

/* Whether the caller's table (at 1) gives any option of the API's place. */
static int place_given(lua_State *L)
{
    int given = 0;
    for (const qs_option *o = options; o->name != NULL && !given; o++) {
        if (o->flags & QS_OPT_PLACE) {
            lua_getfield(L, 1, o->name);
            given = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
    }
    return given;
}

/* Whether the caller's value (on top) is false: none, not even the environment's. */
static int refused(lua_State *L, const qs_option *o)
{
    return o->env != NULL && lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
}

/* Stores a copy of the string option's value (the caller's, on top, or the
   environment's), wiping what the slot held. */
static void store_string(lua_State *L, qs_client *c, const qs_option *o, int use_env)
{
    const char *s = NULL;
    if (refused(L, o) && !(o->flags & QS_OPT_REQUIRED)) {
        s = NULL;
    } else if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0')
            type_error(L, o, "non-empty string");
        s = lua_tostring(L, -1);
    } else if (o->env != NULL && use_env && (s = getenv(o->env)) != NULL && s[0] == '\0') {
        s = NULL;
    }
    if (s == NULL && (o->flags & QS_OPT_REQUIRED))
        luaL_error(L, "bad argument #1 to 'new' (option '%s' is required; or set %s)", o->name, o->env);
    if (s != NULL && (o->flags & QS_OPT_HEADER) && !qs_header_safe(s))
        luaL_error(L, "bad argument #1 to 'new' (option '%s' must not contain control characters)", o->name);
    char **field = slot(c, o);
    qs_str_replace(field, s);
    if (s != NULL && *field == NULL)
        luaL_error(L, "quicklysign: out of memory");
}

/* Stores the value of the word the choice option's value names (the caller's, on top, or the
   environment's), or of its default. */
static void store_choice(lua_State *L, qs_client *c, const qs_option *o, int use_env)
{
    const char *s = NULL;
    if (refused(L, o)) {
        s = NULL;
    } else if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            type_error(L, o, "string");
        s = lua_tostring(L, -1);
    } else if (o->env != NULL && use_env && (s = getenv(o->env)) != NULL && s[0] == '\0') {
        s = NULL;
    }
    const qs_choice *k = s == NULL ? &o->choices[(int)o->dflt] : o->choices;
    while (s != NULL && k->name != NULL && strcmp(k->name, s) != 0)
        k++;
    if (k->name == NULL) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const qs_choice *w = o->choices; w->name != NULL; w++) {
            luaL_addstring(&b, w == o->choices ? "'" : w[1].name == NULL ? "' or '" : "', '");
            luaL_addstring(&b, w->name);
        }
        luaL_addstring(&b, "'");
        luaL_pushresult(&b);
        luaL_error(L, "bad argument #1 to 'new' (option '%s' must be %s)", o->name, lua_tostring(L, -1));
    }
    *(int *)slot(c, o) = k->value;
}

/* The number option's value (the caller's, on top), or its default. */
static double read_number(lua_State *L, const qs_option *o)
{
    if (lua_isnil(L, -1))
        return o->dflt;
    if (lua_type(L, -1) != LUA_TNUMBER)
        type_error(L, o, "number");
    double v = lua_tonumber(L, -1);
    if (!(v >= o->min && v <= o->max)) {   /* also refuses NaN */
        char msg[160];
        snprintf(msg, sizeof msg, "option '%s' must be between %g and %g, got %g", o->name, o->min, o->max, v);
        luaL_error(L, "bad argument #1 to 'new' (%s)", msg);
    }
    return v;
}

/* Reads option o from the caller's table (at 1) into the client (its
   uservalue at uv). */
static void read_option(lua_State *L, qs_client *c, int uv, const qs_option *o, int use_env)
{
    lua_getfield(L, 1, o->name);
    switch (o->type) {
    case QS_OPT_STRING:
        store_string(L, c, o, use_env);
        break;
    case QS_OPT_NUMBER:
        *(double *)slot(c, o) = read_number(L, o);
        break;
    case QS_OPT_INTEGER:
        *(int *)slot(c, o) = (int)read_number(L, o);
        break;
    case QS_OPT_SIZE:
        *(size_t *)slot(c, o) = (size_t)read_number(L, o);
        break;
    case QS_OPT_BOOLEAN:
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
            type_error(L, o, "boolean");
        *(int *)slot(c, o) = lua_isnil(L, -1) ? (int)o->dflt : lua_toboolean(L, -1);
        break;
    case QS_OPT_CHOICE:
        store_choice(L, c, o, use_env);
        break;
    case QS_OPT_FUNCTION:
        if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
            type_error(L, o, "function");
        lua_pushvalue(L, -1);
        lua_setfield(L, uv, o->name);
        break;
    }
    lua_pop(L, 1);
}

/*
 * Reads the options of the caller's table (at 1) into c: those that say
 * where the API is (place = 1), or all the others (place = 0). Raises,
 * naming the option, on an unknown name or a bad value. A boolean whose
 * default is derived is left at -1.
 */
void qs_options_read(lua_State *L, qs_client *c, int uv, int place)
{
    int use_env = 1;
    if (place) {
        qs_check_known(L, 1, "new", "option", known_option, NULL);
        use_env = !place_given(L);
    }
    for (const qs_option *o = options; o->name != NULL; o++)
        if (((o->flags & QS_OPT_PLACE) != 0) == (place != 0))
            read_option(L, c, uv, o, use_env);
}

/* Frees (wiping) every string an option put in c. */
void qs_options_release(qs_client *c)
{
    for (const qs_option *o = options; o->name != NULL; o++)
        if (o->type == QS_OPT_STRING)
            qs_str_replace(slot(c, o), NULL);
}

static void push_number(lua_State *L, double v)
{
    if (v == (double)(lua_Integer)v)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
}

/* Pushes a choice's words, and sets its default, in the option's table on top. */
static void push_choices(lua_State *L, const qs_option *o)
{
    lua_newtable(L);
    for (int i = 0; o->choices[i].name != NULL; i++) {
        lua_pushstring(L, o->choices[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "choices");
    lua_pushstring(L, o->choices[(int)o->dflt].name);
    lua_setfield(L, -2, "default");
}

/* Pushes { [name] = { type =, env =, default =, min =, max =, choices =, required = } }. */
void qs_push_options(lua_State *L)
{
    lua_newtable(L);
    for (const qs_option *o = options; o->name != NULL; o++) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, type_names[o->type]);
        lua_setfield(L, -2, "type");
        if (o->env != NULL) {
            lua_pushstring(L, o->env);
            lua_setfield(L, -2, "env");
        }
        if (o->type == QS_OPT_CHOICE) {
            push_choices(L, o);
        } else if (o->type == QS_OPT_BOOLEAN && o->dflt != QS_UNSET) {
            lua_pushboolean(L, o->dflt != 0);
            lua_setfield(L, -2, "default");
        } else if (o->type == QS_OPT_NUMBER || o->type == QS_OPT_INTEGER || o->type == QS_OPT_SIZE) {
            push_number(L, o->dflt);
            lua_setfield(L, -2, "default");
            push_number(L, o->min);
            lua_setfield(L, -2, "min");
            push_number(L, o->max);
            lua_setfield(L, -2, "max");
        }
        lua_pushboolean(L, (o->flags & QS_OPT_REQUIRED) != 0);
        lua_setfield(L, -2, "required");
        lua_setfield(L, -2, o->name);
    }
}
