/*
 * qs.h - what the C files of quicklysign.core share: the client object,
 * one HTTP exchange, and the functions each file offers the others.
 *
 * Layering (each file calls only the ones below it):
 *   core.c                      luaopen_quicklysign_core
 *   webhooks.c document_packs.c the resource methods
 *   client.c                    the client userdata, its options and lifetime
 *   download.c                  streaming a URL to a file
 *   api.c                       one API call: credentials, retries, envelope
 *   json.c error.c url.c args.c Lua-side helpers
 *   transfer.c retry.c          libcurl and timing; these never touch Lua
 */
#ifndef QS_H
#define QS_H

#include <stddef.h>
#include <stdio.h>
#include <curl/curl.h>

#include "compat.h"

#define QS_VERSION "0.2.0"

/* Registry and metatable names. */
#define QS_CLIENT_MT   "quicklysign.client"
#define QS_WEBHOOKS_MT "quicklysign.webhooks"
#define QS_PACKS_MT    "quicklysign.document_packs"
#define QS_ERROR_MT    "quicklysign.error"
#define QS_JSON_KEY    "quicklysign.core.json"  /* the private cjson instance */

/* The vendor's base URLs (shared/quicklysign-api.md). */
#define QS_SANDBOX_URL    "https://sandboxapi.quicklysign.com/v1"
#define QS_PRODUCTION_URL "https://api.quicklysign.com/v1"

/*
 * Paths and names the vendor's pages leave open or spell oddly, each kept
 * in one place so that a correction touches one line.
 */
#define QS_PATH_WEBHOOKS       "/webhooks"     /* create, get, list */
#define QS_PATH_WEBHOOK_DELETE "/webhook"      /* the seed's singular, for both deletes */
#define QS_PATH_CALLBACK_LOGS  "/webhook_callback_logs"
#define QS_PATH_ACCESS_TOKENS  "/access_tokens"
#define QS_PATH_DOCUMENT_PACKS "/document_packs"
#define QS_TOKEN_HEADER        "access_token"  /* header that carries the token */
#define QS_CURSOR_PARAM        "cursor"        /* query name for an opaque pagination.next */
#define QS_ALWAYS_200_PARAM    "always_use_http_status_code_200"

#define QS_MAX_PAGES      10000
#define QS_MAX_REDIRECTS  5
#define QS_DOWNLOAD_BUFFER (100L * 1024)  /* libcurl's receive buffer for downloads */
#define QS_ERROR_BODY_CAP (64 * 1024)   /* what a failed download keeps of its body */

/* A growable byte buffer with a hard limit. */
typedef struct qs_buffer {
    char *data;
    size_t len, cap, limit;
    int overflow;               /* set when a write would pass limit */
} qs_buffer;

typedef struct qs_client {
    CURL *curl;                 /* NULL once closed */
    char *client_id;            /* malloc'd; the secrets are wiped on close */
    char *client_secret;
    char *api_key;
    char *access_token;         /* given, or minted from api_key */
    char *base_url;             /* without a trailing slash */
    char *environment;          /* "sandbox", "production" or "custom" */
    double timeout, connect_timeout, download_timeout;
    double retry_base_delay, max_retry_delay;
    int max_retries;
    int allow_insecure_callbacks;
    int always_200;
    int in_hook;                /* on_warning is running: the client may not be re-entered */
    int busy;                   /* a call is under way (qs_begin .. qs_end) */
    lua_State *busy_L;          /* ... in this Lua thread, */
    int busy_depth;             /* ... at this stack depth (see qs_begin) */
    int close_pending;          /* close() came during that call: done when it ends */
    size_t max_body_size;
    unsigned long long rng;     /* jitter state, per client */
    /* Scratch owned by the client, so that a Lua error raised between two
       steps of a call can never leak it: freed at the next call and on close. */
    qs_buffer body;
    struct curl_slist *headers;
    FILE *file;                 /* a download in progress */
    char *file_tmp;             /* its temporary path, removed on failure */
    char errbuf[CURL_ERROR_SIZE];
} qs_client;

/* One HTTP exchange, as transfer.c performs it. */
typedef struct qs_transfer {
    /* in */
    const char *method;         /* "GET", "POST", "DELETE" */
    const char *url;
    const char *body;           /* POST only */
    size_t body_len;
    double deadline;            /* monotonic seconds; the whole call ends by then */
    double connect_timeout;
    FILE *sink;                 /* when set, a 2xx body streams here */
    int fresh;                  /* use a new connection: libcurl re-sends a request
                                   silently when a reused one dies, which a
                                   non-idempotent call must never risk */
    /* out */
    CURLcode code;
    long status;
    int sent;                   /* the request may have reached the server */
    double retry_after;         /* seconds, or -1 when absent */
    curl_off_t written;         /* bytes written to sink */
    int write_errno;            /* errno of a failed write to sink */
    const char *redirect;       /* absolute Location of a 3xx; owned by curl */
} qs_transfer;

