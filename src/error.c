/*
 * error.c - the error vocabulary and the error objects.
 *
 * Every error has a kind (which layer failed) and a reason (what happened),
 * both stable words that programs can match without reading the message;
 * the vocabulary below is the only list of them, exported to Lua as
 * quicklysign.reasons. Failed calls return the error as `nil, err`; a
 * misconfigured call (no_token_source) raises it.
 */
#include <string.h>

#include "qs.h"

static const struct reason_row {
    const char *name, *kind;
} vocabulary[QS_REASON_COUNT] = {
    [QS_RESOLVE_FAILED]        = { "resolve_failed", "network" },
    [QS_CONNECT_FAILED]        = { "connect_failed", "network" },
    [QS_CONNECTION_LOST]       = { "connection_lost", "network" },
    [QS_NETWORK_FAILED]        = { "network_failed", "network" },
    [QS_TIMED_OUT]             = { "timed_out", "timeout" },
    [QS_UNTRUSTED_CERTIFICATE] = { "untrusted_certificate", "tls" },
    [QS_TLS_FAILED]            = { "tls_failed", "tls" },
    [QS_HTTP_STATUS]           = { "http_status", "http" },
    [QS_BODY_TOO_LARGE]        = { "body_too_large", "http" },
    [QS_INSECURE_REDIRECT]     = { "insecure_redirect", "http" },
    [QS_TOO_MANY_REDIRECTS]    = { "too_many_redirects", "http" },
    [QS_API_ERROR]             = { "api_error", "api" },
    [QS_NOT_JSON]              = { "not_json", "protocol" },
    [QS_NOT_ENVELOPE]          = { "not_envelope", "protocol" },
    [QS_MISSING_DATA]          = { "missing_data", "protocol" },
    [QS_BAD_ACCESS_TOKEN]      = { "bad_access_token", "protocol" },
    [QS_UNKNOWN_LIST_SHAPE]    = { "unknown_list_shape", "protocol" },
    [QS_PAGINATION_LOOP]       = { "pagination_loop", "protocol" },
    [QS_CROSS_ORIGIN_NEXT]     = { "cross_origin_next", "protocol" },
    [QS_TOO_MANY_PAGES]        = { "too_many_pages", "protocol" },
    [QS_BAD_DOCUMENT_URL]      = { "bad_document_url", "protocol" },
    [QS_NOT_PDF]               = { "not_pdf", "protocol" },
    [QS_NO_DELETE_ROUTE]       = { "no_delete_route", "protocol" },
    [QS_CANNOT_CREATE_FILE]    = { "cannot_create_file", "io" },
    [QS_CANNOT_WRITE_FILE]     = { "cannot_write_file", "io" },
    [QS_CANNOT_RENAME_FILE]    = { "cannot_rename_file", "io" },
    [QS_CANNOT_CREATE_FOLDER]  = { "cannot_create_folder", "io" },
    [QS_NO_TOKEN_SOURCE]       = { "no_token_source", "config" },
};

void qs_error_set_string(lua_State *L, qs_client *c, const char *field, const char *value)
{
    if (value == NULL)
        return;
    qs_push_redacted(L, c, value);
    lua_setfield(L, -2, field);
}

void qs_error_set_bool(lua_State *L, const char *field, int value)
{
    lua_pushboolean(L, value);
    lua_setfield(L, -2, field);
}

static void set_integer(lua_State *L, const char *field, long value)
{
    lua_pushinteger(L, (lua_Integer)value);
    lua_setfield(L, -2, field);
}

/* Pushes a new error {kind, reason, message, retryable = false, attempts = 0};
   the message is redacted. An error about a request says how many attempts
   it made (qs_push_answer_error, and the attempt loop's last word). */
void qs_push_error(lua_State *L, qs_client *c, qs_reason reason, const char *message)
{
    lua_createtable(L, 0, 12);
    luaL_getmetatable(L, QS_ERROR_MT);
    lua_setmetatable(L, -2);
    lua_pushstring(L, vocabulary[reason].kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, vocabulary[reason].name);
    lua_setfield(L, -2, "reason");
    qs_error_set_string(L, c, "message", message);
    qs_error_set_bool(L, "retryable", 0);
    set_integer(L, "attempts", 0);
}

