/*
 * delay_proxy.c - a TCP proxy on 127.0.0.1 that delays every byte by a fixed
 * time in each direction, so that benchmarks on loopback (no netem here) see
 * a network's round trip; and counts what crosses it.
 *
 *   delay_proxy LISTEN_PORT TARGET_IP:PORT DELAY_MS STATS_PORT
 *
 * Bytes read from one side are written to the other DELAY_MS later, in order,
 * end of stream included. A new connection's first client bytes wait one
 * round trip more (2 * DELAY_MS): what a real TCP handshake costs before the
 * client may send. The stats port answers one line and closes:
 *   connections=N open=M round_trips=R up_bytes=U down_bytes=D
 * R counts one round trip per connection (its TCP handshake) and one per
 * client flight that the server answered (what the client sent before the
 * server next spoke: a TLS handshake's flights, a request). For sequential
 * request/answer traffic that is the round trips the client waited for; a
 * goodbye nobody answers (TLS close_notify, FIN) is not one. Concurrent
 * requests on one connection (HTTP/2) share their round trips.
 * Prints "ready" on stdout once listening. Stops on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE   65536
#define QUEUE_LIMIT (8u * 1024 * 1024)   /* bytes in flight per direction before reading pauses */
#define MAX_EVENTS  128

typedef struct chunk {
    struct chunk *next;
    double due;                 /* monotonic seconds when it may be written */
    size_t len, off;
    int eof;                    /* the end of the stream, not bytes */
    char data[];
} chunk;

typedef struct direction {
    chunk *head, *tail;
    size_t queued;
    int read_done;              /* the source's end of stream was read */
    int write_done;             /* ... and passed on */
    int blocked;                /* the destination would block: wait for EPOLLOUT */
} direction;

struct conn;
typedef struct endpoint {
    struct conn *c;
    int fd, is_server;
    unsigned events;            /* what epoll watches now */
    int gone;                   /* hung up, its end of stream read: no longer watched */
} endpoint;

typedef struct conn {
    struct conn *prev, *next;
    endpoint client, server;
    direction up, down;         /* client to server; server to client */
    double ready;               /* when the client's first bytes may leave (the handshake) */
    int connecting;             /* the connect to the target is under way */
    int last_up;                /* the last bytes read came from the client: unanswered */
    int dead;
} conn;

static struct {
    int ep, listen_fd, stats_fd;
    double delay;
    struct sockaddr_in target;
    conn *conns;
    unsigned long long connections, open, round_trips, up_bytes, down_bytes;
} P;

static volatile sig_atomic_t stopping;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int listen_on(int port)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0 || nonblocking(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- epoll interest ------------------------------------------------------ */

static direction *outgoing(endpoint *e) { return e->is_server ? &e->c->down : &e->c->up; }
static direction *incoming(endpoint *e) { return e->is_server ? &e->c->up : &e->c->down; }

/* Reads while its bytes have room to queue; writes when a due chunk was blocked. */
static void watch(endpoint *e)
{
    direction *out = outgoing(e), *in = incoming(e);
    unsigned want = 0;
    if (e->fd < 0 || e->gone)
        return;
    if (!out->read_done && out->queued < QUEUE_LIMIT && !(e->is_server && e->c->connecting))
        want |= EPOLLIN;
    if (in->blocked || (e->is_server && e->c->connecting))
        want |= EPOLLOUT;
    if (want == e->events)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = e };
    epoll_ctl(P.ep, EPOLL_CTL_MOD, e->fd, &ev);
    e->events = want;
}

static int add_fd(endpoint *e)
{
    struct epoll_event ev = { .events = 0, .data.ptr = e };
    e->events = 0;
    return epoll_ctl(P.ep, EPOLL_CTL_ADD, e->fd, &ev);
}

/* ---- connections ---------------------------------------------------------- */

static void free_chunks(direction *d)
{
    while (d->head != NULL) {
        chunk *next = d->head->next;
        free(d->head);
        d->head = next;
    }
    d->tail = NULL;
}

