/*
 * retry_after.c - transfer.c's header callback and Retry-After parsing
 * (delta-seconds or an HTTP-date, from the server), the backoff that uses
 * it (retry.c), and the capped body buffer.
 *
 * Input: byte 0 picks max_retry_delay and the attempt; the rest is one
 * header line as libcurl hands it over (the fuzzer also gets a
 * "Retry-After: " prefix put in front, every other input).
 *
 * Checks: the callback takes the whole line; a parsed Retry-After is -1
 * (absent) or a number >= 0, never NaN; qs_backoff answers -1 or a delay
 * within [0, max_retry_delay]; the buffer never holds more than its limit
 * and holds exactly what was appended.
 */
#include <math.h>

#include "../src/transfer.c"
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned knobs = fuzz_byte(&data, &size);
    size_t len = size + 16;
    char *line = malloc(len);
    if (line == NULL)
        abort();
    size_t n = 0;
    if (knobs & 1) {
        memcpy(line, "Retry-After: ", 13);
        n = 13;
    }
    memcpy(line + n, data, size);
    n += size;

    qs_client c;
    memset(&c, 0, sizeof c);
    c.max_retry_delay = (double)(knobs >> 1) * 30.0;   /* 0 .. 3810, the option's range */
    c.retry_base_delay = 0.25;
    c.rng = 0x9E3779B97F4A7C15ULL ^ size;
    qs_transfer t;
    memset(&t, 0, sizeof t);
    t.retry_after = -2;   /* untouched */
    qs_slot slot;   /* the exchange's slot, which the header callback is handed */
    memset(&slot, 0, sizeof slot);
    slot.t = &t;

    FUZZ_CHECK(on_header(line, 1, n, &slot) == n, "header callback refused %zu bytes", n);
    double r = t.retry_after;
    FUZZ_CHECK(r == -2 || r == -1 || r >= 0, "retry_after %g", r);
    if (r != -2) {
        double d = qs_backoff(&c, (int)(knobs % 11), r);
        FUZZ_CHECK(d == -1 || (d >= 0 && d <= c.max_retry_delay), "backoff %g (retry_after %g, max %g)",
                   d, r, c.max_retry_delay);
    }
    double d = qs_backoff(&c, (int)(knobs % 11), -1);
    FUZZ_CHECK(d >= 0 && d <= c.max_retry_delay && d <= 8.0, "own backoff %g", d);

    /* The body buffer: the line in chunks, against a limit from the knobs. */
    qs_buffer b;
    memset(&b, 0, sizeof b);
    qs_buffer_reset(&b, (knobs * 7) % (n + 2));
    size_t kept = 0;
    for (size_t off = 0, step = 1 + knobs % 13; off < n; off += step) {
        size_t chunk = n - off < step ? n - off : step;
        if (qs_buffer_append(&b, line + off, chunk)) {
            FUZZ_CHECK(b.len == kept + chunk && memcmp(b.data + kept, line + off, chunk) == 0 &&
                       b.data[b.len] == '\0', "append lost bytes");
            kept += chunk;
        } else {
            FUZZ_CHECK(b.overflow && b.len == kept, "refused append without overflow");
        }
        FUZZ_CHECK(b.len <= b.limit, "buffer past its limit: %zu > %zu", b.len, b.limit);
    }
    qs_buffer_free(&b);
    free(line);
    return 0;
}
