/*
 * api.c - one QuicklySign API call: headers and token, the transfer with its
 * retries, and the envelope turned into a Lua value or an error.
 *
 * The envelope's status.status_code wins over the HTTP status (the API can
 * be asked to answer HTTP 200 always). Warnings that come with a success go
 * to the client's on_warning hook and to client:last_response().
 */
#include <stdlib.h>
#include <string.h>

#include "qs.h"

static const char *string_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);
    return s;
}

/* Pushes t[name] (t at idx) with every secret removed: the server may echo
   them, and what it says ends up in last_response and in on_warning. */
static void push_redacted_field(lua_State *L, qs_client *c, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    if (lua_type(L, -1) == LUA_TSTRING) {
        qs_push_redacted(L, c, lua_tostring(L, -1));
        lua_remove(L, -2);
    } else if (lua_istable(L, -1)) {
        qs_push_redacted_copy(L, c, lua_gettop(L), 3);
        lua_remove(L, -2);
    }
}

/* Calls on_warning(warning, {method=, url=}) for each warning, and records
   the last response in the client's uservalue. Envelope at env_idx. */
static void record_response(lua_State *L, qs_client *c, const qs_request *call,
                            int env_idx, long status, const char *url)
{
    int top = lua_gettop(L);
    qs_getuservalue(L, call->client_idx);
    int uv = lua_gettop(L);
    lua_createtable(L, 0, 5);
    int last = lua_gettop(L);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, last, "status");
    lua_pushstring(L, call->method);
    lua_setfield(L, last, "method");
    qs_push_redacted(L, c, url);
    lua_setfield(L, last, "url");
    if (env_idx != 0) {
        lua_getfield(L, env_idx, "status");
        if (lua_istable(L, -1)) {
            push_redacted_field(L, c, lua_gettop(L), "warnings");
            lua_setfield(L, last, "warnings");
            push_redacted_field(L, c, lua_gettop(L), "information");
            lua_setfield(L, last, "information");
        }
        lua_pop(L, 1);
    }
    lua_pushvalue(L, last);
    lua_setfield(L, uv, "last_response");

    lua_getfield(L, last, "warnings");
    lua_getfield(L, uv, "on_warning");
    if (lua_istable(L, -2) && lua_isfunction(L, -1)) {
        int n = (int)qs_rawlen(L, -2);
        for (int i = 1; i <= n; i++) {
            lua_pushvalue(L, -1);
            lua_rawgeti(L, -3, i);
            lua_pushvalue(L, last);
            c->in_hook = 1;          /* the call under way still owns the handle */
            int rc = lua_pcall(L, 2, 0, 0);
            c->in_hook = 0;
            if (rc != 0)
                lua_error(L);        /* the hook's own error, raised to the caller */
        }
    }
    lua_settop(L, top);
}

