/*
 * webhooks.c - client.webhooks: create, get, list (page, pages), delete,
 * delete_by_entity, logs (log_page, log_pages) and ensure, as the vendor's
 * Webhooks and Webhook Logs pages describe them (docs/vendor-api.md).
 *
 * Each call carries the client credentials, and the access token too when
 * the client has a source for one (api_key or access_token): the vendor's
 * pages disagree on whether webhook calls need it. Each method checks its
 * arguments, then hands its perform step to qs_run.
 */
#include <string.h>

#include "qs.h"

/* The checked arguments of a method; its perform step reads them. The
   strings stay alive on the Lua stack (qs_field_string, qs_check_key) or in
   an iterator's state table. */
typedef struct wh_args {
    const char *key, *entity_key, *webhook_key, *callback;
    const char *page_size;      /* as a decimal string */
    int logs;                   /* the callback logs, not the webhooks */
    int pos_idx;                /* stack index of a page's position (page, pages), or 0 */
    int state_idx;              /* stack index of an iterator's state table (pages) */
} wh_args;

/* where: "" for a single call's argument, "item N: " for a batch's. */
static void check_callback(lua_State *L, qs_client *c, const char *callback, const char *method,
                           const char *where)
{
    if (!qs_is_http_url(callback) || strpbrk(callback, " \t\r\n") != NULL)
        luaL_error(L, "bad argument #1 to '%s' (%sfield 'callback': an http(s) URL expected)", method, where);
    if (!c->allow_insecure_callbacks && strncmp(callback, "https://", 8) != 0)
        luaL_error(L, "bad argument #1 to '%s' (%sfield 'callback': QuicklySign calls https "
                      "URLs only; set allow_insecure_callbacks = true for local development)", method, where);
}

/* A request of a webhook call, with the token when the client has a source. */
static void wh_request(qs_request *r, const qs_call *call, const char *method, int url_idx)
{
    qs_request_init(r, call, method, QS_TOKEN_IF_ANY, url_idx);
}

/* The list a method reads: webhooks, or callback logs (at most one filter). */
static void list_of(qs_list *list, const wh_args *a)
{
    memset(list, 0, sizeof *list);
    if (a->logs) {
        list->path = QS_PATH_CALLBACK_LOGS;
        list->field = "webhook_callback_logs";
        list->singular = "webhook_callback_log";
    } else {
        list->path = QS_PATH_WEBHOOKS;
        list->field = "webhooks";
        list->singular = "webhook";
    }
    const char *query[QS_LIST_QUERY + 1] = { "entity_key", a->entity_key, "webhook_key", a->webhook_key,
                                             QS_PAGE_SIZE_PARAM, a->page_size, NULL };
    memcpy(list->query, query, sizeof query);
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
    wh_request(&r, call, "POST", base + 1);
    r.body_idx = base + 3;
    r.retry = QS_RETRY_UNSENT;
    if (qs_attempt(L, &r) == 2)
        return qs_keep_top2(L, base);
    return qs_api_field(L, &r, base, "webhook");
}

static int do_list(lua_State *L, const qs_call *call, const wh_args *a)
{
    qs_list list;
    list_of(&list, a);
    qs_request r;
    wh_request(&r, call, "GET", 0);
    return qs_api_list(L, &r, &list);
}

/* GET /webhooks/<key>: pushes the webhook, or nil, err. */
static int do_get(lua_State *L, const qs_call *call, const char *key)
{
    int base = lua_gettop(L);
    qs_push_url(L, call->c, QS_PATH_WEBHOOKS, key, NULL, 1);
    qs_request r;
    wh_request(&r, call, "GET", base + 1);
    if (qs_attempt(L, &r) == 2)
        return qs_keep_top2(L, base);
    return qs_api_field(L, &r, base, "webhook");
}

static int create_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    return do_create(L, call, a->entity_key, a->callback);
}

/*
 * webhooks:ensure{entity_key = K, callback = URL} --> webhook, created
 * Looks before it creates, so calling it again never subscribes twice; a
 * list that cannot be read is an error, never a reason to create.
 */
static int find_callback(lua_State *L, int list, const char *callback);

/* Lists the entity's webhooks: pushes the one with a's callback and returns
   1, returns 0 (nothing pushed) when there is none, or 2 with nil, err. */
