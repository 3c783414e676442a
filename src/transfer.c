/*
 * transfer.c - HTTP exchanges on the client's libcurl multi handle, each on
 * a slot of its own (an easy handle with its headers and body buffer), and
 * the request headers they send. One request or many at once: the caller
 * starts exchanges, then runs rounds (qs_transfer_poll) until the ones it
 * waits for are marked finished.
 *
 * Nothing here calls Lua: a Lua error can therefore never unwind through a
 * libcurl frame, and the caller's Lua code (on_event records, a Ctrl-C's
 * interrupt) runs between rounds. Bodies go to the slot's capped buffer,
 * or, for a 2xx answer to a download, straight to a FILE (never whole in
 * memory). While bytes flow, the caller's cancelled() (a plain C
 * predicate) may end the exchange: that is how Ctrl-C stops a long
 * download (attempt.c).
 *
 * The connection cache is the multi handle's, so single calls and batches
 * share kept-alive connections (HTTP/2: streams on one); TLS sessions and
 * DNS answers are shared between the slots (a share handle), so that a
 * new connection resumes its TLS session.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "qs.h"

enum sink_mode { SINK_UNDECIDED, SINK_FILE, SINK_BUFFER };

#define QS_DEFAULT_MAX_IDLE 118L   /* libcurl's own CURLOPT_MAXAGE_CONN */

/* libcurl's progress callback: the size announced; a nonzero answer of
   t->cancelled ends the exchange. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    qs_slot *s = ud;
    (void)dlnow, (void)ultotal, (void)ulnow;
    if (dltotal > 0)
        s->t->total = dltotal;
    if (s->t->cancelled != NULL && s->t->cancelled(s->t->cancel_ud)) {
        s->t->aborted = 1;
        return 1;
    }
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    qs_slot *s = ud;
    qs_transfer *t = s->t;
    size_t len = size * n;
    if (t->sink != NULL && s->sink_mode == SINK_UNDECIDED) {
        long status = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        s->sink_mode = (status >= 200 && status < 300) ? SINK_FILE : SINK_BUFFER;
    }
    if (s->sink_mode == SINK_FILE) {
        if (fwrite(p, 1, len, t->sink) != len) {
            t->write_errno = errno ? errno : EIO;
            return 0;
        }
        t->written += (curl_off_t)len;
        return len;
    }
    if (s->sink_mode == SINK_BUFFER) {
        /* A download's error answer: keep its head, drop the rest, and let the
           transfer end so that its status is known (and a 503 retried). */
        qs_buffer *b = &s->body;
        size_t room = b->limit - b->len;
        if (len > room) {
            b->overflow = 1;
            if (room > 0 && !qs_buffer_append(b, p, room))
                return 0;
            return len;
        }
    }
    return qs_buffer_append(&s->body, p, len) ? len : 0;
}

/* The body of a request sent at most once, handed to libcurl piece by piece. */
static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    qs_slot *s = ud;
    size_t left = s->t->body_len - s->sent_bytes, room = size * n;
    if (room > left)
        room = left;
    memcpy(p, s->t->body + s->sent_bytes, room);
    s->sent_bytes += room;
    return room;
}

/* libcurl asks to rewind the body only to send it again, on a new
   connection after a reused one died: refused, so that the request is never
   sent twice (the exchange ends with CURLE_SEND_FAIL_REWIND). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    qs_slot *s = ud;
    (void)origin;
    if (offset == 0 && s->sent_bytes == 0)
        return CURL_SEEKFUNC_OK;   /* nothing was handed out yet */
    s->t->resend_refused = 1;
    return CURL_SEEKFUNC_FAIL;
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110, 10.2.3). */
static double parse_retry_after(const char *v)
{
    char *end;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        double s = strtod(v, &end);
        return s;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    double delta = difftime(when, time(NULL));
    return delta > 0 ? delta : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    qs_slot *s = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        s->t->retry_after = -1;   /* a new response (after 1xx) starts afresh */
    } else if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char value[128];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, p + sizeof name - 1, vlen);
        value[vlen] = '\0';
        value[strcspn(value, "\r\n")] = '\0';
        s->t->retry_after = parse_retry_after(value);
    }
    return len;
}

/* ---- the multi handle and the slots ------------------------------------ */

/* The options of a slot's handle that hold for every exchange. */
static int slot_setup(const qs_client *c, qs_slot *s)
{
    CURL *h = s->curl;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PRIVATE, (char *)s);
    SET(CURLOPT_SHARE, c->share);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_FOLLOWLOCATION, 0L);        /* redirects are followed by hand */
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_USERAGENT, c->user_agent);
    /* HTTP/2 when the server offers it by ALPN (libcurl's default too); a
       request waits for a connection being made that may multiplex it rather
       than open another */
    SET(CURLOPT_HTTP_VERSION, c->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PIPEWAIT, 1L);
    if (c->ca_file != NULL)
        SET(CURLOPT_CAINFO, c->ca_file);
    if (c->proxy != NULL)
        SET(CURLOPT_PROXY, c->proxy);
