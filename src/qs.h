/*
 * qs.h - what the C files of quicklysign.core share: the client object, a
 * call, a request and one HTTP exchange, and the functions each file offers
 * the others, declared below from the bottom layer up.
 *
 * Layering (each file calls only the ones on lines below its own):
 *   core.c                       luaopen_quicklysign_core: the module
 *   webhooks.c document_packs.c  the resource methods: arguments, then qs_run
 *   client.c                     the client userdata, new(), close; qs_run
 *                                owns a call's life
 *   many.c                       batch calls: a list of items, each its own
 *                                request, results in input order
 *   api.c download.c             what calls make of their requests: a data
 *                                field, every page of a list; a download's
 *                                file sink and its redirect policy
 *   attempt.c                    the one attempt loop, for one request or many
 *                                at once: token, headers, exchange, classify,
 *                                retry
 *   event.c                      the on_event records (between rounds)
 *   envelope.c fs.c              an answer's body into a value or an error;
 *                                temp files, folders, file names, I/O errors
 *   options.c class.c            the option table; the class helper
 *   error.c                      the error vocabulary and objects
 *   json.c redact.c url.c args.c cjson, redaction, URLs, argument checks
 *   transfer.c                   libcurl: exchanges on the client's multi
 *                                handle, each on a slot; their headers
 *   retry.c buffer.c             retry policy and timing; bytes
 * Nothing from transfer.c down calls Lua: a Lua error never unwinds
 * through a libcurl frame. Lua runs between the multi handle's rounds
 * (qs_transfer_poll), never inside them.
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
#define QS_CHECKPOINT_KEY "quicklysign.core.checkpoint"  /* an empty Lua function (attempt.c) */

/* The vendor's base URLs (docs/vendor-api.md, "Environments"). */
#define QS_SANDBOX_URL    "https://sandboxapi.quicklysign.com/v1"
#define QS_PRODUCTION_URL "https://api.quicklysign.com/v1"

/*
 * Paths and names the vendor's pages leave open or spell oddly, each kept
 * in one place so that a correction touches one line (docs/vendor-api.md
 * has the sources and the open points).
 */
#define QS_PATH_WEBHOOKS       "/webhooks"     /* create, get, list; the plural delete */
#define QS_PATH_WEBHOOK_DELETE "/webhook"      /* the Webhooks page's singular delete, tried first */
#define QS_PATH_CALLBACK_LOGS  "/webhook_callback_logs"
#define QS_PATH_ACCESS_TOKENS  "/access_tokens"
#define QS_PATH_DOCUMENT_PACKS "/document_packs"
#define QS_CURSOR_PARAM        "cursor"        /* query name for an opaque pagination.next */
#define QS_PAGE_SIZE_PARAM     "page_size"
#define QS_ALWAYS_200_PARAM    "always_use_http_status_code_200"

/* The headers an access token goes in (option token_header: a bit each). */
#define QS_TOKEN_IN_ACCESS_TOKEN  1   /* access_token: T (Authentication and two more pages) */
#define QS_TOKEN_IN_AUTHORIZATION 2   /* Authorization: Bearer T (webhooks-1) */

#define QS_MAX_PAGES      10000
#define QS_MAX_REDIRECTS  5
#define QS_DOWNLOAD_BUFFER (100L * 1024)  /* libcurl's receive buffer for downloads */
#define QS_ERROR_BODY_CAP (64 * 1024)   /* what a failed download keeps of its body */
#define QS_MAX_CONCURRENCY 256          /* a batch's requests in flight at once, at most */
#define QS_ONCE_MAX_IDLE 1L             /* seconds: a request sent at most once reuses only a
                                           connection idle for less (CURLOPT_MAXAGE_CONN) */
#define QS_HOOK_WARNING 1               /* in_hook: on_warning runs */
#define QS_HOOK_EVENT 2                 /* in_hook: on_event runs */
#define QS_PROGRESS_EVERY 0.1           /* seconds between a download's progress records */

/* The error vocabulary: every reason an error can have (error.c gives each
   its name and kind). */