static int listed(lua_State *L, const qs_call *call, const wh_args *a)
{
    if (do_list(L, call, a) == 2)
        return 2;
    if (find_callback(L, lua_gettop(L), a->callback)) {
        lua_remove(L, -2);
        return 1;
    }
    lua_pop(L, 1);
    return 0;
}

/*
 * webhooks:ensure{entity_key = K, callback = URL} --> webhook, created
 * Looks before it creates, so calling it again never subscribes twice; a
 * list that cannot be read is an error, never a reason to create. A create
 * whose answer was lost with its connection (the server may have carried it
 * out) is settled by looking again: the webhook it made, or the error.
 */
static int ensure_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    int rc = listed(L, call, a);
    if (rc == 2)
        return 2;                   /* the list's nil, err */
    if (rc == 1) {
        lua_pushboolean(L, 0);
        return 2;                   /* found: not created */
    }
    if (do_create(L, call, a->entity_key, a->callback) == 1) {
        lua_pushboolean(L, 1);
        return 2;
    }
    lua_getfield(L, -1, "reason");
    int lost = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "connection_lost") == 0;
    lua_pop(L, 1);
    if (!lost)
        return 2;                   /* the create's nil, err */
    int create_failed = lua_gettop(L);
    if (listed(L, call, a) != 1) {
        lua_settop(L, create_failed);
        return 2;                   /* not there (or the list failed): the create's error stands */
    }
    lua_pushboolean(L, 1);
    return 2;
}

static int get_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    return do_get(L, call, a->key);
}

static int list_perform(lua_State *L, qs_call *call)
{
    return do_list(L, call, call->args);
}

/* page and log_page: the page at a->pos_idx: its items and the next position. */
static int page_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    qs_list list;
    list_of(&list, a);
    qs_request r;
    wh_request(&r, call, "GET", 0);
    if (qs_list_page(L, &r, &list, a->pos_idx) == 2)
        return 2;
    lua_remove(L, -3);   /* the page's URL */
    return 2;
}

/* ---- delete, under both readings of its path ---------------------------- */

/* DELETE by key or by entity at the path of route: pushes true, or nil, err;
   *status is the error's status (0 for a success or none). */
static int delete_at(lua_State *L, const qs_call *call, const wh_args *a, int route, long *status)
{
    int base = lua_gettop(L);
    const char *query[] = { "entity_key", a->entity_key, NULL };
    qs_push_url(L, call->c, route == QS_DELETE_SINGULAR ? QS_PATH_WEBHOOK_DELETE : QS_PATH_WEBHOOKS,
                a->key, query, 1);
    qs_request r;
    wh_request(&r, call, "DELETE", base + 1);
    *status = 0;
    if (qs_attempt(L, &r) == 2) {
        lua_getfield(L, -1, "status");
        *status = (long)lua_tonumber(L, -1);
        lua_pop(L, 1);
        return qs_keep_top2(L, base);
    }
    lua_settop(L, base);
    lua_pushboolean(L, 1);
    return 1;
}

/* A status that may mean "no such route" rather than "no such webhook". */
static int route_answer(long status)
{
    return status == 404 || status == 405;
}

/* Leaves the nil, err pair at `at` as base + 1, base + 2; returns 2. */
static int keep_pair(lua_State *L, int at, int base)
{
    lua_pushvalue(L, at);
    lua_pushvalue(L, at + 1);
    return qs_keep_top2(L, base);
}

/* Leaves nil, no_delete_route at base + 1: neither path deletes it. */
static int no_route(lua_State *L, const qs_call *call, int base, long status)
{
    lua_settop(L, base);
    lua_pushfstring(L, "neither DELETE %s nor DELETE %s deletes it (the server answered %d to both), "
                    "yet it is still there", QS_PATH_WEBHOOK_DELETE, QS_PATH_WEBHOOKS, (int)status);
    qs_push_error(L, call->c, QS_NO_DELETE_ROUTE, lua_tostring(L, -1));
    return qs_fail(L, base);
}

/*
 * Both paths answered 404 or 405 (their nil, err pairs at base + 1 and
 * base + 3). A 405 says the method lives elsewhere, so the other path's 404
 * is about the webhook. Two 404s are told apart by reading what was to be
 * deleted: gone, and the 404 stands (delete_by_entity: true); still there,
 * and no route deletes it. A read that fails is reported as it is.
 */
