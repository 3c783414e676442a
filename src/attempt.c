/*
 * attempt.c - the one attempt loop that every request goes through, an API
 * call or a download: the access token (minted when missing, minted again
 * once when the server says it expired), the headers, the exchange, what a
 * failure means, and the wait before the next attempt.
 *
 * What differs between requests is described by the request itself: whether
 * it carries the access token, whether it may be repeated, whether its body
 * streams to a file (its sink), and its reader, which turns a completed
 * exchange into a value, an error, or "go again" (a redirect followed).
 *
 * Ctrl-C: lua.c and luajit.c answer SIGINT by setting a debug hook that
 * raises "interrupted!" at the next Lua call. While libcurl runs nothing
 * else can change the hook, so an exchange ends as soon as it sees the hook
 * change, and a Lua call right after lets the interrupt strike; another one
 * before each exchange lets one that came in between strike before the
 * request goes out.
 */
#include <errno.h>
#include <string.h>

#include "qs.h"

/* A request with the defaults of an API call: safe to repeat, answered with
   an envelope, within the call's deadline. */
void qs_request_init(qs_request *r, const qs_call *call, const char *method,
                     enum qs_token token, int url_idx)
{
    memset(r, 0, sizeof *r);
    r->call = call;
    r->method = method;
    r->token = token;
    r->retry = QS_RETRY_SAFE;
    r->url_idx = url_idx;
    r->deadline = call->deadline;
    r->reader = qs_envelope_reader;
}

/* ---- the access token --------------------------------------------------- */

/*
 * POST /access_tokens {client_id, client_secret, api_key}: keeps the token.
 * Returns 0 on success (nothing pushed) or 2 with nil, err pushed.
 */
static int mint_token(lua_State *L, const qs_request *outer)
{
    qs_client *c = outer->call->c;
    int top = lua_gettop(L);
    qs_push_url(L, c, QS_PATH_ACCESS_TOKENS, NULL, NULL, 0);
    qs_push_credentials(L, c, 1);
    lua_pushstring(L, c->api_key);
    lua_setfield(L, -2, "api_key");
    qs_json_encode(L, -1);
    qs_request r;
    qs_request_init(&r, outer->call, "POST", QS_TOKEN_NONE, top + 1);
    r.body_idx = top + 3;
    r.deadline = outer->deadline;
    if (qs_attempt(L, &r) == 2)
        return qs_keep_top2(L, top);
    const char *token = lua_istable(L, -1) ? qs_string_field(L, -1, "access_token") : NULL;
    if (token == NULL || token[0] == '\0' || !qs_header_safe(token)) {
        qs_push_answer_error(L, &r, QS_BAD_ACCESS_TOKEN,
                             "the access token answer has no usable data.access_token");
        return qs_fail(L, top);
    }
    qs_str_replace(&c->access_token, token);
    lua_settop(L, top);
    return 0;
}

/* Before an exchange of a request that carries the token: the token, minted
   when missing and an api_key allows it. 0, or 2 with nil, err pushed. */
static int ensure_token(lua_State *L, const qs_request *r)
{
    qs_client *c = r->call->c;
    if (r->token == QS_TOKEN_NONE || c->access_token != NULL)
        return 0;
    if (c->api_key == NULL && r->token == QS_TOKEN_IF_ANY)
        return 0;   /* a webhook call without a token source: the client credentials only */
    if (c->api_key == NULL)
        return qs_raise_error(L, c, QS_NO_TOKEN_SOURCE, "document pack calls need an access token: "
                              "give quicklysign.new an api_key or an access_token");
    return mint_token(L, r);
}

/*
 * client:authenticate(): with an api_key, mints a fresh token now (so that
 * bad credentials show at once); with only an access_token, nothing to do;
 * with neither, raises no_token_source. 1 (true pushed) or 2 (nil, err).
 */
