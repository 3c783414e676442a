/*
 * webhooks.c - client.webhooks: create, get, list, delete, delete_by_entity,
 * logs and ensure, as the vendor's Webhooks page describes them.
 */
#include <string.h>

#include "qs.h"

static void check_callback(lua_State *L, qs_client *c, const char *callback, const char *method)
{
    if (!qs_is_http_url(callback) || strpbrk(callback, " \t\r\n") != NULL)
        luaL_error(L, "bad argument #1 to '%s' (field 'callback': an http(s) URL expected)", method);
    if (!c->allow_insecure_callbacks && strncmp(callback, "https://", 8) != 0)
        luaL_error(L, "bad argument #1 to '%s' (field 'callback': QuicklySign calls https "
                      "URLs only; set allow_insecure_callbacks = true for local development)", method);
}

/* ---- calls ------------------------------------------------------------ */

/* With data on top: replaces it by data[field], or by nil, err when missing. */
static int take_field(lua_State *L, qs_client *c, int base, const char *field,
                      const char *method, int url_idx)
{
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, field);
        if (lua_istable(L, -1)) {
            lua_replace(L, base + 1);
            lua_settop(L, base + 1);
            return 1;
        }
    }
    lua_settop(L, base);
    lua_pushfstring(L, "the answer has no data.%s", field);
    qs_push_error(L, c, "decode", 200, method, lua_tostring(L, url_idx), lua_tostring(L, -1));
    lua_remove(L, -2);   /* the message, copied into the error */
    return qs_return_error(L);
}

static int do_create(lua_State *L, qs_client *c, int ci, const char *entity_key,
                     const char *callback, double deadline)
{
    int base = lua_gettop(L);
    qs_call call = { "POST", QS_AUTH_BODY, QS_RETRY_UNSENT, deadline, ci, 0 };
    qs_push_url(L, c, QS_PATH_WEBHOOKS, NULL, NULL, 0);
    int url_idx = base + 1;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->client_id);
    lua_setfield(L, -2, "client_id");
    lua_pushstring(L, c->client_secret);
    lua_setfield(L, -2, "client_secret");
    lua_createtable(L, 0, 2);
    lua_pushstring(L, entity_key);
    lua_setfield(L, -2, "entity_key");
    lua_pushstring(L, callback);
    lua_setfield(L, -2, "callback");
    lua_setfield(L, -2, "webhook");
    qs_json_encode(L, -1);
    if (qs_api_call(L, c, &call, url_idx, base + 3) == 2)
        return qs_keep_top2(L, base);
    return take_field(L, c, url_idx, "webhook", "POST", url_idx);   /* keeps the URL for an error */
}

static int do_list(lua_State *L, qs_client *c, int ci, const char *entity_key, double deadline)
{
    const char *query[] = { "entity_key", entity_key, NULL, NULL, NULL };
    qs_call call = { "GET", QS_AUTH_QUERY, QS_RETRY_SAFE, deadline, ci, 1 };
    return qs_api_list(L, c, &call, QS_PATH_WEBHOOKS, query, 2, "webhooks");
}

/* Checks self and the {entity_key = K, callback = URL} of create and ensure.
   Leaves the client on the stack (at s.ci), then the two field values, which
   keep the strings alive (qs_field_string). */
typedef struct subscription {
    qs_client *c;
    int ci;
    const char *entity_key, *callback;
} subscription;

static subscription check_subscription(lua_State *L, const char *method)
{
    static const char *const fields[] = { "entity_key", "callback", NULL };
    subscription s;
    lua_settop(L, 2);
    s.c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, method);
    s.ci = lua_gettop(L);
    qs_check_args_table(L, 2, 0);
    qs_check_fields(L, 2, method, fields);
    s.entity_key = qs_field_string(L, 2, "entity_key", method, 1);
    s.callback = qs_field_string(L, 2, "callback", method, 1);
    check_callback(L, s.c, s.callback, method);
    return s;
}

/* webhooks:create{entity_key = K, callback = URL} --> webhook */
static int wh_create(lua_State *L)
{
    subscription s = check_subscription(L, "create");
    qs_begin(L, s.c);
    return do_create(L, s.c, s.ci, s.entity_key, s.callback, qs_deadline(s.c));
}

/* webhooks:get(webhook_key) --> webhook */
static int wh_get(lua_State *L)
{
    lua_settop(L, 2);
    qs_client *c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, "get");
    int ci = lua_gettop(L);
    const char *key = qs_check_key(L, 2, "webhook_key");
    qs_begin(L, c);
    qs_call call = { "GET", QS_AUTH_QUERY, QS_RETRY_SAFE, qs_deadline(c), ci, 0 };
    qs_push_url(L, c, QS_PATH_WEBHOOKS, key, NULL, 1);
    if (qs_api_call(L, c, &call, ci + 1, 0) == 2)
        return 2;
    return take_field(L, c, ci + 1, "webhook", "GET", ci + 1);
}

