/*
 * envelope.c - an answer's body, in the client's buffer, turned into a Lua
 * value or an error: the reader of every API request.
 *
 * The envelope's status.status_code wins over the HTTP status (the API can
 * be asked to answer HTTP 200 always). Warnings that come with a success go
 * to the client's on_warning hook and to client:last_response(). Whatever
 * the server says is redacted before it reaches an error or a hook.
 */
#include <string.h>

#include "qs.h"

#define QS_SNIPPET 120   /* bytes of a non-envelope body shown in a message */

/* t[name] (t at idx) as a string, or NULL; nothing stays pushed. */
const char *qs_string_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);   /* t still holds it */
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

/* Pushes {status, method, url, warnings, information} of an answer whose
   envelope (or 0) is at env_idx. */
static void push_last_response(lua_State *L, const qs_request *r, int env_idx, long status)
{
    qs_client *c = r->call->c;
    lua_createtable(L, 0, 5);
    int last = lua_gettop(L);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, last, "status");
    lua_pushstring(L, r->method);
    lua_setfield(L, last, "method");
    qs_push_redacted(L, c, lua_tostring(L, r->url_idx));
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
}

/* Records the last response in the client's uservalue, and calls
   on_warning(warning, response) for each of its warnings. */
static void record_response(lua_State *L, const qs_request *r, int env_idx, long status)
{
    qs_client *c = r->call->c;
    int top = lua_gettop(L);
    qs_getuservalue(L, r->call->client_idx);
    int uv = lua_gettop(L);
    push_last_response(L, r, env_idx, status);
    int last = lua_gettop(L);
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
            qs_call_hook(L, c, 2, QS_HOOK_WARNING);
        }
    }
    lua_settop(L, top);
}

/* Records the last response of a request answered without an envelope (a
   download): {status, method, url}. */
void qs_record_response(lua_State *L, const qs_request *r, long status)
{
    record_response(L, r, 0, status);
}

/* Sets last_response[field] to the value on top, which it pops: what a
   reader learnt of the answer (the list's shape, the kind of its next). */
void qs_note_response(lua_State *L, const qs_request *r, const char *field)
{
    qs_getuservalue(L, r->call->client_idx);
    lua_getfield(L, -1, "last_response");
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, field);
    }
    lua_pop(L, 3);
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
            const char *code = qs_string_field(L, -1, "code");
            const char *message = qs_string_field(L, -1, "message");
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
 * With the decoded body at env: when it is an envelope (status.status_code
 * an HTTP status), sets *status to that code and returns the index of the
 * status table, which it leaves pushed; else returns 0, nothing pushed.
 */
static int envelope_status(lua_State *L, int env, long *status)
{
    if (!lua_istable(L, env))
        return 0;
    lua_getfield(L, env, "status");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "status_code");
        lua_Number code = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
        lua_pop(L, 1);
        if (code >= 100 && code < 1000) {   /* an HTTP status, so the cast is defined */
            *status = (long)code;           /* the envelope wins */
            return lua_gettop(L);
        }
    }
    lua_pop(L, 1);
    return 0;
}

/* An envelope whose status is a success: pushes its data (true when it has
   none) or, when the request asks for it, the whole envelope. */
static void push_success(lua_State *L, qs_request *r, int env, long status)
{
    record_response(L, r, env, status);
    if (r->envelope) {
        lua_pushvalue(L, env);
        return;
    }
    lua_getfield(L, env, "data");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
}

/*
 * Turns the answer in the client's buffer into either its value (returns 1,
 * the value on top) or an error (returns 0, the error on top). Sets the
 * request's status (the envelope's when it has one) and http_status.
 */
int qs_envelope_read(lua_State *L, qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    const qs_buffer *body = &t->slot->body;
    long status = t->status;
    int decoded = body->len > 0 && qs_json_decode(L, body->data, body->len);
    if (body->len > 0 && !decoded)
        lua_pop(L, 1);   /* the decoder's message */
    int env = decoded ? lua_gettop(L) : 0;
    int status_idx = env != 0 ? envelope_status(L, env, &status) : 0;
    r->status = status;
    r->http_status = t->status;

    if (status_idx != 0 && status >= 200 && status < 300) {
        push_success(L, r, env, status);
        return 1;
    }
    if (status_idx != 0) {
        lua_pushfstring(L, "HTTP %d", (int)status);
        qs_push_answer_error(L, r, QS_API_ERROR, lua_tostring(L, -1));
        set_envelope_error(L, c, status_idx);
    } else if (status < 200 || status >= 300) {
        push_snippet(L, c, body, status);
        qs_push_answer_error(L, r, QS_HTTP_STATUS, lua_tostring(L, -1));
    } else if (body->len == 0) {   /* 2xx without a body: nothing to report but success */
        record_response(L, r, 0, status);
        lua_pushboolean(L, 1);
        return 1;
    } else if (decoded) {
        qs_push_answer_error(L, r, QS_NOT_ENVELOPE, "the answer is JSON but not a QuicklySign envelope");
    } else {
        qs_push_answer_error(L, r, QS_NOT_JSON, "the answer is not JSON");
    }
    return 0;
}

/* The reader of an API request: the envelope's data, or the error it says. */
qs_outcome qs_envelope_reader(lua_State *L, qs_request *r, const qs_transfer *t)
{
    return qs_envelope_read(L, r, t) ? QS_DONE : QS_REFUSED;
}