static int neither_deleted(lua_State *L, const qs_call *call, const wh_args *a, long first, long second)
{
    int base = lua_gettop(L) - 4, gone;
    if (first != second)
        return keep_pair(L, first == 404 ? base + 1 : base + 3, base);
    if (first == 405)
        return no_route(L, call, base, first);
    if (a->key != NULL) {
        if (do_get(L, call, a->key) == 1)
            return no_route(L, call, base, first);
        lua_getfield(L, -1, "status");
        gone = lua_tonumber(L, -1) == 404;
        lua_pop(L, 1);
        return keep_pair(L, gone ? base + 3 : lua_gettop(L) - 1, base);
    }
    wh_args all = *a;
    all.page_size = NULL;
    if (do_list(L, call, &all) == 2)
        return qs_keep_top2(L, base);
    if (qs_rawlen(L, -1) != 0)
        return no_route(L, call, base, first);
    lua_settop(L, base);
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * webhooks:delete(key) and :delete_by_entity(entity_key) --> true
 * The Webhooks page shows the singular /webhook; every other path is
 * plural. The path that worked is remembered; until one has, a 404 or 405
 * from the singular tries the plural, and a "not found" is only reported
 * when it is about the webhook, never about a route the server lacks
 * (which would read as "already deleted").
 */
static int delete_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    qs_client *c = call->c;
    int known = c->delete_route, route = known ? known : QS_DELETE_SINGULAR;
    long first, second;
    if (delete_at(L, call, a, route, &first) == 1) {
        c->delete_route = route;
        return 1;
    }
    if (known || !route_answer(first))
        return 2;
    route = route == QS_DELETE_SINGULAR ? QS_DELETE_PLURAL : QS_DELETE_SINGULAR;
    if (delete_at(L, call, a, route, &second) == 1) {
        c->delete_route = route;
        return 1;
    }
    if (!route_answer(second))
        return qs_keep_top2(L, lua_gettop(L) - 4);
    return neither_deleted(L, call, a, first, second);
}

static int logs_perform(lua_State *L, qs_call *call)
{
    return do_list(L, call, call->args);
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
    check_callback(L, call->c, a->callback, method, "");
    call->args = a;
}

/* webhooks:create{entity_key = K, callback = URL} --> webhook */
static int wh_create(lua_State *L)
{
    qs_call call;
    wh_args a = { 0 };
    check_subscription(L, &call, &a, "create");
    return qs_run(L, &call, create_perform);
}

static int wh_ensure(lua_State *L)
{
    qs_call call;
    wh_args a = { 0 };
    check_subscription(L, &call, &a, "ensure");
    return qs_run(L, &call, ensure_perform);
}

