/*
 * document_packs.c - client.document_packs: get a pack, and download the
 * final PDF of each of its documents into a folder.
 *
 * File names come from document names, which the server (or whoever named
 * the documents) controls: fs.c keeps their letters (UTF-8) and a safe set
 * of ASCII; they can never leave the folder, and two documents never share
 * a file. A pack whose documents are no list, or one of which has no
 * serve_pdf_url, is an error before anything is downloaded.
 */
#include <errno.h>
#include <string.h>

#include "qs.h"

/* The checked arguments of get and download. */
typedef struct dp_args {
    const char *key, *dir;
    size_t dir_len;
} dp_args;

/* GET /document_packs/<key> with r: pushes its URL, then the pack (returns
   1), or leaves nil, err at base + 1 (returns 2). */
static int get_pack(lua_State *L, qs_request *r, const qs_call *call, const char *key)
{
    int base = lua_gettop(L);
    qs_push_url(L, call->c, QS_PATH_DOCUMENT_PACKS, key, NULL, 0);
    qs_request_init(r, call, "GET", QS_TOKEN_REQUIRED, base + 1);
    if (qs_attempt(L, r) == 2)
        return qs_keep_top2(L, base);
    return qs_api_field(L, r, base + 1, "document_pack") == 2 ? qs_keep_top2(L, base) : 1;
}

static int get_perform(lua_State *L, qs_call *call)
{
    const dp_args *a = call->args;
    qs_request r;
    return get_pack(L, &r, call, a->key);
}

/* Pushes the folder (dir without trailing slashes) after making it, or
   leaves nil, err at base + 1 and returns 2. */
static int make_folder(lua_State *L, const qs_call *call, const dp_args *a, int base)
{
    size_t len = a->dir_len;
    while (len > 1 && a->dir[len - 1] == '/')
        len--;
    lua_pushlstring(L, a->dir, len);
    char *copy = (char *)lua_newuserdata(L, len + 1);   /* make_dirs writes into it; freed by the GC */
    memcpy(copy, a->dir, len);
    copy[len] = '\0';
    if (qs_make_dirs(copy) != 0) {
        qs_push_io_error(L, call->c, QS_CANNOT_CREATE_FOLDER, a->dir, errno);
        return qs_fail(L, base);
    }
    lua_pop(L, 1);
    return 1;
}

/* Pushes {key, name, file, path, bytes} of a document saved at path (stack
   indices of the document's key and name, the file name, the path, bytes). */
static void push_entry(lua_State *L, int key, int name, int file, int path, int bytes)
{
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, key);
    lua_setfield(L, -2, "key");
    lua_pushvalue(L, name);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, file);
    lua_setfield(L, -2, "file");
    lua_pushvalue(L, path);
    lua_setfield(L, -2, "path");
    lua_pushvalue(L, bytes);
    lua_setfield(L, -2, "bytes");
}

/*
 * Checks the pack's documents (at docs) before anything is downloaded: a
 * list, each one a table with an http(s) serve_pdf_url. Returns 1, or 0
 * with an error pushed: a pack is never downloaded short of a document.
 */
static int check_documents(lua_State *L, const qs_request *pack, int docs)
{
    if (!qs_is_array(L, docs)) {
        lua_pushfstring(L, "the pack's documents is not a list (%s)",
                        lua_isnil(L, docs) ? "there is none" : luaL_typename(L, docs));
        qs_push_answer_error(L, pack, QS_MISSING_DATA, lua_tostring(L, -1));
        return 0;
    }
    int n = (int)qs_rawlen(L, docs);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, docs, i);
        if (lua_istable(L, -1))
            lua_getfield(L, -1, "serve_pdf_url");
        else
            lua_pushnil(L);
        const char *url = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (url == NULL || !qs_is_http_url(url)) {
            lua_pushfstring(L, url == NULL ? "document %d of the pack has no serve_pdf_url"
                                           : "document %d's serve_pdf_url is not an http(s) URL", i);
            qs_push_answer_error(L, pack, QS_BAD_DOCUMENT_URL, lua_tostring(L, -1));
            if (lua_istable(L, -4)) {
                lua_getfield(L, -4, "key");
                lua_setfield(L, -2, "document_key");
            }
            return 0;
        }
        lua_pop(L, 2);
    }
    return 1;
}

