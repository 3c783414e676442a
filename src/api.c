/*
 * api.c - what API calls make of their answers beyond one request: the
 * data field a method returns, and the pages of a list: where a page's
 * items are, and where the next page is.
 *
 * No vendor page shows a list answer (docs/vendor-api.md, "list answer"):
 * every plausible shape is read (data.<list>, data.<list in the singular>,
 * data.items, data itself as an array), and any other is an error that
 * says what was found, never an empty list. pagination.next may be an
 * opaque cursor, sent back as cursor=, or a URL, absolute or relative
 * (RFC 3986, resolved against the list's own URL), which must stay on the
 * API's origin.
 */
#include <stdlib.h>
#include <string.h>

#include "qs.h"

#define QS_SHAPE_KEYS 8   /* the keys of an unknown data object named in the error */

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

/* ---- a page's items --------------------------------------------------- */

/* Whether the value at idx is a table whose keys are exactly 1..#t (an empty
   one too: JSON's [] and {} decode alike, and neither hides an item). */
int qs_is_array(lua_State *L, int idx)
{
    if (!lua_istable(L, idx))
        return 0;
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    size_t n = qs_rawlen(L, idx), count = 0;
    int array = 1;
    lua_pushnil(L);
    while (array && lua_next(L, idx) != 0) {
        lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
        array = k >= 1 && k <= (lua_Number)n && k == (lua_Number)(size_t)k;
        count++;
        lua_pop(L, 1);
    }
    if (!array)
        lua_pop(L, 1);   /* the key lua_next left */
    return array && count == n;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes what data (at idx) is, for an error: "no data", "data is a string",
   or "data is an object with count (number), results (array)": its first keys
   in sorted order, each cut to 40 bytes. */
void qs_push_found(lua_State *L, int idx)
{
    if (lua_isnil(L, idx)) {
        lua_pushliteral(L, "the answer has no data");
        return;
    }
    if (!lua_istable(L, idx)) {
        lua_pushfstring(L, "data is a %s", luaL_typename(L, idx));
        return;
    }
    const char *keys[QS_SHAPE_KEYS] = { NULL };
    int n = 0, more = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && n < QS_SHAPE_KEYS)
            keys[n++] = lua_tostring(L, -1);   /* alive: a key of the table */
        else
            more++;
    }
    qsort(keys, (size_t)n, sizeof keys[0], compare_keys);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, n == 0 && more == 0 ? "data is an empty object" : "data is an object with");
    for (int i = 0; i < n; i++) {
        luaL_addstring(&b, i == 0 ? " " : ", ");
        luaL_addlstring(&b, keys[i], strlen(keys[i]) < 40 ? strlen(keys[i]) : 40);
        lua_getfield(L, idx, keys[i]);
        luaL_addstring(&b, qs_is_array(L, -1) ? " (array)" : lua_istable(L, -1) ? " (object)"
                           : lua_type(L, -1) == LUA_TSTRING ? " (string)"
                           : lua_type(L, -1) == LUA_TNUMBER ? " (number)" : " (other)");
        lua_pop(L, 1);
    }
    if (more > 0)
        luaL_addstring(&b, n > 0 ? ", and more" : " keys that are not names");
    luaL_pushresult(&b);
}

/*
 * With a page's envelope at env: pushes the array of its items and returns
 * 1, or pushes an unknown_list_shape error and returns 0. The shape found
 * goes to last_response (list_shape).
 */
static int page_items(lua_State *L, const qs_request *r, const qs_list *list, int env)
{
    const char *names[] = { list->field, list->singular, "items", NULL };
    lua_getfield(L, env, "data");
    int data = lua_gettop(L);
    for (int i = 0; names[i] != NULL && lua_istable(L, data); i++) {
        lua_getfield(L, data, names[i]);
        if (qs_is_array(L, -1)) {
            lua_pushfstring(L, "data.%s", names[i]);
            qs_note_response(L, r, "list_shape");
            lua_remove(L, data);
            return 1;
        }
        lua_pop(L, 1);
    }
    if (qs_is_array(L, data)) {
        lua_pushliteral(L, "data");
        qs_note_response(L, r, "list_shape");
        return 1;
    }
    qs_push_found(L, data);
    lua_pushfstring(L, "the list answer has no list of %s (data.%s, data.%s, data.items, or data "
                    "as an array): %s", list->field, list->field, list->singular, lua_tostring(L, -1));
    qs_push_answer_error(L, r, QS_UNKNOWN_LIST_SHAPE, lua_tostring(L, -1));
    lua_replace(L, data);
    lua_settop(L, data);
    return 0;
}