/* self, then one key argument: get, delete (webhook_key), delete_by_entity (entity_key). */
static int run_with_key(lua_State *L, const char *method, const char *name, qs_perform perform)
{
    qs_call call;
    wh_args a = { 0 };
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

/* The page_size field of the arguments at idx, as a decimal string kept on
   the stack, or NULL when absent. */
static const char *check_page_size(lua_State *L, int idx, const char *method)
{
    lua_getfield(L, idx, "page_size");
    if (lua_isnil(L, -1))
        return NULL;
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (!(n >= 1 && n <= 2147483647.0 && n == (lua_Number)(long)n))
        luaL_error(L, "bad argument #1 to '%s' (field 'page_size': a positive integer expected)", method);
    return lua_pushfstring(L, "%d", (int)n);
}

/* The arguments of the list methods (at 2, optional): their filters, the
   page size, and for page and log_page the position to start from. */
static void check_list_args(lua_State *L, wh_args *a, const char *method)
{
    static const char *const webhook_fields[] = { "entity_key", "page_size", "after", NULL };
    static const char *const log_fields[] = { "entity_key", "webhook_key", "page_size", "after", NULL };
    int paging = strstr(method, "page") != NULL && strstr(method, "pages") == NULL;
    qs_check_args_table(L, 2, 1);
    if (!lua_istable(L, 2))
        return;
    qs_check_fields(L, 2, method, a->logs ? log_fields : webhook_fields);
    lua_getfield(L, 2, "after");
    if (!paging && !lua_isnil(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (unknown field 'after')", method);
    lua_pop(L, 1);
    a->entity_key = qs_field_string(L, 2, "entity_key", method, 0);
    if (a->logs)
        a->webhook_key = qs_field_string(L, 2, "webhook_key", method, 0);
    if (a->entity_key != NULL && a->webhook_key != NULL)
        luaL_error(L, "bad argument #1 to '%s' (give at most one of 'entity_key' and 'webhook_key')", method);
    a->page_size = check_page_size(L, 2, method);
}

/* self and the list arguments of a list method. */
static void list_call(lua_State *L, qs_call *call, wh_args *a, const char *method, int logs)
{
    lua_settop(L, 2);
    qs_resource_call(L, call, &qs_webhooks_class, method);
    a->logs = logs;
    check_list_args(L, a, method);
    call->args = a;
}

/* webhooks:list{entity_key = K, page_size = N} (argument optional) --> every webhook, every page */
static int wh_list(lua_State *L)
{
    qs_call call;
    wh_args a = { 0 };
    list_call(L, &call, &a, "list", 0);
    return qs_run(L, &call, list_perform);
}

/* webhooks:logs{entity_key = K or webhook_key = W or neither, page_size = N} --> every entry */
static int wh_logs(lua_State *L)
{
    qs_call call;
    wh_args a = { 0 };
    list_call(L, &call, &a, "logs", 1);
    return qs_run(L, &call, logs_perform);
}

/* The `after` of page and log_page: a position given back by an earlier
   page (a cursor, or a URL of the API's origin), pushed; or nil. */
static void push_after(lua_State *L, qs_client *c, const char *method)
{
    if (lua_istable(L, 2))
        lua_getfield(L, 2, "after");
    else
        lua_pushnil(L);
    if (lua_isnil(L, -1))
        return;
    if (lua_type(L, -1) != LUA_TSTRING || qs_rawlen(L, -1) == 0 || qs_has_nul(L, -1) ||
        (qs_is_http_url(lua_tostring(L, -1)) && !qs_same_origin(lua_tostring(L, -1), c->base_url)))
        luaL_error(L, "bad argument #1 to '%s' (field 'after': the position an earlier page returned "
                      "expected)", method);
}

/* webhooks:page{entity_key, page_size, after} --> items, next position (nil after the last) */
static int run_page(lua_State *L, const char *method, int logs)
{
    qs_call call;
    wh_args a = { 0 };
    list_call(L, &call, &a, method, logs);
    push_after(L, call.c, method);
    a.pos_idx = lua_gettop(L);
    return qs_run(L, &call, page_perform);
}

static int wh_page(lua_State *L)
{
    return run_page(L, "page", 0);
}

static int wh_log_page(lua_State *L)
{
    return run_page(L, "log_page", 1);
}

/* ---- the page iterators ------------------------------------------------ */

/* One page for an iterator, whose state table is at a->state_idx: its
   position moves on; a failure ends it, returned as false, err so that the
   loop's body sees it. */
static int iterate_perform(lua_State *L, qs_call *call)
{
    const wh_args *a = call->args;
    int base = lua_gettop(L);
    page_perform(L, call);
    int failed = lua_isnil(L, base + 1);
    if (failed || lua_isnil(L, base + 2)) {
        lua_pushboolean(L, 1);
        lua_setfield(L, a->state_idx, "done");
    }
    if (failed) {
        lua_pushboolean(L, 0);
        lua_replace(L, base + 1);
        return 2;
    }
    lua_pushvalue(L, base + 2);
    lua_setfield(L, a->state_idx, "position");
    lua_settop(L, base + 1);
    return 1;
}

/* Pushes state[name] and returns it as a string (NULL when absent). */
static const char *state_string(lua_State *L, int state, const char *name)
{
    lua_getfield(L, state, name);
    return lua_tostring(L, -1);
}

/* The iterator's function: the next page, or false, err (once), or nothing at the end. */
static int iterate(lua_State *L)
{
    qs_call call;
    wh_args a = { 0 };
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    qs_resource_call(L, &call, &qs_webhooks_class, "pages");
    lua_pushvalue(L, lua_upvalueindex(2));
    a.state_idx = lua_gettop(L);
    lua_getfield(L, a.state_idx, "done");
    if (lua_toboolean(L, -1))
        return 0;
    lua_getfield(L, a.state_idx, "logs");
    a.logs = lua_toboolean(L, -1);
    a.entity_key = state_string(L, a.state_idx, "entity_key");
    a.webhook_key = state_string(L, a.state_idx, "webhook_key");
    a.page_size = state_string(L, a.state_idx, "page_size");
    lua_getfield(L, a.state_idx, "position");
    a.pos_idx = lua_gettop(L);
    call.args = &a;
    return qs_run(L, &call, iterate_perform);
}

/* webhooks:pages{entity_key, page_size} --> an iterator over the pages, for a generic for */
static int run_pages(lua_State *L, const char *method, int logs)
{
    qs_call call;
    wh_args a = { 0 };
    list_call(L, &call, &a, method, logs);
    lua_pushvalue(L, 1);
    lua_createtable(L, 0, 6);
    lua_pushboolean(L, logs);
    lua_setfield(L, -2, "logs");
    lua_pushstring(L, a.entity_key);
    lua_setfield(L, -2, "entity_key");
    lua_pushstring(L, a.webhook_key);
    lua_setfield(L, -2, "webhook_key");
    lua_pushstring(L, a.page_size);
    lua_setfield(L, -2, "page_size");
    lua_pushcclosure(L, iterate, 2);
    return 1;
}

static int wh_pages(lua_State *L)
{
    return run_pages(L, "pages", 0);
}

static int wh_log_pages(lua_State *L)
{
    return run_pages(L, "log_pages", 1);
}

/* ---- batch calls -------------------------------------------------------- */

/* The checked arguments of a batch method: its items (a copy) and options. */
typedef struct wh_many {
    int items_idx;              /* stack index of the copy of the items */
    int concurrency;
    double timeout;             /* 0: the client's */
} wh_many;

/* The batch's own deadline, when its options give a timeout. */
static void many_deadline(qs_call *call, const wh_many *a)
{
    if (a->timeout > 0)
        call->deadline = qs_now() + a->timeout;
}

/* create_many's and ensure_many's list (at 2), checked: an array of
   {entity_key, callback}; copied into an array pushed on top. */
static void check_subscriptions(lua_State *L, qs_client *c, const char *method)
{
    int n = qs_many_list(L, 2, method, "subscriptions {entity_key, callback}");
    lua_createtable(L, n, 0);
    int copy = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "bad argument #1 to '%s' (item %d: a table {entity_key, callback} expected, got %s)",
                       method, i, luaL_typename(L, -1));
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (k == NULL || (strcmp(k, "entity_key") != 0 && strcmp(k, "callback") != 0))
                luaL_error(L, "bad argument #1 to '%s' (item %d: unknown field '%s')", method, i,
                           k != NULL ? k : luaL_typename(L, -2));
            lua_pop(L, 1);
        }
        int item = lua_gettop(L);
        lua_createtable(L, 0, 2);
        int out = lua_gettop(L);
        lua_pushvalue(L, item);
        qs_many_field(L, i, "entity_key", method);
        lua_setfield(L, out, "entity_key");
        lua_pushvalue(L, item);
        const char *callback = qs_many_field(L, i, "callback", method);
        check_callback(L, c, callback, method, lua_pushfstring(L, "item %d: ", i));
        lua_pop(L, 1);
        lua_setfield(L, out, "callback");
        lua_pushvalue(L, out);
        lua_rawseti(L, copy, i);
        lua_settop(L, copy);
    }
}

