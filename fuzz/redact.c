/*
 * redact.c - qs_push_redacted (src/redact.c): the query redactor and the secret
 * scrubber, with three secrets taken from the input.
 *
 * Input: three length bytes, the three secrets (client_secret, api_key,
 * access token), then the text. In the text, bytes 0x01..0x0f are replaced
 * by one of the secrets in one of five forms (raw, %XX upper, %xx lower,
 * JSON-escaped, every other character encoded), so that the fuzzer meets
 * the secrets as often as a server's echo would.
 *
 * Checks: no secret of 4 bytes or more survives raw, %XX-encoded (either
 * case) or JSON-escaped. Secrets are drawn from a set without the letters
 * of "[REDACTED]", which the redactor itself writes.
 */
#include "../src/redact.c"
#include "common.h"

static const char charset[] =
    "abfghijklmnopqrsuvwxyz0123456789BFGHIJKLMNOPQSUVWXYZ+/=&%-._~ \"\\?#@!$:;,'*()";

static char *secret_from(const uint8_t **data, size_t *size)
{
    size_t n = fuzz_byte(data, size) % 48;
    char *s = fuzz_take(data, size, n);
    for (size_t i = 0; s[i] != '\0'; i++)
        s[i] = charset[(unsigned char)s[i] % (sizeof charset - 1)];
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    qs_client c;
    memset(&c, 0, sizeof c);
    c.client_secret = secret_from(&data, &size);
    c.api_key = secret_from(&data, &size);
    c.access_token = secret_from(&data, &size);
    const char *secrets[3] = { c.client_secret, c.api_key, c.access_token };

    /* The text, with secrets spliced in (3 bytes a secret byte at most). */
    size_t longest = strlen(secrets[0]) + strlen(secrets[1]) + strlen(secrets[2]);
    char *text = malloc(size * (3 * longest + 1) + 1);
    if (text == NULL)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned b = data[i];
        if (b >= 1 && b <= 3 * FORM_COUNT)
            n += fuzz_form(text + n, secrets[(b - 1) / FORM_COUNT], (int)((b - 1) % FORM_COUNT));
        else
            text[n++] = (char)b;
    }
    text[n] = '\0';

    int top = lua_gettop(L);
    qs_push_redacted(L, &c, text);
    FUZZ_CHECK(lua_gettop(L) == top + 1 && lua_type(L, -1) == LUA_TSTRING, "stack: %d", lua_gettop(L) - top);
    size_t len;
    const char *out = lua_tolstring(L, -1, &len);
    for (int k = 0; k < 3; k++)
        fuzz_assert_no_secret(out, len, secrets[k], "qs_push_redacted");
    lua_settop(L, top);

    free(text);
    free(c.client_secret);
    free(c.api_key);
    free(c.access_token);
    lua_gc(L, LUA_GCCOLLECT, 0);   /* frees what this input allocated: keeps -detect_leaks quiet */
    return 0;
}