/* A body that failed: fills code, message and errors from the envelope's status table. */
static void set_envelope_error(lua_State *L, qs_client *c, int status_idx)
{
    int err = lua_gettop(L);
    lua_getfield(L, status_idx, "errors");
    if (lua_istable(L, -1)) {
        qs_push_redacted_copy(L, c, lua_gettop(L), 3);
        lua_setfield(L, err, "errors");
        lua_rawgeti(L, -1, 1);
        if (lua_istable(L, -1)) {
            const char *code = string_field(L, -1, "code");
            const char *message = string_field(L, -1, "message");
            lua_pushvalue(L, err);
            qs_error_set_string(L, c, "code", code);
            if (message != NULL)
                qs_error_set_string(L, c, "message", message);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

#define QS_SNIPPET 120   /* bytes of a non-envelope body shown in a message */

static size_t secret_len(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* One line of a non-envelope body, for the message of an HTTP error. It is
   redacted before it is cut: a secret cut in two is no longer recognised. */
static void push_snippet(lua_State *L, qs_client *c, const qs_buffer *b, long status)
{
    size_t longest = secret_len(c->client_secret);
    if (secret_len(c->api_key) > longest)
        longest = secret_len(c->api_key);
    if (secret_len(c->access_token) > longest)
        longest = secret_len(c->access_token);
    /* A secret takes at most 3 * longest bytes (all %XX): redact twice that
       beyond the cap, then drop the last 3 * longest, where one could be cut. */
    size_t window = QS_SNIPPET + 6 * longest;
    size_t n = b->len < window ? b->len : window;
    luaL_Buffer lb;
    luaL_buffinit(L, &lb);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        luaL_addchar(&lb, (ch < 32 || ch == 127) ? ' ' : (char)ch);
    }
    luaL_pushresult(&lb);
    qs_push_redacted(L, c, lua_tostring(L, -1));
    lua_remove(L, -2);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    if (b->len > n)
        len = len > 3 * longest ? len - 3 * longest : 0;
    int cut = len > QS_SNIPPET || b->len > n;
    lua_pushlstring(L, text, len < QS_SNIPPET ? len : QS_SNIPPET);
    lua_remove(L, -2);
    text = lua_tostring(L, -1);
    if (b->len == 0)
        lua_pushfstring(L, "HTTP %d", (int)status);
    else
        lua_pushfstring(L, "HTTP %d: %s%s", (int)status, text, cut ? "..." : "");
    lua_remove(L, -2);
}

/*
 * Turns the response in c->body into either the envelope's data (returns 1,
 * data on top) or an error (returns 0, error on top).
 */
int qs_read_response(lua_State *L, qs_client *c, const qs_request *call,
                         const qs_transfer *t, const char *url)
{
    long status = t->status;
    int decoded = c->body.len > 0 && qs_json_decode(L, c->body.data, c->body.len);
    if (c->body.len > 0 && !decoded)
        lua_pop(L, 1);   /* the decoder's message */
    int env = decoded ? lua_gettop(L) : 0;
    int status_idx = 0;
    if (env != 0 && lua_istable(L, env)) {
        lua_getfield(L, env, "status");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "status_code");
            lua_Number code = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
            if (code >= 100 && code < 1000) {   /* an HTTP status, so the cast is defined */
                status = (long)code;            /* the envelope wins */
                status_idx = lua_gettop(L) - 1;
            }
            lua_pop(L, 1);
        }
        if (status_idx == 0)
            lua_pop(L, 1);
    }

    if (status_idx != 0) {
        if (status >= 200 && status < 300) {
            record_response(L, c, call, env, status, url);
            if (call->envelope) {
                lua_pushvalue(L, env);
                return 1;
            }
            lua_getfield(L, env, "data");
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushboolean(L, 1);
            }
            return 1;
        }
        qs_push_error(L, c, "api", status, call->method, url, NULL);
        lua_pushfstring(L, "HTTP %d", (int)status);
        lua_setfield(L, -2, "message");
        set_envelope_error(L, c, status_idx);
        return 0;
    }
    if (status < 200 || status >= 300) {
        push_snippet(L, c, &c->body, status);
        qs_push_error(L, c, "http", status, call->method, url, lua_tostring(L, -1));
        return 0;
    }
    if (c->body.len == 0) {   /* 2xx without a body: nothing to report but success */
        record_response(L, c, call, 0, status, url);
        lua_pushboolean(L, 1);
        return 1;
    }
    qs_push_error(L, c, "decode", status, call->method, url,
                  decoded ? "the answer is JSON but not a QuicklySign envelope"
                          : "the answer is not JSON");
    return 0;
}

/*
 * With an error on top: whether it says the access token expired and one can
 * be minted again (once per call: *reminted). Drops the old token if so.
 */
int qs_token_expired(lua_State *L, qs_client *c, int *reminted)
{
    const char *code = string_field(L, -1, "code");
    if (code == NULL || strcmp(code, "invalid_access_token") != 0 || *reminted || c->api_key == NULL)
        return 0;
    *reminted = 1;
    qs_str_replace(&c->access_token, NULL);
    return 1;
}

int qs_api_call(lua_State *L, qs_client *c, const qs_request *call, int url_idx, int body_idx)
{
    int top = lua_gettop(L);
    int attempt = 0, reminted = 0;
    const char *url = lua_tostring(L, url_idx);

    for (;;) {
        lua_settop(L, top);
        if (call->auth == QS_AUTH_TOKEN && qs_ensure_token(L, c, call) == 2)
            return 2;
        if (!qs_build_headers(c, body_idx != 0, call->auth == QS_AUTH_TOKEN))
            return luaL_error(L, "quicklysign: out of memory");

        qs_transfer t;
        memset(&t, 0, sizeof t);
        t.method = call->method;
        t.url = url;
        if (body_idx != 0)
            t.body = lua_tolstring(L, body_idx, &t.body_len);
        t.deadline = call->deadline;
        t.connect_timeout = c->connect_timeout;
        t.fresh = call->retry == QS_RETRY_UNSENT;
        qs_buffer_reset(&c->body, c->max_body_size);
        qs_transfer_perform(c, &t);

        int transient;
        if (t.code != CURLE_OK && c->body.overflow) {
            lua_pushfstring(L, "the answer is larger than max_body_size (%d bytes)",
                            (int)c->max_body_size);
            qs_push_error(L, c, "http", t.status, call->method, url, lua_tostring(L, -1));
            transient = 0;
        } else if (t.code != CURLE_OK) {
            qs_push_error(L, c, qs_curl_kind(t.code), 0, call->method, url,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(t.code));
            transient = qs_curl_retryable(t.code);
        } else if (qs_read_response(L, c, call, &t, url)) {
            return 1;
        } else {
            if (call->auth == QS_AUTH_TOKEN && qs_token_expired(L, c, &reminted))
                continue;                   /* mint once more */
            lua_getfield(L, -1, "status");
            transient = qs_status_retryable((long)lua_tointeger(L, -1));
            lua_pop(L, 1);
        }
        /* A create is retried only when it provably never reached the server. */
        int retryable = transient && (call->retry == QS_RETRY_SAFE || !t.sent);
        qs_error_set_bool(L, "retryable", retryable);
        if (retryable && qs_retry_wait(c, &attempt, t.retry_after, call->deadline))
            continue;
        lua_pushinteger(L, attempt + 1);
        lua_setfield(L, -2, "attempts");
        return qs_return_error(L);
    }
}

