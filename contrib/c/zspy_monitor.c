/*
 * zspy_monitor.c: forward a libzmq socket's monitor events to zspy.
 *
 * libzmq reports socket events only on an inproc:// endpoint inside the
 * process (zmq_socket_monitor).  This snippet starts the monitor and a thread
 * that relays every event, unchanged, to an endpoint zspy listens on or
 * connects to, each preceded by a frame naming the source:
 *
 *     [source] [event: uint16 code + uint32 value, host order] [endpoint]
 *
 * which is what `zspy monitor` decodes (v1 format with a source frame).
 * Copy the two functions into your application, or compile this file next
 * to it.  Build:  cc -c zspy_monitor.c   and link with  -lzmq -lpthread.
 *
 *     void *sock = zmq_socket(ctx, ZMQ_DEALER);
 *     zspy_monitor_t *fwd = zspy_monitor_forward(ctx, sock,
 *             "tcp://127.0.0.1:7777", "billing/dealer", 1, ZMQ_PUB);
 *     zmq_connect(sock, "tcp://server:5555");
 *     ...
 *     zmq_close(sock);           // libzmq then sends MONITOR_STOPPED ...
 *     zspy_monitor_join(fwd);    // ... which ends the relay thread
 *
 * zspy side:  zspy monitor tcp://127.0.0.1:7777          (bind = 1, ZMQ_PUB)
 *             zspy monitor --socket pull @tcp://127.0.0.1:7777 (bind = 0, ZMQ_PUSH)
 *
 * When zspy binds with --plain-user, connect with credentials:
 *
 *     zspy_monitor_forward_plain(ctx, sock, "tcp://10.0.0.2:7777",
 *             "billing/dealer", ZMQ_PUSH, "zspy", password);
 *
 * (ZMTP PLAIN: the password crosses the network in clear text; keep it to
 * loopback, ipc:// or a private network.)
 *
 * With ZMQ_PUB, events sent before zspy's subscription arrives are lost;
 * ZMQ_PUSH and ZMQ_PAIR keep them queued (up to the high-water mark).
 * The relay forwards whole messages, so with a libzmq built with draft APIs
 * zmq_socket_monitor_versioned(sock, addr, ZMQ_EVENT_ALL_V2, 2, ZMQ_PAIR)
 * can replace zmq_socket_monitor below: zspy decodes v2 (local and remote
 * endpoints, PIPES_STATS) too.
 * Compile with -DZSPY_MONITOR_DEMO for a small demo program (zspy's tests
 * build and run it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct zspy_monitor {
    void *mon;               /* PAIR connected to the socket's inproc monitor */
    void *out;               /* towards zspy */
    char *source;            /* NULL: no source frame */
    pthread_t thread;
    unsigned long forwarded; /* events relayed (zspy_monitor_join returns it) */
} zspy_monitor_t;

static void *zspy_monitor_relay(void *arg)
{
    zspy_monitor_t *m = arg;
    for (;;) {
        zmq_msg_t frame;
        uint64_t code = 0;
        int first = 1, more = 1, stopped = 0;
        /* Relay every frame of one event message: v1 has 2, v2 has N+4. */
        while (more) {
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, m->mon, 0) < 0) {
                zmq_msg_close(&frame);
                goto done;
            }
            more = zmq_msg_more(&frame);
            if (first) {
                uint16_t c16;
                if (zmq_msg_size(&frame) == 6) { /* v1: uint16 code, uint32 value */
                    memcpy(&c16, zmq_msg_data(&frame), 2);
                    code = c16;
                } else if (zmq_msg_size(&frame) == 8) { /* v2: uint64 code */
                    memcpy(&code, zmq_msg_data(&frame), 8);
                }
                stopped = code == ZMQ_EVENT_MONITOR_STOPPED;
                if (m->source)
                    zmq_send(m->out, m->source, strlen(m->source), ZMQ_SNDMORE);
                first = 0;
            }
            if (zmq_msg_send(&frame, m->out, more ? ZMQ_SNDMORE : 0) < 0)
                zmq_msg_close(&frame);
        }
        m->forwarded++;
        if (stopped)
            break;
    }
done:
    zmq_close(m->mon);
    zmq_close(m->out);
    return NULL;
}

/* Starts relaying sock's monitor events to endpoint (bind it when bind is
 * non-zero, else connect) on a socket of the given type (ZMQ_PUB, ZMQ_PUSH
 * or ZMQ_PAIR).  Call it before sock's bind/connect to see every event.
 * Returns NULL with errno set on failure. */
static zspy_monitor_t *zspy_monitor_start(void *ctx, void *sock, const char *endpoint,
                                          const char *source, int bind, int type,
                                          const char *username, const char *password);

zspy_monitor_t *zspy_monitor_forward(void *ctx, void *sock, const char *endpoint,
                                     const char *source, int bind, int type)
{
    return zspy_monitor_start(ctx, sock, endpoint, source, bind, type, NULL, NULL);
}