/* ---- where the next page is ------------------------------------------- */

/* The path of base_url ("/v1"), or "" when it has none. */
static const char *base_path(const char *base_url)
{
    const char *p = strstr(base_url, "://");
    p = p != NULL ? strchr(p + 3, '/') : NULL;
    return p != NULL ? p : "";
}

/*
 * Whether a pagination.next is a URL reference rather than an opaque
 * cursor: an absolute URL, a network-path reference (//host/...), anything
 * with a query ('?', which no cursor encoding we know uses: base64, hex,
 * UUIDs), or a path under the API's own (/v1/...).
 */
int qs_next_is_reference(const char *next, const char *base_url)
{
    const char *path = base_path(base_url);
    size_t n = strlen(path);
    return qs_is_http_url(next) || strncmp(next, "//", 2) == 0 || strchr(next, '?') != NULL ||
           (next[0] == '/' && strncmp(next, path, n) == 0 && next[n] == '/');
}

/*
 * Pushes the position a pagination.next (on top) stands for: a cursor as it
 * is, or a URL resolved against the list's URL, without our credentials
 * (they are added to each request). Returns 1, or 0 with an error pushed
 * when the URL leaves the API's origin. Says in last_response (next_kind)
 * which it was: cursor, absolute or relative.
 */
static int next_position(lua_State *L, const qs_request *r, const qs_list *list)
{
    qs_client *c = r->call->c;
    const char *next = lua_tostring(L, -1);
    if (!qs_next_is_reference(next, c->base_url)) {
        lua_pushliteral(L, "cursor");
        qs_note_response(L, r, "next_kind");
        lua_pushvalue(L, -1);
        return 1;
    }
    lua_pushstring(L, qs_is_http_url(next) ? "absolute" : "relative");
    qs_note_response(L, r, "next_kind");
    lua_pushfstring(L, "%s%s", c->base_url, list->path);
    int resolved = qs_push_resolved(L, lua_tostring(L, -1), next);
    lua_remove(L, -2);
    if (!resolved || !qs_is_http_url(lua_tostring(L, -1)) || !qs_same_origin(lua_tostring(L, -1), c->base_url)) {
        lua_pop(L, 1);
        qs_push_answer_error(L, r, QS_CROSS_ORIGIN_NEXT, "pagination.next points away from the API's origin");
        return 0;
    }
    qs_push_with_credentials(L, c, lua_tostring(L, -1), 0);
    lua_remove(L, -2);
    return 1;
}

/*
 * With a page's envelope at env: pushes the position of the next page, nil
 * after the last one, and returns 1; or pushes an error and returns 0 when
 * next breaks the rules (leaves the origin, or names the page just read:
 * the position at pos_idx).
 */
