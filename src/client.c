/*
 * client.c - the client object: options, lifetime and its own methods.
 *
 * Made the way liolib makes files: the userdata is created first, in a
 * state that close() understands, so that an error raised half-way through
 * new() leaves nothing that __gc cannot free. close(), __gc and __close are
 * one idempotent function; a closed client refuses every call.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "qs.h"

#define QS_DEFAULT_TIMEOUT          30.0
#define QS_DEFAULT_CONNECT_TIMEOUT  10.0
#define QS_DEFAULT_DOWNLOAD_TIMEOUT 300.0
#define QS_DEFAULT_MAX_RETRIES      2
#define QS_DEFAULT_RETRY_BASE_DELAY 0.25
#define QS_DEFAULT_MAX_RETRY_DELAY  30.0
#define QS_DEFAULT_MAX_BODY_SIZE    (8 * 1024 * 1024)

static const char *const option_names[] = {
    "client_id", "client_secret", "environment", "base_url", "api_key", "access_token",
    "timeout", "connect_timeout", "download_timeout", "max_retries", "retry_base_delay",
    "max_retry_delay", "max_body_size", "ca_file", "proxy", "user_agent", "on_warning",
    "allow_insecure_callbacks", "always_use_http_status_code_200", NULL
};

static qs_client *to_client(lua_State *L, int idx)
{
    return (qs_client *)luaL_checkudata(L, idx, QS_CLIENT_MT);
}

qs_client *qs_check_open(lua_State *L, qs_client *c)
{
    if (c->curl == NULL || c->close_pending)
        luaL_error(L, "attempt to use a closed quicklysign client");
    if (c->in_hook)
        luaL_error(L, "attempt to use a quicklysign client from its own on_warning hook");
    return c;
}

double qs_deadline(const qs_client *c)
{
    return qs_now() + c->timeout;
}

/* Drops what a call may have left behind when an error unwound it: a
   half-written download, the headers. */
static void release_scratch(qs_client *c)
{
    qs_temp_discard(&c->temp);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
}

static void release(qs_client *c)
{
    release_scratch(c);
    qs_buffer_free(&c->body);
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
        c->curl = NULL;
    }
    qs_str_replace(&c->client_id, NULL);
    qs_str_replace(&c->client_secret, NULL);
    qs_str_replace(&c->api_key, NULL);
    qs_str_replace(&c->access_token, NULL);
    qs_str_replace(&c->base_url, NULL);
    qs_str_replace(&c->environment, NULL);
    c->close_pending = 0;
}

/*
 * close() and __close. Lua code can run in the middle of a call - an
 * argument's __index, or any object's finalizer at any allocation - and
 * close the client there: the call still uses its handle, strings and
 * scratch, so the release then waits for the call's end (qs_run). The
 * client refuses new calls at once either way.
 */
