/*
 * event.c - the records the client's on_event(record) option receives: a
 * request going out, its response (or failure), a retry and its wait, an
 * access token minted, a download's progress. The attempt loop makes them
 * between the multi handle's rounds, never inside libcurl.
 *
 * A record holds no credential: URLs are redacted (the client_secret rides
 * in webhook calls' queries), bodies and headers are never in one, and a
 * token record says only that one was minted. Like on_warning, the hook
 * runs with the client marked in_hook (it may not call the client), and an
 * error it raises ends the call, raised to its caller.
 */
#include <string.h>

#include "qs.h"

static void set_number(lua_State *L, const char *field, double v)
{
    if (v == (double)(lua_Integer)v)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, v);
    lua_setfield(L, -2, field);
}

/* A response's fields: its status, how long it took, new connections, and
   the outcome (at outcome_idx: a value, or an error whose reason it names). */
static void set_response(lua_State *L, const qs_request *r, double now, int outcome_idx)
{
    if (r->status > 0)
        set_number(L, "status", (double)r->status);
    set_number(L, "seconds", now - r->began);
    set_number(L, "connects", (double)r->t.connects);
    if (r->sink != NULL)
        set_number(L, "bytes", (double)r->t.written);
    int failed = outcome_idx != 0 && qs_is_error(L, outcome_idx);
    lua_pushboolean(L, !failed);
    lua_setfield(L, -2, "ok");
    if (failed) {
        lua_getfield(L, outcome_idx, "reason");
        lua_setfield(L, -2, "reason");
    }
}

/* Pushes the record of `type` about request r. */
static void push_record(lua_State *L, qs_client *c, const char *type, const qs_request *r, int outcome_idx)
{
    double now = qs_now();
    lua_createtable(L, 0, 10);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, r->method);
    lua_setfield(L, -2, "method");
    if (r->url_idx != 0 && lua_type(L, r->url_idx) == LUA_TSTRING) {
        qs_push_redacted(L, c, lua_tostring(L, r->url_idx));
        lua_setfield(L, -2, "url");
    }
    set_number(L, "attempt", (double)r->attempts);
    if (r->frame != 0)
        set_number(L, "index", (double)r->index);   /* its place in a batch call's list */
    if (strcmp(type, "response") == 0) {
        set_response(L, r, now, outcome_idx);
    } else if (strcmp(type, "retry") == 0) {
        set_number(L, "wait", r->next_at > now ? r->next_at - now : 0);
        if (r->status > 0)
            set_number(L, "status", (double)r->status);
    } else if (strcmp(type, "token") == 0) {
        lua_pushboolean(L, r->reminted);
        lua_setfield(L, -2, "reminted");
    } else if (strcmp(type, "download_progress") == 0) {
        set_number(L, "bytes", (double)r->t.written);
        if (r->t.total >= 0)
            set_number(L, "total", (double)r->t.total);
        set_number(L, "seconds", now - r->began);
    }
}

/*
 * Calls the client's on_event with the record of `type` about request r
 * (outcome_idx: for a response, the stack index of its value or error; 0
 * otherwise). Nothing when the client has no on_event, or when it is the
 * hook itself that is running.
 */
void qs_event(lua_State *L, const qs_call *call, const char *type, const qs_request *r, int outcome_idx)
{
    qs_client *c = call->c;
    if (!c->has_on_event || c->in_hook)
        return;
    int top = lua_gettop(L);
    qs_getuservalue(L, call->client_idx);
    lua_getfield(L, -1, "on_event");
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, top);
        return;
    }
    push_record(L, c, type, r, outcome_idx);
    qs_call_hook(L, c, 1, QS_HOOK_EVENT);
    lua_settop(L, top);
}
