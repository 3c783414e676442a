/*
 * download.c - streams a URL to a file: never whole in memory, written to a
 * temporary file beside the target and renamed into place only when complete.
 *
 * The access token is sent only to the API's own origin. Redirects are
 * followed by hand, at most QS_MAX_REDIRECTS, and only within the origin of
 * the URL asked for: never to another host, and never with credentials.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qs.h"

/* Opens "<path>.XXXXXX" beside the target; owned by the client until done. */
static int open_temp(lua_State *L, qs_client *c, const char *path)
{
    size_t n = strlen(path) + 8;
    c->file_tmp = malloc(n);
    if (c->file_tmp == NULL)
        return luaL_error(L, "quicklysign: out of memory");
    snprintf(c->file_tmp, n, "%s.XXXXXX", path);
    int fd = mkstemp(c->file_tmp);
    if (fd < 0) {
        free(c->file_tmp);
        c->file_tmp = NULL;
        return 0;
    }
    c->file = fdopen(fd, "w+b");   /* read back when the answer is a JSON envelope */
    if (c->file == NULL) {
        close(fd);
        return 0;
    }
    return 1;
}

/* Closes and removes an unfinished download's temporary file, if any. */
void qs_discard_temp(qs_client *c)
{
    if (c->file != NULL)
        fclose(c->file);
    c->file = NULL;
    if (c->file_tmp != NULL) {
        unlink(c->file_tmp);
        free(c->file_tmp);
    }
    c->file_tmp = NULL;
}

static int io_error(lua_State *L, qs_client *c, const char *url, const char *what,
                    const char *path, int err)
{
    int saved = err;
    qs_discard_temp(c);
    lua_pushfstring(L, "%s %s: %s", what, path, strerror(saved));
    qs_push_error(L, c, "io", 0, "GET", url, lua_tostring(L, -1));
    lua_pushinteger(L, saved);
    lua_setfield(L, -2, "errno");
    return qs_return_error(L);
}

/*
 * A 2xx answer whose body is a JSON envelope with an error status (the API
 * answers HTTP 200 always when asked to): reads it back into c->body and
 * returns 1, so that it is reported like any error answer rather than saved
 * as the document. A JSON file that is not such an envelope is kept.
 */
static int envelope_error_in_file(lua_State *L, qs_client *c, const qs_transfer *t)
{
    char *type = NULL;
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &type) != CURLE_OK || type == NULL ||
        strncasecmp(type, "application/json", 16) != 0 || t->written > QS_ERROR_BODY_CAP)
        return 0;
    qs_buffer_reset(&c->body, QS_ERROR_BODY_CAP);
    if (fflush(c->file) != 0 || fseek(c->file, 0, SEEK_SET) != 0)
        return 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, c->file)) > 0)
        if (!qs_buffer_append(&c->body, chunk, n))
            return 0;
    int top = lua_gettop(L), is_error = 0;
    if (c->body.len > 0 && qs_json_decode(L, c->body.data, c->body.len) && lua_istable(L, -1)) {
        lua_getfield(L, -1, "status");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "status_code");
            if (lua_type(L, -1) == LUA_TNUMBER) {
                lua_Number code = lua_tonumber(L, -1);
                is_error = !(code >= 200 && code < 300);
            }
        }
    }
    lua_settop(L, top);
    return is_error;
}

