/*
 * filename.c - qs_push_file_name (fs.c): document names, which the
 * server (or whoever named the documents) controls, made into file names in
 * the download folder.
 *
 * Input: lines; each line is a document name, the next line its key (the
 * fallback when the name leaves nothing). All names of one input go into
 * the same folder (one `used` table).
 *
 * Checks, for every file name: ends in ".pdf"; only [A-Za-z0-9 ()_.-];
 * never starts with '.' or ' ' (no ".", "..", hidden files); no '/' (so it
 * cannot leave the folder); at most QS_NAME_MAX bytes before "-N.pdf"; and
 * no two names of one folder equal, ignoring case.
 */
/* fs.c first: it sets the POSIX level that its system headers need */
#include "../src/fs.c"
#include "common.h"

#include <ctype.h>

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
        for (size_t k = 0; k < len; k++)
            FUZZ_CHECK(safe_char((unsigned char)file[k]), "unsafe byte 0x%02x in '%s'",
                       (unsigned char)file[k], file);
        char lower[QS_NAME_MAX + 32];
        for (size_t k = 0; k <= len; k++)
            lower[k] = (char)tolower((unsigned char)file[k]);
        lua_getfield(L, seen, lower);
        FUZZ_CHECK(lua_isnil(L, -1), "given out twice: '%s' (name '%s')", file, name);
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
        lua_setfield(L, seen, lower);
        lua_pop(L, 1);
        free(name);
        free(key);
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
