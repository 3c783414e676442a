/*
 * list.c - a page of a list, as the server chooses it (api.c): where its
 * items are (page_items) and where the next page is (page_next: a cursor,
 * or a URL resolved with libcurl against the list's URL).
 *
 * Input: byte 0 picks the list (webhooks or callback logs), then a JSON
 * text, decoded as the page's envelope.
 *
 * Checks:
 *  - items found: an array, the very array at the place last_response's
 *    list_shape names (data.<list>, data.<singular>, data.items or data);
 *  - no items found: an unknown_list_shape error of kind protocol, and
 *    truly no array at any of those places: never an empty list instead;
 *  - a next position: nil without a usable pagination.next; the cursor
 *    itself; or, for a URL reference, an absolute http(s) URL of the API's
 *    origin (which libcurl's parser agrees on) without our credentials;
 *  - else a cross_origin_next or pagination_loop error.
 */
#include <strings.h>

#include "../src/api.c"
#include "common.h"

#define BASE_URL "http://127.0.0.1:8089/v1"

static void check_error(lua_State *L, const char *reason)
{
    lua_getfield(L, -1, "reason");
    FUZZ_CHECK(lua_type(L, -1) == LUA_TSTRING, "error without a reason");
    lua_pop(L, 1);
    lua_getfield(L, -1, "kind");
    FUZZ_CHECK(strcmp(lua_tostring(L, -1), "protocol") == 0, "kind %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (reason != NULL) {
        lua_getfield(L, -1, "reason");
        FUZZ_CHECK(strcmp(lua_tostring(L, -1), reason) == 0, "reason %s, not %s", lua_tostring(L, -1), reason);
        lua_pop(L, 1);
    }
}

/* Whether data (at idx) holds an array at one of the places a list's items may be. */
static int any_array(lua_State *L, int data, const qs_list *list)
{
    const char *names[] = { list->field, list->singular, "items", NULL };
    if (!lua_istable(L, data))
        return 0;
    int found = qs_is_array(L, data);
    for (int i = 0; names[i] != NULL && !found; i++) {
        lua_getfield(L, data, names[i]);
        found = qs_is_array(L, -1);
        lua_pop(L, 1);
    }
    return found;
}

/* With the items on top: they are the array at the place list_shape names. */
static void check_items(lua_State *L, int env, int ci)
{
    FUZZ_CHECK(qs_is_array(L, -1), "items that are no array");
    qs_getuservalue(L, ci);
    lua_getfield(L, -1, "last_response");
    lua_getfield(L, -1, "list_shape");
    const char *shape = lua_tostring(L, -1);
    FUZZ_CHECK(shape != NULL && strncmp(shape, "data", 4) == 0, "no list_shape");
    lua_getfield(L, env, "data");
    if (shape[4] == '.')
        lua_getfield(L, -1, shape + 5);
    FUZZ_CHECK(lua_rawequal(L, -1, -5 - (shape[4] == '.')), "items are not the array at %s", shape);
    lua_settop(L, lua_gettop(L) - 4 - (shape[4] == '.'));
}

/* With the next position on top: nil, the cursor, or a URL of the API's origin. */
static void check_position(lua_State *L, int env)
{
    if (lua_isnil(L, -1))
        return;
    const char *pos = lua_tostring(L, -1);
    FUZZ_CHECK(pos != NULL, "a position that is no string");
    lua_getfield(L, env, "pagination");
    lua_getfield(L, -1, "next");
    const char *next = lua_tostring(L, -1);
    if (!qs_next_is_reference(next, BASE_URL)) {
        FUZZ_CHECK(strcmp(pos, next) == 0, "cursor changed: '%s' -> '%s'", next, pos);
    } else {
        FUZZ_CHECK(qs_is_http_url(pos) && qs_same_origin(pos, BASE_URL), "position off the origin: '%s'", pos);
        const char *query = strchr(pos, '?');
        FUZZ_CHECK(query == NULL || (strncmp(query + 1, "client_secret=", 14) != 0 &&
                   strstr(query, "&client_secret=") == NULL), "credentials kept: '%s'", pos);
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;
        if (curl_url_set(u, CURLUPART_URL, pos, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
            FUZZ_CHECK(strcmp(host, "127.0.0.1") == 0 && strcmp(port, "8089") == 0,
                       "curl reads '%s' as %s:%s", pos, host, port);
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
    }
    lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    int logs = fuzz_byte(&data, &size) & 1;
    qs_list list = { logs ? "/webhook_callback_logs" : "/webhooks",
                     logs ? "webhook_callback_logs" : "webhooks",
                     logs ? "webhook_callback_log" : "webhook", { NULL } };

    qs_client *c = qs_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    int ci = lua_gettop(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_setfield(L, -2, "last_response");
    qs_setuservalue(L, ci);
    c->base_url = BASE_URL;
    c->client_id = "our_id";
    c->client_secret = "our+secret";

    qs_call call = { c, ci, 0, NULL };
    lua_pushliteral(L, BASE_URL "/webhooks?client_id=our_id&client_secret=our%2Bsecret");
    qs_request r;
    qs_request_init(&r, &call, "GET", QS_TOKEN_NONE, lua_gettop(L));
    lua_pushnil(L);
    int pos = lua_gettop(L);
    if (!qs_json_decode(L, (const char *)data, size) || !lua_istable(L, -1)) {
        lua_settop(L, top);
        return 0;
    }
    int env = lua_gettop(L);
    lua_getfield(L, env, "data");
    int data_idx = lua_gettop(L);
    if (page_items(L, &r, &list, env)) {
        check_items(L, env, ci);
        if (page_next(L, &r, &list, env, pos))
            check_position(L, env);
        else
            check_error(L, NULL);
    } else {
        check_error(L, "unknown_list_shape");
        FUZZ_CHECK(!any_array(L, data_idx, &list), "an array was there, yet no items");
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