/* As zspy_monitor_forward, connecting to a zspy that binds with
 * --plain-user: the relay presents ZMTP PLAIN credentials (each at most 255
 * bytes), and zspy refuses it (ERROR 400) if they are wrong. */
zspy_monitor_t *zspy_monitor_forward_plain(void *ctx, void *sock, const char *endpoint,
                                           const char *source, int type,
                                           const char *username, const char *password)
{
    if (!username || !password || strlen(username) > 255 || strlen(password) > 255) {
        errno = EINVAL;
        return NULL;
    }
    return zspy_monitor_start(ctx, sock, endpoint, source, 0, type, username, password);
}

static zspy_monitor_t *zspy_monitor_start(void *ctx, void *sock, const char *endpoint,
                                          const char *source, int bind, int type,
                                          const char *username, const char *password)
{
    char addr[64];
    int linger = 1000;
    zspy_monitor_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(addr, sizeof addr, "inproc://zspy-monitor-%p", sock);
    if (source && !(m->source = strdup(source)))
        goto fail;
    m->out = zmq_socket(ctx, type);
    if (!m->out)
        goto fail;
    zmq_setsockopt(m->out, ZMQ_LINGER, &linger, sizeof linger);
    if (username && (zmq_setsockopt(m->out, ZMQ_PLAIN_USERNAME, username, strlen(username)) != 0 ||
                     zmq_setsockopt(m->out, ZMQ_PLAIN_PASSWORD, password, strlen(password)) != 0))
        goto fail;
    if ((bind ? zmq_bind(m->out, endpoint) : zmq_connect(m->out, endpoint)) != 0)
        goto fail;
    if (zmq_socket_monitor(sock, addr, ZMQ_EVENT_ALL) != 0)
        goto fail;
    m->mon = zmq_socket(ctx, ZMQ_PAIR);
    if (!m->mon || zmq_connect(m->mon, addr) != 0)
        goto fail;
    if (pthread_create(&m->thread, NULL, zspy_monitor_relay, m) != 0)
        goto fail;
    return m;
fail:
    if (m->mon)
        zmq_close(m->mon);
    if (m->out)
        zmq_close(m->out);
    free(m->source);
    free(m);
    return NULL;
}

/* Waits for the relay to end (after MONITOR_STOPPED: the socket was closed
 * or zmq_socket_monitor(sock, NULL, 0) was called), frees it and returns how
 * many events it relayed. */
unsigned long zspy_monitor_join(zspy_monitor_t *m)
{
    unsigned long n;
    pthread_join(m->thread, NULL);
    n = m->forwarded;
    free(m->source);
    free(m);
    return n;
}

#ifdef ZSPY_MONITOR_DEMO
/* zspy_monitor_demo ENDPOINT [USER PASSWORD]: a REP and a REQ exchange one
 * message, both monitored, their events pushed to ENDPOINT (where zspy binds
 * a PULL), with PLAIN credentials when given; prints how many events each
 * relay forwarded. */
int main(int argc, char **argv)
{
    char ep[256], buf[16];
    size_t len = sizeof ep;
    unsigned long nrep, nreq;
    void *ctx, *rep, *req;
    zspy_monitor_t *frep, *freq;
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s ENDPOINT [USER PASSWORD]\n", argv[0]);
        return 2;
    }
    ctx = zmq_ctx_new();
    rep = zmq_socket(ctx, ZMQ_REP);
    req = zmq_socket(ctx, ZMQ_REQ);
    if (argc == 4) {
        frep = zspy_monitor_forward_plain(ctx, rep, argv[1], "c-demo/rep", ZMQ_PUSH, argv[2], argv[3]);
        freq = zspy_monitor_forward_plain(ctx, req, argv[1], "c-demo/req", ZMQ_PUSH, argv[2], argv[3]);
    } else {
        frep = zspy_monitor_forward(ctx, rep, argv[1], "c-demo/rep", 0, ZMQ_PUSH);
        freq = zspy_monitor_forward(ctx, req, argv[1], "c-demo/req", 0, ZMQ_PUSH);
    }
    if (!frep || !freq) {
        perror("zspy_monitor_forward");
        return 1;
    }
    if (zmq_bind(rep, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
        zmq_connect(req, ep) != 0) {
        perror("bind/connect");
        return 1;
    }
    zmq_send(req, "hi", 2, 0);
    zmq_recv(rep, buf, sizeof buf, 0);
    zmq_send(rep, "ok", 2, 0);
    zmq_recv(req, buf, sizeof buf, 0);
    zmq_close(req);
    zmq_close(rep);
    nreq = zspy_monitor_join(freq);
    nrep = zspy_monitor_join(frep);
    printf("relayed c-demo/req %lu\nrelayed c-demo/rep %lu\n", nreq, nrep);
    zmq_ctx_term(ctx);
    return 0;
}
#endif
