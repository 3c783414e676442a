/*
 * many.c - batch calls (create_many, get_many, ...): a list of items, each
 * its own request through the one attempt loop, at most `concurrency` in
 * flight at once, all within one deadline for the batch. Each item gets its
 * own retries, under the rules of the single call it stands for, and exactly
 * one outcome: results[i] or errors[i], in the input's order.
 *
 * The methods check their whole list before anything is sent (misuse
 * raises, naming the item), copy what they need of each item, then hand
 * qs_many_run a make step (the item's URL, body, reader into its stack
 * frame) and, when the value is not the request's own, a finish step.
 */
#include <string.h>

#include "qs.h"

/* The batch options at idx (a table, or absent): concurrency and timeout.
   Returns the concurrency (the client's when absent); *timeout is 0 when
   absent. */
int qs_many_options(lua_State *L, const qs_client *c, int idx, const char *method, double *timeout)
{
    int concurrency = c->concurrency;
    *timeout = 0;
    if (lua_isnoneornil(L, idx))
        return concurrency;
    if (!lua_istable(L, idx))
        luaL_error(L, "bad argument #2 to '%s' (table of options expected, got %s)", method, luaL_typename(L, idx));
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (k == NULL || (strcmp(k, "concurrency") != 0 && strcmp(k, "timeout") != 0))
            luaL_error(L, "bad argument #2 to '%s' (unknown option '%s')", method, k ? k : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "concurrency");
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (!(n >= 1 && n <= QS_MAX_CONCURRENCY && n == (lua_Number)(int)n))
            luaL_error(L, "bad argument #2 to '%s' (field 'concurrency': an integer from 1 to %d expected)",
                       method, QS_MAX_CONCURRENCY);
        concurrency = (int)n;
    }
    lua_getfield(L, idx, "timeout");
    if (!lua_isnil(L, -1)) {
        lua_Number s = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (!(s > 0 && s <= 86400))
            luaL_error(L, "bad argument #2 to '%s' (field 'timeout': seconds, above 0 and at most 86400, "
                          "expected)", method);
        *timeout = (double)s;
    }
    lua_pop(L, 2);
    return concurrency;
}

/* An item's outcome (value or nil, err on top) into results[i] or errors[i]. */
static void item_done(lua_State *L, qs_batch *b, qs_request *r, int rc)
{
    qs_many *m = b->ud;
    if (m->finish != NULL)
        rc = m->finish(L, b, r, rc);
    if (rc == 1) {
        lua_rawseti(L, m->results_idx, r->index);
    } else {
        lua_rawseti(L, m->errors_idx, r->index);
        lua_pop(L, 1);
        m->failed++;
    }
}

/*
 * Runs one request per item of the list at m->items_idx (m->make readies
 * item r->index): pushes results, errors (two tables, keyed by the items'
 * positions; an item has one or the other) and the number that failed.
 * Returns 3.
 */
int qs_many_run(lua_State *L, const qs_call *call, qs_many *m, int concurrency)
{
    int n = (int)qs_rawlen(L, m->items_idx);
    qs_request *reqs = lua_newuserdata(L, (size_t)(n > 0 ? n : 1) * sizeof *reqs);   /* freed by the GC */
    int reqs_idx = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        qs_request_init(&reqs[i], call, "GET", QS_TOKEN_IF_ANY, 0);
        reqs[i].index = i + 1;
    }
    lua_createtable(L, n, 0);
    m->results_idx = lua_gettop(L);
    lua_newtable(L);
    m->errors_idx = lua_gettop(L);
    m->failed = 0;
    qs_batch b;
    memset(&b, 0, sizeof b);
    b.call = call;
    b.reqs = reqs;
    b.n = n;
    b.concurrency = concurrency < n ? concurrency : (n > 0 ? n : 1);
    b.deadline = call->deadline;
    b.make = m->make;
    b.done = item_done;
    b.ud = m;
    qs_attempt_all(L, &b);
    lua_pushinteger(L, m->failed);
    lua_remove(L, reqs_idx);
    return 3;
}

/* ---- items ------------------------------------------------------------- */

/* Readies r as `method` <path>/<key>, for key r->index of the list (a make step's whole work
   for get_many and the like): the token as `token` says, credentials in the query or not. */
int qs_many_keyed(lua_State *L, qs_batch *b, qs_request *r, const char *method, const char *path,
                  enum qs_token token, int with_credentials)
{
    const qs_many *m = b->ud;
    lua_rawgeti(L, m->items_idx, r->index);
    qs_push_url(L, b->call->c, path, lua_tostring(L, -1), NULL, with_credentials);
    lua_replace(L, r->frame);
    qs_request_reset(r, b->call, method, token, r->frame);
    return 1;
}

/* The list at idx: an array (a table with items 1..n). Raises otherwise. */
int qs_many_list(lua_State *L, int idx, const char *method, const char *what)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "bad argument #1 to '%s' (a list of %s expected, got %s)", method, what, luaL_typename(L, idx));
    int n = (int)qs_rawlen(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
        if (!(k >= 1 && k <= n && k == (lua_Number)(int)k))
            luaL_error(L, "bad argument #1 to '%s' (a list of %s expected: it has a key other than 1..%d)",
                       method, what, n);
        lua_pop(L, 1);
    }
    return n;
}

/* Item i of the list at list: a non-empty string without NUL (a key), pushed. */
const char *qs_many_key(lua_State *L, int list, int i, const char *method, const char *what)
{
    lua_rawgeti(L, list, i);
    if (lua_type(L, -1) != LUA_TSTRING || qs_rawlen(L, -1) == 0 || qs_has_nul(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (item %d: %s: a non-empty string without NUL expected, got %s)",
                   method, i, what, lua_type(L, -1) == LUA_TSTRING ? "that string" : luaL_typename(L, -1));
    return lua_tostring(L, -1);
}

/* Field `field` of item i (the table on top): a non-empty string without NUL, pushed. */
const char *qs_many_field(lua_State *L, int i, const char *field, const char *method)
{
    lua_pushstring(L, field);
    lua_rawget(L, -2);
    if (lua_type(L, -1) != LUA_TSTRING || qs_rawlen(L, -1) == 0 || qs_has_nul(L, -1))
        luaL_error(L, "bad argument #1 to '%s' (item %d: field '%s': a non-empty string without NUL "
                      "expected, got %s)", method, i, field,
                   lua_type(L, -1) == LUA_TSTRING ? "that string" : luaL_typename(L, -1));
    return lua_tostring(L, -1);
}
