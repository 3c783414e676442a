/*
 * document_packs.c - client.document_packs: get a pack, and download the
 * final PDF of each of its documents into a folder.
 *
 * File names come from document names, which the server (or whoever named
 * the documents) controls: fs.c keeps their letters (UTF-8) and a safe set
 * of ASCII; they can never leave the folder, and two documents never share
 * a file. A pack whose documents are no list, or one of which has no
 * serve_pdf_url, is an error before anything is downloaded. The documents
 * download at once (the client's concurrency, at most), each with its own
 * download_timeout; the first that fails stops the rest, and the error says
 * which ones are on disk (err.downloaded).
 */
#include <errno.h>
#include <string.h>

#include "qs.h"

/* The checked arguments of get, download and get_many. */
typedef struct dp_args {
    const char *key, *dir;
    size_t dir_len;
    int items_idx, concurrency;  /* get_many: the copy of the keys; its options */
    double timeout;
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
 * The plan of a download, made before anything is fetched: for each
 * document (checked), {key, name, file, path, url}, its file named from
 * `used` in the pack's order, so that names never depend on which download
 * ends first. Pushes the array.
 */
static void push_plan(lua_State *L, int docs, const char *folder, int used)
{
    int n = (int)qs_rawlen(L, docs);
    lua_createtable(L, n, 0);
    int plan = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, docs, i);
        int doc = lua_gettop(L);
        lua_getfield(L, doc, "serve_pdf_url");
        lua_getfield(L, doc, "key");
        lua_getfield(L, doc, "document_name");
        const char *doc_key = lua_type(L, doc + 2) == LUA_TSTRING ? lua_tostring(L, doc + 2) : "document";
        const char *name = lua_type(L, doc + 3) == LUA_TSTRING ? lua_tostring(L, doc + 3) : doc_key;
        qs_push_file_name(L, name, doc_key, used);
        lua_pushfstring(L, "%s/%s", folder, lua_tostring(L, doc + 4));
        lua_pushinteger(L, 0);   /* the bytes, once downloaded */
        push_entry(L, doc + 2, doc + 3, doc + 4, doc + 5, doc + 6);
        lua_pushvalue(L, doc + 1);
        lua_setfield(L, -2, "url");
        lua_rawseti(L, plan, i);
        lua_settop(L, plan);
    }
}

/* What the batch of a pack's downloads keeps: its plan, the entries done,
   and the first error. */
typedef struct pack_batch {
    int plan_idx, done_idx, error_idx;
    int count;
} pack_batch;

/* A temp file of the client that no download holds. */
static qs_tempfile *free_temp(qs_client *c)
{
    for (int i = 0; i < c->ntemps; i++)
        if (c->temps[i].file == NULL && c->temps[i].path == NULL)
            return &c->temps[i];
    return NULL;
}

/* Document r->index of the plan, into its temp file; its own deadline. */
static int document_make(lua_State *L, qs_batch *b, qs_request *r)
{
    const pack_batch *p = b->ud;
    qs_client *c = b->call->c;
    lua_rawgeti(L, p->plan_idx, r->index);
    lua_getfield(L, -1, "path");
    const char *path = lua_tostring(L, -1);   /* alive: the plan holds it */
    qs_tempfile *temp = free_temp(c);
    if (temp == NULL || qs_temp_open(temp, path) != 0) {
        qs_push_io_error(L, c, QS_CANNOT_CREATE_FILE, path, temp == NULL ? EMFILE : errno);
        qs_error_set_string(L, c, "method", "GET");
        return qs_fail(L, lua_gettop(L) - 1);
    }
    lua_getfield(L, -2, "url");
    lua_replace(L, r->frame);
    lua_newtable(L);                  /* where it was redirected to */
    lua_replace(L, r->frame + 2);
    qs_request_reset(r, b->call, "GET", QS_TOKEN_NONE, r->frame);
    r->deadline = qs_now() + c->download_timeout;
    qs_download_request(L, r, b->call, temp, path, r->frame + 2);
    return 1;
}

/* A document downloaded (its size on top), or the first failure, which stops the batch. */
static void document_done(lua_State *L, qs_batch *b, qs_request *r, int rc)
{
    pack_batch *p = b->ud;
    if (rc == 2) {
        if (r->frame != 0 && r->sink != NULL)
            qs_download_failed(L, r, r->frame + 2);
        if (lua_isnil(L, p->error_idx)) {
            lua_pushvalue(L, -1);
            lua_replace(L, p->error_idx);
        }
        b->stop = 1;
        return;
    }
    lua_rawgeti(L, p->plan_idx, r->index);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "bytes");
    lua_pushnil(L);
    lua_setfield(L, -2, "url");
    lua_rawseti(L, p->done_idx, r->index);
    p->count++;
}