#undef SET
    return rc == CURLE_OK;
}

/* The multi handle and the share handle: 1, or 0 when libcurl refuses. */
int qs_transfer_open(qs_client *c)
{
    c->multi = curl_multi_init();
    c->share = curl_share_init();
    if (c->multi == NULL || c->share == NULL)
        return 0;
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) == CURLSHE_OK &&
           curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) == CURLSHE_OK &&
           qs_scratch_reserve(c, 1, 1) == 0;
}

/* Takes the slot's exchange off the multi handle and forgets its pointers. */
static void detach(qs_client *c, qs_slot *s)
{
    if (s->added)
        curl_multi_remove_handle(c->multi, s->curl);
    s->added = 0;
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, NULL);
    curl_easy_setopt(s->curl, CURLOPT_SEEKFUNCTION, NULL);
}

/* Every slot free again: the end of a call. (Its temp files are fs.c's:
   qs_temps_discard.) */
void qs_scratch_release(qs_client *c)
{
    for (int i = 0; i < c->nslots; i++) {
        qs_slot *s = c->slots[i];
        detach(c, s);
        s->t = NULL;
        s->finished = 0;
        curl_slist_free_all(s->headers);
        s->headers = NULL;
    }
}

/* At least `slots` slots and `temps` temp files: 0, or -1 when out of
   memory. Only between exchanges: a slot never moves once made. */
int qs_scratch_reserve(qs_client *c, int slots, int temps)
{
    if (slots > c->nslots) {
        qs_slot **grown = realloc(c->slots, (size_t)slots * sizeof *grown);
        if (grown == NULL)
            return -1;
        c->slots = grown;
        while (c->nslots < slots) {
            qs_slot *s = calloc(1, sizeof *s);
            if (s == NULL || (s->curl = curl_easy_init()) == NULL || !slot_setup(c, s)) {
                if (s != NULL && s->curl != NULL)
                    curl_easy_cleanup(s->curl);
                free(s);
                return -1;
            }
            c->slots[c->nslots++] = s;
        }
    }
    if (temps > c->ntemps) {
        qs_tempfile *grown = realloc(c->temps, (size_t)temps * sizeof *grown);
        if (grown == NULL)
            return -1;
        memset(grown + c->ntemps, 0, (size_t)(temps - c->ntemps) * sizeof *grown);
        c->temps = grown;
        c->ntemps = temps;
    }
    return 0;
}

/* Frees every slot, the multi and share handles: the client's close. */
void qs_transfer_close(qs_client *c)
{
    if (c->multi != NULL)
        qs_scratch_release(c);
    for (int i = 0; i < c->nslots; i++) {
        curl_easy_cleanup(c->slots[i]->curl);
        qs_buffer_free(&c->slots[i]->body);
        free(c->slots[i]);
    }
    free(c->slots);
    free(c->temps);
    c->slots = NULL;
    c->temps = NULL;
    c->nslots = c->ntemps = 0;
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi);
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    c->multi = NULL;
    c->share = NULL;
}

/* A free slot, or NULL when every one is in use. */
qs_slot *qs_slot_acquire(qs_client *c)
{
    for (int i = 0; i < c->nslots; i++)
        if (c->slots[i]->t == NULL)
            return c->slots[i];
    return NULL;
}

/* The slot is free again (its exchange, if any, taken off the multi handle). */
void qs_slot_release(qs_client *c, qs_slot *s)
{
    detach(c, s);
    s->t = NULL;
    s->finished = 0;
}

/* ---- headers ------------------------------------------------------------ */

/* A header value must not carry CR, LF or other control bytes (header injection). */
int qs_header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127)
            return 0;
    return 1;
}

/* Appends "<prefix><token>" to *h, wiping the line it made: 0 when out of memory. */
static int add_token(struct curl_slist **h, const char *prefix, const char *token)
{
    size_t n = strlen(prefix) + strlen(token) + 1;
    char *line = malloc(n);
    if (line == NULL)
        return 0;
    snprintf(line, n, "%s%s", prefix, token);
    struct curl_slist *next = curl_slist_append(*h, line);
    memset(line, 0, n);
    free(line);
    if (next == NULL)
        return 0;
    *h = next;
    return 1;
}

/* (Re)builds the request headers into the slot; the token goes only where asked, in the
   headers token_header names. */
int qs_build_headers(const qs_client *c, qs_slot *s, int json_body, int with_token)
{
    struct curl_slist *h = NULL, *next;
    curl_slist_free_all(s->headers);
    s->headers = NULL;
#define ADD(v) do { if ((next = curl_slist_append(h, (v))) == NULL) goto fail; h = next; } while (0)
    ADD("Accept: application/json");
    ADD("Expect:");
    if (json_body)
        ADD("Content-Type: application/json");
#undef ADD
    if (with_token && c->access_token != NULL) {
        if ((c->token_header & QS_TOKEN_IN_ACCESS_TOKEN) && !add_token(&h, "access_token: ", c->access_token))
            goto fail;
        if ((c->token_header & QS_TOKEN_IN_AUTHORIZATION) &&
            !add_token(&h, "Authorization: Bearer ", c->access_token))
            goto fail;
    }
    s->headers = h;
    return 1;
fail:
    curl_slist_free_all(h);
    return 0;
}