/* get_many's and delete_many's list (at 2), checked: an array of keys; copied. */
static void check_keys(lua_State *L, const char *method)
{
    int n = qs_many_list(L, 2, method, "webhook keys");
    lua_createtable(L, n, 0);
    int copy = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        qs_many_key(L, 2, i, method, "webhook key");
        lua_rawseti(L, copy, i);
    }
}

/* self, the list at 2 (checked by check: a copy pushed), the options at 3. */
static void many_call(lua_State *L, qs_call *call, wh_many *a, const char *method, int subscriptions)
{
    lua_settop(L, 3);
    qs_resource_call(L, call, &qs_webhooks_class, method);
    if (subscriptions)
        check_subscriptions(L, call->c, method);
    else
        check_keys(L, method);
    a->items_idx = lua_gettop(L);
    a->concurrency = qs_many_options(L, call->c, 3, method, &a->timeout);
    call->args = a;
}

/* The webhook in a create's or get's data (the value on top), or the error. */
static int webhook_of(lua_State *L, qs_batch *b, qs_request *r, int rc)
{
    (void)b;
    if (rc == 2)
        return 2;
    return qs_api_field(L, r, lua_gettop(L) - 1, "webhook");
}

/* POST /webhooks for subscription r->index: sent at most once, as create. */
static int create_make(lua_State *L, qs_batch *b, qs_request *r)
{
    const qs_many *m = b->ud;
    qs_client *c = b->call->c;
    lua_rawgeti(L, m->items_idx, r->index);
    int item = lua_gettop(L);
    qs_push_url(L, c, QS_PATH_WEBHOOKS, NULL, NULL, 0);
    lua_replace(L, r->frame);
    qs_push_credentials(L, c, 1);
    lua_createtable(L, 0, 2);
    lua_getfield(L, item, "entity_key");
    lua_setfield(L, -2, "entity_key");
    lua_getfield(L, item, "callback");
    lua_setfield(L, -2, "callback");
    lua_setfield(L, -2, "webhook");
    qs_json_encode(L, -1);
    lua_replace(L, r->frame + 1);
    qs_request_reset(r, b->call, "POST", QS_TOKEN_IF_ANY, r->frame);
    r->body_idx = r->frame + 1;
    r->retry = QS_RETRY_UNSENT;
    return 1;
}