static int page_next(lua_State *L, const qs_request *r, const qs_list *list, int env, int pos_idx)
{
    int top = lua_gettop(L);
    lua_getfield(L, env, "pagination");
    if (lua_istable(L, -1))
        lua_getfield(L, -1, "next");
    else
        lua_pushnil(L);
    if (lua_type(L, -1) != LUA_TSTRING || qs_rawlen(L, -1) == 0) {
        lua_settop(L, top);
        lua_pushnil(L);
        return 1;
    }
    if (!next_position(L, r, list)) {
        lua_replace(L, top + 1);
        lua_settop(L, top + 1);
        return 0;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    if (!lua_isnil(L, pos_idx) && strcmp(lua_tostring(L, -1), lua_tostring(L, pos_idx)) == 0) {
        qs_push_answer_error(L, r, QS_PAGINATION_LOOP, "pagination.next repeats itself");
        lua_replace(L, top + 1);
        return 0;
    }
    return 1;
}

/* ---- pages ------------------------------------------------------------ */

/* Pushes the URL of the page of `list` at position pos (nil: the first), with
   our credentials: a URL position as it is, a cursor as cursor=. */
static void push_page_url(lua_State *L, qs_client *c, const qs_list *list, int pos_idx)
{
    if (lua_isnil(L, pos_idx)) {
        qs_push_url(L, c, list->path, NULL, list->query, 1);
    } else if (qs_is_http_url(lua_tostring(L, pos_idx))) {
        qs_push_with_credentials(L, c, lua_tostring(L, pos_idx), 1);
    } else {
        const char *query[QS_LIST_QUERY + 3];
        int n = 0;
        for (; list->query[n] != NULL; n += 2) {
            query[n] = list->query[n];
            query[n + 1] = list->query[n + 1];
        }
        query[n] = QS_CURSOR_PARAM;
        query[n + 1] = lua_tostring(L, pos_idx);
        query[n + 2] = NULL;
        qs_push_url(L, c, list->path, NULL, query, 1);
    }
}

/*
 * GETs the page of `list` at the position at pos_idx (nil: the first) with
 * r: pushes the page's URL, its items and the next position (nil after the
 * last page) and returns 1; or leaves nil, err at top + 1 and returns 2.
 */
int qs_list_page(lua_State *L, qs_request *r, const qs_list *list, int pos_idx)
{
    int top = lua_gettop(L);
    push_page_url(L, r->call->c, list, pos_idx);
    r->url_idx = top + 1;
    r->envelope = 1;
    if (qs_attempt(L, r) == 2)
        return qs_keep_top2(L, top);
    int env = top + 2;
    if (!page_items(L, r, list, env) || !page_next(L, r, list, env, pos_idx))
        return qs_fail(L, top);
    lua_remove(L, env);
    return 1;
}

/* Appends the items of the array at from to the array at to, which holds n;
   returns the new count. */
static int append(lua_State *L, int to, int n, int from)
{
    int count = (int)qs_rawlen(L, from);
    for (int i = 1; i <= count; i++) {
        lua_rawgeti(L, from, i);
        lua_rawseti(L, to, ++n);
    }
    return n;
}

/* GETs every page of `list`: pushes an array of their items, or nil, err. */
int qs_api_list(lua_State *L, qs_request *r, const qs_list *list)
{
    int top = lua_gettop(L), n = 0;
    lua_newtable(L);                     /* top + 1: the items */
    lua_pushnil(L);                      /* top + 2: the position */
    for (int page = 0; page < QS_MAX_PAGES; page++) {
        lua_settop(L, top + 2);
        if (qs_list_page(L, r, list, top + 2) == 2)
            return qs_keep_top2(L, top);
        n = append(L, top + 1, n, top + 4);   /* top + 3: the page's URL */
        if (lua_isnil(L, top + 5)) {
            lua_settop(L, top + 1);
            return 1;
        }
        lua_replace(L, top + 2);
    }
    lua_settop(L, top + 3);
    qs_push_answer_error(L, r, QS_TOO_MANY_PAGES, "too many pages");
    return qs_fail(L, top);
}

/* ---- every page of a list, as one request of a batch --------------------- */

/* What the reader of a list request keeps between its pages. */
typedef struct list_state {
    qs_list list;
    int n, pages;               /* items gathered so far, pages read */
    int items_idx, pos_idx;     /* stack indices (the request's frame): the items, the position */
} list_state;

/* A page of a list request read: its items gathered; the next page's URL in
   place of this one's (go again), or, after the last, every item as the
   value. */
static qs_outcome read_list_page(lua_State *L, qs_request *r, const qs_transfer *t)
{
    list_state *st = r->state;
    qs_outcome o = qs_envelope_reader(L, r, t);
    if (o != QS_DONE)
        return o;
    int env = lua_gettop(L);
    if (!page_items(L, r, &st->list, env))
        return QS_FAILED;
    int items = lua_gettop(L);
    if (!page_next(L, r, &st->list, env, st->pos_idx))
        return QS_FAILED;
    st->n = append(L, st->items_idx, st->n, items);
    if (lua_isnil(L, -1)) {
        lua_pushvalue(L, st->items_idx);
        return QS_DONE;
    }
    if (++st->pages >= QS_MAX_PAGES) {
        qs_push_answer_error(L, r, QS_TOO_MANY_PAGES, "too many pages");
        return QS_FAILED;
    }
    lua_replace(L, st->pos_idx);
    push_page_url(L, r->call->c, &st->list, st->pos_idx);
    lua_replace(L, r->url_idx);
    return QS_AGAIN;
}

/*
 * Readies r, a request of a batch, as the GET of every page of `list`
 * (whose strings must outlive the batch): its frame holds the page's URL,
 * the items gathered, the position and the reader's state. Its value is the
 * array of every item.
 */
void qs_list_request(lua_State *L, qs_request *r, const qs_list *list)
{
    list_state *st = lua_newuserdata(L, sizeof *st);   /* kept alive by the frame */
    lua_replace(L, r->frame + 3);
    st->list = *list;
    st->n = st->pages = 0;
    st->items_idx = r->frame + 1;
    st->pos_idx = r->frame + 2;
    lua_newtable(L);
    lua_replace(L, st->items_idx);
    lua_pushnil(L);
    lua_replace(L, st->pos_idx);
    push_page_url(L, r->call->c, &st->list, st->pos_idx);
    lua_replace(L, r->frame);
    r->url_idx = r->frame;
    r->envelope = 1;
    r->reader = read_list_page;
    r->state = st;
}
