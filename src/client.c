/*
 * client.c - the client object: new(), its lifetime, its own methods, and
 * qs_run, which owns the life of every call made on it.
 *
 * Made the way liolib makes files: the userdata is created first, in a
 * state that close() understands, so that an error raised half-way through
 * new() leaves nothing that __gc cannot free. close(), __gc and __close are
 * one idempotent function; a closed client refuses every call.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <strings.h>
#include <time.h>

#include "qs.h"

static qs_client *to_client(lua_State *L, int idx)
{
    return (qs_client *)luaL_checkudata(L, idx, QS_CLIENT_MT);
}

static qs_client *check_open(lua_State *L, qs_client *c)
{
    if (c->curl == NULL || c->close_pending)
        luaL_error(L, "attempt to use a closed quicklysign client");
    if (c->in_hook)
        luaL_error(L, "attempt to use a quicklysign client from its own on_warning hook");
    return c;
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
    qs_options_release(c);
    c->close_pending = 0;
}

/*
 * close() and __close. Lua code can run in the middle of a call - an
 * argument's __index, or any object's finalizer at any allocation - and
 * close the client there: the call still uses its handle, strings and
 * scratch, so the release then waits for the call's end (qs_run). The
 * client refuses new calls at once either way.
 */
static int client_close(lua_State *L)
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
    return client_close(L);
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
 *
 * A call whose work is done is reported done: a debug hook can raise as
 * perform returns (Ctrl-C in the instant after a download's rename, or a
 * create's answer). Its results were kept outside the protected frame, so
 * they are returned, and an interrupt raised by a hook that removed itself
 * (lua.c's and luajit.c's do) is raised again at the caller's next
 * instruction; a hook still installed gets its next chance anyway.
 */
#define QS_PENDING_KEY "quicklysign.core.pending"   /* the error raised again */
#define QS_KEPT 4                                  /* results a perform step returns, at most */

typedef struct run_frame {
    qs_call *call;
    qs_perform perform;
    int kept;                   /* registry reference of the table the results are kept in */
    int results;                /* how many perform returned, -1 until it has */
} run_frame;

static int run_protected(lua_State *L)
{
    run_frame *f = lua_touserdata(L, 1);
    lua_remove(L, 1);   /* perform sees the method's own stack */
    int n = f->perform(L, f->call);
    /* No allocation from here on (the table's slots exist), so no finalizer
       and no hook runs before results is set. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->kept);
    for (int i = 1; i <= n && i <= QS_KEPT; i++) {
        lua_pushvalue(L, i - n - 2);
        lua_rawseti(L, -2, i);
    }
    lua_pop(L, 1);
    f->results = n <= QS_KEPT ? n : -1;
    return n;
}

static void raise_pending(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, QS_PENDING_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, QS_PENDING_KEY);
    lua_error(L);
}

/* The work was done, then a hook raised (the error on top): the results
   stand, and the error waits for the caller's next instruction. */
static int completed(lua_State *L, const run_frame *f)
{
    if (lua_gethook(L) == NULL) {
        lua_setfield(L, LUA_REGISTRYINDEX, QS_PENDING_KEY);
        lua_sethook(L, raise_pending, LUA_MASKCOUNT, 1);
    }
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->kept);
    for (int i = 1; i <= f->results; i++)
        lua_rawgeti(L, 1, i);
    lua_remove(L, 1);
    return f->results;
}

int qs_run(lua_State *L, qs_call *call, qs_perform perform)
{
    qs_client *c = check_open(L, call->c);
    if (c->busy)
        return luaL_error(L, "attempt to use a quicklysign client while a call on it is under way");
    run_frame f = { call, perform, LUA_NOREF, -1 };
    int n = lua_gettop(L);
    luaL_checkstack(L, 4, NULL);
    lua_createtable(L, QS_KEPT, 0);
    f.kept = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, run_protected);
    lua_insert(L, 1);
    lua_pushlightuserdata(L, &f);
    lua_insert(L, 2);
    call->deadline = qs_now() + c->timeout;
    c->busy = 1;
    int rc = lua_pcall(L, n + 1, LUA_MULTRET, 0);
    c->busy = c->in_hook = 0;
    release_scratch(c);
    if (c->close_pending)
        release(c);
    int results = rc != 0 && f.results >= 0 ? completed(L, &f) : -1;
    luaL_unref(L, LUA_REGISTRYINDEX, f.kept);
    if (results >= 0)
        return results;
    if (rc != 0)
        return lua_error(L);
    return lua_gettop(L);
}