typedef enum qs_reason {
    QS_RESOLVE_FAILED, QS_CONNECT_FAILED, QS_CONNECTION_LOST, QS_NETWORK_FAILED,   /* network */
    QS_TIMED_OUT,                                                                /* timeout */
    QS_UNTRUSTED_CERTIFICATE, QS_TLS_FAILED,                                     /* tls */
    QS_HTTP_STATUS, QS_BODY_TOO_LARGE, QS_INSECURE_REDIRECT, QS_TOO_MANY_REDIRECTS, /* http */
    QS_API_ERROR,                                                                /* api */
    QS_NOT_JSON, QS_NOT_ENVELOPE, QS_MISSING_DATA, QS_BAD_ACCESS_TOKEN,          /* protocol */
    QS_UNKNOWN_LIST_SHAPE, QS_PAGINATION_LOOP, QS_CROSS_ORIGIN_NEXT, QS_TOO_MANY_PAGES,
    QS_BAD_DOCUMENT_URL, QS_NOT_PDF, QS_NO_DELETE_ROUTE,
    QS_CANNOT_CREATE_FILE, QS_CANNOT_WRITE_FILE, QS_CANNOT_RENAME_FILE, QS_CANNOT_CREATE_FOLDER, /* io */
    QS_NO_TOKEN_SOURCE,                                                          /* config (raised) */
    QS_REASON_COUNT
} qs_reason;

/* A growable byte buffer with a hard limit. */
typedef struct qs_buffer {
    char *data;
    size_t len, cap, limit;
    int overflow;               /* set when a write would pass limit */
} qs_buffer;

/* A download's temporary file, beside its target until renamed into place. */
typedef struct qs_tempfile {
    FILE *file;
    char *path;                 /* malloc'd; removed unless renamed */
} qs_tempfile;

struct qs_transfer;

/*
 * What one exchange in flight needs of its own: an easy handle on the
 * client's multi handle, its request headers, the answer's body, libcurl's
 * error text. The client owns its slots (transfer.c makes and frees them);
 * a batch uses as many at once as it has requests in flight.
 */
typedef struct qs_slot {
    CURL *curl;
    struct curl_slist *headers;
    qs_buffer body;             /* the answer, unless it streams to a sink */
    struct qs_transfer *t;      /* the exchange on it, or NULL when it is free */
    int sink_mode;              /* transfer.c: where the body goes, decided at its first byte */
    int added;                  /* on the multi handle now */
    int finished;               /* the exchange ended: its results are in *t */
    size_t sent_bytes;          /* of a body sent at most once (transfer.c's read callback) */
    char errbuf[CURL_ERROR_SIZE];
} qs_slot;

typedef struct qs_client {
    CURLM *multi;               /* every exchange runs on it; NULL once closed */
    CURLSH *share;              /* TLS sessions and DNS, shared by the slots */
    qs_slot **slots;            /* nslots of them, each allocated on its own (stable) */
    int nslots;
    qs_tempfile *temps;         /* downloads in progress: ntemps of them */
    int ntemps;
    char *client_id;            /* malloc'd; the secrets are wiped on close */
    char *client_secret;
    char *api_key;
    char *access_token;         /* given, or minted from api_key */
    char *base_url;             /* without a trailing slash */
    char *environment;          /* "sandbox", "production" or "custom" */
    char *ca_file, *proxy, *user_agent;   /* handed to libcurl, which copies them */
    double timeout, connect_timeout, download_timeout;
    double retry_base_delay, max_retry_delay;
    int max_retries;
    int concurrency;            /* a batch's requests in flight at once (option) */
    int http2;                  /* HTTP/2 when the server offers it (ALPN), else HTTP/1.1 */
    int allow_insecure_callbacks;
    int always_200;
    int token_header;           /* QS_TOKEN_IN_* bits: the headers the token goes in */
    int delete_route;           /* the delete path that worked: 0 not known yet, else a QS_DELETE_* */
    int in_hook;                /* a hook is running (QS_HOOK_*): the client may not be re-entered */
    int has_on_event;           /* an on_event function is in the uservalue */
    int busy;                   /* a call is under way (qs_run) */
    int close_pending;          /* close() came during that call: done when it ends */
    size_t max_body_size;
    unsigned long long rng;     /* jitter state, per client */
    /* The slots' exchanges and the temps are scratch owned by the client, so
       that a Lua error raised between two steps of a call can never leak
       them: dropped when the call ends (qs_run) and on close. */
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
    int once;                   /* sent at most once: libcurl re-sends a request silently
                                   when a reused connection turns out dead, which a
                                   non-idempotent call must never risk; such a request
                                   reuses only a connection idle < QS_ONCE_MAX_IDLE, and
                                   libcurl is refused the rewind a re-send needs */
    int (*cancelled)(void *ud); /* asked while bytes flow: nonzero ends the exchange */
    void *cancel_ud;
    qs_slot *slot;              /* where it runs; its body and errbuf are the answer's */
    /* out */
    CURLcode code;
    long status;
    int sent;                   /* the request may have reached the server */
    int resend_refused;         /* libcurl wanted to send it again on a new connection */
    double retry_after;         /* seconds, or -1 when absent */
    curl_off_t written;         /* bytes written to sink */
    curl_off_t total;           /* bytes the answer announced (Content-Length), or -1 */
    long connects;              /* new connections it made (CURLINFO_NUM_CONNECTS) */
    int aborted;                /* cancelled() ended it */
    int write_errno;            /* errno of a failed write to sink */
    const char *redirect;       /* absolute Location of a 3xx; owned by curl */
    const char *content_type;   /* of the answer, or NULL; owned by curl */
} qs_transfer;

