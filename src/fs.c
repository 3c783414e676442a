/*
 * fs.c - the file system: a download's temporary file (made beside its
 * target, fsync'd and renamed into place only when complete), folders made
 * as needed, and document names made into file names that stay inside their
 * folder. Every failed system call returns -1 with errno set, and becomes an
 * error in one place, qs_push_io_error, the way LuaFileSystem turns every
 * failure into the same nil, message, errno (its pushresult).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE   /* flock() (glibc); BSD and macOS declare it by default */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qs.h"

#define QS_NAME_MAX 100   /* bytes of a file name, before "-N.pdf" */

/* ---- the temporary file of a download ----------------------------------- */

/* Whether name is base followed by "." and mkstemp's six characters. */
static int is_temp_of(const char *name, const char *base, size_t blen)
{
    if (strncmp(name, base, blen) != 0 || name[blen] != '.' || strlen(name + blen + 1) != 6)
        return 0;
    for (const char *p = name + blen + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* Removes one candidate if no open file holds its lock and it is over a second old. */
static void remove_if_orphan(const char *full, time_t now)
{
    struct stat st;
    int fd = open(full, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && difftime(now, st.st_mtime) >= 1.0 &&
        flock(fd, LOCK_EX | LOCK_NB) == 0)
        unlink(full);
    close(fd);
}

/*
 * Removes "<path>.XXXXXX" files left by a download whose process died (SIGKILL,
 * a crash): every download holds an flock on its temporary file while it
 * writes, and the kernel drops the lock with the process, so a temp file
 * nobody holds is an orphan. (A second of age covers the moment between
 * mkstemp and flock.) Best effort: a folder that cannot be read is left alone.
 */
static void sweep_orphan_temps(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char dir[4096], full[4096 + 256];
    if (dlen >= sizeof dir || blen == 0)
        return;
    memcpy(dir, slash ? path : ".", slash ? dlen : 1);
    dir[slash ? dlen : 1] = '\0';
    DIR *d = opendir(dir[0] ? dir : "/");
    if (d == NULL)
        return;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (is_temp_of(e->d_name, base, blen) &&
            snprintf(full, sizeof full, "%s/%s", dir[0] ? dir : "", e->d_name) < (int)sizeof full)
            remove_if_orphan(full, now);
    }
    closedir(d);
}

/* Opens "<path>.XXXXXX" beside the target, for writing and reading back, and
   holds an flock on it while this process lives (see sweep_orphan_temps). */
int qs_temp_open(qs_tempfile *t, const char *path)
{
    size_t n = strlen(path) + 8;
    qs_temp_discard(t);
    sweep_orphan_temps(path);
    if ((t->path = malloc(n)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(t->path, n, "%s.XXXXXX", path);
    int fd = mkstemp(t->path);
    if (fd < 0 || (t->file = fdopen(fd, "w+b")) == NULL) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(t->path);
        }
        free(t->path);
        t->path = NULL;
        errno = err;
        return -1;
    }
    (void)flock(fd, LOCK_EX);
    return 0;
}

/* Closes and removes an unfinished download's temporary file, if any. */
void qs_temp_discard(qs_tempfile *t)
{
    if (t->file != NULL)
        fclose(t->file);
    t->file = NULL;
    if (t->path != NULL) {
        unlink(t->path);
        free(t->path);
    }
    t->path = NULL;
}

/* Empties the file for another attempt. */
int qs_temp_rewind(qs_tempfile *t)
{
    if (fflush(t->file) != 0 || ftruncate(fileno(t->file), 0) != 0 || fseek(t->file, 0, SEEK_SET) != 0)
        return -1;
    return 0;
}

/* Reads the file back into b (up to its limit): 0, or -1 when it cannot. */
int qs_temp_read(qs_tempfile *t, qs_buffer *b)
{
    char chunk[4096];
    size_t n;
    if (fflush(t->file) != 0 || fseek(t->file, 0, SEEK_SET) != 0)
        return -1;
    while ((n = fread(chunk, 1, sizeof chunk, t->file)) > 0)
        if (!qs_buffer_append(b, chunk, n))
            return -1;
    return ferror(t->file) ? -1 : 0;
}

/* Makes the download durable and puts it in place: fsync, close, rename.
   On failure *why says which step failed. */
int qs_temp_commit(qs_tempfile *t, const char *path, qs_reason *why)
{
    *why = QS_CANNOT_WRITE_FILE;
    if (fflush(t->file) != 0 || fsync(fileno(t->file)) != 0)
        return -1;
    int rc = fclose(t->file);
    t->file = NULL;
    if (rc != 0)
        return -1;
    *why = QS_CANNOT_RENAME_FILE;
    if (rename(t->path, path) != 0)
        return -1;
    free(t->path);
    t->path = NULL;
    return 0;
}

/* ---- folders and file names --------------------------------------------- */

/* mkdir -p; folders are 0755 at most (before the umask). */
int qs_make_dirs(char *path)
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

/* The stem of a file name for name: safe characters only (others become
   '_'), no leading dots or spaces (so never "." or ".." or hidden), no
   trailing ones, at most QS_NAME_MAX bytes, without a ".pdf" of its own. */
static size_t file_stem(char *stem, const char *name)
{
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
    return n;
}

/* Whether the name on top was not given out yet in `used` (compared
   lower-cased, for case-insensitive file systems); records it if so. */
static int claim_name(lua_State *L, int used)
{
    size_t len;
    const char *candidate = lua_tolstring(L, -1, &len);
    char lower[QS_NAME_MAX + 32];
    for (size_t k = 0; k <= len; k++)
        lower[k] = (char)((candidate[k] >= 'A' && candidate[k] <= 'Z') ? candidate[k] + 32 : candidate[k]);
    lua_pushlstring(L, lower, len);
    lua_pushvalue(L, -1);
    lua_rawget(L, used);
    int fresh = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (fresh) {
        lua_pushboolean(L, 1);
        lua_rawset(L, used);
    } else {
        lua_pop(L, 1);
    }
    return fresh;
}

/*
 * Pushes a file name for a document, ending in ".pdf", from its name (or
 * from fallback when nothing of the name is left, or "document"); "-2",
 * "-3"... when the same name (ignoring case) was already given out in `used`.
 */
void qs_push_file_name(lua_State *L, const char *name, const char *fallback, int used)
{
    char stem[QS_NAME_MAX + 1];
    if (file_stem(stem, name) == 0 && (fallback == name || file_stem(stem, fallback) == 0))
        strcpy(stem, "document");
    for (int i = 1; ; i++) {
        if (i == 1)
            lua_pushfstring(L, "%s.pdf", stem);
        else
            lua_pushfstring(L, "%s-%d.pdf", stem, i);
        if (claim_name(L, used))
            return;
        lua_pop(L, 1);
    }
}

/* ---- the one I/O error -------------------------------------------------- */

/* Pushes the error of a failed system call (reason: one of the io kind's):
   "cannot <do> <path>: <strerror>", with errno and path. */
void qs_push_io_error(lua_State *L, qs_client *c, qs_reason reason, const char *path, int err)
{
    const char *what = reason == QS_CANNOT_CREATE_FOLDER ? "create folder"
                     : reason == QS_CANNOT_RENAME_FILE ? "rename into"
                     : reason == QS_CANNOT_CREATE_FILE ? "create" : "write";
    lua_pushfstring(L, "cannot %s %s: %s", what, path, strerror(err));
    qs_push_error(L, c, reason, lua_tostring(L, -1));
    lua_remove(L, -2);
    lua_pushinteger(L, err);
    lua_setfield(L, -2, "errno");
    qs_error_set_string(L, c, "path", path);
}
