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
    if (c->multi == NULL || c->close_pending)
        luaL_error(L, "attempt to use a closed quicklysign client");
    if (c->in_hook)
        luaL_error(L, "attempt to use a quicklysign client from its own %s hook",
                   c->in_hook == QS_HOOK_EVENT ? "on_event" : "on_warning");
    return c;
}

/* Drops what a call may have left behind when an error unwound it: the
   exchanges still on the multi handle, half-written downloads, headers. */
static void release_scratch(qs_client *c)
{
    if (c->multi != NULL)
        qs_scratch_release(c);
    qs_temps_discard(c);
}

static void release(qs_client *c)
{
    qs_temps_discard(c);
    qs_transfer_close(c);
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
        return luaL_error(L, "attempt to close a quicklysign client from its own %s hook",
                          c->in_hook == QS_HOOK_EVENT ? "on_event" : "on_warning");
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
 * A call whose work is done is reported done. A debug hook can raise as
 * perform returns: Ctrl-C in the instant after a download's rename, or
 * after a create's answer. Its results were kept outside the protected
 * frame, so they are returned, and an interrupt raised by a hook that
 * removed itself (lua.c's and luajit.c's do) is raised again at the
 * caller's next instruction; a hook still installed gets its next chance
 * anyway. A hook set in that instant (by the SIGINT handler) that has not
 * fired yet is set aside until then too, rather than firing as the method
 * returns. So an interrupt either strikes before a download's rename (and
 * nothing is in place) or after its size reached the caller; only one that
 * arrives in the method's last few instructions is raised by the
 * interpreter as it returns, as Lua raises it from any C function.
 */
#define QS_RUN_KEY "quicklysign.core.run"   /* see run_table */
#define QS_KEPT 4                          /* results a perform step returns, at most */

/* A debug hook set aside (restore_hook puts it back). */
typedef struct saved_hook {
    lua_Hook hook;
    int mask, count;
} saved_hook;

typedef struct run_frame {
    qs_call *call;
    qs_perform perform;
    int results;                /* how many perform returned, -1 until it has */
} run_frame;

/*
 * Pushes the table the end of every call uses, made once per Lua state:
 * [1..QS_KEPT] the results of the perform step that ended last, `hook` a
 * saved_hook, `pending` an error to raise again (false when none). Every
 * slot exists beforehand, so that nothing is allocated (and so no finalizer,
 * no Lua code, no hook runs) between the end of the work and its return.
 */
static int push_run_table(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, QS_RUN_KEY);
    if (lua_istable(L, -1))
        return lua_gettop(L);
    lua_pop(L, 1);
    lua_createtable(L, QS_KEPT, 2);
    for (int i = 1; i <= QS_KEPT; i++) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, -2, i);
    }
    memset(lua_newuserdata(L, sizeof(saved_hook)), 0, sizeof(saved_hook));
    lua_setfield(L, -2, "hook");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "pending");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, QS_RUN_KEY);
    return lua_gettop(L);
}

static int run_protected(lua_State *L)
{
    run_frame *f = lua_touserdata(L, 1);
    lua_remove(L, 1);   /* perform sees the method's own stack */
    int n = f->perform(L, f->call);
    lua_getfield(L, LUA_REGISTRYINDEX, QS_RUN_KEY);
    for (int i = 1; i <= n && i <= QS_KEPT; i++) {
        lua_pushvalue(L, i - n - 2);
        lua_rawseti(L, -2, i);
    }
    lua_pop(L, 1);
    f->results = n <= QS_KEPT ? n : -1;
    return n;
}

/* The count hook that raises the pending error, or puts the saved hook back. */
static void resume_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    int t = push_run_table(L);
    lua_getfield(L, t, "hook");
    const saved_hook *h = lua_touserdata(L, -1);
    lua_sethook(L, h->hook, h->mask, h->count);
    lua_getfield(L, t, "pending");
    lua_pushboolean(L, 0);
    lua_setfield(L, t, "pending");
    if (!lua_toboolean(L, -1)) {
        lua_settop(L, t - 1);
        return;
    }
    lua_error(L);
}

/* Sets the current hook aside (with the error on top to raise, or false)
   until the caller's next instruction, where resume_hook takes over. */
static void defer(lua_State *L, int t)
{
    lua_setfield(L, t, "pending");
    lua_getfield(L, t, "hook");
    saved_hook *h = lua_touserdata(L, -1);
    h->hook = lua_gethook(L);
    h->mask = lua_gethookmask(L);
    h->count = lua_gethookcount(L);
    lua_pop(L, 1);
    lua_sethook(L, resume_hook, LUA_MASKCOUNT, 1);
}

/* A hook raised after the perform step returned (the run table at 1, the
   error on top): the kept results stand, alone on the stack. */
static int kept_results(lua_State *L, const run_frame *f)
{
    if (lua_gethook(L) == NULL)
        defer(L, 1);                /* the hook removed itself: its error waits */
    lua_settop(L, 1);
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
    run_frame f = { call, perform, -1 };
    int n = lua_gettop(L);
    luaL_checkstack(L, QS_KEPT + 4, NULL);
    push_run_table(L);
    lua_insert(L, 1);               /* below the method's values: it outlives the pcall */
    lua_pushcfunction(L, run_protected);
    lua_insert(L, 2);
    lua_pushlightuserdata(L, &f);
    lua_insert(L, 3);
    lua_Hook hook = lua_gethook(L);
    int mask = lua_gethookmask(L);
    call->deadline = qs_now() + c->timeout;
    c->busy = 1;
    int rc = lua_pcall(L, n + 1, LUA_MULTRET, 0);
    c->busy = c->in_hook = 0;
    release_scratch(c);
    if (c->close_pending)
        release(c);
    if (rc != 0 && f.results >= 0)
        return kept_results(L, &f);
    if (rc != 0)
        return lua_error(L);
    if (lua_gethook(L) != hook || lua_gethookmask(L) != mask) {
        lua_pushboolean(L, 0);
        defer(L, 1);                /* a hook set in the last instant fires after the return */
    }
    lua_remove(L, 1);
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

    lua_getfield(L, uv, "on_event");
    c->has_on_event = lua_isfunction(L, -1);
    lua_pop(L, 1);
    if (!qs_transfer_open(c))
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
    lua_pushboolean(L, c->multi == NULL || c->close_pending);
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
    if (c->multi == NULL || c->close_pending)
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