/* GET /webhooks/<key> for key r->index. */
static int get_make(lua_State *L, qs_batch *b, qs_request *r)
{
    return qs_many_keyed(L, b, r, "GET", QS_PATH_WEBHOOKS, QS_TOKEN_IF_ANY, 1);
}

/* DELETE at the path that works (client.delete_route; the singular until one is known). */
static int delete_make(lua_State *L, qs_batch *b, qs_request *r)
{
    const char *path = b->call->c->delete_route == QS_DELETE_PLURAL ? QS_PATH_WEBHOOKS : QS_PATH_WEBHOOK_DELETE;
    return qs_many_keyed(L, b, r, "DELETE", path, QS_TOKEN_IF_ANY, 1);
}

/* A delete's value is true. */
static int deleted(lua_State *L, qs_batch *b, qs_request *r, int rc)
{
    (void)b, (void)r;
    if (rc == 2)
        return 2;
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    return 1;
}

static int many_perform(lua_State *L, qs_call *call, qs_many *m)
{
    const wh_many *a = call->args;
    many_deadline(call, a);
    m->items_idx = a->items_idx;
    return qs_many_run(L, call, m, a->concurrency);
}

static int create_many_perform(lua_State *L, qs_call *call)
{
    qs_many m = { create_make, webhook_of, 0, NULL, 0, 0, 0 };
    return many_perform(L, call, &m);
}

static int get_many_perform(lua_State *L, qs_call *call)
{
    qs_many m = { get_make, webhook_of, 0, NULL, 0, 0, 0 };
    return many_perform(L, call, &m);
}

/*
 * Until a delete has found the path that works, the first key is deleted
 * alone (with the single delete's fallback from /webhook to /webhooks);
 * then the others at once, at that path.
 */
static int delete_many_perform(lua_State *L, qs_call *call)
{
    wh_many *a = (wh_many *)call->args;
    int n = (int)qs_rawlen(L, a->items_idx);
    if (call->c->delete_route != 0 || n == 0) {
        qs_many m = { delete_make, deleted, 0, NULL, 0, 0, 0 };
        return many_perform(L, call, &m);
    }
    many_deadline(call, a);
    a->timeout = 0;
    wh_args first = { 0 };
    lua_rawgeti(L, a->items_idx, 1);
    first.key = lua_tostring(L, -1);
    const void *args = call->args;
    call->args = &first;
    int rc = delete_perform(L, call);        /* true, or nil, err: the top rc values */
    int outcome = lua_gettop(L) - rc + 1 + (rc == 2);   /* true, or err */
    call->args = args;
    lua_createtable(L, n - 1, 0);            /* the other keys */
    for (int i = 2; i <= n; i++) {
        lua_rawgeti(L, a->items_idx, i);
        lua_rawseti(L, -2, i - 1);
    }
    int rest = lua_gettop(L);
    qs_many m = { delete_make, deleted, rest, NULL, 0, 0, 0 };
    qs_many_run(L, call, &m, a->concurrency);    /* results, errors, failed */
    lua_createtable(L, n, 0);
    int results = lua_gettop(L), failed = (int)lua_tointeger(L, rest + 3);
    lua_newtable(L);
    int errors = lua_gettop(L);
    for (int i = 1; i < n; i++) {
        lua_rawgeti(L, rest + 1, i);
        lua_rawseti(L, results, i + 1);
        lua_rawgeti(L, rest + 2, i);
        lua_rawseti(L, errors, i + 1);
    }
    lua_pushvalue(L, outcome);
    lua_rawseti(L, rc == 1 ? results : errors, 1);
    lua_pushvalue(L, results);
    lua_pushvalue(L, errors);
    lua_pushinteger(L, failed + (rc == 2));
    return 3;
}

