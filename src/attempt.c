/*
 * attempt.c - the one attempt loop that every request goes through, an API
 * call or a download, alone or in a batch of many at once: the access token
 * (minted when missing, minted again once when the server says it expired),
 * the headers, the exchange, what a failure means, and when the next
 * attempt may go.
 *
 * What differs between requests is described by the request itself: whether
 * it carries the access token, whether it may be repeated, whether its body
 * streams to a file (its sink), and its reader, which turns a completed
 * exchange into a value, an error, or "go again" (a redirect followed).
 *
 * The loop keeps up to `concurrency` requests going on the client's multi
 * handle (a single call is a batch of one): each waits for its turn or its
 * retry's backoff, then its exchange runs, then its outcome is settled. Lua
 * runs only between the multi handle's rounds: the readers, the token's
 * mint, the client's on_event records (request, response, retry, token,
 * download_progress).
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
    r->index = 1;
    r->call = call;
    r->method = method;
    r->token = token;
    r->retry = QS_RETRY_SAFE;
    r->url_idx = url_idx;
    r->deadline = call->deadline;
    r->reader = qs_envelope_reader;
}

/* qs_request_init for a request of a batch, whose place in it (index,
   frame, deadline) the loop set and which stays. */
void qs_request_reset(qs_request *r, const qs_call *call, const char *method, enum qs_token token,
                      int url_idx)
{
    int index = r->index, frame = r->frame;
    double deadline = r->deadline;
    qs_request_init(r, call, method, token, url_idx);
    r->index = index;
    r->frame = frame;
    r->deadline = deadline;
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
    qs_event(L, outer->call, "token", outer, 0);
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

/* Readies the transfer on slot s (and the sink, for another attempt): 0, or
   -1 with errno set when the sink cannot be emptied. */
static int prepare(lua_State *L, const qs_request *r, qs_transfer *t, qs_slot *s)
{
    qs_client *c = r->call->c;
    memset(t, 0, sizeof *t);
    t->method = r->method;
    t->url = lua_tostring(L, r->url_idx);
    if (r->body_idx != 0)
        t->body = lua_tolstring(L, r->body_idx, &t->body_len);
    t->deadline = r->deadline;
    t->connect_timeout = c->connect_timeout;
    t->once = r->retry == QS_RETRY_UNSENT;
    t->slot = s;
    /* A sink keeps the head of an error answer only; an API answer is capped. */
    qs_buffer_reset(&s->body, r->sink != NULL ? QS_ERROR_BODY_CAP : c->max_body_size);
    if (r->sink == NULL)
        return 0;
    t->sink = r->sink->file;
    return qs_temp_rewind(r->sink);
}

/* A transfer that libcurl could not complete: no answer to speak of. */
static qs_outcome transport_error(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    const char *text = t->slot->errbuf[0] ? t->slot->errbuf : curl_easy_strerror(t->code);
    if (t->code == CURLE_SEND_FAIL_REWIND)
        text = "the kept-alive connection closed after the request went out, before any answer: "
               "it may have been carried out (libcurl would have sent it again on a new connection)";
    qs_push_error(L, c, qs_curl_reason(t->code), text);
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

/* ---- one attempt -------------------------------------------------------- */

enum { PHASE_WAITING, PHASE_FLIGHT, PHASE_DONE };

/*
 * Starts an attempt of r: the token, the headers, the exchange on a free
 * slot. Returns 0 (in flight), or 2 with nil, err at top + 1 (it failed
 * before its exchange could go).
 */
static int begin(lua_State *L, qs_request *r, int top)
{
    qs_client *c = r->call->c;
    lua_settop(L, top);
    r->attempts = r->tries + 1;
    if (ensure_token(L, r) == 2)
        return qs_keep_top2(L, top);
    qs_checkpoint(L);   /* a Ctrl-C that came in between strikes before the request goes */
    qs_slot *s = qs_slot_acquire(c);
    if (s == NULL && (qs_scratch_reserve(c, c->nslots + 1, 0) != 0 || (s = qs_slot_acquire(c)) == NULL))
        luaL_error(L, "quicklysign: out of memory");
    if (!qs_build_headers(c, s, r->body_idx != 0, r->token != QS_TOKEN_NONE))
        luaL_error(L, "quicklysign: out of memory");
    if (prepare(L, r, &r->t, s) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, errno);
        qs_error_set_request(L, r);
        return qs_fail(L, top);
    }
    r->L = L;
    r->hook = lua_gethook(L);
    r->hook_mask = lua_gethookmask(L);
    r->t.cancelled = hook_changed;
    r->t.cancel_ud = r;
    r->began = r->progress_at = qs_now();
    qs_event(L, r->call, "request", r, 0);
    qs_transfer_start(c, s, &r->t);
    r->phase = PHASE_FLIGHT;
    return 0;
}

/* What the finished exchange of r came to: the reader's verdict, or the loop's. */
static qs_outcome outcome(lua_State *L, qs_request *r)
{
    qs_client *c = r->call->c;
    const qs_transfer *t = &r->t;
    r->status = r->http_status = t->status;   /* an envelope may say otherwise */
    if (t->aborted)
        return cancelled(L, r);
    if (t->write_errno != 0) {
        qs_push_io_error(L, c, QS_CANNOT_WRITE_FILE, r->path, t->write_errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    if (t->code != CURLE_OK && t->slot->body.overflow)
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
 * Settles r's finished exchange: returns 1 with its value at top + 1, 2
 * with nil, err there, or 0 when it goes again (at once: a redirect, a
 * token minted again; or after a retry's backoff, r->next_at). r->attempts
 * counts the exchanges that ended in an answer or a failure (not a redirect
 * followed, nor the one after a token was minted again).
 */
static int settle(lua_State *L, qs_request *r, int top)
{
    qs_client *c = r->call->c;
    lua_settop(L, top);
    qs_outcome o = outcome(L, r);
    qs_slot_release(c, r->t.slot);
    qs_event(L, r->call, "response", r, lua_gettop(L) > top ? lua_gettop(L) : 0);
    r->phase = PHASE_WAITING;
    r->next_at = 0;
    if (o == QS_DONE) {
        lua_insert(L, top + 1);
        lua_settop(L, top + 1);
        return 1;
    }
    if (o == QS_AGAIN)
        return 0;
    if (o == QS_REFUSED && token_expired(L, r, &r->reminted))
        return 0;                   /* mint once more */
    int retryable = may_retry(L, r, &r->t, o);
    qs_error_set_bool(L, "retryable", retryable);
    if (retryable && (r->next_at = qs_retry_at(c, &r->tries, r->t.retry_after, r->deadline)) >= 0) {
        qs_event(L, r->call, "retry", r, 0);
        return 0;
    }
    r->next_at = 0;
    set_final(L, r, &r->t);
    return qs_fail(L, top);
}

/* ---- the loop ------------------------------------------------------------ */

/* The loop's bookkeeping: the requests under way (at most concurrency), and
   which of their stack frames are free. A batch without done() is a single
   request whose outcome stays on the stack: rc says it came. */
typedef struct loop {
    qs_batch *b;
    int top;                    /* above the frames: where each step works */
    int frames;                 /* stack index of the first frame */
    int rc;                     /* a single request's outcome, at top + 1: 1 or 2 */
    qs_request *live[QS_MAX_CONCURRENCY];
    int nlive, next;
    unsigned char frame_used[QS_MAX_CONCURRENCY];
} loop;

/* Request r's outcome (at top + 1) goes to done(), or stays for the caller
   of a single request; its frame is free again. */
static void finish(lua_State *L, loop *lp, qs_request *r, int rc)
{
    r->phase = PHASE_DONE;
    if (lp->b->done == NULL) {
        lp->rc = rc;
        return;
    }
    lp->frame_used[(r->frame - lp->frames) / QS_FRAME] = 0;
    lp->b->done(L, lp->b, r, rc);
    lua_settop(L, lp->top);
}

/* Readies the next requests while there is room: each gets a frame and is made. */
static void admit(lua_State *L, loop *lp)
{
    qs_batch *b = lp->b;
    while (lp->nlive < b->concurrency && lp->next < b->n && !b->stop) {
        qs_request *r = &b->reqs[lp->next++];
        r->deadline = b->deadline;
        if (b->make != NULL) {
            int f = 0;
            while (lp->frame_used[f])
                f++;
            lp->frame_used[f] = 1;
            r->frame = lp->frames + f * QS_FRAME;
            lua_settop(L, lp->top);
            if (b->make(L, b, r) == 2) {
                finish(L, lp, r, 2);
                continue;
            }
        }
        lua_settop(L, lp->top);
        r->phase = PHASE_WAITING;
        r->next_at = 0;
        lp->live[lp->nlive++] = r;
    }
}

/* Takes request i off the list of those under way. */
static void drop_live(loop *lp, int i)
{
    lp->live[i] = lp->live[--lp->nlive];
}

/* Starts every waiting request whose time has come; returns the soonest
   time one still waiting may go (or `soonest` as given). */
static double start_due(lua_State *L, loop *lp, double soonest)
{
    double now = qs_now();
    for (int i = 0; i < lp->nlive; i++) {
        qs_request *r = lp->live[i];
        if (r->phase != PHASE_WAITING)
            continue;
        if (r->next_at > now) {
            soonest = r->next_at < soonest ? r->next_at : soonest;
            continue;
        }
        if (begin(L, r, lp->top) == 2) {
            finish(L, lp, r, 2);
            drop_live(lp, i--);
            if (lp->rc != 0)
                break;
        }
    }
    return soonest;
}

/* Settles every request whose exchange finished; says how many are still in flight. */
static int settle_finished(lua_State *L, loop *lp)
{
    int flying = 0;
    for (int i = 0; i < lp->nlive; i++) {
        qs_request *r = lp->live[i];
        if (r->phase != PHASE_FLIGHT)
            continue;
        if (!r->t.slot->finished) {
            flying++;
            continue;
        }
        int rc = settle(L, r, lp->top);
        if (rc != 0) {
            finish(L, lp, r, rc);
            drop_live(lp, i--);
            if (lp->rc != 0)
                break;
        }
        lua_settop(L, lp->top);
    }
    return flying;
}

/* The downloads in flight say how far they are, every QS_PROGRESS_EVERY seconds. */
static void progress(lua_State *L, loop *lp)
{
    double now = qs_now();
    for (int i = 0; i < lp->nlive; i++) {
        qs_request *r = lp->live[i];
        if (r->phase == PHASE_FLIGHT && r->sink != NULL && now - r->progress_at >= QS_PROGRESS_EVERY) {
            r->progress_at = now;
            qs_event(L, r->call, "download_progress", r, 0);
        }
    }
}

/* One turn of the loop: start what is due, run a round of the multi handle
   (or wait for the next retry when nothing is in flight), settle what
   finished. */
static void turn(lua_State *L, loop *lp)
{
    qs_client *c = lp->b->call->c;
    double soonest = start_due(L, lp, lp->b->deadline);
    if (lp->rc != 0)
        return;
    double wait = soonest - qs_now();
    int flying = 0;
    for (int i = 0; i < lp->nlive; i++)
        flying += lp->live[i]->phase == PHASE_FLIGHT;
    if (flying == 0) {
        if (wait > 0)
            qs_sleep(wait);
        return;
    }
    if (c->has_on_event && wait > QS_PROGRESS_EVERY)
        wait = QS_PROGRESS_EVERY;
    qs_transfer_poll(c, wait < 1 ? wait : 1);
    settle_finished(L, lp);
    if (lp->rc == 0 && c->has_on_event)
        progress(L, lp);
}

/* The requests of a batch that never started, once it stopped: nothing was sent. */
static void abandon(loop *lp)
{
    qs_client *c = lp->b->call->c;
    for (int i = 0; i < lp->nlive; i++) {
        if (lp->live[i]->phase == PHASE_FLIGHT)
            qs_slot_release(c, lp->live[i]->t.slot);
        lp->live[i]->phase = PHASE_DONE;
    }
    lp->nlive = 0;
}

/*
 * Runs the batch's requests until each has its outcome (handed to done()),
 * at most b->concurrency at once, within b->deadline; or until done() sets
 * b->stop, when those under way are dropped and the rest never start.
 * Returns 0 with the stack as it found it; for a single request (no done()),
 * its outcome's count with the outcome on top, as qs_attempt.
 */
int qs_attempt_all(lua_State *L, qs_batch *b)
{
    qs_client *c = b->call->c;
    loop lp;
    int top = lua_gettop(L), frames = b->make != NULL ? b->concurrency : 0;
    if (b->concurrency < 1)
        b->concurrency = 1;
    if (b->concurrency > QS_MAX_CONCURRENCY)
        b->concurrency = QS_MAX_CONCURRENCY;
    memset(&lp, 0, sizeof lp);
    lp.b = b;
    luaL_checkstack(L, frames * QS_FRAME + 32, "too many requests at once");
    if (qs_slot_acquire(c) == NULL || c->nslots <= b->concurrency)
        if (qs_scratch_reserve(c, c->nslots + b->concurrency + 1, 0) != 0)
            return luaL_error(L, "quicklysign: out of memory");
    lp.frames = top + 1;
    for (int i = 0; i < frames * QS_FRAME; i++)
        lua_pushnil(L);
    lp.top = lua_gettop(L);
    for (;;) {
        admit(L, &lp);
        if (lp.rc != 0)
            return lp.rc;
        if (lp.nlive == 0 || b->stop)
            break;
        turn(L, &lp);
        if (lp.rc != 0)
            return lp.rc;
    }
    abandon(&lp);
    lua_settop(L, top);
    return 0;
}

/*
 * Runs one request until it succeeds (pushes its value, returns 1) or fails
 * for good (pushes nil, err, returns 2): a batch of one, whose URL and body
 * the caller put on the stack.
 */
int qs_attempt(lua_State *L, qs_request *r)
{
    qs_batch b;
    memset(&b, 0, sizeof b);
    b.call = r->call;
    b.reqs = r;
    b.n = b.concurrency = 1;
    b.deadline = r->deadline;
    r->tries = r->reminted = 0;
    return qs_attempt_all(L, &b);
}
