/*
 * core.c - luaopen_quicklysign_core, the only symbol this library exports.
 * libcurl's global state is set up once per process, whatever the number of
 * Lua states (OpenResty's worker threads each open the module in their own).
 */
#include <pthread.h>

#include "qs.h"

#if defined(__GNUC__)
#define QS_EXPORT __attribute__((visibility("default")))
#else
#define QS_EXPORT
#endif

/* The one process-wide state: the guard of curl_global_init and its result. */
static pthread_once_t qs_curl_once = PTHREAD_ONCE_INIT;
static CURLcode qs_curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    qs_curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

static int is_error(lua_State *L)
{
    lua_pushboolean(L, qs_is_error(L, 1));
    return 1;
}

/* Gives a plain table the error metatable: errors that crossed from another
   Lua state (an nginx worker thread) come back as plain tables. */
static int as_error(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_getmetatable(L, QS_ERROR_MT);
    lua_setmetatable(L, 1);
    return 1;
}

/* Each class declared once (class.c): its metatable, and its method names
   in the module's `methods`. The resource classes before the client's,
   whose new() hands out their objects. */
static const qs_class *const classes[] = { &qs_webhooks_class, &qs_packs_class, &qs_client_class, NULL };

QS_EXPORT int luaopen_quicklysign_core(lua_State *L)
{
    pthread_once(&qs_curl_once, curl_init_once);
    if (qs_curl_init_result != CURLE_OK)
        return luaL_error(L, "quicklysign: curl_global_init failed: %s",
                          curl_easy_strerror(qs_curl_init_result));
    qs_json_init(L);
    qs_error_init(L);

    lua_newtable(L);
    int module = lua_gettop(L);
    lua_newtable(L);
    for (int i = 0; classes[i] != NULL; i++)
        qs_class_open(L, classes[i], module + 1);
    lua_setfield(L, module, "methods");
    lua_pushcfunction(L, qs_client_new);
    lua_setfield(L, -2, "new");
    lua_pushcfunction(L, is_error);
    lua_setfield(L, -2, "is_error");
    lua_pushcfunction(L, as_error);
    lua_setfield(L, -2, "as_error");
    qs_push_reasons(L);
    lua_setfield(L, -2, "reasons");
    qs_push_options(L);
    lua_setfield(L, -2, "options");
    lua_pushliteral(L, QS_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, curl_version());
    lua_setfield(L, -2, "curl_version");
    lua_newtable(L);
    lua_pushliteral(L, QS_SANDBOX_URL);
    lua_setfield(L, -2, "sandbox");
    lua_pushliteral(L, QS_PRODUCTION_URL);
    lua_setfield(L, -2, "production");
    lua_setfield(L, -2, "environments");
    return 1;
}