/* webhooks:list{entity_key = K} (argument optional) --> every webhook, every page */
static int wh_list(lua_State *L)
{
    static const char *const fields[] = { "entity_key", NULL };
    lua_settop(L, 2);
    qs_client *c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, "list");
    int ci = lua_gettop(L);
    qs_check_args_table(L, 2, 1);
    const char *entity_key = NULL;
    if (lua_istable(L, 2)) {
        qs_check_fields(L, 2, "list", fields);
        entity_key = qs_field_string(L, 2, "entity_key", "list", 0);
    }
    qs_begin(L, c);
    return do_list(L, c, ci, entity_key, qs_deadline(c));
}

static int do_delete(lua_State *L, qs_client *c, int ci, const char *key, const char *entity_key)
{
    qs_begin(L, c);   /* the key, checked */
    const char *query[] = { "entity_key", entity_key, NULL };
    qs_call call = { "DELETE", QS_AUTH_QUERY, QS_RETRY_SAFE, qs_deadline(c), ci, 0 };
    qs_push_url(L, c, QS_PATH_WEBHOOK_DELETE, key, query, 1);
    if (qs_api_call(L, c, &call, ci + 1, 0) == 2)
        return 2;
    lua_pushboolean(L, 1);
    return 1;
}

/* webhooks:delete(webhook_key) --> true */
static int wh_delete(lua_State *L)
{
    lua_settop(L, 2);
    qs_client *c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, "delete");
    int ci = lua_gettop(L);
    return do_delete(L, c, ci, qs_check_key(L, 2, "webhook_key"), NULL);
}

/* webhooks:delete_by_entity(entity_key) --> true */
static int wh_delete_by_entity(lua_State *L)
{
    lua_settop(L, 2);
    qs_client *c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, "delete_by_entity");
    int ci = lua_gettop(L);
    return do_delete(L, c, ci, NULL, qs_check_key(L, 2, "entity_key"));
}

/* webhooks:logs{entity_key = K} or {webhook_key = W} --> callback log entries */
static int wh_logs(lua_State *L)
{
    static const char *const fields[] = { "entity_key", "webhook_key", NULL };
    lua_settop(L, 2);
    qs_client *c = qs_resource_client(L, 1, QS_WEBHOOKS_MT, "logs");
    int ci = lua_gettop(L);
    qs_check_args_table(L, 2, 0);
    qs_check_fields(L, 2, "logs", fields);
    const char *entity_key = qs_field_string(L, 2, "entity_key", "logs", 0);
    const char *webhook_key = qs_field_string(L, 2, "webhook_key", "logs", 0);
    if ((entity_key == NULL) == (webhook_key == NULL))
        return luaL_error(L, "bad argument #1 to 'logs' (give exactly one of 'entity_key' and 'webhook_key')");
    qs_begin(L, c);
    const char *query[] = { "entity_key", entity_key, "webhook_key", webhook_key, NULL, NULL, NULL };
    qs_call call = { "GET", QS_AUTH_QUERY, QS_RETRY_SAFE, qs_deadline(c), ci, 1 };
    return qs_api_list(L, c, &call, QS_PATH_CALLBACK_LOGS, query, 4, "webhook_callback_logs");
}

/*
 * webhooks:ensure{entity_key = K, callback = URL} --> webhook, created
 * Looks before it creates, so calling it again never subscribes twice.
 */
static int wh_ensure(lua_State *L)
{
    subscription s = check_subscription(L, "ensure");
    qs_client *c = s.c;
    int ci = s.ci;
    const char *entity_key = s.entity_key, *callback = s.callback;
    qs_begin(L, c);
    double deadline = qs_deadline(c);
    int args_top = lua_gettop(L);   /* ci, then the two field values */
    if (do_list(L, c, ci, entity_key, deadline) == 2)
        return 2;
    int list = lua_gettop(L);
    int n = (int)qs_rawlen(L, list);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "callback");
            int same = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), callback) == 0;
            lua_pop(L, 1);
            if (same) {
                lua_pushboolean(L, 0);
                return 2;
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, args_top);   /* keeps entity_key and callback alive */
    if (do_create(L, c, ci, entity_key, callback, deadline) == 2)
        return 2;
    lua_pushboolean(L, 1);
    return 2;
}

QS_GUARDED(guarded_create, wh_create)
QS_GUARDED(guarded_get, wh_get)
QS_GUARDED(guarded_list, wh_list)
QS_GUARDED(guarded_delete, wh_delete)
QS_GUARDED(guarded_delete_by_entity, wh_delete_by_entity)
QS_GUARDED(guarded_logs, wh_logs)
QS_GUARDED(guarded_ensure, wh_ensure)

static int wh_tostring(lua_State *L)
{
    lua_pushfstring(L, "quicklysign.webhooks %p", lua_touserdata(L, 1));
    return 1;
}

void qs_webhooks_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "create", guarded_create },
        { "get", guarded_get },
        { "list", guarded_list },
        { "delete", guarded_delete },
        { "delete_by_entity", guarded_delete_by_entity },
        { "logs", guarded_logs },
        { "ensure", guarded_ensure },
        { NULL, NULL }
    };
    luaL_newmetatable(L, QS_WEBHOOKS_MT);
    lua_newtable(L);
    qs_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, wh_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