/* transfer.c: libcurl only, never a Lua call. */
int  qs_transfer_setup(qs_client *c, const char *ca_file, const char *proxy,
                       const char *user_agent);
void qs_transfer_perform(qs_client *c, qs_transfer *t);
void qs_buffer_reset(qs_buffer *b, size_t limit);
int  qs_buffer_append(qs_buffer *b, const char *p, size_t n);
void qs_buffer_free(qs_buffer *b);

/* retry.c: policy and timing, never a Lua call. */
double qs_now(void);
void   qs_sleep(double seconds);
const char *qs_curl_kind(CURLcode code);
int    qs_status_retryable(long status);
int    qs_curl_retryable(CURLcode code);
double qs_backoff(qs_client *c, int attempt, double retry_after);
int    qs_retry_wait(qs_client *c, int *attempt, double retry_after, double deadline);

/* url.c */
void qs_push_url(lua_State *L, qs_client *c, const char *path, const char *key,
                 const char **query, int with_credentials);
void qs_push_escaped(lua_State *L, const char *s, size_t len);
int  qs_same_origin(const char *a, const char *b);
int  qs_is_http_url(const char *s);
void qs_push_with_credentials(lua_State *L, qs_client *c, const char *url);

/* json.c */
void qs_json_init(lua_State *L);
void qs_json_encode(lua_State *L, int idx);
int  qs_json_decode(lua_State *L, const char *s, size_t len);

/* error.c */
void qs_error_init(lua_State *L);
void qs_push_error(lua_State *L, qs_client *c, const char *kind, long status,
                   const char *method, const char *url, const char *message);
void qs_error_set_bool(lua_State *L, const char *field, int value);
void qs_error_set_string(lua_State *L, qs_client *c, const char *field, const char *value);
void qs_push_redacted(lua_State *L, qs_client *c, const char *s);
void qs_push_redacted_copy(lua_State *L, qs_client *c, int idx, int depth);
int  qs_return_error(lua_State *L);
int  qs_keep_top2(lua_State *L, int base);

/* api.c */
enum qs_auth  { QS_AUTH_QUERY, QS_AUTH_BODY, QS_AUTH_TOKEN };
enum qs_retry { QS_RETRY_SAFE, QS_RETRY_UNSENT };
typedef struct qs_call {
    const char *method;
    enum qs_auth auth;
    enum qs_retry retry;
    double deadline;            /* monotonic seconds */
    int client_idx;             /* stack index of the client userdata */
    int envelope;               /* on success push the whole envelope, not its data */
} qs_call;
int  qs_api_call(lua_State *L, qs_client *c, const qs_call *call, int url_idx, int body_idx);
int  qs_api_list(lua_State *L, qs_client *c, const qs_call *call, const char *path,
                 const char **query, int cursor_slot, const char *field);
int  qs_ensure_token(lua_State *L, qs_client *c, const qs_call *call);
int  qs_mint_token(lua_State *L, qs_client *c, const qs_call *call);
int  qs_build_headers(qs_client *c, int json_body, int with_token);
int  qs_header_safe(const char *s);
int  qs_token_expired(lua_State *L, qs_client *c, int *reminted);
int  qs_read_response(lua_State *L, qs_client *c, const qs_call *call,
                      const qs_transfer *t, const char *url);

/* client.c */
void qs_client_open(lua_State *L);
qs_client *qs_check_open(lua_State *L, qs_client *c);
void qs_begin(lua_State *L, qs_client *c);
void qs_end(qs_client *c);
int  qs_guard(lua_State *L, lua_CFunction impl);
/* A method of the client or of its tables: impl runs inside qs_guard. */
#define QS_GUARDED(name, impl) static int name(lua_State *L) { return qs_guard(L, impl); }
qs_client *qs_resource_client(lua_State *L, int idx, const char *mt, const char *method);
double qs_deadline(const qs_client *c);
int  qs_client_close(lua_State *L);
void qs_str_replace(char **slot, const char *value);

/* download.c */
int qs_download(lua_State *L, qs_client *c, int client_idx, const char *url,
                const char *path, double deadline);
void qs_discard_temp(qs_client *c);

/* args.c */
void qs_check_fields(lua_State *L, int idx, const char *method, const char *const *allowed);
const char *qs_field_string(lua_State *L, int idx, const char *field, const char *method,
                            int required);
const char *qs_check_key(lua_State *L, int idx, const char *name);
int  qs_has_nul(lua_State *L, int idx);
void qs_check_args_table(lua_State *L, int idx, int optional);

/* webhooks.c, document_packs.c */
void qs_webhooks_open(lua_State *L);
void qs_document_packs_open(lua_State *L);

#endif
