/*
 * common.h - what the harnesses share: one Lua state per process (with the
 * standard libraries, the private cjson instance and the error metatable),
 * and small helpers to cut the fuzzer's input into pieces.
 *
 * A harness #includes the src/ C file whose static functions it drives
 * (before this header), and is linked with the objects of the others: the
 * production code needs no fuzzing hooks.
 */
#ifndef QS_FUZZ_COMMON_H
#define QS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../src/qs.h"

#define FUZZ_CHECK(cond, ...)                                       \
    do {                                                            \
        if (!(cond)) {                                              \
            fprintf(stderr, "fuzz check failed: %s\n  ", #cond);    \
            fprintf(stderr, __VA_ARGS__);                           \
            fputc('\n', stderr);                                    \
            abort();                                                \
        }                                                           \
    } while (0)

static inline lua_State *fuzz_state(void)
{
    static lua_State *L;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        qs_json_init(L);
        qs_error_init(L);
        lua_settop(L, 0);
    }
    return L;
}

/* Takes up to n bytes from the front of the input, as a NUL-terminated copy
   (any NUL inside ends the C string, as it would in the library). */
static inline char *fuzz_take(const uint8_t **data, size_t *size, size_t n)
{
    if (n > *size)
        n = *size;
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memcpy(s, *data, n);
    s[n] = '\0';
    *data += n;
    *size -= n;
    return s;
}

/* The input up to the next '\n' (consumed), or all that is left. */
static inline char *fuzz_line(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr(*data, '\n', *size);
    size_t n = nl != NULL ? (size_t)(nl - *data) : *size;
    char *s = fuzz_take(data, size, n);
    if (nl != NULL) {
        (*data)++;
        (*size)--;
    }
    return s;
}

static inline unsigned fuzz_byte(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    unsigned b = **data;
    (*data)++;
    (*size)--;
    return b;
}

/* The forms in which a client sends a secret, or a server echoes it. */
enum { FORM_RAW, FORM_PCT_UPPER, FORM_PCT_LOWER, FORM_JSON, FORM_PCT_MIXED, FORM_COUNT };

static inline int fuzz_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Appends secret in the given form to out (which has room: 3 bytes a char). */
static inline size_t fuzz_form(char *out, const char *secret, int form)
{
    static const char upper[] = "0123456789ABCDEF", lower[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; secret[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)secret[i];
        int encode = form == FORM_PCT_UPPER || form == FORM_PCT_LOWER ||
                     (form == FORM_PCT_MIXED && i % 2 == 1);
        if (encode && !fuzz_unreserved(ch)) {
            const char *hex = form == FORM_PCT_LOWER ? lower : upper;
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        } else if (form == FORM_JSON && (ch == '/' || ch == '"' || ch == '\\')) {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
    return n;
}

static inline const char *fuzz_memmem(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

/* Aborts when text holds secret (at least 4 bytes) raw, or fully encoded as
   the client sends it in a query (%XX in either case) or in JSON. */
static inline void fuzz_assert_no_secret(const char *text, size_t len, const char *secret, const char *where)
{
    if (secret == NULL || strlen(secret) < 4)
        return;
    char *form = malloc(strlen(secret) * 3 + 1);
    if (form == NULL)
        abort();
    for (int f = FORM_RAW; f <= FORM_JSON; f++) {
        size_t n = fuzz_form(form, secret, f);
        FUZZ_CHECK(fuzz_memmem(text, len, form, n) == NULL, "%s shows secret '%s' (form %d): '%.*s'",
                   where, secret, f, (int)(len > 400 ? 400 : len), text);
    }
    free(form);
}

#endif
