/*
 * api.c - what API calls make of their answers beyond one request: the
 * data field a method returns, and every page of a list.
 */
#include <string.h>

#include "qs.h"

/*
 * With an API call's data on top: leaves data[field] (a table) at base + 1
 * and returns 1, or leaves nil, err there and returns 2 when the answer
 * lacks it. r is the request that was answered, for the error.
 */
int qs_api_field(lua_State *L, const qs_request *r, int base, const char *field)
{
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, field);
        if (lua_istable(L, -1)) {
            lua_insert(L, base + 1);
            lua_settop(L, base + 1);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pushfstring(L, "the answer has no data.%s", field);
    qs_push_answer_error(L, r, QS_MISSING_DATA, lua_tostring(L, -1));
    return qs_fail(L, base);
}

/* With a page's envelope on top: appends its data[field] items to the
   array at result, which holds n; returns the new count. */
static int add_items(lua_State *L, int result, int n, const char *field)
{
    lua_getfield(L, -1, "data");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, field);
        if (lua_istable(L, -1)) {
            int count = (int)qs_rawlen(L, -1);
            for (int i = 1; i <= count; i++) {
                lua_rawgeti(L, -1, i);
                lua_rawseti(L, result, ++n);
            }
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return n;
}

/* Leaves nil, err at base + 1: the page at r's URL (answered last) broke a rule. */
static int page_error(lua_State *L, const qs_request *r, int base, qs_reason reason, const char *message)
{
    qs_push_answer_error(L, r, reason, message);
    return qs_fail(L, base);
}

/*
 * With a page's envelope on top: when it has a pagination.next, puts the
 * next page's URL in r->url_idx and returns 1; returns 0 when it was the
 * last page; 2 with nil, err at base + 1 when next breaks the rules. A next
 * that is an absolute URL must stay on the API's origin; any other non-empty
 * value is an opaque cursor, sent back as query[cursor_slot + 1]. The one
 * before is kept at prev_idx, to stop a server that loops.
 */
static int next_page(lua_State *L, qs_request *r, int base, int prev_idx,
                     const char *path, const char **query, int cursor_slot)
{
    qs_client *c = r->call->c;
    lua_getfield(L, -1, "pagination");
    if (lua_istable(L, -1))
        lua_getfield(L, -1, "next");
    else
        lua_pushnil(L);
    size_t len = 0;
    const char *next = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (next == NULL || len == 0)
        return 0;
    if (!lua_isnil(L, prev_idx) && strcmp(next, lua_tostring(L, prev_idx)) == 0)
        return page_error(L, r, base, QS_PAGINATION_LOOP, "pagination.next repeats itself");
    if (qs_is_http_url(next) && !qs_same_origin(next, c->base_url))
        return page_error(L, r, base, QS_CROSS_ORIGIN_NEXT, "pagination.next points away from the API's origin");
    lua_pushvalue(L, -1);
    lua_replace(L, prev_idx);   /* anchors next while it is used */
    if (qs_is_http_url(next)) {
        qs_push_with_credentials(L, c, next);
    } else {
        query[cursor_slot] = QS_CURSOR_PARAM;
        query[cursor_slot + 1] = next;
        qs_push_url(L, c, path, NULL, query, 1);
    }
    lua_replace(L, r->url_idx);
    return 1;
}

/*
 * GET every page of a list: pushes an array of the items under data[field]
 * of each page, or nil, err. r asks for the whole envelope; its URL is set
 * here, from path and query (which has room for the cursor at cursor_slot).
 */
int qs_api_list(lua_State *L, qs_request *r, const char *path, const char **query,
                int cursor_slot, const char *field)
{
    int top = lua_gettop(L), n = 0;
    lua_newtable(L);                                  /* top + 1: the items */
    qs_push_url(L, r->call->c, path, NULL, query, 1); /* top + 2: the page's URL */
    lua_pushnil(L);                                   /* top + 3: the previous next */
    r->url_idx = top + 2;
    r->envelope = 1;
    for (int page = 0; page < QS_MAX_PAGES; page++) {
        lua_settop(L, top + 3);
        if (qs_attempt(L, r) == 2)
            return qs_keep_top2(L, top);
        n = add_items(L, top + 1, n, field);
        int more = next_page(L, r, top, top + 3, path, query, cursor_slot);
        if (more == 2)
            return 2;
        if (more == 0) {
            lua_settop(L, top + 1);
            return 1;
        }
    }
    return page_error(L, r, top, QS_TOO_MANY_PAGES, "too many pages");
}