/*
 * Downloads the document on top (checked) into folder, naming its file from
 * `used`: pushes its entry (returns 1) or an error (returns 2). Each document
 * has a deadline of its own, download_timeout from its start: a pack of many
 * large documents is not cut short by a deadline meant for one.
 */
static int download_document(lua_State *L, const qs_call *call, const char *folder, int used)
{
    qs_client *c = call->c;
    int doc = lua_gettop(L);
    lua_getfield(L, doc, "serve_pdf_url");
    lua_getfield(L, doc, "key");
    lua_getfield(L, doc, "document_name");
    const char *doc_key = lua_type(L, doc + 2) == LUA_TSTRING ? lua_tostring(L, doc + 2) : "document";
    const char *name = lua_type(L, doc + 3) == LUA_TSTRING ? lua_tostring(L, doc + 3) : doc_key;
    qs_push_file_name(L, name, doc_key, used);
    lua_pushfstring(L, "%s/%s", folder, lua_tostring(L, doc + 4));
    if (qs_download(L, call, lua_tostring(L, doc + 1), lua_tostring(L, doc + 5),
                    qs_now() + c->download_timeout) == 2)
        return 2;
    push_entry(L, doc + 2, doc + 3, doc + 4, doc + 5, doc + 6);
    return 1;
}

/* document_packs:download(pack_key, dir) --> { {key, name, file, path, bytes}, ... } */
static int download_perform(lua_State *L, qs_call *call)
{
    const dp_args *a = call->args;
    int base = lua_gettop(L);
    qs_request pack;
    if (get_pack(L, &pack, call, a->key) == 2)
        return 2;
    int docs = base + 3;
    lua_getfield(L, base + 2, "documents");
    if (!check_documents(L, &pack, docs))
        return qs_fail(L, base);
    if (make_folder(L, call, a, base) == 2)
        return 2;
    int folder = base + 4, used = base + 5, result = base + 6, count = 0;
    lua_newtable(L);
    lua_newtable(L);
    int n = (int)qs_rawlen(L, docs);
    for (int i = 1; i <= n; i++) {
        lua_settop(L, result);
        lua_rawgeti(L, docs, i);
        if (download_document(L, call, lua_tostring(L, folder), used) == 2) {
            lua_pushvalue(L, result);
            lua_setfield(L, -2, "downloaded");   /* what is already on disk */
            return qs_fail(L, base);
        }
        lua_rawseti(L, result, ++count);
    }
    lua_settop(L, result);
    return 1;
}

/* document_packs:get(pack_key) --> document pack */
static int dp_get(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0 };
    lua_settop(L, 2);
    qs_resource_call(L, &call, &qs_packs_class, "get");
    a.key = qs_check_key(L, 2, "pack_key");
    call.args = &a;
    return qs_run(L, &call, get_perform);
}

static int dp_download(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0 };
    lua_settop(L, 3);
    qs_resource_call(L, &call, &qs_packs_class, "download");
    a.key = qs_check_key(L, 2, "pack_key");
    qs_check_key(L, 3, "dir");
    a.dir = lua_tolstring(L, 3, &a.dir_len);
    call.args = &a;
    return qs_run(L, &call, download_perform);
}

static const luaL_Reg dp_methods[] = {
    { "get", dp_get },
    { "download", dp_download },
    { NULL, NULL }
};

const qs_class qs_packs_class = { QS_PACKS_MT, "document_packs", dp_methods, NULL, NULL, NULL };
