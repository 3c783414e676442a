/*
 * retry.c - which failures are transient, and how long to wait before the
 * next attempt (jittered exponential backoff, or the server's Retry-After).
 * Never calls Lua.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>

#include "qs.h"

#define QS_BACKOFF_CAP 8.0   /* seconds: the longest wait we choose ourselves */

double qs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void qs_sleep(double seconds)
{
    struct timespec ts, rest;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rest) != 0 && errno == EINTR)
        ts = rest;
}

/* The reason (and so the kind) of a failed libcurl transfer. */
qs_reason qs_curl_reason(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return QS_RESOLVE_FAILED;
    case CURLE_COULDNT_CONNECT:
        return QS_CONNECT_FAILED;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:
        return QS_CONNECTION_LOST;
    case CURLE_OPERATION_TIMEDOUT:
        return QS_TIMED_OUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return QS_UNTRUSTED_CERTIFICATE;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_USE_SSL_FAILED:
        return QS_TLS_FAILED;
    default:
        return QS_NETWORK_FAILED;
    }
}

int qs_curl_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:   /* a reused connection died (transfer.c): again, if it may be */
        return 1;
    default:
        return 0;
    }
}

int qs_status_retryable(long status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

/* xorshift64*: jitter needs spread, not secrecy. */
static double next_unit(qs_client *c)
{
    unsigned long long x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/*
 * Before another attempt of a request that failed transiently: when a retry
 * is left and its wait ends before the deadline, counts the attempt and
 * returns when it may go (monotonic seconds); else returns -1 (the failure
 * is final).
 */
double qs_retry_at(qs_client *c, int *attempt, double retry_after, double deadline)
{
    if (*attempt >= c->max_retries)
        return -1;
    double delay = qs_backoff(c, *attempt, retry_after);
    double at = qs_now() + delay;
    if (delay < 0 || at >= deadline)
        return -1;
    (*attempt)++;
    return at;
}

/*
 * Seconds to wait before attempt number `attempt + 1` (attempt counts from
 * 0), or -1 when the server asks for a longer wait than max_retry_delay.
 */
double qs_backoff(qs_client *c, int attempt, double retry_after)
{
    if (retry_after >= 0)
        return retry_after <= c->max_retry_delay ? retry_after : -1;
    double d = c->retry_base_delay;
    for (int i = 0; i < attempt && d < QS_BACKOFF_CAP; i++)
        d *= 2;
    if (d > QS_BACKOFF_CAP)
        d = QS_BACKOFF_CAP;
    if (d > c->max_retry_delay)
        d = c->max_retry_delay;
    return d / 2 + next_unit(c) * d / 2;   /* "equal jitter" */
}