/* Pushes bytes written, or nil, err. */
int qs_download(lua_State *L, qs_client *c, int client_idx, const char *url,
                const char *path, double deadline)
{
    int top = lua_gettop(L);
    qs_request call = { "GET", QS_AUTH_TOKEN, QS_RETRY_SAFE, deadline, client_idx, 0 };
    int with_token = qs_same_origin(url, c->base_url) &&
                     (c->access_token != NULL || c->api_key != NULL);
    int attempt = 0, reminted = 0, redirects = 0;

    qs_discard_temp(c);
    if (!open_temp(L, c, path))
        return io_error(L, c, url, "cannot create", path, errno);
    lua_pushstring(L, url);
    int url_idx = top + 1;

    for (;;) {
        lua_settop(L, url_idx);
        const char *cur = lua_tostring(L, url_idx);
        if (with_token && qs_ensure_token(L, c, &call) == 2) {
            qs_discard_temp(c);
            return qs_keep_top2(L, top);
        }
        if (!qs_build_headers(c, 0, with_token))
            return luaL_error(L, "quicklysign: out of memory");
        if (fflush(c->file) != 0 || ftruncate(fileno(c->file), 0) != 0 || fseek(c->file, 0, SEEK_SET) != 0)
            return io_error(L, c, url, "cannot write", path, errno);

        qs_transfer t;
        memset(&t, 0, sizeof t);
        t.method = "GET";
        t.url = cur;
        t.deadline = deadline;
        t.connect_timeout = c->connect_timeout;
        t.sink = c->file;
        qs_buffer_reset(&c->body, QS_ERROR_BODY_CAP);
        qs_transfer_perform(c, &t);

        if (t.write_errno != 0)
            return io_error(L, c, cur, "cannot write", path, t.write_errno);
        int transient = 0;
        if (t.code != CURLE_OK) {
            qs_push_error(L, c, qs_curl_kind(t.code), 0, "GET", cur,
                          c->errbuf[0] ? c->errbuf : curl_easy_strerror(t.code));
            transient = qs_curl_retryable(t.code);
        } else if (t.status >= 200 && t.status < 300 && !envelope_error_in_file(L, c, &t)) {
            if (fflush(c->file) != 0 || fsync(fileno(c->file)) != 0)
                return io_error(L, c, cur, "cannot write", path, errno);
            int rc = fclose(c->file);
            c->file = NULL;
            if (rc != 0)
                return io_error(L, c, cur, "cannot write", path, errno);
            if (rename(c->file_tmp, path) != 0)
                return io_error(L, c, cur, "cannot rename into", path, errno);
            free(c->file_tmp);
            c->file_tmp = NULL;
            lua_settop(L, top);
            lua_pushinteger(L, (lua_Integer)t.written);
            return 1;
        } else if (t.status >= 300 && t.status < 400 && t.redirect != NULL) {
            if (!qs_same_origin(t.redirect, cur)) {
                qs_discard_temp(c);
                qs_push_error(L, c, "http", t.status, "GET", cur,
                              "refused a redirect to another origin");
                qs_error_set_string(L, c, "location", t.redirect);
                return qs_return_error(L);
            }
            if (++redirects > QS_MAX_REDIRECTS) {
                qs_discard_temp(c);
                qs_push_error(L, c, "http", t.status, "GET", cur, "too many redirects");
                return qs_return_error(L);
            }
            lua_pushstring(L, t.redirect);
            lua_replace(L, url_idx);
            continue;
        } else {
            /* An error answer (or a 2xx carrying an error envelope): its small
               body is in the buffer; read the envelope. */
            if (qs_read_response(L, c, &call, &t, cur)) {   /* a 2xx envelope on a non-2xx */
                lua_settop(L, url_idx);
                qs_push_error(L, c, "http", t.status, "GET", cur, "unexpected answer");
            }
            if (with_token && qs_token_expired(L, c, &reminted))
                continue;                   /* mint once more */
            lua_getfield(L, -1, "status");   /* the envelope's status wins */
            transient = qs_status_retryable((long)lua_tonumber(L, -1));
            lua_pop(L, 1);
        }
        qs_error_set_bool(L, "retryable", transient);
        if (transient && qs_retry_wait(c, &attempt, t.retry_after, deadline))
            continue;
        qs_discard_temp(c);
        lua_pushinteger(L, attempt + 1);
        lua_setfield(L, -2, "attempts");
        return qs_return_error(L);
    }
}