/*
 * POST /access_tokens {client_id, client_secret, api_key}: keeps the token.
 * Returns 0 on success (nothing pushed) or 2 with nil, err pushed.
 */
int qs_mint_token(lua_State *L, qs_client *c, const qs_request *outer)
{
    int top = lua_gettop(L);
    qs_request call = { "POST", QS_AUTH_BODY, QS_RETRY_SAFE, outer->deadline, outer->client_idx, 0 };
    qs_push_url(L, c, QS_PATH_ACCESS_TOKENS, NULL, NULL, 0);
    int url_idx = lua_gettop(L);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->client_id);
    lua_setfield(L, -2, "client_id");
    lua_pushstring(L, c->client_secret);
    lua_setfield(L, -2, "client_secret");
    lua_pushstring(L, c->api_key);
    lua_setfield(L, -2, "api_key");
    qs_json_encode(L, -1);
    int body_idx = lua_gettop(L);
    if (qs_api_call(L, c, &call, url_idx, body_idx) == 2)
        return qs_keep_top2(L, top);
    const char *token = lua_istable(L, -1) ? string_field(L, -1, "access_token") : NULL;
    if (token == NULL || token[0] == '\0' || !qs_header_safe(token)) {
        lua_settop(L, url_idx);
        qs_push_error(L, c, "decode", 200, "POST", lua_tostring(L, url_idx),
                      "the access token answer has no usable data.access_token");
        return qs_return_error(L);
    }
    qs_str_replace(&c->access_token, token);
    lua_settop(L, top);
    return 0;
}

int qs_ensure_token(lua_State *L, qs_client *c, const qs_request *call)
{
    if (c->access_token != NULL)
        return 0;
    if (c->api_key == NULL)
        return luaL_error(L, "quicklysign: document pack calls need an access token: "
                             "give quicklysign.new an api_key or an access_token");
    return qs_mint_token(L, c, call);
}

/*
 * GET every page of a list: pushes an array of the items under data[field],
 * or nil, err. A pagination.next that is an absolute URL must stay on the
 * API's origin; any other non-empty value is an opaque cursor, sent back as
 * query[cursor_slot + 1]. The call must ask for the whole envelope.
 */
int qs_api_list(lua_State *L, qs_client *c, const qs_request *call, const char *path,
                const char **query, int cursor_slot, const char *field)
{
    int top = lua_gettop(L);
    int n = 0;
    lua_newtable(L);
    int result = top + 1;
    qs_push_url(L, c, path, NULL, query, 1);
    int url_idx = top + 2;
    lua_pushnil(L);   /* the previous next, to stop a server that loops */
    int prev_idx = top + 3;

    for (int page = 0; page < QS_MAX_PAGES; page++) {
        lua_settop(L, prev_idx);
        if (qs_api_call(L, c, call, url_idx, 0) == 2)
            return qs_keep_top2(L, top);
        int env = lua_gettop(L);
        lua_getfield(L, env, "data");
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
        lua_getfield(L, env, "pagination");
        if (lua_istable(L, -1))
            lua_getfield(L, -1, "next");
        else
            lua_pushnil(L);
        size_t len = 0;
        const char *next = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (next == NULL || len == 0) {
            lua_settop(L, result);
            return 1;
        }
        if (!lua_isnil(L, prev_idx) && strcmp(next, lua_tostring(L, prev_idx)) == 0) {
            lua_settop(L, url_idx);
            qs_push_error(L, c, "decode", 200, call->method, lua_tostring(L, url_idx),
                          "pagination.next repeats itself");
            return qs_return_error(L);
        }
        lua_pushvalue(L, -1);
        lua_replace(L, prev_idx);   /* anchors next while it is used */
        if (qs_is_http_url(next)) {
            if (!qs_same_origin(next, c->base_url)) {
                lua_settop(L, url_idx);
                qs_push_error(L, c, "decode", 200, call->method, lua_tostring(L, url_idx),
                              "pagination.next points away from the API's origin");
                return qs_return_error(L);
            }
            qs_push_with_credentials(L, c, next);
        } else {
            query[cursor_slot] = QS_CURSOR_PARAM;
            query[cursor_slot + 1] = next;
            qs_push_url(L, c, path, NULL, query, 1);
        }
        lua_replace(L, url_idx);
    }
    lua_settop(L, top);
    qs_push_error(L, c, "decode", 200, call->method, c->base_url, "too many pages");
    return qs_return_error(L);
}
