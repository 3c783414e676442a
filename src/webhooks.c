/*
 * webhooks.c - client.webhooks: create, get, list, delete, delete_by_entity,
 * logs and ensure, as the vendor's Webhooks page describes them.
 *
 * Each method checks its arguments, then hands its perform step to qs_run.
 */
#include <string.h>

#include "qs.h"

/* The checked arguments of a method; its perform step reads them. The
   strings stay alive on the Lua stack (qs_field_string, qs_check_key). */
typedef struct wh_args {
    const char *key, *entity_key, *webhook_key, *callback;
} wh_args;

static void check_callback(lua_State *L, qs_client *c, const char *callback, const char *method)
{
    if (!qs_is_http_url(callback) || strpbrk(callback, " \t\r\n") != NULL)
        luaL_error(L, "bad argument #1 to '%s' (field 'callback': an http(s) URL expected)", method);
    if (!c->allow_insecure_callbacks && strncmp(callback, "https://", 8) != 0)
        luaL_error(L, "bad argument #1 to '%s' (field 'callback': QuicklySign calls https "
                      "URLs only; set allow_insecure_callbacks = true for local development)", method);
}

/* ---- calls ------------------------------------------------------------ */

static int do_create(lua_State *L, const qs_call *call, const char *entity_key, const char *callback)
{
    qs_client *c = call->c;
    int base = lua_gettop(L);
    qs_push_url(L, c, QS_PATH_WEBHOOKS, NULL, NULL, 0);
    qs_push_credentials(L, c, 1);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, entity_key);
    lua_setfield(L, -2, "entity_key");
    lua_pushstring(L, callback);
    lua_setfield(L, -2, "callback");
    lua_setfield(L, -2, "webhook");
    qs_json_encode(L, -1);
    qs_request r;
    qs_request_init(&r, call, "POST", QS_AUTH_BODY, base + 1);
    r.body_idx = base + 3;
    r.retry = QS_RETRY_UNSENT;
    if (qs_attempt(L, &r) == 2)
        return qs_keep_top2(L, base);
    return qs_api_field(L, &r, base, "webhook");
}

static int do_list(lua_State *L, const qs_call *call, const char *entity_key)
{
    const char *query[] = { "entity_key", entity_key, NULL, NULL, NULL };
    qs_request r;
    qs_request_init(&r, call, "GET", QS_AUTH_QUERY, 0);
    return qs_api_list(L, &r, QS_PATH_WEBHOOKS, query, 2, "webhooks");
}

static int create_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    return do_create(L, call, a->entity_key, a->callback);
}

/*
 * webhooks:ensure{entity_key = K, callback = URL} --> webhook, created
 * Looks before it creates, so calling it again never subscribes twice.
 */
static int ensure_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    int base = lua_gettop(L);
    if (do_list(L, call, a->entity_key) == 2)
        return 2;
    int list = lua_gettop(L);
    int n = (int)qs_rawlen(L, list);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "callback");
            int same = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), a->callback) == 0;
            lua_pop(L, 1);
            if (same) {
                lua_pushboolean(L, 0);
                return 2;
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, base);
    if (do_create(L, call, a->entity_key, a->callback) == 2)
        return 2;
    lua_pushboolean(L, 1);
    return 2;
}

static int get_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    int base = lua_gettop(L);
    qs_push_url(L, call->c, QS_PATH_WEBHOOKS, a->key, NULL, 1);
    qs_request r;
    qs_request_init(&r, call, "GET", QS_AUTH_QUERY, base + 1);
    if (qs_attempt(L, &r) == 2)
        return 2;
    return qs_api_field(L, &r, base, "webhook");
}

static int list_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    return do_list(L, call, a->entity_key);
}

static int delete_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    int base = lua_gettop(L);
    const char *query[] = { "entity_key", a->entity_key, NULL };
    qs_push_url(L, call->c, QS_PATH_WEBHOOK_DELETE, a->key, query, 1);
    qs_request r;
    qs_request_init(&r, call, "DELETE", QS_AUTH_QUERY, base + 1);
    if (qs_attempt(L, &r) == 2)
        return 2;
    lua_pushboolean(L, 1);
    return 1;
}

static int logs_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    const char *query[] = { "entity_key", a->entity_key, "webhook_key", a->webhook_key, NULL, NULL, NULL };
    qs_request r;
    qs_request_init(&r, call, "GET", QS_AUTH_QUERY, 0);
    return qs_api_list(L, &r, QS_PATH_CALLBACK_LOGS, query, 4, "webhook_callback_logs");
}