int qs_authenticate(lua_State *L, const qs_call *call)
{
    qs_request r;
    qs_request_init(&r, call, "POST", QS_TOKEN_REQUIRED, 0);
    if (call->c->api_key != NULL)
        qs_str_replace(&call->c->access_token, NULL);
    if (ensure_token(L, &r) == 2)
        return 2;
    lua_pushboolean(L, 1);
    return 1;
}

/*
 * With an error answer on top: whether it says the access token expired and
 * one can be minted again (once per request: *reminted). Drops the old token
 * if so.
 */
static int token_expired(lua_State *L, const qs_request *r, int *reminted)
{
    qs_client *c = r->call->c;
    const char *code = qs_string_field(L, -1, "code");
    if (r->token == QS_TOKEN_NONE || code == NULL || strcmp(code, "invalid_access_token") != 0 ||
        *reminted || c->api_key == NULL)
        return 0;
    *reminted = 1;
    qs_str_replace(&c->access_token, NULL);
    return 1;
}

/* ---- one exchange ------------------------------------------------------- */

/* Readies the transfer (and the sink, for another attempt): 0, or -1 with
   errno set when the sink cannot be emptied. */
static int prepare(lua_State *L, const qs_request *r, qs_transfer *t)
{
    qs_client *c = r->call->c;
    memset(t, 0, sizeof *t);
    t->method = r->method;
    t->url = lua_tostring(L, r->url_idx);
    if (r->body_idx != 0)
        t->body = lua_tolstring(L, r->body_idx, &t->body_len);
    t->deadline = r->deadline;
    t->connect_timeout = c->connect_timeout;
    t->fresh = r->retry == QS_RETRY_UNSENT;
    /* A sink keeps the head of an error answer only; an API answer is capped. */
    qs_buffer_reset(&c->body, r->sink != NULL ? QS_ERROR_BODY_CAP : c->max_body_size);
    if (r->sink == NULL)
        return 0;
    t->sink = r->sink->file;
    return qs_temp_rewind(r->sink);
}

/* A transfer that libcurl could not complete: no answer to speak of. */
static qs_outcome transport_error(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    qs_push_error(L, c, qs_curl_reason(t->code), c->errbuf[0] ? c->errbuf : curl_easy_strerror(t->code));
    qs_error_set_request(L, r);
    lua_pushinteger(L, (lua_Integer)t->code);
    lua_setfield(L, -2, "curl_code");
    return qs_curl_retryable(t->code) ? QS_TRANSIENT : QS_FAILED;
}

/* An answer whose body passed max_body_size: its status still says whether
   another attempt may mend it (a 503 with a long error page). */
static qs_outcome too_large(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    lua_pushfstring(L, "the answer is larger than max_body_size (%d bytes)", (int)r->call->c->max_body_size);
    qs_push_answer_error(L, r, QS_BODY_TOO_LARGE, lua_tostring(L, -1));
    return t->status >= 300 ? QS_REFUSED : QS_FAILED;
}

/* ---- Ctrl-C ------------------------------------------------------------- */

/* The exchange's cancelled(): the hook changed since the exchange of request
   ud began, so a signal handler set it. */
static int hook_changed(void *ud)
{
    const qs_request *r = ud;
    return lua_gethook(r->L) != r->hook || lua_gethookmask(r->L) != r->hook_mask;
}

/*
 * Lets a pending interrupt strike here: calls an empty Lua function, whose
 * call (and first instruction) runs the debug hook as any Lua call would.
 * Returns only when none was pending.
 */
void qs_checkpoint(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, QS_CHECKPOINT_KEY);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        if (luaL_loadstring(L, "return") != 0)
            lua_error(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, QS_CHECKPOINT_KEY);
    }
    lua_call(L, 0, 0);
}

/* An exchange that hook_changed ended: the interrupt strikes, or, when the
   new hook raises nothing, it is a failure that another attempt may mend. */
