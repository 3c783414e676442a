/*
 * origin.c - url.c: parse_origin / qs_same_origin (the redirect and
 * pagination policies), qs_push_with_credentials (a server's
 * pagination.next with our credentials) and qs_push_url (escaping).
 *
 * Input: URL a, '\n', URL b (also used as a key for qs_push_url).
 *
 * Checks:
 *  - same_origin is symmetric, and reflexive for what parse_origin accepts;
 *  - whenever we call two URLs the same origin and libcurl's own URL parser
 *    accepts both, libcurl agrees on scheme, host and port: a "same origin"
 *    that curl would connect elsewhere for would send the access token or
 *    the client_secret to another server;
 *  - a URL of the API's origin resolves in libcurl to the API's host/port;
 *  - qs_push_with_credentials keeps a's scheme://host:port/path, drops any
 *    fragment, and carries exactly one client_id and one client_secret,
 *    ours (none at all when asked for a page's position);
 *  - qs_push_url's escaped key decodes back to the key.
 */
#include <strings.h>

#include "../src/url.c"
#include "common.h"

#define BASE_URL "http://127.0.0.1:8089/v1"

typedef struct curl_origin {
    char *scheme, *host, *port;
} curl_origin;

static int curl_parse(const char *url, curl_origin *o)
{
    CURLU *u = curl_url();
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &o->scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &o->host, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PORT, &o->port, CURLU_DEFAULT_PORT) == CURLUE_OK;
    curl_url_cleanup(u);
    return ok;
}

static void curl_origin_free(curl_origin *o)
{
    curl_free(o->scheme);
    curl_free(o->host);
    curl_free(o->port);
    memset(o, 0, sizeof *o);
}

static void check_agrees_with_curl(const char *a, const char *b)
{
    curl_origin x = { 0 }, y = { 0 };
    if (curl_parse(a, &x) && curl_parse(b, &y)) {
        FUZZ_CHECK(strcasecmp(x.scheme, y.scheme) == 0 && strcasecmp(x.host, y.host) == 0 &&
                   strcmp(x.port, y.port) == 0,
                   "same origin for us, not for curl: '%s' (%s %s %s) vs '%s' (%s %s %s)",
                   a, x.scheme, x.host, x.port, b, y.scheme, y.host, y.port);
    }
    curl_origin_free(&x);
    curl_origin_free(&y);
}

static int count_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    int count = 0;
    size_t n = strlen(name);
    for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=')
            count++;
    return count;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    char *a = fuzz_line(&data, &size);
    char *b = fuzz_line(&data, &size);

    origin oa, ob;
    int pa = parse_origin(a, &oa), pb = parse_origin(b, &ob);
    int same = qs_same_origin(a, b);
    FUZZ_CHECK(same == qs_same_origin(b, a), "not symmetric: '%s' '%s'", a, b);
    FUZZ_CHECK(qs_same_origin(a, a) == pa, "not reflexive: '%s'", a);
    FUZZ_CHECK(!same || (pa && pb), "same without parsing: '%s' '%s'", a, b);
    if (same)
        check_agrees_with_curl(a, b);
    if (qs_same_origin(a, BASE_URL)) {
        check_agrees_with_curl(a, BASE_URL);
        FUZZ_CHECK(qs_is_http_url(a), "same as the API but not http(s): '%s'", a);
    }

    qs_client c;
    memset(&c, 0, sizeof c);
    c.base_url = BASE_URL;
    c.client_id = "our_id";
    c.client_secret = "our+secret/x";
    c.always_200 = size > 0 && (data[0] & 1);
    int top = lua_gettop(L);

    if (qs_is_http_url(a)) {
        qs_push_with_credentials(L, &c, a, 0);
        const char *bare = lua_tostring(L, -1);
        FUZZ_CHECK(count_param(bare, "client_secret") == 0 && count_param(bare, "client_id") == 0,
                   "credentials left in a position: '%s' -> '%s'", a, bare);
        lua_pop(L, 1);
        qs_push_with_credentials(L, &c, a, 1);
        const char *out = lua_tostring(L, -1);
        size_t stem = strcspn(a, "?#");
        FUZZ_CHECK(strncmp(out, a, stem) == 0, "stem changed: '%s' -> '%s'", a, out);
        FUZZ_CHECK(strchr(out, '#') == NULL, "fragment kept: '%s' -> '%s'", a, out);
        FUZZ_CHECK(count_param(out, "client_secret") == 1 && count_param(out, "client_id") == 1,
                   "credentials not exactly once: '%s' -> '%s'", a, out);
        FUZZ_CHECK(strstr(out, "client_secret=our%2Bsecret%2Fx") != NULL, "not our secret: '%s'", out);
        if (pa)
            FUZZ_CHECK(qs_same_origin(out, a), "origin changed: '%s' -> '%s'", a, out);
        lua_settop(L, top);
    }

    const char *query[] = { "entity_key", b, "cursor", a, NULL };
    qs_push_url(L, &c, "/webhooks", b[0] != '\0' ? b : NULL, query, 1);
    const char *url = lua_tostring(L, -1);
    FUZZ_CHECK(strncmp(url, BASE_URL "/webhooks", strlen(BASE_URL "/webhooks")) == 0, "base lost: '%s'", url);
    FUZZ_CHECK(qs_same_origin(url, BASE_URL), "built URL leaves the origin: '%s'", url);
    FUZZ_CHECK(count_param(url, "client_secret") == 1, "credentials not exactly once: '%s'", url);
    if (b[0] != '\0') {   /* the key's segment decodes back to the key */
        const char *p = url + strlen(BASE_URL "/webhooks/");
        size_t k = 0;
        for (; *p != '\0' && *p != '?'; k++) {
            char ch;
            if (*p == '%') {
                FUZZ_CHECK(hexval(p[1]) >= 0 && hexval(p[2]) >= 0, "bad escape in '%s'", url);
                ch = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                p += 3;
            } else {
                FUZZ_CHECK(fuzz_unreserved((unsigned char)*p), "unescaped '%c' in '%s'", *p, url);
                ch = *p++;
            }
            FUZZ_CHECK(b[k] == ch, "key does not round-trip: '%s' -> '%s'", b, url);
        }
        FUZZ_CHECK(b[k] == '\0', "key cut short: '%s' -> '%s'", b, url);
    }
    lua_settop(L, top);

    free(a);
    free(b);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