static void conn_free(conn *c)
{
    if (c->client.fd >= 0)
        close(c->client.fd);
    if (c->server.fd >= 0)
        close(c->server.fd);
    free_chunks(&c->up);
    free_chunks(&c->down);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        P.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    P.open--;
    free(c);
}

/* A client accepted: connect to the target, without waiting. */
static void conn_open(int cfd)
{
    int one = 1, sfd = socket(AF_INET, SOCK_STREAM, 0);
    conn *c = calloc(1, sizeof *c);
    if (c == NULL || sfd < 0 || nonblocking(cfd) != 0 || nonblocking(sfd) != 0) {
        free(c);
        close(cfd);
        if (sfd >= 0)
            close(sfd);
        return;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->client = (endpoint){ c, cfd, 0, 0, 0 };
    c->server = (endpoint){ c, sfd, 1, 0, 0 };
    c->ready = now() + 2 * P.delay;
    c->next = P.conns;
    if (P.conns != NULL)
        P.conns->prev = c;
    P.conns = c;
    P.connections++;
    P.round_trips++;            /* the TCP handshake */
    P.open++;
    if (connect(sfd, (struct sockaddr *)&P.target, sizeof P.target) != 0) {
        if (errno != EINPROGRESS) {
            conn_free(c);
            return;
        }
        c->connecting = 1;
    }
    if (add_fd(&c->client) != 0 || add_fd(&c->server) != 0) {
        conn_free(c);
        return;
    }
    watch(&c->client);
    watch(&c->server);
}

static void queue_chunk(direction *d, chunk *k)
{
    if (d->tail != NULL)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->queued += k->len;
}

/* Reads what one side sent and queues it for the other, DELAY later. */
static void on_readable(endpoint *e)
{
    conn *c = e->c;
    direction *d = outgoing(e);
    char buf[READ_SIZE];
    if (d->read_done)
        return;
    ssize_t n = read(e->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    chunk *k = malloc(sizeof *k + (n > 0 ? (size_t)n : 0));
    if (k == NULL) {
        c->dead = 1;
        return;
    }
    double t = now();
    k->next = NULL;
    k->due = (!e->is_server && t < c->ready ? c->ready : t) + P.delay;
    k->off = 0;
    k->eof = n <= 0;
    k->len = n > 0 ? (size_t)n : 0;
    if (n > 0) {
        memcpy(k->data, buf, (size_t)n);
        if (e->is_server && c->last_up)
            P.round_trips++;    /* the server answers what the client sent */
        c->last_up = !e->is_server;
        *(e->is_server ? &P.down_bytes : &P.up_bytes) += (unsigned long long)n;
    } else {
        d->read_done = 1;
    }
    queue_chunk(d, k);
    watch(e);
}

/* Writes the due chunks of one direction; returns 0, or -1 when the connection died. */
static int deliver(direction *d, endpoint *to, double t)
{
    while (d->head != NULL && d->head->due <= t && !d->blocked) {
        chunk *k = d->head;
        if (k->eof) {
            shutdown(to->fd, SHUT_WR);
            d->write_done = 1;
        } else {
            ssize_t n = send(to->fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                d->blocked = 1;
                break;
            }
            if (n < 0)
                return -1;
            k->off += (size_t)n;
            if (k->off < k->len)
                continue;
        }
        d->head = k->next;
        if (d->head == NULL)
            d->tail = NULL;
        d->queued -= k->len;
        free(k);
    }
    return 0;
}

static void on_writable(endpoint *e)
{
    conn *c = e->c;
    if (e->is_server && c->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c->connecting = 0;
        if (err != 0)
            c->dead = 1;
    }
    incoming(e)->blocked = 0;
    watch(e);
}

/* Every connection's due chunks written; finished ones closed; returns when the next is due. */
static double deliver_all(void)
{
    double t = now(), next = -1;
    conn *c = P.conns;
    while (c != NULL) {
        conn *after = c->next;
        if (!c->dead && !c->connecting &&
            (deliver(&c->up, &c->server, t) != 0 || deliver(&c->down, &c->client, t) != 0))
            c->dead = 1;
        if (c->dead || (c->up.write_done && c->down.write_done)) {
            conn_free(c);
        } else {
            watch(&c->client);
            watch(&c->server);
            direction *ds[2] = { &c->up, &c->down };
            for (int i = 0; i < 2; i++)
                if (ds[i]->head != NULL && !ds[i]->blocked && (next < 0 || ds[i]->head->due < next))
                    next = ds[i]->head->due;
        }
        c = after;
    }
    return next;
}

/* ---- the listeners ------------------------------------------------------- */

static void on_stats(void)
{
    int fd = accept(P.stats_fd, NULL, NULL);
    if (fd < 0)
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "connections=%llu open=%llu round_trips=%llu up_bytes=%llu down_bytes=%llu\n",
                     P.connections, P.open, P.round_trips, P.up_bytes, P.down_bytes);
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
        perror("delay_proxy: stats");
    close(fd);
}

static void on_event(struct epoll_event *ev)
{
    if (ev->data.ptr == &P.listen_fd) {
        int fd;
        while ((fd = accept(P.listen_fd, NULL, NULL)) >= 0)
            conn_open(fd);
        return;
    }
    if (ev->data.ptr == &P.stats_fd) {
        on_stats();
        return;
    }
    endpoint *e = ev->data.ptr;
    if (e->c->dead)
        return;
    if ((ev->events & (EPOLLERR | EPOLLHUP)) && outgoing(e)->read_done) {
        /* reported whatever is watched: stop, or it would spin until the rest is due */
        epoll_ctl(P.ep, EPOLL_CTL_DEL, e->fd, NULL);
        e->gone = 1;
        incoming(e)->blocked = 0;
        return;
    }
    if (ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        on_writable(e);
    if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(e);
}

static int setup(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: delay_proxy LISTEN_PORT TARGET_IP:PORT DELAY_MS STATS_PORT\n");
        return -1;
    }
    char host[64];
    int tport = 0;
    if (sscanf(argv[2], "%63[0-9.]:%d", host, &tport) != 2 ||
        inet_pton(AF_INET, host, &P.target.sin_addr) != 1) {
        fprintf(stderr, "delay_proxy: bad target %s (IPv4:port)\n", argv[2]);
        return -1;
    }
    P.target.sin_family = AF_INET;
    P.target.sin_port = htons((unsigned short)tport);
    P.delay = atof(argv[3]) / 1000.0;
    P.ep = epoll_create1(0);
    P.listen_fd = listen_on(atoi(argv[1]));
    P.stats_fd = listen_on(atoi(argv[4]));
    if (P.ep < 0 || P.listen_fd < 0 || P.stats_fd < 0) {
        perror("delay_proxy: listen");
        return -1;
    }
    struct epoll_event a = { .events = EPOLLIN, .data.ptr = &P.listen_fd };
    struct epoll_event b = { .events = EPOLLIN, .data.ptr = &P.stats_fd };
    if (epoll_ctl(P.ep, EPOLL_CTL_ADD, P.listen_fd, &a) != 0 || epoll_ctl(P.ep, EPOLL_CTL_ADD, P.stats_fd, &b) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (setup(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[MAX_EVENTS];
    while (!stopping) {
        double next = deliver_all();
        struct timespec ts, *tp = NULL;
        if (next >= 0) {
            double wait = next - now();
            if (wait < 0)
                wait = 0;
            ts.tv_sec = (time_t)wait;
            ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
            tp = &ts;
        }
        int n = epoll_pwait2(P.ep, evs, MAX_EVENTS, tp, NULL);
        for (int i = 0; i < n; i++)
            on_event(&evs[i]);
    }
    while (P.conns != NULL)
        conn_free(P.conns);
    return 0;
}