int qs_client_close(lua_State *L)
{
    qs_client *c = to_client(L, 1);
    if (c->in_hook)   /* the call that runs the hook still needs the handle */
        return luaL_error(L, "attempt to close a quicklysign client from its own on_warning hook");
    if (c->busy)
        c->close_pending = 1;
    else
        release(c);
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc: the client is unreachable, so no call on it is under way, whatever
   flags a Lua error raised in the middle of one may have left set. */
static int client_gc(lua_State *L)
{
    qs_client *c = to_client(L, 1);
    c->busy = c->in_hook = 0;
    return qs_client_close(L);
}

/*
 * qs_run owns a call's whole life. The method has checked its arguments
 * (which can run Lua code, and so close the client: an argument's __index),
 * so that a bad argument still names the method. Then the client must be
 * open and not in another call - one that Lua code run in the middle of it
 * (an object's finalizer) would interleave with its own. perform runs under
 * lua_pcall, so that whatever ends it - a return, a Lua error, an interrupt,
 * out of memory - the call is over when lua_pcall returns: the busy mark is
 * cleared and a close() that came during the call is carried out, then the
 * error, if any, goes on to the caller. No file below this one ends a call.
 */
typedef struct run_frame {
    qs_call *call;
    qs_perform perform;
} run_frame;

static int run_protected(lua_State *L)
{
    run_frame *f = lua_touserdata(L, 1);
    lua_remove(L, 1);   /* perform sees the method's own stack */
    return f->perform(L, f->call);
}

int qs_run(lua_State *L, qs_call *call, qs_perform perform)
{
    qs_client *c = qs_check_open(L, call->c);
    if (c->busy)
        return luaL_error(L, "attempt to use a quicklysign client while a call on it is under way");
    run_frame f = { call, perform };
    int n = lua_gettop(L);
    luaL_checkstack(L, 2, NULL);
    lua_pushcfunction(L, run_protected);
    lua_insert(L, 1);
    lua_pushlightuserdata(L, &f);
    lua_insert(L, 2);
    call->deadline = qs_deadline(c);
    c->busy = 1;
    int rc = lua_pcall(L, n + 1, LUA_MULTRET, 0);
    c->busy = c->in_hook = 0;
    release_scratch(c);
    if (c->close_pending)
        release(c);
    if (rc != 0)
        return lua_error(L);
    return lua_gettop(L);
}

/* ---- options ---------------------------------------------------------- */

static int opt_error(lua_State *L, const char *name, const char *expected)
{
    return luaL_error(L, "bad argument #1 to 'new' (option '%s': %s expected, got %s)",
                      name, expected, luaL_typename(L, -1));
}

/* Pushes opts[name]; the value stays on top until the caller pops it. */
static int get_opt(lua_State *L, const char *name)
{
    lua_getfield(L, 1, name);
    return !lua_isnil(L, -1);
}

/* opts[name] as a non-empty string, else the environment's, else NULL. The
   value stays pushed until new() returns, and so the string alive: an
   __index function can return a string that nothing else holds. */
static const char *opt_string(lua_State *L, const char *name, const char *env)
{
    const char *s = NULL;
    if (get_opt(L, name)) {
        if (lua_type(L, -1) != LUA_TSTRING || lua_tostring(L, -1)[0] == '\0')
            opt_error(L, name, "non-empty string");
        s = lua_tostring(L, -1);
    } else if (env != NULL && (s = getenv(env)) != NULL && s[0] == '\0') {
        s = NULL;
    }
    return s;
}

static char *opt_dup(lua_State *L, const char *name, const char *env)
{
    const char *s = opt_string(L, name, env);
    char *copy = s != NULL ? strdup(s) : NULL;
    if (s != NULL && copy == NULL)
        luaL_error(L, "quicklysign: out of memory");
    lua_pop(L, 1);   /* copied */
    return copy;
}

static double opt_number(lua_State *L, const char *name, double dflt, double min, double max)
{
    double v = dflt;
    if (get_opt(L, name)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            opt_error(L, name, "number");
        v = lua_tonumber(L, -1);
        if (!(v >= min && v <= max)) {   /* also refuses NaN */
            char msg[160];
            snprintf(msg, sizeof msg, "option '%s' must be between %g and %g, got %g", name, min, max, v);
            luaL_error(L, "bad argument #1 to 'new' (%s)", msg);
        }
    }
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, const char *name, int dflt)
{
    int v = dflt;
    if (get_opt(L, name)) {
        if (!lua_isboolean(L, -1))
            opt_error(L, name, "boolean");
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static void check_option_names(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, 1) != 0) {
        int known = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (int i = 0; option_names[i] != NULL && !known; i++)
                known = strcmp(lua_tostring(L, -2), option_names[i]) == 0;
        if (!known) {
            lua_pushvalue(L, -2);
            luaL_error(L, "bad argument #1 to 'new' (unknown option '%s')",
                       lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
}

static void set_base_url(lua_State *L, qs_client *c)
{
    const char *url = opt_string(L, "base_url", NULL);
    const char *env = opt_string(L, "environment", NULL);
    if (url == NULL && env == NULL) {
        url = opt_string(L, "base_url", "QUICKLYSIGN_BASE_URL");
        if (url == NULL)
            env = opt_string(L, "environment", "QUICKLYSIGN_ENVIRONMENT");
    }
    if (url != NULL) {
        if (!qs_is_http_url(url) || strpbrk(url, "?# \t\r\n") != NULL)
            luaL_error(L, "bad argument #1 to 'new' (option 'base_url' must be an http(s) URL "
                          "without query or fragment, got '%s')", url);
        env = "custom";
    } else if (env == NULL || strcmp(env, "sandbox") == 0) {
        env = "sandbox";
        url = QS_SANDBOX_URL;
    } else if (strcmp(env, "production") == 0) {
        url = QS_PRODUCTION_URL;
    } else {
        luaL_error(L, "bad argument #1 to 'new' (option 'environment' must be 'sandbox' or "
                      "'production', got '%s')", env);
    }
    qs_str_replace(&c->environment, env);
    qs_str_replace(&c->base_url, url);
    if (c->base_url == NULL || c->environment == NULL)
        luaL_error(L, "quicklysign: out of memory");
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (!qs_is_http_url(c->base_url))   /* "http:////" trims down to "http:" */
        luaL_error(L, "bad argument #1 to 'new' (option 'base_url' must be an http(s) URL "
                      "with a host, got '%s')", url);
}

static void set_credentials(lua_State *L, qs_client *c)
{
    c->client_id = opt_dup(L, "client_id", "QUICKLYSIGN_CLIENT_ID");
    if (c->client_id == NULL)
        luaL_error(L, "bad argument #1 to 'new' (option 'client_id' is required; "
                      "or set QUICKLYSIGN_CLIENT_ID)");
    c->client_secret = opt_dup(L, "client_secret", "QUICKLYSIGN_CLIENT_SECRET");
    if (c->client_secret == NULL)
        luaL_error(L, "bad argument #1 to 'new' (option 'client_secret' is required; "
                      "or set QUICKLYSIGN_CLIENT_SECRET)");
    c->api_key = opt_dup(L, "api_key", "QUICKLYSIGN_API_KEY");
    c->access_token = opt_dup(L, "access_token", NULL);
    if (c->access_token != NULL && !qs_header_safe(c->access_token))
        luaL_error(L, "bad argument #1 to 'new' (option 'access_token' must not contain control characters)");
}

static void set_limits(lua_State *L, qs_client *c)
{
    c->timeout = opt_number(L, "timeout", QS_DEFAULT_TIMEOUT, 0.001, 86400);
    c->connect_timeout = opt_number(L, "connect_timeout", QS_DEFAULT_CONNECT_TIMEOUT, 0.001, 86400);
    c->download_timeout = opt_number(L, "download_timeout", QS_DEFAULT_DOWNLOAD_TIMEOUT, 0.001, 86400);
    c->max_retries = (int)opt_number(L, "max_retries", QS_DEFAULT_MAX_RETRIES, 0, 10);
    c->retry_base_delay = opt_number(L, "retry_base_delay", QS_DEFAULT_RETRY_BASE_DELAY, 0, 60);
    c->max_retry_delay = opt_number(L, "max_retry_delay", QS_DEFAULT_MAX_RETRY_DELAY, 0, 3600);
    c->max_body_size = (size_t)opt_number(L, "max_body_size", QS_DEFAULT_MAX_BODY_SIZE,
                                          1024, 1024.0 * 1024 * 1024);
    c->always_200 = opt_bool(L, "always_use_http_status_code_200", 0);
    /* https callbacks only, unless the API itself is plain http (the emulator). */
    c->allow_insecure_callbacks = opt_bool(L, "allow_insecure_callbacks",
                                           strncasecmp(c->base_url, "http://", 7) == 0);
}

static void new_resource(lua_State *L, const char *mt, int client_idx, int uv_idx, const char *field)
{
    qs_newuserdata(L, 1);
    luaL_getmetatable(L, mt);
    lua_setmetatable(L, -2);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, client_idx);
    lua_rawseti(L, -2, 1);
    qs_setuservalue(L, -2);
    lua_setfield(L, uv_idx, field);
}

/* quicklysign.new{...} --> client */
int qs_client_new(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_option_names(L);

    qs_client *c = qs_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, QS_CLIENT_MT);
    lua_setmetatable(L, -2);
    int self = lua_gettop(L);
    lua_newtable(L);
    int uv = self + 1;
    lua_pushvalue(L, uv);
    qs_setuservalue(L, self);

    set_base_url(L, c);
    set_credentials(L, c);
    set_limits(L, c);
    if (get_opt(L, "on_warning") && !lua_isfunction(L, -1))
        opt_error(L, "on_warning", "function");
    lua_setfield(L, uv, "on_warning");
    const char *ca_file = opt_string(L, "ca_file", NULL);
    const char *proxy = opt_string(L, "proxy", NULL);
    const char *user_agent = opt_string(L, "user_agent", NULL);
    if (user_agent == NULL) {
        lua_pushfstring(L, "quicklysign-lua/%s (%s)", QS_VERSION, curl_version());
        user_agent = lua_tostring(L, -1);   /* anchored until new() returns */
    }
    c->rng = (unsigned long long)time(NULL) ^ (unsigned long long)(size_t)c ^ 0x9E3779B97F4A7C15ULL;

    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return luaL_error(L, "quicklysign: curl_easy_init failed");
    if (!qs_transfer_setup(c, ca_file, proxy, user_agent))
        return luaL_error(L, "quicklysign: libcurl refused an option (is it built with http and https?)");

    lua_pushstring(L, c->base_url);
    lua_setfield(L, uv, "base_url");
    lua_pushstring(L, c->environment);
    lua_setfield(L, uv, "environment");
    new_resource(L, QS_WEBHOOKS_MT, self, uv, "webhooks");
    new_resource(L, QS_PACKS_MT, self, uv, "document_packs");
    lua_pushvalue(L, self);
    return 1;
}

/* ---- methods ---------------------------------------------------------- */

typedef struct download_args {
    const char *url, *path;
} download_args;

static int download_perform(lua_State *L, qs_call *call)
{
    const download_args *a = call->args;
    return qs_download(L, call, a->url, a->path, qs_now() + call->c->download_timeout);
}

/* client:download(url, path) --> bytes */
static int client_download(lua_State *L)
{
    qs_call call = { qs_check_open(L, to_client(L, 1)), 1, 0, NULL };
    download_args a;
    a.url = luaL_checkstring(L, 2);
    a.path = luaL_checkstring(L, 3);
    if (!qs_is_http_url(a.url))
        return luaL_argerror(L, 2, "an http(s) URL expected");
    if (a.path[0] == '\0')
        return luaL_argerror(L, 3, "a non-empty path expected");
    if (qs_has_nul(L, 2))
        return luaL_argerror(L, 2, "the URL must not contain a NUL byte");
    if (qs_has_nul(L, 3))
        return luaL_argerror(L, 3, "the path must not contain a NUL byte");
    lua_settop(L, 3);
    call.args = &a;
    return qs_run(L, &call, download_perform);
}

static int client_last_response(lua_State *L)
{
    qs_check_open(L, to_client(L, 1));
    qs_getuservalue(L, 1);
    lua_getfield(L, -1, "last_response");
    return 1;
}

static int client_is_closed(lua_State *L)
{
    qs_client *c = to_client(L, 1);
    lua_pushboolean(L, c->curl == NULL || c->close_pending);
    return 1;
}

/* Methods first, then the public fields kept in the uservalue. */
static int client_index(lua_State *L)
{
    static const char *const fields[] = { "webhooks", "document_packs", "base_url", "environment", NULL };
    to_client(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    if (!lua_isnil(L, -1) || lua_type(L, 2) != LUA_TSTRING)
        return 1;
    const char *key = lua_tostring(L, 2);
    for (int i = 0; fields[i] != NULL; i++) {
        if (strcmp(key, fields[i]) == 0) {
            qs_getuservalue(L, 1);
            lua_getfield(L, -1, key);
            return 1;
        }
    }
    lua_pushnil(L);
    return 1;
}

static int client_tostring(lua_State *L)
{
    qs_client *c = to_client(L, 1);
    if (c->curl == NULL || c->close_pending)
        lua_pushfstring(L, "quicklysign.client (closed) %p", (void *)c);
    else
        lua_pushfstring(L, "quicklysign.client (%s %s) %p", c->environment, c->base_url, (void *)c);
    return 1;
}

/* Resolves `self` (at index 1) of a method of a resource class k
   (client.webhooks:create{...}) to its client, which it pushes: the call's
   client_idx. */
void qs_resource_call(lua_State *L, qs_call *call, const qs_class *k, const char *method)
{
    qs_class_check(L, 1, k, method);
    qs_getuservalue(L, 1);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    call->c = qs_check_open(L, to_client(L, -1));
    call->client_idx = lua_gettop(L);
    call->deadline = 0;
    call->args = NULL;
}

static const luaL_Reg client_methods[] = {
    { "close", qs_client_close },
    { "download", client_download },
    { "last_response", client_last_response },
    { "is_closed", client_is_closed },
    { NULL, NULL }
};

static const luaL_Reg client_meta[] = {
    { "__gc", client_gc },
    { "__close", qs_client_close },
    { "__tostring", client_tostring },
    { NULL, NULL }
};

const qs_class qs_client_class = { QS_CLIENT_MT, "client", client_methods, client_meta, client_index };
