/*
 * download.c - a download: a request whose 2xx body streams to a temporary
 * file beside the target (never whole in memory), which must be a PDF, and
 * is made durable and renamed into place only when complete (fs.c).
 *
 * The access token is sent only to the API's own origin. Redirects are
 * followed by hand, at most QS_MAX_REDIRECTS: to another origin (a storage
 * service, say) without the token, the way curl and browsers treat
 * credentials; never from https to plain http (unless the API itself is
 * plain http); never to another scheme.
 *
 * The rename is the download's last step, after a checkpoint at which a
 * pending interrupt (Ctrl-C) strikes: an interrupted download leaves
 * nothing behind, and one whose file was put in place returns its size
 * (qs_run sees to the instant after the rename).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "qs.h"

#define QS_PDF_MAGIC "%PDF-"
#define QS_HEAD_SHOWN 24   /* bytes of a body that is no PDF shown in the error */

/* What a download's reader keeps from one attempt to the next. */
typedef struct download_state {
    int redirects;
    int hops_idx;          /* stack index of the array of the URLs redirected to */
} download_state;

/*
 * A 2xx answer whose body is a JSON envelope with an error status (the API
 * answers HTTP 200 always when asked to): reads it back into the client's
 * buffer and returns 1, so that it is reported like any error answer rather
 * than saved as the document.
 */
