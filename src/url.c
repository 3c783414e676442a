/*
 * url.c - building requests' URLs: percent-encoding of keys and query values,
 * the credentials of the calls that carry them (in the query string, or in
 * the JSON body), origin comparison for the redirect and pagination
 * policies, and relative references resolved (RFC 3986) by libcurl's own
 * URL parser.
 */
#include <string.h>
#include <strings.h>

#include "qs.h"

static int unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static void add_escaped(luaL_Buffer *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unreserved(ch)) {
            luaL_addchar(b, (char)ch);
        } else {
            luaL_addchar(b, '%');
            luaL_addchar(b, hex[ch >> 4]);
            luaL_addchar(b, hex[ch & 15]);
        }
    }
}

static void add_param(luaL_Buffer *b, int *first, const char *name, const char *value)
{
    luaL_addchar(b, *first ? '?' : '&');
    *first = 0;
    luaL_addstring(b, name);
    luaL_addchar(b, '=');
    add_escaped(b, value, strlen(value));
}

static void add_client_params(luaL_Buffer *b, qs_client *c, int *first, int with_credentials)
{
    if (with_credentials) {
        add_param(b, first, "client_id", c->client_id);
        add_param(b, first, "client_secret", c->client_secret);
    }
    if (c->always_200)
        add_param(b, first, QS_ALWAYS_200_PARAM, "true");
}

/*
 * Pushes base_url .. path [.. "/" .. escaped key] [?query pairs] with the
 * client's credentials when asked. `query` is {name, value, ..., NULL};
 * a NULL value skips its pair.
 */
void qs_push_url(lua_State *L, qs_client *c, const char *path, const char *key,
                 const char *const *query, int with_credentials)
{
    luaL_Buffer b;
    int first = 1;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, c->base_url);
    luaL_addstring(&b, path);
    if (key != NULL) {
        luaL_addchar(&b, '/');
        add_escaped(&b, key, strlen(key));
    }
    for (; query != NULL && query[0] != NULL; query += 2)
        if (query[1] != NULL)
            add_param(&b, &first, query[0], query[1]);
    add_client_params(&b, c, &first, with_credentials);
    luaL_pushresult(&b);
}

/* Pushes the table of a JSON body that carries the client's credentials,
   with room for `more` fields of the call's own. */
void qs_push_credentials(lua_State *L, qs_client *c, int more)
{
    lua_createtable(L, 0, 2 + more);
    lua_pushstring(L, c->client_id);
    lua_setfield(L, -2, "client_id");
    lua_pushstring(L, c->client_secret);
    lua_setfield(L, -2, "client_secret");
}

static int is_client_param(const char *p, size_t n)
{
    static const char *const names[] = { "client_id", "client_secret", QS_ALWAYS_200_PARAM, NULL };
    for (int i = 0; names[i] != NULL; i++)
        if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
            return 1;
    return 0;
}

/*
 * For a pagination.next URL: keeps its query but our own credentials (none
 * when with_credentials is 0), so that a server that leaves them out (or
 * echoes stale ones) still works. The fragment is dropped.
 */
void qs_push_with_credentials(lua_State *L, qs_client *c, const char *url, int with_credentials)
{
    luaL_Buffer b;
    int first = 1;
    size_t stem = strcspn(url, "?#");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, url, stem);
    if (url[stem] == '?') {
        const char *p = url + stem + 1;
        while (*p != '\0' && *p != '#') {
            size_t n = strcspn(p, "&#");
            size_t name_len = strcspn(p, "=&#");
            if (n > 0 && !is_client_param(p, name_len)) {
                luaL_addchar(&b, first ? '?' : '&');
                first = 0;
                luaL_addlstring(&b, p, n);
            }
            p += n;
            if (*p == '&')
                p++;
        }
    }
    if (with_credentials)
        add_client_params(&b, c, &first, 1);
    luaL_pushresult(&b);
}

/* Pushes the reference ref resolved against the absolute URL base (RFC 3986,
   section 5, as libcurl's URL API does it) and returns 1; pushes nil and
   returns 0 when either cannot be parsed. */
int qs_push_resolved(lua_State *L, const char *base, const char *ref)
{
    CURLU *u = curl_url();
    char *out = NULL;
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
             curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK;
    curl_url_cleanup(u);
    if (ok)
        lua_pushstring(L, out);
    else
        lua_pushnil(L);
    curl_free(out);
    return ok;
}

int qs_is_http_url(const char *s)
{
    return (strncasecmp(s, "http://", 7) == 0 && s[7] != '\0') ||
           (strncasecmp(s, "https://", 8) == 0 && s[8] != '\0');
}

/* scheme://host[:port] of an http(s) URL; 0 when it is not one we accept. */
typedef struct origin {
    const char *scheme, *host;
    size_t scheme_len, host_len;
    long port;
} origin;

static int parse_origin(const char *url, origin *o)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return 0;
    o->scheme = url;
    o->scheme_len = (size_t)(sep - url);
    if (o->scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        o->port = 80;
    else if (o->scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
        o->port = 443;
    else
        return 0;
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    if (memchr(auth, '@', auth_len) != NULL)
        return 0;   /* userinfo: never treated as the same origin */
    const char *colon = NULL;
    if (auth_len > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (close == NULL)
            return 0;
        if ((size_t)(close - auth) + 1 < auth_len && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memchr(auth, ':', auth_len);
    }
    o->host = auth;
    o->host_len = colon != NULL ? (size_t)(colon - auth) : auth_len;
    if (colon != NULL && (size_t)(colon - auth) + 1 < auth_len) {
        long port = 0;
        for (const char *p = colon + 1; p < auth + auth_len; p++) {
            if (*p < '0' || *p > '9' || port > 65535)
                return 0;
            port = port * 10 + (*p - '0');
        }
        o->port = port;
    }
    return o->host_len > 0;
}

int qs_same_origin(const char *a, const char *b)
{
    origin x, y;
    return parse_origin(a, &x) && parse_origin(b, &y) &&
           x.scheme_len == y.scheme_len && strncasecmp(x.scheme, y.scheme, x.scheme_len) == 0 &&
           x.host_len == y.host_len && strncasecmp(x.host, y.host, x.host_len) == 0 &&
           x.port == y.port;
}
