/*
 * filename.c - qs_push_file_name (fs.c): document names, which the
 * server (or whoever named the documents) controls, made into file names in
 * the download folder.
 *
 * Input: lines; each line is a document name, the next line its key (the
 * fallback when the name leaves nothing). All names of one input go into
 * the same folder (one `used` table).
 *
 * Checks, for every file name: ends in ".pdf"; well-formed UTF-8 whose
 * characters are [A-Za-z0-9 ()_.-] or non-ASCII ones qs_name_char keeps
 * (no bidi controls, zero widths, slash lookalikes...); never starts with
 * '.' or ' ' (no ".", "..", hidden files); no '/' (so it cannot leave the
 * folder); at most QS_NAME_MAX bytes before "-N.pdf"; no two names of one
 * folder equal with cases folded (qs_fold_case); and a name made only of
 * kept characters (and no ".pdf" of its own) comes out as it went in.
 */
/* fs.c first: it sets the POSIX level that its system headers need */
#include "../src/fs.c"
#include "common.h"

#include <strings.h>

/* A name of kept characters only, short, without a leading dot or space, a trailing dot or
   space, or a ".pdf" of its own, is its own file name (with ".pdf", or "-N.pdf" for a repeat). */
static void check_kept(const char *name, const char *file)
{
    size_t len = strlen(name), n;
    if (len == 0 || len > QS_NAME_MAX || name[0] == '.' || name[0] == ' ' || name[len - 1] == '.' ||
        name[len - 1] == ' ' || (len >= 4 && strcasecmp(name + len - 4, ".pdf") == 0))
        return;
    for (size_t k = 0; k < len; k += n)
        if (!qs_name_char(qs_utf8_decode((const unsigned char *)name + k, &n)))
            return;
    FUZZ_CHECK(strncmp(file, name, len) == 0 && (file[len] == '.' || file[len] == '-'),
               "a name of kept characters changed: '%s' -> '%s'", name, file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    int top = lua_gettop(L);
    lua_newtable(L);
    int used = lua_gettop(L);
    lua_newtable(L);
    int seen = lua_gettop(L);   /* our own record of what was given out */

    for (int i = 0; i < 256 && size > 0; i++) {
        char *name = fuzz_line(&data, &size);
        char *key = fuzz_line(&data, &size);
        qs_push_file_name(L, name, key[0] != '\0' ? key : name, used);
        FUZZ_CHECK(lua_gettop(L) == seen + 1, "stack: %d", lua_gettop(L) - seen);
        size_t len;
        const char *file = lua_tolstring(L, -1, &len);
        FUZZ_CHECK(strlen(file) == len, "NUL in '%s'", file);
        FUZZ_CHECK(len > 4 && strcmp(file + len - 4, ".pdf") == 0, "no .pdf: '%s'", file);
        FUZZ_CHECK(file[0] != '.' && file[0] != ' ', "leading dot or space: '%s'", file);
        FUZZ_CHECK(len <= QS_NAME_MAX + 4 + 12, "too long (%zu): '%s'", len, file);
        luaL_Buffer folded;
        luaL_buffinit(L, &folded);
        for (size_t k = 0, n; k < len; k += n) {
            long cp = qs_utf8_decode((const unsigned char *)file + k, &n);
            FUZZ_CHECK(cp >= 0, "ill-formed UTF-8 at byte %zu of '%s'", k, file);
            FUZZ_CHECK(qs_name_char(cp), "character U+%04lX kept in '%s'", cp, file);
            lua_pushfstring(L, "%d,", (int)qs_fold_case(cp));
            luaL_addvalue(&folded);
        }
        luaL_pushresult(&folded);
        lua_pushvalue(L, -1);
        lua_gettable(L, seen);
        FUZZ_CHECK(lua_isnil(L, -1), "given out twice: '%s' (name '%s')", file, name);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_settable(L, seen);
        check_kept(name, file);
        lua_pop(L, 1);
        free(name);
        free(key);
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