/* ---- methods: the arguments, then qs_run --------------------------------- */

/* self and the {entity_key = K, callback = URL} of create and ensure. */
static void check_subscription(lua_State *L, qs_call *call, wh_args *a, const char *method)
{
    static const char *const fields[] = { "entity_key", "callback", NULL };
    lua_settop(L, 2);
    qs_resource_call(L, call, &qs_webhooks_class, method);
    qs_check_args_table(L, 2, 0);
    qs_check_fields(L, 2, method, fields);
    a->entity_key = qs_field_string(L, 2, "entity_key", method, 1);
    a->callback = qs_field_string(L, 2, "callback", method, 1);
    check_callback(L, call->c, a->callback, method);
    call->args = a;
}

/* webhooks:create{entity_key = K, callback = URL} --> webhook */
static int wh_create(lua_State *L)
{
    qs_call call;
    wh_args a = { NULL, NULL, NULL, NULL };
    check_subscription(L, &call, &a, "create");
    return qs_run(L, &call, create_perform);
}

static int wh_ensure(lua_State *L)
{
    qs_call call;
    wh_args a = { NULL, NULL, NULL, NULL };
    check_subscription(L, &call, &a, "ensure");
    return qs_run(L, &call, ensure_perform);
}

/* self, then one key argument: get, delete (webhook_key), delete_by_entity (entity_key). */
static int run_with_key(lua_State *L, const char *method, const char *name, qs_perform perform)
{
    qs_call call;
    wh_args a = { NULL, NULL, NULL, NULL };
    lua_settop(L, 2);
    qs_resource_call(L, &call, &qs_webhooks_class, method);
    const char *key = qs_check_key(L, 2, name);
    if (strcmp(name, "entity_key") == 0)
        a.entity_key = key;
    else
        a.key = key;
    call.args = &a;
    return qs_run(L, &call, perform);
}

/* webhooks:get(webhook_key) --> webhook */
static int wh_get(lua_State *L)
{
    return run_with_key(L, "get", "webhook_key", get_perform);
}

/* webhooks:delete(webhook_key) --> true */
static int wh_delete(lua_State *L)
{
    return run_with_key(L, "delete", "webhook_key", delete_perform);
}

/* webhooks:delete_by_entity(entity_key) --> true */
static int wh_delete_by_entity(lua_State *L)
{
    return run_with_key(L, "delete_by_entity", "entity_key", delete_perform);
}

/* webhooks:list{entity_key = K} (argument optional) --> every webhook, every page */
static int wh_list(lua_State *L)
{
    static const char *const fields[] = { "entity_key", NULL };
    qs_call call;
    wh_args a = { NULL, NULL, NULL, NULL };
    lua_settop(L, 2);
    qs_resource_call(L, &call, &qs_webhooks_class, "list");
    qs_check_args_table(L, 2, 1);
    if (lua_istable(L, 2)) {
        qs_check_fields(L, 2, "list", fields);
        a.entity_key = qs_field_string(L, 2, "entity_key", "list", 0);
    }
    call.args = &a;
    return qs_run(L, &call, list_perform);
}

/* webhooks:logs{entity_key = K} or {webhook_key = W} --> callback log entries */
static int wh_logs(lua_State *L)
{
    static const char *const fields[] = { "entity_key", "webhook_key", NULL };
    qs_call call;
    wh_args a = { NULL, NULL, NULL, NULL };
    lua_settop(L, 2);
    qs_resource_call(L, &call, &qs_webhooks_class, "logs");
    qs_check_args_table(L, 2, 0);
    qs_check_fields(L, 2, "logs", fields);
    a.entity_key = qs_field_string(L, 2, "entity_key", "logs", 0);
    a.webhook_key = qs_field_string(L, 2, "webhook_key", "logs", 0);
    if ((a.entity_key == NULL) == (a.webhook_key == NULL))
        return luaL_error(L, "bad argument #1 to 'logs' (give exactly one of 'entity_key' and 'webhook_key')");
    call.args = &a;
    return qs_run(L, &call, logs_perform);
}

static const luaL_Reg wh_methods[] = {
    { "create", wh_create },
    { "get", wh_get },
    { "list", wh_list },
    { "delete", wh_delete },
    { "delete_by_entity", wh_delete_by_entity },
    { "logs", wh_logs },
    { "ensure", wh_ensure },
    { NULL, NULL }
};

const qs_class qs_webhooks_class = { QS_WEBHOOKS_MT, "webhooks", wh_methods, NULL, NULL };