/* One call of a method: its client, and what its perform step needs. */
typedef struct qs_call {
    qs_client *c;
    int client_idx;             /* stack index of the client userdata, which keeps c alive */
    double deadline;            /* monotonic seconds; set by qs_run: now + timeout */
    const void *args;           /* the method's checked arguments */
} qs_call;
typedef int (*qs_perform)(lua_State *L, qs_call *call);

/* What one attempt of a request came to (a reader's verdict, or the loop's). */
typedef enum qs_outcome {
    QS_DONE,                    /* the value is on top */
    QS_AGAIN,                   /* go again at once, not counted as an attempt (a redirect) */
    QS_REFUSED,                 /* an error answer on top: retried when its status is transient */
    QS_TRANSIENT,               /* a failure on top that another attempt may mend */
    QS_FAILED                   /* an error on top that no retry can mend */
} qs_outcome;

/* Whether a request carries the access token (in the headers token_header says). */
enum qs_token {
    QS_TOKEN_NONE,              /* never: minting one; a download off the API's origin */
    QS_TOKEN_IF_ANY,            /* when the client has api_key or access_token: webhook calls */
    QS_TOKEN_REQUIRED           /* always; no_token_source is raised without one: document packs */
};
enum qs_retry { QS_RETRY_SAFE, QS_RETRY_UNSENT };
/* The delete paths (client.delete_route remembers the one that worked). */
enum { QS_DELETE_SINGULAR = 1, QS_DELETE_PLURAL = 2 };

struct qs_request;
/* Turns a completed exchange (the body, unless sunk, in the client's buffer)
   into a value or an error. */
typedef qs_outcome (*qs_reader)(lua_State *L, struct qs_request *r, const qs_transfer *t);

/*
 * One request, as the attempt loop drives it: everything that differs
 * between an API call and a download is said here.
 */