/* The entries on disk, in the pack's order (the done table may have holes). */
static void push_done(lua_State *L, const pack_batch *p, int n)
{
    lua_newtable(L);
    for (int i = 1, k = 0; i <= n; i++) {
        lua_rawgeti(L, p->done_idx, i);
        if (lua_isnil(L, -1))
            lua_pop(L, 1);
        else
            lua_rawseti(L, -2, ++k);
    }
}

/* Downloads the plan at plan: pushes the entries, or nil, err with err.downloaded. */
static int download_plan(lua_State *L, qs_call *call, int plan)
{
    qs_client *c = call->c;
    int n = (int)qs_rawlen(L, plan), base = lua_gettop(L);
    int concurrency = c->concurrency < n ? c->concurrency : (n > 0 ? n : 1);
    if (qs_scratch_reserve(c, 0, concurrency + 1) != 0)
        return luaL_error(L, "quicklysign: out of memory");
    pack_batch p = { plan, base + 1, base + 2, 0 };
    lua_newtable(L);                  /* base + 1: the entries done, by position */
    lua_pushnil(L);                   /* base + 2: the first error */
    qs_request *reqs = lua_newuserdata(L, (size_t)(n > 0 ? n : 1) * sizeof *reqs);
    memset(reqs, 0, (size_t)(n > 0 ? n : 1) * sizeof *reqs);
    for (int i = 0; i < n; i++)
        reqs[i].index = i + 1;
    qs_batch b = { call, reqs, n, concurrency, qs_now() + c->download_timeout * (n + 1), document_make,
                   document_done, &p, 0 };
    qs_attempt_all(L, &b);
    for (int i = 0; i < c->ntemps; i++)
        qs_temp_discard(&c->temps[i]);   /* the downloads a failure cut short */
    if (lua_isnil(L, base + 2)) {
        push_done(L, &p, n);
        return 1;
    }
    lua_pushvalue(L, base + 2);
    push_done(L, &p, n);
    lua_setfield(L, -2, "downloaded");   /* what is already on disk */
    return qs_fail(L, base);
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
    int folder = base + 4, used = base + 5;
    lua_newtable(L);
    push_plan(L, docs, lua_tostring(L, folder), used);
    return download_plan(L, call, base + 6);
}

/* GET /document_packs/<key> for key r->index of get_many. */
static int pack_make(lua_State *L, qs_batch *b, qs_request *r)
{
    return qs_many_keyed(L, b, r, "GET", QS_PATH_DOCUMENT_PACKS, QS_TOKEN_REQUIRED, 0);
}

/* The pack in a get's data (the value on top), or the error. */
static int pack_of(lua_State *L, qs_batch *b, qs_request *r, int rc)
{
    (void)b;
    if (rc == 2)
        return 2;
    return qs_api_field(L, r, lua_gettop(L) - 1, "document_pack");
}

static int get_many_perform(lua_State *L, qs_call *call)
{
    const dp_args *a = call->args;
    if (a->timeout > 0)
        call->deadline = qs_now() + a->timeout;
    qs_many m = { pack_make, pack_of, a->items_idx, NULL, 0, 0, 0 };
    return qs_many_run(L, call, &m, a->concurrency);
}

/* document_packs:get(pack_key) --> document pack */
static int dp_get(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0, 0, 0, 0 };
    lua_settop(L, 2);
    qs_resource_call(L, &call, &qs_packs_class, "get");
    a.key = qs_check_key(L, 2, "pack_key");
    call.args = &a;
    return qs_run(L, &call, get_perform);
}

static int dp_download(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0, 0, 0, 0 };
    lua_settop(L, 3);
    qs_resource_call(L, &call, &qs_packs_class, "download");
    a.key = qs_check_key(L, 2, "pack_key");
    qs_check_key(L, 3, "dir");
    a.dir = lua_tolstring(L, 3, &a.dir_len);
    call.args = &a;
    return qs_run(L, &call, download_perform);
}

/* document_packs:get_many({ pack_key, ... } [, {concurrency, timeout}]) --> packs, errors, failed */
static int dp_get_many(lua_State *L)
{
    qs_call call;
    dp_args a = { NULL, NULL, 0, 0, 0, 0 };
    lua_settop(L, 3);
    qs_resource_call(L, &call, &qs_packs_class, "get_many");
    int n = qs_many_list(L, 2, "get_many", "pack keys");
    lua_createtable(L, n, 0);
    a.items_idx = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        qs_many_key(L, 2, i, "get_many", "pack key");
        lua_rawseti(L, a.items_idx, i);
    }
    a.concurrency = qs_many_options(L, call.c, 3, "get_many", &a.timeout);
    call.args = &a;
    return qs_run(L, &call, get_many_perform);
}

static const luaL_Reg dp_methods[] = {
    { "get", dp_get },
    { "get_many", dp_get_many },
    { "download", dp_download },
    { NULL, NULL }
};

const qs_class qs_packs_class = { QS_PACKS_MT, "document_packs", dp_methods, NULL, NULL, NULL };
