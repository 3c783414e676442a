/*
 * buffer.c - bytes: the growable buffer with a hard limit that answer bodies
 * go to, and string slots whose old value is wiped before it is freed (the
 * secrets must not linger in freed memory). Never calls Lua or libcurl.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "qs.h"

void qs_buffer_reset(qs_buffer *b, size_t limit)
{
    b->len = 0;
    b->limit = limit;
    b->overflow = 0;
}

void qs_buffer_free(qs_buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Appends n bytes (kept NUL-terminated); 0 when they would pass the limit
   (overflow is set) or memory ran out. */
int qs_buffer_append(qs_buffer *b, const char *p, size_t n)
{
    if (n > b->limit - b->len) {
        b->overflow = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL)
            return 0;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 1;
}

/* Sets a string slot to a copy of value (or to NULL), wiping the old one. */
void qs_str_replace(char **slot, const char *value)
{
    if (*slot != NULL) {
        volatile char *p = *slot;
        while (*p)
            *p++ = '\0';
        free(*slot);
        *slot = NULL;
    }
    if (value != NULL)
        *slot = strdup(value);
}