typedef struct qs_request {
    const qs_call *call;
    const char *method;
    enum qs_token token;        /* whether it carries the access token (client credentials
                                   are in its URL or body, as the caller built them) */
    enum qs_retry retry;        /* QS_RETRY_UNSENT: repeat only what never reached the server */
    int url_idx;                /* stack index of the URL; a redirect or the next page replaces it */
    int body_idx;               /* stack index of the JSON body, or 0 */
    double deadline;            /* monotonic seconds */
    qs_tempfile *sink;          /* when set, a 2xx body streams to this file ... */
    const char *path;           /* ... which becomes this one */
    qs_reader reader;
    void *state;                /* the reader's own, kept across attempts */
    int envelope;               /* the envelope reader pushes the whole envelope, not its data */
    /* out: of the answer read last */
    long status;                /* the envelope's status_code when there is one, else HTTP's */
    long http_status;
    int attempts;               /* exchanges made (a redirect followed is part of one) */
    /* the debug hook when the exchange began: a change while libcurl runs is a signal
       handler's (Ctrl-C), which ends the exchange (attempt.c) */
    lua_State *L;
    lua_Hook hook;
    int hook_mask;
    /* the attempt loop's own (attempt.c) */
    qs_transfer t;              /* the exchange under way or last made */
    int phase;                  /* waiting, in flight, done */
    int tries;                  /* failed attempts so far (the retry count) */
    int reminted;               /* a token was minted again for it */
    double next_at;             /* when it may go (a retry's backoff), monotonic seconds */
    double began;               /* when its exchange began */
    double progress_at;         /* when its last progress record went out */
    int index;                  /* 1-based position in its batch */
    int frame;                  /* stack index of its batch frame (QS_FRAME slots), or 0 */
} qs_request;

#define QS_FRAME 4              /* stack slots of a batch request: URL, body, and two for its reader */

/*
 * Requests the attempt loop drives at once, at most `concurrency` in
 * flight. make() readies request i (its URL, body, reader) in its frame
 * when its turn comes: 1, or 2 with nil, err pushed when it cannot be made.
 * done() takes each request's outcome, value (1) or nil, err (2), from the
 * top of the stack, and pops it.
 */
typedef struct qs_batch {
    const qs_call *call;
    qs_request *reqs;           /* n of them */
    int n, concurrency;
    double deadline;            /* one for the whole batch */
    int (*make)(lua_State *L, struct qs_batch *b, qs_request *r);
    void (*done)(lua_State *L, struct qs_batch *b, qs_request *r, int rc);
    void *ud;
    int stop;                   /* done() set it: start no more requests; the rest fail */
} qs_batch;

/* buffer.c: bytes, never a Lua or libcurl call. */
void qs_buffer_reset(qs_buffer *b, size_t limit);
int  qs_buffer_append(qs_buffer *b, const char *p, size_t n);
void qs_buffer_free(qs_buffer *b);
void qs_str_replace(char **slot, const char *value);

/* retry.c: policy and timing, never a Lua call. */
double qs_now(void);
void   qs_sleep(double seconds);
qs_reason qs_curl_reason(CURLcode code);
int    qs_status_retryable(long status);
int    qs_curl_retryable(CURLcode code);
double qs_backoff(qs_client *c, int attempt, double retry_after);
double qs_retry_at(qs_client *c, int *attempt, double retry_after, double deadline);

/* transfer.c: libcurl only, never a Lua call. */
int  qs_transfer_open(qs_client *c);
void qs_transfer_close(qs_client *c);
int  qs_scratch_reserve(qs_client *c, int slots, int temps);
void qs_scratch_release(qs_client *c);
qs_slot *qs_slot_acquire(qs_client *c);
void qs_slot_release(qs_client *c, qs_slot *s);
void qs_transfer_start(qs_client *c, qs_slot *s, qs_transfer *t);
void qs_transfer_poll(qs_client *c, double wait);
int  qs_build_headers(const qs_client *c, qs_slot *s, int json_body, int with_token);
int  qs_header_safe(const char *s);

/* url.c */
void qs_push_url(lua_State *L, qs_client *c, const char *path, const char *key,
                 const char *const *query, int with_credentials);
int  qs_same_origin(const char *a, const char *b);
int  qs_is_http_url(const char *s);
void qs_push_with_credentials(lua_State *L, qs_client *c, const char *url, int with_credentials);
void qs_push_credentials(lua_State *L, qs_client *c, int more);
int  qs_push_resolved(lua_State *L, const char *base, const char *ref);

/* json.c */
void qs_json_init(lua_State *L);
void qs_json_encode(lua_State *L, int idx);
int  qs_json_decode(lua_State *L, const char *s, size_t len);

/* redact.c */
void qs_push_redacted(lua_State *L, qs_client *c, const char *s);
void qs_push_redacted_copy(lua_State *L, qs_client *c, int idx, int depth);