/* ---- ensure_many ---------------------------------------------------------- */

/* GET every page of the webhooks of entity r->index (ensure_many's entities). */
static int entity_list_make(lua_State *L, qs_batch *b, qs_request *r)
{
    const qs_many *m = b->ud;
    wh_args a = { 0 };
    qs_list list;
    lua_rawgeti(L, m->items_idx, r->index);
    a.entity_key = lua_tostring(L, -1);   /* alive: the entities' list holds it */
    list_of(&list, &a);
    qs_request_reset(r, b->call, "GET", QS_TOKEN_IF_ANY, 0);
    qs_list_request(L, r, &list);
    return 1;
}

/* Pushes the distinct entity keys of the subscriptions at items, in order of
   first appearance, and a table entity key -> its position there. */
static void group_entities(lua_State *L, int items)
{
    int n = (int)qs_rawlen(L, items), k = 0;
    lua_newtable(L);
    int list = lua_gettop(L);
    lua_newtable(L);
    int map = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, items, i);
        lua_getfield(L, -1, "entity_key");
        int key = lua_gettop(L);
        lua_pushvalue(L, key);
        lua_rawget(L, map);
        if (lua_isnil(L, -1)) {
            lua_pushvalue(L, key);
            lua_rawseti(L, list, ++k);
            lua_pushvalue(L, key);
            lua_pushinteger(L, k);
            lua_rawset(L, map);
        }
        lua_settop(L, map);
    }
}

/* The webhook of `list` (an array at idx) whose callback is `callback`, pushed; or nothing (0). */
static int find_callback(lua_State *L, int list, const char *callback)
{
    int n = lua_istable(L, list) ? (int)qs_rawlen(L, list) : 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, list, i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "callback");
            int same = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), callback) == 0;
            lua_pop(L, 1);
            if (same)
                return 1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* The stack of ensure_many after its lists: where each table is. */
typedef struct ensure_state {
    int items, emap, lists, lerrors;   /* the subscriptions; entity -> j; each entity's list or error */
    int results, errors, created;       /* per subscription */
    int creates, pending, target;       /* the subscriptions to create; "entity\ncallback" -> k; i -> k */
    int failed;
} ensure_state;

/* Subscription i settled by its entity's list: found, failed, or to be created (once per pair). */
static void settle_by_list(lua_State *L, ensure_state *e, int i)
{
    lua_rawgeti(L, e->items, i);
    int item = lua_gettop(L);
    lua_getfield(L, item, "entity_key");
    lua_rawget(L, e->emap);
    int j = (int)lua_tointeger(L, -1);
    lua_rawgeti(L, e->lerrors, j);
    if (!lua_isnil(L, -1)) {
        lua_rawseti(L, e->errors, i);
        e->failed++;
        lua_settop(L, item - 1);
        return;
    }
    lua_rawgeti(L, e->lists, j);
    lua_getfield(L, item, "callback");
    if (find_callback(L, lua_gettop(L) - 1, lua_tostring(L, -1))) {
        lua_rawseti(L, e->results, i);
        lua_pushboolean(L, 0);
        lua_rawseti(L, e->created, i);
        lua_settop(L, item - 1);
        return;
    }
    lua_getfield(L, item, "entity_key");
    lua_pushfstring(L, "%s\n%s", lua_tostring(L, -1), lua_tostring(L, -2));
    lua_pushvalue(L, -1);
    lua_rawget(L, e->pending);
    int k = (int)lua_tointeger(L, -1);
    if (k == 0) {             /* the first subscription of this pair: it is created */
        k = (int)qs_rawlen(L, e->creates) + 1;
        lua_pushvalue(L, item);
        lua_rawseti(L, e->creates, k);
        lua_pushvalue(L, -2);
        lua_pushinteger(L, k);
        lua_rawset(L, e->pending);
        lua_pushboolean(L, 1);
        lua_rawseti(L, e->created, i);
    }
    lua_pushinteger(L, k);
    lua_rawseti(L, e->target, i);
    lua_settop(L, item - 1);
}

