/*
 * multi_anchor.c - the benchmarks' anchor for batch calls: a plain C program
 * doing a list of requests with libcurl's multi interface, at most
 * CONCURRENCY at a time, as any well-written libcurl program would.
 *
 *   multi_anchor REQUESTS_FILE CONCURRENCY [--http2] [--cacert FILE] [--header LINE]...
 *
 * REQUESTS_FILE has one request a line: METHOD TAB URL [TAB BODY] (a POST's
 * body is sent as application/json). Without --http2 it speaks HTTP/1.1 with
 * up to CONCURRENCY connections; with it, HTTP/2 streams multiplexed on one
 * connection (CURLOPT_PIPEWAIT, at most one connection to the host). Prints
 *   requests=N ok=M connections=C seconds=S
 * (ok: answers with a 2xx status; connections: CURLINFO_NUM_CONNECTS summed)
 * and exits 1 unless every request got a 2xx answer.
 */
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct request {
    char *method, *url, *body;
} request;

typedef struct run {
    request *reqs;
    size_t n, next, ok, in_flight;
    long connections;
    int http2;
    const char *cacert;
    struct curl_slist *headers;
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* Reads REQUESTS_FILE: one "METHOD\tURL[\tBODY]" a line. */
static int read_requests(const char *path, run *r)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, room = 0;
    if (f == NULL)
        return -1;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\r\n")] = '\0';
        char *method = strtok(line, "\t"), *url = strtok(NULL, "\t"), *body = strtok(NULL, "");
        if (method == NULL || url == NULL)
            continue;
        if (r->n == room) {
            room = room ? room * 2 : 1024;
            request *grown = realloc(r->reqs, room * sizeof *grown);
            if (grown == NULL)
                break;
            r->reqs = grown;
        }
        r->reqs[r->n].method = strdup(method);
        r->reqs[r->n].url = strdup(url);
        r->reqs[r->n].body = body ? strdup(body) : NULL;
        r->n++;
    }
    free(line);
    fclose(f);
    return r->n > 0 ? 0 : -1;
}

/* The next request on an easy handle (a new one, or one that finished). */
static void start(CURLM *m, CURL *h, run *r)
{
    request *q = &r->reqs[r->next];
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)q);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, r->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    if (r->http2)
        curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    if (r->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, r->cacert);
    if (q->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(q->body));
    }
    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    r->next++;
    r->in_flight++;
    curl_multi_add_handle(m, h);
}

/* Collects finished transfers, starting the next request on each handle. */
static void reap(CURLM *m, run *r)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *h = msg->easy_handle;
        long status = 0, connects = 0;
        char *url = NULL;
        curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        r->connections += connects;
        if (msg->data.result == CURLE_OK && status >= 200 && status < 300)
            r->ok++;
        else
            fprintf(stderr, "multi_anchor: %s: %s, HTTP %ld\n", url ? url : "?",
                    curl_easy_strerror(msg->data.result), status);
        curl_multi_remove_handle(m, h);
        r->in_flight--;
        if (r->next < r->n)
            start(m, h, r);
        else
            curl_easy_cleanup(h);
    }
}

static int parse_args(int argc, char **argv, run *r, long *concurrency)
{
    if (argc < 3)
        return -1;
    *concurrency = atol(argv[2]);
    r->headers = curl_slist_append(NULL, "Accept: application/json");
    r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:");
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--http2") == 0)
            r->http2 = 1;
        else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc)
            r->cacert = argv[++i];
        else if (strcmp(argv[i], "--header") == 0 && i + 1 < argc)
            r->headers = curl_slist_append(r->headers, argv[++i]);
        else
            return -1;
    }
    return *concurrency > 0 && read_requests(argv[1], r) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    run r;
    long concurrency;
    memset(&r, 0, sizeof r);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (parse_args(argc, argv, &r, &concurrency) != 0) {
        fprintf(stderr, "usage: multi_anchor REQUESTS_FILE CONCURRENCY [--http2] [--cacert FILE] [--header LINE]...\n");
        return 2;
    }
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_PIPELINING, r.http2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, r.http2 ? 1L : concurrency);
    double t0 = now();
    for (long i = 0; i < concurrency && r.next < r.n; i++)
        start(m, curl_easy_init(), &r);
    while (r.in_flight > 0) {
        int running = 0;
        curl_multi_perform(m, &running);
        reap(m, &r);            /* may start the next requests */
        if (r.in_flight > 0)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    printf("requests=%zu ok=%zu connections=%ld seconds=%.6f\n", r.n, r.ok, r.connections, now() - t0);
    curl_multi_cleanup(m);
    curl_slist_free_all(r.headers);
    for (size_t i = 0; i < r.n; i++) {
        free(r.reqs[i].method);
        free(r.reqs[i].url);
        free(r.reqs[i].body);
    }
    free(r.reqs);
    curl_global_cleanup();
    return r.ok == r.n ? 0 : 1;
}