/* ---- one exchange ------------------------------------------------------- */

static long to_ms(double seconds)
{
    double ms = seconds * 1000.0 + 0.5;
    if (ms < 1)
        return 1;
    if (ms > 2147483647.0)
        return 2147483647L;
    return (long)ms;
}

/* A POST's body: handed over as it is, or, for one sent at most once,
   through the read callback whose rewind is refused. */
static void set_body(CURL *h, qs_slot *s, const qs_transfer *t)
{
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
    if (!t->once) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body);
        return;
    }
    s->sent_bytes = 0;
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, s);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, s);
}

/* Hands the exchange to the slot's handle: URL, headers, time left, method. */
static void set_request(CURL *h, qs_slot *s, const qs_transfer *t, double remaining)
{
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(remaining));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     to_ms(t->connect_timeout < remaining ? t->connect_timeout : remaining));
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, t->once ? QS_ONCE_MAX_IDLE : QS_DEFAULT_MAX_IDLE);
    /* Downloads read in larger pieces (curl's own tool uses 100 KiB): a sixth
       of the system calls of the 16 KiB default (bench/README.md). */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, t->sink != NULL ? QS_DOWNLOAD_BUFFER : (long)CURL_MAX_WRITE_SIZE);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
    if (strcmp(t->method, "POST") == 0) {
        set_body(h, s, t);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                         strcmp(t->method, "GET") == 0 ? NULL : t->method);
    }
}

/* What the finished exchange left in the handle: status, whether the
   request may have reached the server, redirect target, content type. */
static void read_answer(CURL *h, qs_transfer *t)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &t->connects);
    long request_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
    /* It provably never reached the server when no connection was made or
       no byte of the request was written. One whose re-send was refused went
       out on a connection that died before the answer. */
    t->sent = t->resend_refused ||
              !(t->code == CURLE_COULDNT_RESOLVE_HOST ||
                t->code == CURLE_COULDNT_RESOLVE_PROXY ||
                t->code == CURLE_COULDNT_CONNECT ||
                (t->code != CURLE_OK && request_size == 0 && t->status == 0));
    if (t->code != CURLE_OK)
        return;
    char *info = NULL;
    if (t->status >= 300 && t->status < 400 && curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &info) == CURLE_OK)
        t->redirect = info;
    info = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &info) == CURLE_OK)
        t->content_type = info;
}

/* Starts exchange t on slot s, within t->deadline. One that cannot start
   (no time left, libcurl refuses) is finished at once, its code set. */
void qs_transfer_start(qs_client *c, qs_slot *s, qs_transfer *t)
{
    double remaining = t->deadline - qs_now();
    t->status = 0;
    t->sent = t->resend_refused = 0;
    t->retry_after = -1;
    t->written = 0;
    t->total = -1;
    t->connects = 0;
    t->write_errno = 0;
    t->aborted = 0;
    t->redirect = NULL;
    t->content_type = NULL;
    t->slot = s;
    s->t = t;
    s->finished = 0;
    s->sink_mode = SINK_UNDECIDED;
    s->errbuf[0] = '\0';
    if (remaining <= 0) {
        t->code = CURLE_OPERATION_TIMEDOUT;
        s->finished = 1;
        return;
    }
    set_request(s->curl, s, t, remaining);
    if (curl_multi_add_handle(c->multi, s->curl) != CURLM_OK) {
        t->code = CURLE_FAILED_INIT;
        s->finished = 1;
        return;
    }
    s->added = 1;
}

/* Marks the exchanges libcurl reports done as finished, reading their answers. */
static int reap(qs_client *c)
{
    CURLMsg *msg;
    int left, count = 0;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *p = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
        qs_slot *s = (qs_slot *)p;
        if (s == NULL || s->t == NULL)
            continue;
        s->t->code = msg->data.result;
        if (s->t->resend_refused)
            s->t->code = CURLE_SEND_FAIL_REWIND;
        read_answer(s->curl, s->t);
        detach(c, s);
        s->finished = 1;
        count++;
    }
    return count;
}

/* One round of the multi handle: moves every exchange on, waiting at most
   `wait` seconds for something to happen when nothing finished at once. */
void qs_transfer_poll(qs_client *c, double wait)
{
    int running = 0;
    curl_multi_perform(c->multi, &running);
    if (reap(c) > 0 || running == 0)
        return;
    int ms = wait > 0 ? (int)(wait * 1000.0 + 0.5) : 0;
    curl_multi_poll(c->multi, NULL, 0, ms, NULL);
    curl_multi_perform(c->multi, &running);
    reap(c);
}
