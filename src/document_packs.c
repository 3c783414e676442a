/*
 * document_packs.c - client.document_packs: get a pack, and download the
 * final PDF of each of its documents into a folder.
 *
 * File names come from document names, which the server (or whoever named
 * the documents) controls: they are reduced to a safe set of characters, can
 * never leave the folder, and two documents never share a file.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "qs.h"

#define QS_NAME_MAX 100   /* bytes of a file name, before "-N.pdf" */

/* The checked arguments of get and download. */
typedef struct dp_args {
    const char *key, *dir;
    size_t dir_len;
} dp_args;

static int do_get(lua_State *L, const qs_call *call, const char *key)
{
    qs_client *c = call->c;
    int base = lua_gettop(L);
    qs_request r = { "GET", QS_AUTH_TOKEN, QS_RETRY_SAFE, call->deadline, call->client_idx, 0 };
    qs_push_url(L, c, QS_PATH_DOCUMENT_PACKS, key, NULL, 0);
    if (qs_api_call(L, c, &r, base + 1, 0) == 2)
        return qs_keep_top2(L, base);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "document_pack");
        if (lua_istable(L, -1)) {
            lua_replace(L, base + 1);
            lua_settop(L, base + 1);
            return 1;
        }
    }
    lua_settop(L, base + 1);
    qs_push_error(L, c, "decode", 200, "GET", lua_tostring(L, base + 1),
                  "the answer has no data.document_pack");
    return qs_return_error(L);
}

static int get_perform(lua_State *L, qs_call *call)
{
    const dp_args *a = call->args;
    return do_get(L, call, a->key);
}

/* document_packs:get(pack_key) --> document pack */
static int dp_get(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0 };
    lua_settop(L, 2);
    qs_resource_call(L, &call, QS_PACKS_MT, "get");
    a.key = qs_check_key(L, 2, "pack_key");
    call.args = &a;
    return qs_run(L, &call, get_perform);
}

/* mkdir -p; folders are 0755 at most (before the umask). */
static int make_dirs(char *path)
{
    for (char *p = path + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            int rc = mkdir(path, 0755);   /* not 0777: nginx workers run with umask 0 */
            *p = saved;
            if (rc != 0 && errno != EEXIST)
                return -1;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int safe_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == ' ' || ch == '(' || ch == ')';
}

/*
 * Pushes a file name for a document: safe characters only (others become
 * '_'), no leading dots or spaces (so never "." or ".." or hidden), at most
 * QS_NAME_MAX bytes, ending in ".pdf"; "-2", "-3"... when the same name
 * (ignoring case) was already given out in `used`.
 */
static void push_file_name(lua_State *L, const char *name, const char *fallback, int used)
{
    char stem[QS_NAME_MAX + 1];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < QS_NAME_MAX; p++) {
        if (n == 0 && (*p == '.' || *p == ' '))
            continue;
        stem[n++] = safe_char(*p) ? (char)*p : '_';
    }
    while (n > 0 && (stem[n - 1] == ' ' || stem[n - 1] == '.'))
        n--;
    stem[n] = '\0';
    if (n >= 4 && strcasecmp(stem + n - 4, ".pdf") == 0)
        stem[n -= 4] = '\0';
    if (n == 0 && fallback != name) {
        push_file_name(L, fallback, fallback, used);
        return;
    }
    if (n == 0)
        strcpy(stem, "document");
    for (int i = 1; ; i++) {
        if (i == 1)
            lua_pushfstring(L, "%s.pdf", stem);
        else
            lua_pushfstring(L, "%s-%d.pdf", stem, i);
        /* compare lower-cased, for case-insensitive file systems */
        size_t len;
        const char *candidate = lua_tolstring(L, -1, &len);
        char lower[QS_NAME_MAX + 32];
        for (size_t k = 0; k <= len; k++)
            lower[k] = (char)((candidate[k] >= 'A' && candidate[k] <= 'Z') ? candidate[k] + 32 : candidate[k]);
        lua_pushlstring(L, lower, len);
        lua_pushvalue(L, -1);
        lua_rawget(L, used);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
            lua_rawset(L, used);
            return;
        }
        lua_pop(L, 3);
    }
}