/* args.c */
typedef int (*qs_known_fn)(const void *set, const char *name);
void qs_check_known(lua_State *L, int idx, const char *fn, const char *what, qs_known_fn known,
                    const void *set);
void qs_check_fields(lua_State *L, int idx, const char *method, const char *const *allowed);
const char *qs_field_string(lua_State *L, int idx, const char *field, const char *method,
                            int required);
const char *qs_check_key(lua_State *L, int idx, const char *name);
int  qs_has_nul(lua_State *L, int idx);
void qs_check_args_table(lua_State *L, int idx, int optional);

/* error.c */
void qs_error_init(lua_State *L);
void qs_push_error(lua_State *L, qs_client *c, qs_reason reason, const char *message);
void qs_push_answer_error(lua_State *L, const qs_request *r, qs_reason reason, const char *message);
void qs_error_set_request(lua_State *L, const qs_request *r);
void qs_error_set_bool(lua_State *L, const char *field, int value);
void qs_error_set_string(lua_State *L, qs_client *c, const char *field, const char *value);
int  qs_raise_error(lua_State *L, qs_client *c, qs_reason reason, const char *message);
int  qs_is_error(lua_State *L, int idx);
void qs_push_reasons(lua_State *L);
int  qs_fail(lua_State *L, int base);
int  qs_keep_top2(lua_State *L, int base);

/* class.c: each class of the module declared once. */
typedef struct qs_class {
    const char *name;           /* the registry's name of its metatable, and __name */
    const char *field;          /* its key in the module's `methods` */
    const luaL_Reg *methods;    /* what __index finds, listed in core.methods */
    const luaL_Reg *local_methods;  /* __index finds them too, but their results belong to this
                                   Lua state (an iterator): not listed, or NULL */
    const luaL_Reg *meta;       /* metamethods (__gc, __close, __tostring), or NULL */
    lua_CFunction index;        /* an __index closure over the methods, or NULL */
} qs_class;
void  qs_class_open(lua_State *L, const qs_class *k, int methods_idx);
void *qs_class_check(lua_State *L, int idx, const qs_class *k, const char *method);

/* options.c: the options of quicklysign.new, declared once. */
void qs_call_hook(lua_State *L, qs_client *c, int nargs, int which);
typedef enum qs_opt_type {
    QS_OPT_STRING, QS_OPT_NUMBER, QS_OPT_INTEGER, QS_OPT_SIZE, QS_OPT_BOOLEAN, QS_OPT_FUNCTION,
    QS_OPT_CHOICE               /* one word of a list, stored as its value (an int) */
} qs_opt_type;
typedef struct qs_choice {
    const char *name;
    int value;
} qs_choice;
#define QS_OPT_REQUIRED 1u      /* no default: the caller or the environment gives it */
#define QS_OPT_PLACE    2u      /* says where the API is (read first; see options.c) */
#define QS_OPT_HEADER   4u      /* sent as a header value: no control characters */
typedef struct qs_option {
    const char *name;
    qs_opt_type type;
    const char *env;            /* the environment variable read when the option is absent */
    unsigned flags;
    double dflt, min, max;      /* of numbers and booleans; a choice's default is its index */
    size_t offset;              /* of its field in qs_client (a function's goes to the uservalue) */
    const qs_choice *choices;   /* of a choice, ending with a NULL name */
} qs_option;
void qs_options_read(lua_State *L, qs_client *c, int uv, int place);
void qs_options_release(qs_client *c);
void qs_push_options(lua_State *L);

/* event.c */
void qs_event(lua_State *L, const qs_call *call, const char *type, const qs_request *r, int outcome_idx);

/* envelope.c */
const char *qs_string_field(lua_State *L, int idx, const char *name);
int  qs_envelope_read(lua_State *L, qs_request *r, const qs_transfer *t);
qs_outcome qs_envelope_reader(lua_State *L, qs_request *r, const qs_transfer *t);
void qs_record_response(lua_State *L, const qs_request *r, long status);
void qs_note_response(lua_State *L, const qs_request *r, const char *field);