/* After the creates (results and errors at cres, cerrs): each subscription that waited for one. */
static void settle_by_create(lua_State *L, ensure_state *e, int n, int cres, int cerrs)
{
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, e->target, i);
        int k = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (k == 0)
            continue;
        lua_rawgeti(L, cres, k);
        if (!lua_isnil(L, -1)) {
            lua_rawseti(L, e->results, i);
            lua_rawgeti(L, e->created, i);
            if (lua_isnil(L, -1)) {   /* a later subscription of a pair created for an earlier one */
                lua_pushboolean(L, 0);
                lua_rawseti(L, e->created, i);
            }
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 1);
        lua_rawgeti(L, cerrs, k);
        lua_rawseti(L, e->errors, i);
        lua_pushnil(L);
        lua_rawseti(L, e->created, i);
        e->failed++;
    }
}

/*
 * ensure_many: one list per entity (every page, all at once), then one
 * create per subscription that none of them has (a pair given twice is
 * created once), all at once. A list that cannot be read fails its
 * subscriptions: never a reason to create.
 */
static int ensure_many_perform(lua_State *L, qs_call *call)
{
    const wh_many *a = call->args;
    many_deadline(call, a);
    ensure_state e;
    memset(&e, 0, sizeof e);
    e.items = a->items_idx;
    int n = (int)qs_rawlen(L, e.items), base = lua_gettop(L);
    group_entities(L, e.items);                  /* base + 1: entities, base + 2: entity -> j */
    e.emap = base + 2;
    qs_many lists = { entity_list_make, NULL, base + 1, NULL, 0, 0, 0 };
    qs_many_run(L, call, &lists, a->concurrency);
    e.lists = base + 3;
    e.lerrors = base + 4;
    for (int i = 0; i < 6; i++)
        lua_newtable(L);
    e.results = base + 6, e.errors = base + 7, e.created = base + 8;
    e.creates = base + 9, e.pending = base + 10, e.target = base + 11;
    for (int i = 1; i <= n; i++)
        settle_by_list(L, &e, i);
    qs_many creates = { create_make, webhook_of, e.creates, NULL, 0, 0, 0 };
    qs_many_run(L, call, &creates, a->concurrency);
    settle_by_create(L, &e, n, base + 12, base + 13);
    lua_pushvalue(L, e.results);
    lua_pushvalue(L, e.errors);
    lua_pushinteger(L, e.failed);
    lua_pushvalue(L, e.created);
    return 4;
}

/* webhooks:ensure_many({ {entity_key, callback}, ... } [, options]) --> webhooks, errors, failed, created */
static int wh_ensure_many(lua_State *L)
{
    qs_call call;
    wh_many a = { 0, 0, 0 };
    many_call(L, &call, &a, "ensure_many", 1);
    return qs_run(L, &call, ensure_many_perform);
}

/* webhooks:create_many({ {entity_key, callback}, ... } [, {concurrency, timeout}])
   --> webhooks, errors, failed */
static int wh_create_many(lua_State *L)
{
    qs_call call;
    wh_many a = { 0, 0, 0 };
    many_call(L, &call, &a, "create_many", 1);
    return qs_run(L, &call, create_many_perform);
}

/* webhooks:get_many({ key, ... } [, options]) --> webhooks, errors, failed */
static int wh_get_many(lua_State *L)
{
    qs_call call;
    wh_many a = { 0, 0, 0 };
    many_call(L, &call, &a, "get_many", 0);
    return qs_run(L, &call, get_many_perform);
}

/* webhooks:delete_many({ key, ... } [, options]) --> results (true each), errors, failed */
static int wh_delete_many(lua_State *L)
{
    qs_call call;
    wh_many a = { 0, 0, 0 };
    many_call(L, &call, &a, "delete_many", 0);
    return qs_run(L, &call, delete_many_perform);
}

static const luaL_Reg wh_methods[] = {
    { "create", wh_create },
    { "get", wh_get },
    { "list", wh_list },
    { "page", wh_page },
    { "delete", wh_delete },
    { "delete_by_entity", wh_delete_by_entity },
    { "logs", wh_logs },
    { "log_page", wh_log_page },
    { "ensure", wh_ensure },
    { "create_many", wh_create_many },
    { "ensure_many", wh_ensure_many },
    { "get_many", wh_get_many },
    { "delete_many", wh_delete_many },
    { NULL, NULL }
};

/* Methods whose results belong to this Lua state (an iterator): not in
   core.methods, which lists what a proxy in another state can forward. */
static const luaL_Reg wh_local_methods[] = {
    { "pages", wh_pages },
    { "log_pages", wh_log_pages },
    { NULL, NULL }
};

const qs_class qs_webhooks_class = { QS_WEBHOOKS_MT, "webhooks", wh_methods, wh_local_methods, NULL, NULL };
