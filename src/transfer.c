/*
 * transfer.c - one HTTP exchange over the client's libcurl easy handle, and
 * the request headers it sends.
 *
 * Nothing here calls Lua: a Lua error can therefore never unwind through a
 * libcurl frame. Bodies go to the client's capped buffer, or, for a 2xx
 * answer to a download, straight to a FILE (never whole in memory). While
 * bytes flow, the caller's cancelled() (a plain C predicate) may end the
 * exchange: that is how Ctrl-C stops a long download (attempt.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "qs.h"

enum sink_mode { SINK_UNDECIDED, SINK_FILE, SINK_BUFFER };

typedef struct exchange {
    qs_client *c;
    qs_transfer *t;
    enum sink_mode mode;
} exchange;

/* libcurl's progress callback: a nonzero answer of t->cancelled ends the exchange. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    exchange *x = ud;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (x->t->cancelled != NULL && x->t->cancelled(x->t->cancel_ud)) {
        x->t->aborted = 1;
        return 1;
    }
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    exchange *x = ud;
    size_t len = size * n;
    if (x->t->sink != NULL && x->mode == SINK_UNDECIDED) {
        long status = 0;
        curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
        x->mode = (status >= 200 && status < 300) ? SINK_FILE : SINK_BUFFER;
    }
    if (x->mode == SINK_FILE) {
        if (fwrite(p, 1, len, x->t->sink) != len) {
            x->t->write_errno = errno ? errno : EIO;
            return 0;
        }
        x->t->written += (curl_off_t)len;
        return len;
    }
    if (x->mode == SINK_BUFFER) {
        /* A download's error answer: keep its head, drop the rest, and let the
           transfer end so that its status is known (and a 503 retried). */
        qs_buffer *b = &x->c->body;
        size_t room = b->limit - b->len;
        if (len > room) {
            b->overflow = 1;
            if (room > 0 && !qs_buffer_append(b, p, room))
                return 0;
            return len;
        }
    }
    return qs_buffer_append(&x->c->body, p, len) ? len : 0;
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
    exchange *x = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->t->retry_after = -1;   /* a new response (after 1xx) starts afresh */
    } else if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char value[128];
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof value)
            vlen = sizeof value - 1;
        memcpy(value, p + sizeof name - 1, vlen);
        value[vlen] = '\0';
        value[strcspn(value, "\r\n")] = '\0';
        x->t->retry_after = parse_retry_after(value);
    }
    return len;
}

/* The options of the client's handle that hold for every exchange. */
int qs_transfer_setup(qs_client *c)
{
    CURL *h = c->curl;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
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
    if (c->ca_file != NULL)
        SET(CURLOPT_CAINFO, c->ca_file);
    if (c->proxy != NULL)
        SET(CURLOPT_PROXY, c->proxy);
#undef SET
    return rc == CURLE_OK;
}

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

/* (Re)builds the request headers into c->headers; the token goes only where asked, in the
   headers token_header names. */
int qs_build_headers(qs_client *c, int json_body, int with_token)
{
    struct curl_slist *h = NULL, *next;
    curl_slist_free_all(c->headers);
    c->headers = NULL;
#define ADD(s) do { if ((next = curl_slist_append(h, (s))) == NULL) goto fail; h = next; } while (0)
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
    c->headers = h;
    return 1;
fail:
    curl_slist_free_all(h);
    return 0;
}

static long to_ms(double seconds)
{
    double ms = seconds * 1000.0 + 0.5;
    if (ms < 1)
        return 1;
    if (ms > 2147483647.0)
        return 2147483647L;
    return (long)ms;
}

/* Hands the exchange to the easy handle: URL, headers, time left, method. */
static void set_request(CURL *h, qs_client *c, qs_transfer *t, exchange *x, double remaining)
{
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(remaining));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     to_ms(t->connect_timeout < remaining ? t->connect_timeout : remaining));
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, t->fresh ? 1L : 0L);
    /* Downloads read in larger pieces (curl's own tool uses 100 KiB): a sixth
       of the system calls of the 16 KiB default (bench/README.md). */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, t->sink != NULL ? QS_DOWNLOAD_BUFFER : (long)CURL_MAX_WRITE_SIZE);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    if (strcmp(t->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
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
    long request_size = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
    /* It provably never reached the server when no connection was made or
       no byte of the request was written. */
    t->sent = !(t->code == CURLE_COULDNT_RESOLVE_HOST ||
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

/* Performs one exchange on the client's easy handle, within t->deadline. */
void qs_transfer_perform(qs_client *c, qs_transfer *t)
{
    CURL *h = c->curl;
    exchange x = { c, t, SINK_UNDECIDED };
    double remaining = t->deadline - qs_now();

    t->status = 0;
    t->sent = 0;
    t->retry_after = -1;
    t->written = 0;
    t->write_errno = 0;
    t->aborted = 0;
    t->redirect = NULL;
    t->content_type = NULL;
    c->errbuf[0] = '\0';
    if (remaining <= 0) {
        t->code = CURLE_OPERATION_TIMEDOUT;
        return;
    }
    set_request(h, c, t, &x, remaining);
    t->code = curl_easy_perform(h);
    read_answer(h, t);
    /* Never leave pointers to this stack frame or the caller's body behind. */
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
}