static int download_perform(lua_State *L, qs_call *call)
{
    const dp_args *a = call->args;
    qs_client *c = call->c;
    int ci = call->client_idx;
    size_t dir_len = a->dir_len;
    const char *dir = a->dir;

    if (do_get(L, call, a->key) == 2)
        return 2;
    int pack = lua_gettop(L);

    char *dir_copy = (char *)lua_newuserdata(L, dir_len + 1);   /* freed by the GC */
    memcpy(dir_copy, dir, dir_len + 1);
    while (dir_len > 1 && dir_copy[dir_len - 1] == '/')
        dir_copy[--dir_len] = '\0';
    if (make_dirs(dir_copy) != 0) {
        int err = errno;
        lua_pushfstring(L, "cannot create folder %s: %s", dir, strerror(err));
        qs_push_error(L, c, "io", 0, NULL, NULL, lua_tostring(L, -1));
        lua_pushinteger(L, err);
        lua_setfield(L, -2, "errno");
        return qs_return_error(L);
    }
    lua_newtable(L);
    int used = lua_gettop(L);
    lua_newtable(L);
    int result = lua_gettop(L);
    int count = 0;

    lua_getfield(L, pack, "documents");
    int docs = lua_gettop(L);
    int n = lua_istable(L, docs) ? (int)qs_rawlen(L, docs) : 0;
    for (int i = 1; i <= n; i++) {
        lua_settop(L, docs);
        lua_rawgeti(L, docs, i);
        int doc = lua_gettop(L);
        if (!lua_istable(L, doc))
            continue;
        lua_getfield(L, doc, "serve_pdf_url");
        lua_getfield(L, doc, "key");
        lua_getfield(L, doc, "document_name");
        const char *url = lua_tostring(L, doc + 1);
        if (lua_type(L, doc + 1) != LUA_TSTRING)
            continue;   /* nothing to download for this one */
        const char *doc_key = lua_type(L, doc + 2) == LUA_TSTRING ? lua_tostring(L, doc + 2) : "document";
        const char *name = lua_type(L, doc + 3) == LUA_TSTRING ? lua_tostring(L, doc + 3) : doc_key;
        push_file_name(L, name, doc_key, used);
        int file = lua_gettop(L);
        lua_pushfstring(L, "%s/%s", dir_copy, lua_tostring(L, file));
        int path = lua_gettop(L);
        if (!qs_is_http_url(url)) {
            qs_push_error(L, c, "decode", 200, NULL, NULL, "a document's serve_pdf_url is not an http(s) URL");
            lua_pushvalue(L, result);
            lua_setfield(L, -2, "downloaded");
            return qs_return_error(L);
        }
        if (qs_download(L, c, ci, url, lua_tostring(L, path), qs_now() + c->download_timeout) == 2) {
            lua_pushvalue(L, result);
            lua_setfield(L, -2, "downloaded");   /* what is already on disk */
            return 2;
        }
        int bytes = lua_gettop(L);
        lua_createtable(L, 0, 5);
        lua_pushvalue(L, doc + 2);
        lua_setfield(L, -2, "key");
        lua_pushvalue(L, doc + 3);
        lua_setfield(L, -2, "name");
        lua_pushvalue(L, file);
        lua_setfield(L, -2, "file");
        lua_pushvalue(L, path);
        lua_setfield(L, -2, "path");
        lua_pushvalue(L, bytes);
        lua_setfield(L, -2, "bytes");
        lua_rawseti(L, result, ++count);
    }
    lua_pushvalue(L, result);
    return 1;
}

/* document_packs:download(pack_key, dir) --> { {key, name, path, bytes}, ... } */
static int dp_download(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0 };
    lua_settop(L, 3);
    qs_resource_call(L, &call, QS_PACKS_MT, "download");
    a.key = qs_check_key(L, 2, "pack_key");
    qs_check_key(L, 3, "dir");
    a.dir = lua_tolstring(L, 3, &a.dir_len);
    call.args = &a;
    return qs_run(L, &call, download_perform);
}

static int dp_tostring(lua_State *L)
{
    lua_pushfstring(L, "quicklysign.document_packs %p", lua_touserdata(L, 1));
    return 1;
}

void qs_document_packs_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "get", dp_get },
        { "download", dp_download },
        { NULL, NULL }
    };
    luaL_newmetatable(L, QS_PACKS_MT);
    lua_newtable(L);
    qs_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, dp_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
