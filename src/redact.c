/*
 * redact.c - no client_secret, api_key or access token ever reaches an
 * error's text, last_response or on_warning, whatever the server echoed
 * back: query parameters by name, and the secrets themselves wherever they
 * appear, raw, percent-encoded or JSON-escaped.
 */
#include <string.h>

#include "qs.h"

#define REDACTED "REDACTED"
#define QS_MIN_SCRUB 4   /* shorter secrets would garble every message */

static int hex_value(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * The end (in s) of the secret's characters from secret[k] on, matched from
 * s[j], or 0. Each character may come raw, percent-encoded (%2B or %2b, '+'
 * for a space) or JSON-escaped ("\/", "\"", "\\"). Where an escape and a
 * raw character both fit (a literal '%' as "%25", a '\\' as "\\\\") both are
 * tried, within *budget.
 */
static size_t match_from(const char *s, size_t n, size_t j, const char *secret, size_t slen,
                         size_t k, int *budget)
{
    for (; k < slen; k++) {
        unsigned char want = (unsigned char)secret[k], ch;
        size_t step = 0;   /* bytes of an escape that decodes to want */
        if (j >= n)
            return 0;
        ch = (unsigned char)s[j];
        if (ch == '%' && j + 2 < n && hex_value((unsigned char)s[j + 1]) >= 0 &&
            hex_value((unsigned char)s[j + 2]) >= 0 &&
            hex_value((unsigned char)s[j + 1]) * 16 + hex_value((unsigned char)s[j + 2]) == want)
            step = 3;
        else if (ch == '\\' && j + 1 < n && (unsigned char)s[j + 1] == want &&
                 (want == '/' || want == '"' || want == '\\'))
            step = 2;
        if (step > 0 && ch == want && --*budget > 0) {   /* escaped, or raw? */
            size_t end = match_from(s, n, j + step, secret, slen, k + 1, budget);
            if (end > 0)
                return end;
            step = 0;
        }
        if (step > 0)
            j += step;
        else if (ch == want || (ch == '+' && want == ' '))
            j++;
        else
            return 0;
    }
    return j;
}

/*
 * Length of the secret's occurrence at the start of s[0..n), 0 when there is
 * none. It is found as the client sent it or as a server may echo it back:
 * raw, percent-encoded, JSON-escaped, or any mix of these (match_from).
 */
static size_t secret_at(const char *s, size_t n, const char *secret, size_t slen)
{
    if (n >= slen && memcmp(s, secret, slen) == 0)
        return slen;
    int budget = 64;
    return match_from(s, n, 0, secret, slen, 0, &budget);
}

/* Replaces every occurrence of secret (in any form secret_at knows) in
   the string on top. */
static void scrub(lua_State *L, const char *secret)
{
    size_t len, slen;
    const char *s = lua_tolstring(L, -1, &len);
    if (secret == NULL || (slen = strlen(secret)) < QS_MIN_SCRUB)
        return;
    size_t i = 0, hit = 0;
    while (i < len && (hit = secret_at(s + i, len - i, secret, slen)) == 0)
        i++;
    if (hit == 0)
        return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, i);
    while (i < len) {
        if (hit == 0)
            hit = secret_at(s + i, len - i, secret, slen);
        if (hit > 0) {
            luaL_addstring(&b, "[" REDACTED "]");
            i += hit;
            hit = 0;
        } else {
            luaL_addchar(&b, s[i]);
            i++;
        }
    }
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

static int sensitive_param(const char *p, size_t n)
{
    static const char *const names[] = { "client_secret", "api_key", "access_token", NULL };
    for (int i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
            return 1;
    return 0;
}

/* Replaces the values of sensitive query parameters in the string on top. */
static void redact_query(lua_State *L)
{
    const char *s = lua_tostring(L, -1);
    const char *q = strchr(s, '?');
    if (q == NULL)
        return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, (size_t)(q - s) + 1);
    for (const char *p = q + 1; *p != '\0';) {
        size_t n = strcspn(p, "&#");
        size_t name_len = strcspn(p, "=&#");
        if (name_len < n && sensitive_param(p, name_len)) {
            luaL_addlstring(&b, p, name_len + 1);
            luaL_addstring(&b, REDACTED);
        } else {
            luaL_addlstring(&b, p, n);
        }
        p += n;
        if (*p != '\0') {
            luaL_addchar(&b, *p);
            if (*p++ == '#') {
                luaL_addstring(&b, p);
                break;
            }
        }
    }
    luaL_pushresult(&b);
    lua_remove(L, -2);
}

/* Pushes s with every secret the client knows removed. */
void qs_push_redacted(lua_State *L, qs_client *c, const char *s)
{
    lua_pushstring(L, s);
    redact_query(L);
    if (c != NULL) {
        scrub(L, c->client_secret);
        scrub(L, c->api_key);
        scrub(L, c->access_token);
    }
}

/* Pushes a copy of the table at idx whose strings (keys and values) are
   redacted, down to depth levels; deeper tables are left out. */
void qs_push_redacted_copy(lua_State *L, qs_client *c, int idx, int depth)
{
    lua_newtable(L);
    int copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int value = lua_gettop(L);
        if (lua_type(L, value - 1) == LUA_TSTRING)
            qs_push_redacted(L, c, lua_tostring(L, value - 1));
        else
            lua_pushvalue(L, value - 1);
        if (lua_type(L, value) == LUA_TSTRING)
            qs_push_redacted(L, c, lua_tostring(L, value));
        else if (lua_type(L, value) == LUA_TTABLE && depth > 1)
            qs_push_redacted_copy(L, c, value, depth - 1);
        else if (lua_type(L, value) == LUA_TTABLE)
            lua_pushnil(L);
        else
            lua_pushvalue(L, value);
        lua_rawset(L, copy);
        lua_settop(L, value - 1);
    }
}