/* fs.c */
int  qs_temp_open(qs_tempfile *t, const char *path);
void qs_temp_discard(qs_tempfile *t);
void qs_temps_discard(qs_client *c);
int  qs_temp_rewind(qs_tempfile *t);
int  qs_temp_read(qs_tempfile *t, qs_buffer *b);
long qs_temp_head(qs_tempfile *t, char *buf, size_t n);
int  qs_temp_sync(qs_tempfile *t);
int  qs_temp_place(qs_tempfile *t, const char *path);
int  qs_make_dirs(char *path);
void qs_push_file_name(lua_State *L, const char *name, const char *fallback, int used);
long qs_utf8_decode(const unsigned char *p, size_t *len);
int  qs_name_char(long cp);
long qs_fold_case(long cp);
void qs_push_io_error(lua_State *L, qs_client *c, qs_reason reason, const char *path, int err);

/* attempt.c */
void qs_request_init(qs_request *r, const qs_call *call, const char *method,
                     enum qs_token token, int url_idx);
int  qs_attempt(lua_State *L, qs_request *r);
int  qs_attempt_all(lua_State *L, qs_batch *b);
void qs_checkpoint(lua_State *L);
int  qs_authenticate(lua_State *L, const qs_call *call);

/* api.c, download.c */
#define QS_LIST_QUERY 6         /* slots of a list's own query: three name, value pairs */
typedef struct qs_list {
    const char *path;           /* QS_PATH_WEBHOOKS */
    const char *field;          /* the items' name, as the vendor would spell it: "webhooks" */
    const char *singular;       /* the same in the singular: "webhook" */
    const char *query[QS_LIST_QUERY + 1];   /* name, value, ...: a NULL value skips its pair */
} qs_list;
int  qs_api_field(lua_State *L, const qs_request *r, int base, const char *field);
int  qs_is_array(lua_State *L, int idx);
void qs_push_found(lua_State *L, int idx);
int  qs_next_is_reference(const char *next, const char *base_url);
int  qs_list_page(lua_State *L, qs_request *r, const qs_list *list, int pos_idx);
int  qs_api_list(lua_State *L, qs_request *r, const qs_list *list);
void qs_list_request(lua_State *L, qs_request *r, const qs_list *list);
int  qs_download(lua_State *L, const qs_call *call, const char *url, const char *path,
                 double deadline);
void qs_download_request(lua_State *L, qs_request *r, const qs_call *call, qs_tempfile *temp,
                         const char *path, int hops_idx);
int  qs_download_failed(lua_State *L, qs_request *r, int hops_idx);

/* many.c: batch calls */
typedef struct qs_many {
    int (*make)(lua_State *L, qs_batch *b, qs_request *r);   /* item r->index of items_idx */
    int (*finish)(lua_State *L, qs_batch *b, qs_request *r, int rc);   /* the item's value from its
                                   request's outcome on top (1 value, 2 nil, err), or NULL */
    int items_idx;              /* stack index of the checked copy of the items */
    const void *ud;             /* the method's own */
    int results_idx, errors_idx, failed;   /* qs_many_run's */
} qs_many;
int  qs_many_options(lua_State *L, const qs_client *c, int idx, const char *method, double *timeout);
int  qs_many_run(lua_State *L, const qs_call *call, qs_many *m, int concurrency);
int  qs_many_list(lua_State *L, int idx, const char *method, const char *what);
const char *qs_many_key(lua_State *L, int list, int i, const char *method, const char *what);
const char *qs_many_field(lua_State *L, int i, const char *field, const char *method);
int  qs_many_keyed(lua_State *L, qs_batch *b, qs_request *r, const char *method, const char *path,
                   enum qs_token token, int with_credentials);
void qs_request_reset(qs_request *r, const qs_call *call, const char *method, enum qs_token token,
                      int url_idx);

/* client.c */
extern const qs_class qs_client_class;
int  qs_client_new(lua_State *L);
int  qs_run(lua_State *L, qs_call *call, qs_perform perform);
void qs_resource_call(lua_State *L, qs_call *call, const qs_class *k, const char *method);

/* webhooks.c, document_packs.c */
extern const qs_class qs_webhooks_class;
extern const qs_class qs_packs_class;

#endif
