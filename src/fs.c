/*
 * fs.c - the file system: a download's temporary file (made beside its
 * target, fsync'd and renamed into place only when complete), folders made
 * as needed, and document names made into file names that stay inside their
 * folder and keep their letters (UTF-8). Every failed system call returns -1 with errno set, and becomes an
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

/* Every temp file of the client's calls discarded: the end of a call. */
void qs_temps_discard(qs_client *c)
{
    for (int i = 0; i < c->ntemps; i++)
        qs_temp_discard(&c->temps[i]);
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

/* Reads the first n bytes of the file into buf: how many it read, or -1. */
long qs_temp_head(qs_tempfile *t, char *buf, size_t n)
{
    if (fflush(t->file) != 0 || fseek(t->file, 0, SEEK_SET) != 0)
        return -1;
    size_t got = fread(buf, 1, n, t->file);
    if (ferror(t->file) || fseek(t->file, 0, SEEK_END) != 0)
        return -1;
    return (long)got;
}

/* Makes the download durable: flush, fsync, close (cannot_write_file). */
int qs_temp_sync(qs_tempfile *t)
{
    if (fflush(t->file) != 0 || fsync(fileno(t->file)) != 0)
        return -1;
    int rc = fclose(t->file);
    t->file = NULL;
    return rc != 0 ? -1 : 0;
}

/* Puts the durable download in place (cannot_rename_file): the last step. */
int qs_temp_place(qs_tempfile *t, const char *path)
{
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

/*
 * The code point of the UTF-8 sequence at p and its length (*len), or -1
 * (with *len the bytes to skip) when it is not well formed (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). Stops at a NUL.
 */
long qs_utf8_decode(const unsigned char *p, size_t *len)
{
    unsigned lead = p[0];
    size_t n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    long cp = lead & (0x3F >> (n - 1));
    *len = 1;
    if (lead < 0x80)
        return (long)lead;
    if (lead < 0xC2 || lead > 0xF4)
        return -1;
    for (size_t i = 1; i < n; i++, (*len)++) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *len = n;
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    return cp;
}

/* Code points that are not kept in a file name, though valid: spaces other
   than ' ', invisible formatting (bidi overrides, zero widths, tags, the
   soft hyphen), lookalikes of '/' and '\\', private use and noncharacters. */
static const struct { long lo, hi; } unsafe_ranges[] = {
    { 0x80, 0xA0 }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C }, { 0x6DD, 0x6DD },
    { 0x70F, 0x70F }, { 0x1680, 0x1680 }, { 0x180E, 0x180E }, { 0x2000, 0x200F },
    { 0x2028, 0x202F }, { 0x2044, 0x2044 }, { 0x205F, 0x206F }, { 0x2215, 0x2216 },
    { 0x29F5, 0x29F5 }, { 0x29F8, 0x29F9 }, { 0x3000, 0x3000 }, { 0xE000, 0xF8FF },
    { 0xFDD0, 0xFDEF }, { 0xFE68, 0xFE68 }, { 0xFEFF, 0xFEFF }, { 0xFF0F, 0xFF0F },
    { 0xFF3C, 0xFF3C }, { 0xFFF9, 0xFFFB }, { 0x110BD, 0x110BD }, { 0x1D173, 0x1D17A },
    { 0xE0000, 0x10FFFF },
};

/* Whether a code point may stand in a file name as it is: a safe ASCII
   character, or a non-ASCII one that is neither unsafe nor a noncharacter. */
int qs_name_char(long cp)
{
    if (cp < 0x80)
        return cp >= 0 && safe_char((unsigned char)cp);
    if ((cp & 0xFFFE) == 0xFFFE)
        return 0;
    for (size_t i = 0; i < sizeof unsafe_ranges / sizeof unsafe_ranges[0]; i++)
        if (cp >= unsafe_ranges[i].lo && cp <= unsafe_ranges[i].hi)
            return 0;
    return 1;
}

/*
 * The stem of a file name for name: characters qs_name_char keeps, every
 * other one (or ill-formed byte) becoming '_'; no leading dots or spaces (so
 * never "." or ".." or hidden), no trailing ones, at most QS_NAME_MAX bytes
 * (never a character cut in two), without a ".pdf" of its own. So
 * "Überweisung – 日本" stays as it is, and no name can leave its folder:
 * only '/' separates, and no byte of a multi-byte character is one.
 */
static size_t file_stem(char *stem, const char *name)
{
    size_t n = 0, len;
    for (const unsigned char *p = (const unsigned char *)name; *p; p += len) {
        long cp = qs_utf8_decode(p, &len);
        int keep = qs_name_char(cp);
        if (n == 0 && (cp == '.' || cp == ' '))
            continue;
        if (n + (keep ? len : 1) > QS_NAME_MAX)
            break;
        if (keep) {
            memcpy(stem + n, p, len);
            n += len;
        } else {
            stem[n++] = '_';
        }
    }
    while (n > 0 && (stem[n - 1] == ' ' || stem[n - 1] == '.'))
        n--;
    stem[n] = '\0';
    if (n >= 4 && strcasecmp(stem + n - 4, ".pdf") == 0)
        stem[n -= 4] = '\0';
    return n;
}

/* The lower case of a code point, for the scripts whose cases file systems
   that ignore case fold (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic);
   others are their own. */
long qs_fold_case(long cp)
{
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ||
        (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) || (cp >= 0x410 && cp <= 0x42F))
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    if (cp == 0x178)
        return 0xFF;
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
        return cp | 1;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return (cp & 1) ? cp + 1 : cp;
    return cp;
}

/* Pushes the key under which a file name is claimed: its code points case
   folded, four bytes each (the name is well formed: file_stem made it). */
static void push_claim_key(lua_State *L, const char *candidate)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t len;
    for (const unsigned char *p = (const unsigned char *)candidate; *p; p += len) {
        long cp = qs_fold_case(qs_utf8_decode(p, &len));
        char four[4] = { (char)(cp >> 24), (char)(cp >> 16), (char)(cp >> 8), (char)cp };
        luaL_addlstring(&b, four, 4);
    }
    luaL_pushresult(&b);
}

/* Whether the name on top was not given out yet in `used` (compared with
   cases folded, for file systems that ignore case); records it if so. */
static int claim_name(lua_State *L, int used)
{
    push_claim_key(L, lua_tostring(L, -1));
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