/* With the error on top: sets the method and url (redacted) of request r. */
void qs_error_set_request(lua_State *L, const qs_request *r)
{
    qs_error_set_string(L, r->call->c, "method", r->method);
    qs_error_set_string(L, r->call->c, "url", lua_tostring(L, r->url_idx));
}

/* Pushes an error about the answer to request r: its method and url, its
   status (the envelope's when it had one), http_status and attempts. */
void qs_push_answer_error(lua_State *L, const qs_request *r, qs_reason reason, const char *message)
{
    qs_push_error(L, r->call->c, reason, message);
    qs_error_set_request(L, r);
    set_integer(L, "attempts", r->attempts);
    if (r->status > 0)
        set_integer(L, "status", r->status);
    if (r->http_status > 0)
        set_integer(L, "http_status", r->http_status);
}

/* Raises an error object (for misuse that only shows once a call runs). */
int qs_raise_error(lua_State *L, qs_client *c, qs_reason reason, const char *message)
{
    qs_push_error(L, c, reason, message);
    lua_pushnil(L);
    lua_setfield(L, -2, "retryable");
    return lua_error(L);
}

/* With the error on top: leaves nil, err at base + 1 and base + 2 and returns 2. */
int qs_fail(lua_State *L, int base)
{
    lua_pushnil(L);
    lua_insert(L, -2);
    return qs_keep_top2(L, base);
}

/* Moves the two values on top to base+1, base+2 and drops what lay between. */
int qs_keep_top2(lua_State *L, int base)
{
    lua_insert(L, base + 1);
    lua_insert(L, base + 1);
    lua_settop(L, base + 2);
    return 2;
}

/* t[name] as a string, or NULL. The value stays pushed: a number's string,
   or an __index function's result, lives only on the stack. */
static const char *field_string(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    return lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
}

/* One line, in one shape for every error of quicklysign (the callbacks' too):
     quicklysign: KIND error[ STATUS][ CODE or REASON]: MESSAGE[ (METHOD URL)]
   e.g. quicklysign: api error 401 unauthorised: Invalid credentials (GET https://...)
   CODE is the vendor's, where it gave one; else the reason, ours. */
static int error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *kind = field_string(L, 1, "kind");
    const char *word = field_string(L, 1, "code");
    if (word == NULL)
        word = field_string(L, 1, "reason");
    const char *message = field_string(L, 1, "message");
    const char *method = field_string(L, 1, "method");
    const char *url = field_string(L, 1, "url");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "quicklysign: ");
    luaL_addstring(&b, kind ? kind : "unknown");
    luaL_addstring(&b, " error");
    lua_getfield(L, 1, "status");
    if (lua_isnumber(L, -1)) {
        luaL_addchar(&b, ' ');
        luaL_addvalue(&b);   /* pops it */
    } else {
        lua_pop(L, 1);
    }
    if (word) {
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, word);
    }
    if (message) {
        luaL_addstring(&b, ": ");
        for (const char *p = message; *p; p++)   /* one line, whatever came back */
            luaL_addchar(&b, (*p == '\n' || *p == '\r') ? ' ' : *p);
    }
    if (method && url) {
        luaL_addstring(&b, " (");
        luaL_addstring(&b, method);
        luaL_addchar(&b, ' ');
        luaL_addstring(&b, url);
        luaL_addchar(&b, ')');
    }
    luaL_pushresult(&b);
    return 1;
}

/* Whether v is an error of quicklysign, of either family: its metatable
   is named QS_ERROR_MT (the callbacks' errors carry the same name). */
int qs_is_error(lua_State *L, int idx)
{
    int yes = 0;
    if (lua_istable(L, idx) && luaL_getmetafield(L, idx, "__name")) {
        yes = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), QS_ERROR_MT) == 0;
        lua_pop(L, 1);
    }
    return yes;
}

/* Pushes the vocabulary: { [reason] = kind, ... }. */
void qs_push_reasons(lua_State *L)
{
    lua_createtable(L, 0, QS_REASON_COUNT);
    for (int i = 0; i < QS_REASON_COUNT; i++) {
        lua_pushstring(L, vocabulary[i].kind);
        lua_setfield(L, -2, vocabulary[i].name);
    }
}

void qs_error_init(lua_State *L)
{
    if (luaL_newmetatable(L, QS_ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, QS_ERROR_MT);
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
}