static qs_outcome cancelled(lua_State *L, const qs_request *r)
{
    qs_checkpoint(L);
    qs_push_error(L, r->call->c, QS_NETWORK_FAILED, "the exchange was cut short (the debug hook changed)");
    qs_error_set_request(L, r);
    return QS_TRANSIENT;
}

/* ---- one exchange ------------------------------------------------------- */

/* One attempt: the headers, the exchange and what it came to. */
static qs_outcome exchange(lua_State *L, qs_request *r, qs_transfer *t)
{
    qs_client *c = r->call->c;
    qs_checkpoint(L);   /* a Ctrl-C that came in between strikes before the request goes */
    if (!qs_build_headers(c, r->body_idx != 0, r->token != QS_TOKEN_NONE))
        luaL_error(L, "quicklysign: out of memory");
    if (prepare(L, r, t) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    r->L = L;
    r->hook = lua_gethook(L);
    r->hook_mask = lua_gethookmask(L);
    t->cancelled = hook_changed;
    t->cancel_ud = r;
    qs_transfer_perform(c, t);
    r->status = r->http_status = t->status;   /* an envelope may say otherwise */
    if (t->aborted)
        return cancelled(L, r);
    if (t->write_errno != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, t->write_errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    if (t->code != CURLE_OK && c->body.overflow)
        return too_large(L, r, t);
    if (t->code != CURLE_OK)
        return transport_error(L, r, t);
    return r->reader(L, r, t);
}

/* With an error on top: whether another attempt may mend it. A request
   that must not be repeated is retried only when it provably never
   reached the server. */
static int may_retry(lua_State *L, const qs_request *r, const qs_transfer *t, qs_outcome o)
{
    int transient = o == QS_TRANSIENT;
    if (o == QS_REFUSED) {
        lua_getfield(L, -1, "status");   /* the envelope's status wins */
        transient = qs_status_retryable((long)lua_tonumber(L, -1));
        lua_pop(L, 1);
    }
    return transient && (r->retry == QS_RETRY_SAFE || !t->sent);
}

/*
 * Runs the request until it succeeds (pushes its value, returns 1) or fails
 * for good (pushes nil, err, returns 2): each failure that another attempt
 * may mend is retried after a backoff, while retries and time are left.
 */
/* With the final error on top: what the last attempt adds to it. */
static void set_final(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    lua_pushinteger(L, r->attempts);
    lua_setfield(L, -2, "attempts");
    if (t->retry_after >= 0) {   /* seconds the server asked to wait (429, 503) */
        if (t->retry_after == (double)(lua_Integer)t->retry_after)
            lua_pushinteger(L, (lua_Integer)t->retry_after);
        else
            lua_pushnumber(L, t->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
}

/*
 * Runs the request until it succeeds (pushes its value, returns 1) or fails
 * for good (pushes nil, err, returns 2): each failure that another attempt
 * may mend is retried after a backoff, while retries and time are left.
 * r->attempts counts the exchanges that ended in an answer or a failure
 * (not a redirect followed, nor the one after a token was minted again).
 */
int qs_attempt(lua_State *L, qs_request *r)
{
    qs_client *c = r->call->c;
    int top = lua_gettop(L), attempt = 0, reminted = 0;
    for (;;) {
        lua_settop(L, top);
        r->attempts = attempt + 1;
        if (ensure_token(L, r) == 2)
            return qs_keep_top2(L, top);
        qs_transfer t;
        qs_outcome o = exchange(L, r, &t);
        if (o == QS_DONE) {
            lua_insert(L, top + 1);
            lua_settop(L, top + 1);
            return 1;
        }
        if (o == QS_AGAIN)
            continue;
        if (o == QS_REFUSED && token_expired(L, r, &reminted))
            continue;                   /* mint once more */
        int retryable = may_retry(L, r, &t, o);
        qs_error_set_bool(L, "retryable", retryable);
        if (retryable && qs_retry_wait(c, &attempt, t.retry_after, r->deadline))
            continue;
        set_final(L, r, &t);
        return qs_fail(L, top);
    }
}
