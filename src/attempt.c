/*
 * attempt.c - the one attempt loop that every request goes through, an API
 * call or a download: the access token (minted when missing, minted again
 * once when the server says it expired), the headers, the exchange, what a
 * failure means, and the wait before the next attempt.
 *
 * What differs between requests is described by the request itself: where
 * its credentials go, whether it may be repeated, whether its body streams
 * to a file (its sink), and its reader, which turns a completed exchange
 * into a value, an error, or "go again" (a redirect followed).
 */
#include <errno.h>
#include <string.h>

#include "qs.h"

/* A request with the defaults of an API call: safe to repeat, answered with
   an envelope, within the call's deadline. */
void qs_request_init(qs_request *r, const qs_call *call, const char *method,
                     enum qs_auth auth, int url_idx)
{
    memset(r, 0, sizeof *r);
    r->call = call;
    r->method = method;
    r->auth = auth;
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
    qs_request_init(&r, outer->call, "POST", QS_AUTH_BODY, top + 1);
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

static int ensure_token(lua_State *L, const qs_request *r)
{
    qs_client *c = r->call->c;
    if (c->access_token != NULL)
        return 0;
    if (c->api_key == NULL)
        return qs_raise_error(L, c, QS_NO_TOKEN_SOURCE, "document pack calls need an access token: "
                              "give quicklysign.new an api_key or an access_token");
    return mint_token(L, r);
}

/*
 * With an error answer on top: whether it says the access token expired and
 * one can be minted again (once per request: *reminted). Drops the old token
 * if so.
 */
static int token_expired(lua_State *L, qs_client *c, int *reminted)
{
    const char *code = qs_string_field(L, -1, "code");
    if (code == NULL || strcmp(code, "invalid_access_token") != 0 || *reminted || c->api_key == NULL)
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

/* One attempt: the headers, the exchange and what it came to. */
static qs_outcome exchange(lua_State *L, qs_request *r, qs_transfer *t)
{
    qs_client *c = r->call->c;
    if (!qs_build_headers(c, r->body_idx != 0, r->auth == QS_AUTH_TOKEN))
        luaL_error(L, "quicklysign: out of memory");
    if (prepare(L, r, t) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    qs_transfer_perform(c, t);
    r->status = r->http_status = t->status;   /* an envelope may say otherwise */
    if (t->write_errno != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, t->write_errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    if (t->code != CURLE_OK && c->body.overflow) {
        lua_pushfstring(L, "the answer is larger than max_body_size (%d bytes)", (int)c->max_body_size);
        qs_push_answer_error(L, r, QS_BODY_TOO_LARGE, lua_tostring(L, -1));
        return QS_FAILED;
    }
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
int qs_attempt(lua_State *L, qs_request *r)
{
    qs_client *c = r->call->c;
    int top = lua_gettop(L), attempt = 0, reminted = 0;
    for (;;) {
        lua_settop(L, top);
        if (r->auth == QS_AUTH_TOKEN && ensure_token(L, r) == 2)
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
        if (o == QS_REFUSED && r->auth == QS_AUTH_TOKEN && token_expired(L, c, &reminted))
            continue;                   /* mint once more */
        int retryable = may_retry(L, r, &t, o);
        qs_error_set_bool(L, "retryable", retryable);
        if (retryable && qs_retry_wait(c, &attempt, t.retry_after, r->deadline))
            continue;
        lua_pushinteger(L, attempt + 1);
        lua_setfield(L, -2, "attempts");
        return qs_fail(L, top);
    }
}
