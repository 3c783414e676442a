/*
 * download.c - a download: a request whose 2xx body streams to a temporary
 * file beside the target (never whole in memory), which is made durable and
 * renamed into place only when complete (fs.c).
 *
 * The access token is sent only to the API's own origin. Redirects are
 * followed by hand, at most QS_MAX_REDIRECTS, and only within the origin of
 * the URL asked for: never to another host, and never with credentials.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "qs.h"

/* What a download's reader keeps from one attempt to the next. */
typedef struct download_state {
    int redirects;
} download_state;

/*
 * A 2xx answer whose body is a JSON envelope with an error status (the API
 * answers HTTP 200 always when asked to): reads it back into the client's
 * buffer and returns 1, so that it is reported like any error answer rather
 * than saved as the document. A JSON file that is not such an envelope is kept.
 */
static int error_envelope(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    if (t->content_type == NULL || strncasecmp(t->content_type, "application/json", 16) != 0 ||
        t->written > QS_ERROR_BODY_CAP)
        return 0;
    qs_buffer_reset(&c->body, QS_ERROR_BODY_CAP);
    if (qs_temp_read(r->sink, &c->body) != 0)
        return 0;
    int top = lua_gettop(L), is_error = 0;
    if (c->body.len > 0 && qs_json_decode(L, c->body.data, c->body.len) && lua_istable(L, -1)) {
        lua_getfield(L, -1, "status");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "status_code");
            if (lua_type(L, -1) == LUA_TNUMBER) {
                lua_Number code = lua_tonumber(L, -1);
                is_error = !(code >= 200 && code < 300);
            }
        }
    }
    lua_settop(L, top);
    return is_error;
}

/* The document is complete: durable, in place, and its size the value. */
static qs_outcome commit(lua_State *L, qs_request *r, const qs_transfer *t)
{
    qs_reason why;
    if (qs_temp_commit(r->sink, r->path, &why) != 0) {
        qs_push_io_error(L, r->call->c, why, r->path, errno);
        qs_error_set_request(L, r);
        return QS_FAILED;
    }
    lua_pushinteger(L, (lua_Integer)t->written);
    return QS_DONE;
}

/* A redirect: within the origin of the URL it answered, and not too many. */
static qs_outcome follow(lua_State *L, qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    download_state *d = r->state;
    if (!qs_same_origin(t->redirect, t->url)) {
        qs_push_answer_error(L, r, QS_CROSS_ORIGIN_REDIRECT, "refused a redirect to another origin");
        qs_error_set_string(L, c, "location", t->redirect);
        return QS_FAILED;
    }
    if (++d->redirects > QS_MAX_REDIRECTS) {
        qs_push_answer_error(L, r, QS_TOO_MANY_REDIRECTS, "too many redirects");
        return QS_FAILED;
    }
    lua_pushstring(L, t->redirect);
    lua_replace(L, r->url_idx);
    return QS_AGAIN;
}

/* The reader of a download. An error answer (or a 2xx carrying an error
   envelope) has its small body in the client's buffer: read as an envelope. */
static qs_outcome read_download(lua_State *L, qs_request *r, const qs_transfer *t)
{
    if (t->status >= 200 && t->status < 300 && !error_envelope(L, r, t))
        return commit(L, r, t);
    if (t->status >= 300 && t->status < 400 && t->redirect != NULL)
        return follow(L, r, t);
    if (qs_envelope_read(L, r, t)) {   /* a 2xx envelope with a non-2xx HTTP status */
        lua_pop(L, 1);
        r->status = t->status;
        lua_pushfstring(L, "HTTP %d, though the body is a success envelope", (int)t->status);
        qs_push_answer_error(L, r, QS_HTTP_STATUS, lua_tostring(L, -1));
    }
    return QS_REFUSED;
}

/* Downloads url to path within deadline: pushes the bytes written, or nil, err. */
int qs_download(lua_State *L, const qs_call *call, const char *url, const char *path,
                double deadline)
{
    qs_client *c = call->c;
    int top = lua_gettop(L);
    if (qs_temp_open(&c->temp, path) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_CREATE_FILE, path, errno);
        qs_error_set_string(L, c, "method", "GET");
        qs_error_set_string(L, c, "url", url);
        return qs_fail(L, top);
    }
    lua_pushstring(L, url);
    int with_token = qs_same_origin(url, c->base_url) && (c->access_token != NULL || c->api_key != NULL);
    download_state d = { 0 };
    qs_request r;
    qs_request_init(&r, call, "GET", with_token ? QS_AUTH_TOKEN : QS_AUTH_NONE, top + 1);
    r.deadline = deadline;
    r.sink = &c->temp;
    r.path = path;
    r.reader = read_download;
    r.state = &d;
    if (qs_attempt(L, &r) == 2) {
        qs_temp_discard(&c->temp);
        return qs_keep_top2(L, top);
    }
    lua_replace(L, top + 1);   /* over the URL */
    return 1;
}