/* ---- new -------------------------------------------------------------- */

static int place_error(lua_State *L, const char *what, const char *value)
{
    return luaL_error(L, "bad argument #1 to 'new' (option %s, got '%s')", what, value);
}

/* Where the API is, from the options read: base_url wins (environment
   "custom"), else the environment's URL (sandbox by default); without
   trailing slashes. */
static void set_place(lua_State *L, qs_client *c)
{
    if (c->base_url != NULL) {
        if (!qs_is_http_url(c->base_url) || strpbrk(c->base_url, "?# \t\r\n") != NULL)
            place_error(L, "'base_url' must be an http(s) URL without query or fragment", c->base_url);
        qs_str_replace(&c->environment, "custom");
    } else {
        int production = c->environment != NULL && strcmp(c->environment, "production") == 0;
        if (c->environment != NULL && !production && strcmp(c->environment, "sandbox") != 0)
            place_error(L, "'environment' must be 'sandbox' or 'production'", c->environment);
        qs_str_replace(&c->environment, production ? "production" : "sandbox");
        qs_str_replace(&c->base_url, production ? QS_PRODUCTION_URL : QS_SANDBOX_URL);
    }
    if (c->base_url == NULL || c->environment == NULL)
        luaL_error(L, "quicklysign: out of memory");
    size_t n = strlen(c->base_url);
    lua_pushstring(L, c->base_url);   /* as given, for the message */
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (!qs_is_http_url(c->base_url))   /* "http:////" trims down to "http:" */
        place_error(L, "'base_url' must be an http(s) URL with a host", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* The defaults that follow from other options. */
static void set_derived(lua_State *L, qs_client *c)
{
    if (c->allow_insecure_callbacks < 0)
        c->allow_insecure_callbacks = strncasecmp(c->base_url, "http://", 7) == 0;
    if (c->user_agent == NULL) {
        lua_pushfstring(L, "quicklysign-lua/%s (%s)", QS_VERSION, curl_version());
        qs_str_replace(&c->user_agent, lua_tostring(L, -1));
        lua_pop(L, 1);
        if (c->user_agent == NULL)
            luaL_error(L, "quicklysign: out of memory");
    }
    c->rng = (unsigned long long)time(NULL) ^ (unsigned long long)(size_t)c ^ 0x9E3779B97F4A7C15ULL;
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

    qs_client *c = qs_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, QS_CLIENT_MT);
    lua_setmetatable(L, -2);
    int self = lua_gettop(L);
    lua_newtable(L);
    int uv = self + 1;
    lua_pushvalue(L, uv);
    qs_setuservalue(L, self);

    qs_options_read(L, c, uv, 1);
    set_place(L, c);
    qs_options_read(L, c, uv, 0);
    set_derived(L, c);

    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return luaL_error(L, "quicklysign: curl_easy_init failed");
    if (!qs_transfer_setup(c))
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
    qs_call call = { check_open(L, to_client(L, 1)), 1, 0, NULL };
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

static int authenticate_perform(lua_State *L, qs_call *call)
{
    return qs_authenticate(L, call);
}

/* client:authenticate() --> true: a fresh access token from api_key, now */
static int client_authenticate(lua_State *L)
{
    qs_call call = { check_open(L, to_client(L, 1)), 1, 0, NULL };
    lua_settop(L, 1);
    return qs_run(L, &call, authenticate_perform);
}

static int client_last_response(lua_State *L)
{
    check_open(L, to_client(L, 1));
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
    call->c = check_open(L, to_client(L, -1));
    call->client_idx = lua_gettop(L);
    call->deadline = 0;
    call->args = NULL;
}

static const luaL_Reg client_methods[] = {
    { "close", client_close },
    { "download", client_download },
    { "last_response", client_last_response },
    { "is_closed", client_is_closed },
    { "authenticate", client_authenticate },
    { NULL, NULL }
};

static const luaL_Reg client_meta[] = {
    { "__gc", client_gc },
    { "__close", client_close },
    { "__tostring", client_tostring },
    { NULL, NULL }
};

const qs_class qs_client_class = { QS_CLIENT_MT, "client", client_methods, NULL, client_meta, client_index };