static int error_envelope(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    qs_buffer *body = &t->slot->body;
    if (t->content_type == NULL || strncasecmp(t->content_type, "application/json", 16) != 0 ||
        t->written > QS_ERROR_BODY_CAP)
        return 0;
    qs_buffer_reset(body, QS_ERROR_BODY_CAP);
    if (qs_temp_read(r->sink, body) != 0)
        return 0;
    int top = lua_gettop(L), is_error = 0;
    if (body->len > 0 && qs_json_decode(L, body->data, body->len) && lua_istable(L, -1)) {
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

/* Whether a Content-Type (its media type, before any ';') says HTML or JSON. */
static int unlike_pdf(const char *content_type)
{
    static const char *const types[] = { "text/html", "application/xhtml+xml", "application/json",
                                         "text/json", NULL };
    if (content_type == NULL)
        return 0;
    size_t n = strcspn(content_type, "; \t");
    for (int i = 0; types[i] != NULL; i++)
        if (n == strlen(types[i]) && strncasecmp(content_type, types[i], n) == 0)
            return 1;
    return n > 5 && strncasecmp(content_type + n - 5, "+json", 5) == 0;
}

/*
 * A 2xx body that is no PDF (it does not start with %PDF-, or its
 * Content-Type says HTML or JSON: a sign-in page, an envelope) is never
 * saved as the document: pushes a not_pdf error naming its type and first
 * bytes, and returns 1; 0 when it is a PDF.
 */
static int not_pdf(lua_State *L, const qs_request *r, const qs_transfer *t)
{
    char head[QS_HEAD_SHOWN];
    long n = qs_temp_head(r->sink, head, sizeof head);
    if (n >= 5 && memcmp(head, QS_PDF_MAGIC, 5) == 0 && !unlike_pdf(t->content_type))
        return 0;
    if (n < 0)
        n = 0;
    for (long i = 0; i < n; i++)
        if ((unsigned char)head[i] < 32 || (unsigned char)head[i] > 126)
            head[i] = '.';
    lua_pushlstring(L, head, (size_t)n);   /* printable: no NUL */
    lua_pushfstring(L, n > 0 ? "the answer is not a PDF (Content-Type %s; it begins \"%s\")"
                             : "the answer is not a PDF (Content-Type %s; it is empty%s)",
                    t->content_type ? t->content_type : "none", lua_tostring(L, -1));
    lua_remove(L, -2);
    qs_push_answer_error(L, r, QS_NOT_PDF, lua_tostring(L, -1));
    qs_error_set_string(L, r->call->c, "content_type", t->content_type);
    return 1;
}

/* The document is complete: durable, recorded, then (the last step) in
   place; its size is the value. */
static qs_outcome commit(lua_State *L, qs_request *r, const qs_transfer *t)
{
    const download_state *d = r->state;
    qs_reason why = QS_CANNOT_WRITE_FILE;
    if (qs_temp_sync(r->sink) == 0) {
        qs_record_response(L, r, t->status);
        lua_pushstring(L, t->content_type);
        qs_note_response(L, r, "content_type");
        lua_pushvalue(L, d->hops_idx);
        qs_note_response(L, r, "redirects");
        qs_checkpoint(L);   /* a pending Ctrl-C strikes now: nothing is put in place */
        why = QS_CANNOT_RENAME_FILE;
        if (qs_temp_place(r->sink, r->path) == 0) {
            lua_pushinteger(L, (lua_Integer)t->written);
            return QS_DONE;
        }
    }
    qs_push_io_error(L, r->call->c, why, r->path, errno);
    qs_error_set_request(L, r);
    return QS_FAILED;
}

/* Whether the client sends its token to url: the API's origin, and a token to be had. */
static enum qs_token token_for(const qs_client *c, const char *url)
{
    return qs_same_origin(url, c->base_url) && (c->access_token != NULL || c->api_key != NULL)
           ? QS_TOKEN_IF_ANY : QS_TOKEN_NONE;
}

/* A redirect: http(s), no downgrade to plain http from an https API, not
   too many; the token goes along only to the API's origin. */
static qs_outcome follow(lua_State *L, qs_request *r, const qs_transfer *t)
{
    qs_client *c = r->call->c;
    download_state *d = r->state;
    const char *to = t->redirect;
    int plain_api = strncasecmp(c->base_url, "http://", 7) == 0;
    if (!qs_is_http_url(to) || (!plain_api && strncasecmp(to, "https://", 8) != 0)) {
        qs_push_answer_error(L, r, QS_INSECURE_REDIRECT, qs_is_http_url(to)
                             ? "refused a redirect from https to plain http"
                             : "refused a redirect to a URL that is not http(s)");
        qs_error_set_string(L, c, "location", to);
        return QS_FAILED;
    }
    if (++d->redirects > QS_MAX_REDIRECTS) {
        qs_push_answer_error(L, r, QS_TOO_MANY_REDIRECTS, "too many redirects");
        qs_error_set_string(L, c, "location", to);
        return QS_FAILED;
    }
    qs_push_redacted(L, c, to);
    lua_rawseti(L, d->hops_idx, d->redirects);
    r->token = token_for(c, to);
    lua_pushstring(L, to);
    lua_replace(L, r->url_idx);
    return QS_AGAIN;
}

/* The reader of a download. An error answer (or a 2xx carrying an error
   envelope) has its small body in the client's buffer: read as an envelope. */
static qs_outcome read_download(lua_State *L, qs_request *r, const qs_transfer *t)
{
    if (t->status >= 200 && t->status < 300 && !error_envelope(L, r, t))
        return not_pdf(L, r, t) ? QS_FAILED : commit(L, r, t);
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

/*
 * Readies r as the download of the URL at r->url_idx to path, through the
 * temp file `temp` (opened by the caller), with the table at hops_idx for
 * where it is redirected to and `d` for its reader's count of redirects.
 */
static void download_request(qs_request *r, const qs_call *call, qs_tempfile *temp, const char *url,
                             const char *path, download_state *d)
{
    r->method = "GET";
    r->token = token_for(call->c, url);
    r->sink = temp;
    r->path = path;
    r->reader = read_download;
    r->state = d;
}

/* The size of the state qs_download_request's reader keeps (in a frame's
   userdata), and its setup: the URL at r->url_idx, hops at hops_idx. */
void qs_download_request(lua_State *L, qs_request *r, const qs_call *call, qs_tempfile *temp,
                         const char *path, int hops_idx)
{
    download_state *d = lua_newuserdata(L, sizeof *d);   /* kept alive by the frame's slot */
    d->redirects = 0;
    d->hops_idx = hops_idx;
    lua_replace(L, hops_idx + 1);
    download_request(r, call, temp, lua_tostring(L, r->url_idx), path, d);
}

/* A failed download (nil, err on top): its temp file discarded, the error
   saying where it was redirected (the table at hops_idx). */
int qs_download_failed(lua_State *L, qs_request *r, int hops_idx)
{
    qs_temp_discard(r->sink);
    if (qs_rawlen(L, hops_idx) > 0) {
        lua_pushvalue(L, hops_idx);
        lua_setfield(L, -2, "redirects");
    }
    return 2;
}

/* Downloads url to path within deadline: pushes the bytes written, or nil, err. */
int qs_download(lua_State *L, const qs_call *call, const char *url, const char *path,
                double deadline)
{
    qs_client *c = call->c;
    qs_tempfile *temp = &c->temps[0];
    int top = lua_gettop(L);
    if (qs_temp_open(temp, path) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_CREATE_FILE, path, errno);
        qs_error_set_string(L, c, "method", "GET");
        qs_error_set_string(L, c, "url", url);
        return qs_fail(L, top);
    }
    lua_pushstring(L, url);            /* top + 1: the URL, replaced at each redirect */
    lua_newtable(L);                   /* top + 2: where it was redirected to */
    download_state d = { 0, top + 2 };
    qs_request r;
    qs_request_init(&r, call, "GET", token_for(c, url), top + 1);
    r.deadline = deadline;
    download_request(&r, call, temp, url, path, &d);
    if (qs_attempt(L, &r) == 2) {
        qs_download_failed(L, &r, top + 2);
        return qs_keep_top2(L, top);
    }
    lua_replace(L, top + 1);           /* over the URL */
    lua_settop(L, top + 1);
    return 1;
}
