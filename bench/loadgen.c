/*
 * loadgen.c - HTTP/1.1 load generator for the FinOps benchmark (single thread, epoll).
 *
 * Open loop (-r RATE > 0): request i is due at t0 + i/RATE regardless of how fast answers come
 * back (wrk2-style). A due request waits for an idle keep-alive connection if none is free, and
 * its latency is measured from its *intended* send time, so a stall shows up in the percentiles
 * instead of silently lowering the offered rate (no coordinated omission).
 * Closed loop (-r 0): every connection sends its next request as soon as the previous answer is
 * complete; gives the maximum throughput; latency is measured from the actual send.
 *
 * --stream: the request body gets "stream":true (added if missing); latency is the time to the
 * end of the response (terminating chunk, which follows "data: [DONE]"); ttfb_* is the time to
 * the first byte of the response body (first SSE event). A 2xx stream without "[DONE]" counts as
 * an error (no_done).
 *
 * --poll-ok SINCE: propagation probe. Sends the request repeatedly on one connection (pause
 * --poll-interval-us, default 200) until it gets a 2xx, then prints the time elapsed since SINCE
 * (CLOCK_REALTIME seconds, e.g. bash's $EPOCHREALTIME) in ms. Retries only on 401/403/503 (key not
 * known yet / not ready); any other status fails at once. Gives up after -T seconds.
 * --poll-stdin: same, but connects first, then reads lines "SINCE KEY" from stdin and polls once
 * per line with "Authorization: Bearer KEY" (one result line each), so that neither process
 * start-up nor connection set-up is part of the measured time.
 *
 * Build: gcc -O2 -Wall -o loadgen loadgen.c
 * Usage: loadgen -u URL [-r RATE] [-d SECONDS] [-w WARMUP_S] [-c CONNS] [-H 'Name: value']...
 *                [-b BODY | -b @FILE] [-m METHOD] [-T TIMEOUT_S] [--stream]
 *                [--poll-ok SINCE | --poll-stdin] [--poll-interval-us N]
 * Output: one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static double realtime_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------- latency samples ---------------- */
typedef struct {
    uint32_t *v; /* microseconds */
    size_t n, cap;
} samples_t;
static void sample_add(samples_t *s, int64_t ns) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) { perror("realloc"); exit(1); }
    }
    int64_t us = (ns + 500) / 1000;
    if (us < 0) us = 0;
    if (us > UINT32_MAX) us = UINT32_MAX;
    s->v[s->n++] = (uint32_t)us;
}
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
static long pct(const samples_t *s, double p) {
    if (s->n == 0) return -1;
    size_t idx = (size_t)ceil(p * s->n);
    if (idx < 1) idx = 1;
    if (idx > s->n) idx = s->n;
    return s->v[idx - 1];
}

/* ---------------- config ---------------- */
static char g_host[300], g_port[16] = "80", g_path[2048] = "/";
static struct sockaddr_storage g_sa;
static socklen_t g_salen;
static char *g_req;
static size_t g_req_len;
static int g_stream;

enum { C_DOWN = 0, C_CONNECTING, C_IDLE, C_BUSY };
enum { P_HEAD = 0, P_BODY_CL, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_UNTIL_CLOSE, P_DONE };

typedef struct {
    int fd;
    int state;
    int64_t retry_at;
    /* current request */
    int64_t intended, sent, first_body;
    int recorded;
    size_t woff;
    int want_out;
    /* response parsing */
    char *in;
    size_t ilen, ioff, icap;
    int pstate;
    long remain;
    int status;
    int close_after;
    int done_match, done_seen;
    int short_read; /* last read did not fill the buffer: socket drained */
} conn_t;

/* ---------------- response parser ----------------
 * Consumes c->in[ioff..ilen). Returns 1 when a full response has been parsed, 0 if more input is
 * needed, -1 on a protocol error. */
static void scan_done(conn_t *c, const char *p, size_t n) {
    static const char D[] = "[DONE]";
    int m = c->done_match;
    for (size_t i = 0; i < n; i++) {
        char b = p[i];
        if (b == D[m]) {
            if (++m == 6) { c->done_seen = 1; m = 0; }
        } else {
            m = (b == '[');
        }
    }
    c->done_match = m;
}

static int parse_resp(conn_t *c, int64_t t) {
    for (;;) {
        char *s = c->in + c->ioff;
        size_t n = c->ilen - c->ioff;
        switch (c->pstate) {
        case P_HEAD: {
            if (n < 4) return 0;
            char *e = memmem(s, n, "\r\n\r\n", 4);
            if (!e) return n > 65536 ? -1 : 0;
            size_t hl = e - s + 4;
            if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0) return -1;
            c->status = atoi(s + 9);
            long clen = -1;
            int chunked = 0;
            c->close_after = (s[7] == '0');
            char *line = memmem(s, hl, "\r\n", 2) + 2;
            while (line < e) {
                char *le = memmem(line, e + 2 - line, "\r\n", 2);
                size_t ll = le - line;
                if (ll > 15 && strncasecmp(line, "content-length:", 15) == 0) {
                    clen = strtol(line + 15, NULL, 10);
                } else if (ll > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
                    if (memmem(line, ll, "chunked", 7)) chunked = 1;
                } else if (ll > 11 && strncasecmp(line, "connection:", 11) == 0) {
                    const char *v = line + 11;
                    while (*v == ' ') v++;
                    if (strncasecmp(v, "close", 5) == 0) c->close_after = 1;
                    else if (strncasecmp(v, "keep-alive", 10) == 0) c->close_after = 0;
                }
                line = le + 2;
            }
            c->ioff += hl;
            if (c->status >= 100 && c->status < 200) continue; /* interim response */
            if (c->status == 204 || c->status == 304) { c->pstate = P_DONE; return 1; }
            if (chunked) c->pstate = P_CHUNK_SIZE;
            else if (clen >= 0) {
                if (clen == 0) { c->pstate = P_DONE; return 1; }
                c->pstate = P_BODY_CL;
                c->remain = clen;
            } else {
                c->pstate = P_UNTIL_CLOSE;
                c->close_after = 1;
            }
            continue;
        }
        case P_BODY_CL:
        case P_UNTIL_CLOSE: {
            if (n == 0) return 0;
            if (!c->first_body) c->first_body = t;
            if (c->pstate == P_UNTIL_CLOSE) {
                if (g_stream) scan_done(c, s, n);
                c->ioff += n;
                return 0; /* completed by EOF */
            }
            size_t take = n < (size_t)c->remain ? n : (size_t)c->remain;
            if (g_stream) scan_done(c, s, take);
            c->ioff += take;
            c->remain -= take;
            if (c->remain == 0) { c->pstate = P_DONE; return 1; }
            return 0;
        }
        case P_CHUNK_SIZE:
        case P_TRAILER: {
            char *le = memmem(s, n, "\r\n", 2);
            if (!le) return n > 4096 ? -1 : 0;
            size_t ll = le - s;
            c->ioff += ll + 2;
            if (c->pstate == P_TRAILER) {
                if (ll == 0) { c->pstate = P_DONE; return 1; }
                continue;
            }
            char *endp;
            long sz = strtol(s, &endp, 16);
            if (endp == s || sz < 0) return -1;
            if (sz == 0) c->pstate = P_TRAILER;
            else {
                c->pstate = P_CHUNK_DATA;
                c->remain = sz;
            }
            continue;
        }
        case P_CHUNK_DATA: {
            if (n == 0) return 0;
            if (!c->first_body) c->first_body = t;
            size_t take = n < (size_t)c->remain ? n : (size_t)c->remain;
            if (g_stream) scan_done(c, s, take);
            c->ioff += take;
            c->remain -= take;
            if (c->remain > 0) return 0;
            c->pstate = P_CHUNK_CRLF;
            continue;
        }
        case P_CHUNK_CRLF:
            if (n < 2) return 0;
            c->ioff += 2;
            c->pstate = P_CHUNK_SIZE;
            continue;
        case P_DONE:
            return 1;
        }
    }
}

static void resp_reset(conn_t *c) {
    c->pstate = P_HEAD;
    c->remain = 0;
    c->status = 0;
    c->first_body = 0;
    c->done_match = 0;
    c->done_seen = 0;
    /* keep unconsumed bytes (should be none without pipelining) */
    if (c->ioff == c->ilen) c->ioff = c->ilen = 0;
}

/* read what is available into c->in; returns bytes read, 0 on EOF, -1 on EAGAIN, -2 on error */
static ssize_t conn_read(conn_t *c) {
    if (c->ioff > 0 && c->ioff == c->ilen) c->ioff = c->ilen = 0;
    if (c->icap - c->ilen < 8192) {
        if (c->ioff > 0) {
            memmove(c->in, c->in + c->ioff, c->ilen - c->ioff);
            c->ilen -= c->ioff;
            c->ioff = 0;
        }
        if (c->icap - c->ilen < 8192) {
            c->icap = c->icap ? c->icap * 2 : 32768;
            c->in = realloc(c->in, c->icap);
        }
    }
    for (;;) {
        size_t space = c->icap - c->ilen;
        ssize_t r = read(c->fd, c->in + c->ilen, space);
        if (r > 0) {
            c->ilen += r;
            c->short_read = (size_t)r < space;
            return r;
        }
        if (r == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
        return -2;
    }
}

/* ---------------- setup helpers ---------------- */
static void parse_url(const char *u) {
    if (strncmp(u, "http://", 7) != 0) {
        fprintf(stderr, "loadgen: only http:// URLs are supported\n");
        exit(2);
    }
    const char *h = u + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    char hp[300];
    if (hl >= sizeof hp) exit(2);
    memcpy(hp, h, hl);
    hp[hl] = 0;
    char *colon = strrchr(hp, ':');
    if (colon) {
        *colon = 0;
        snprintf(g_port, sizeof g_port, "%s", colon + 1);
    }
    snprintf(g_host, sizeof g_host, "%s", hp);
    snprintf(g_path, sizeof g_path, "%s", slash ? slash : "/");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(g_host, g_port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", g_host, gai_strerror(rc));
        exit(2);
    }
    memcpy(&g_sa, res->ai_addr, res->ai_addrlen);
    g_salen = res->ai_addrlen;
    freeaddrinfo(res);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc(n + 1);
    if (fread(p, 1, n, f) != (size_t)n) { perror(path); exit(2); }
    p[n] = 0;
    fclose(f);
    *len = n;
    return p;
}

static int has_stream_true(const char *s) {
    const char *p = s;
    while ((p = strstr(p, "\"stream\""))) {
        p += 8;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p != ':') continue;
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (strncmp(p, "true", 4) == 0) return 1;
    }
    return 0;
}

static void build_request(const char *method, const char *body, size_t blen, char **hdrs, int nh) {
    size_t cap = blen + 4096;
    for (int i = 0; i < nh; i++) cap += strlen(hdrs[i]) + 2;
    g_req = malloc(cap);
    size_t o = 0;
    o += sprintf(g_req + o, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: finops-loadgen\r\n", method, g_path, g_host,
                 g_port);
    int has_ct = 0;
    for (int i = 0; i < nh; i++) {
        if (strncasecmp(hdrs[i], "content-type:", 13) == 0) has_ct = 1;
        o += sprintf(g_req + o, "%s\r\n", hdrs[i]);
    }
    if (body) {
        if (!has_ct) o += sprintf(g_req + o, "Content-Type: application/json\r\n");
        o += sprintf(g_req + o, "Content-Length: %zu\r\n", blen);
    }
    if (g_stream) o += sprintf(g_req + o, "Accept: text/event-stream\r\n");
    o += sprintf(g_req + o, "\r\n");
    if (body) {
        memcpy(g_req + o, body, blen);
        o += blen;
    }
    g_req_len = o;
}

/* ---------------- state ---------------- */
static int g_ep;
static conn_t *g_conns;
static int g_nconns;
static int *g_idle; /* stack of idle conn indices */
static int g_nidle;
static int g_nbusy;
static void set_state(conn_t *c, int s) {
    if (c->state == C_BUSY) g_nbusy--;
    if (s == C_BUSY) g_nbusy++;
    c->state = s;
}

static int64_t g_warm_end, g_end;
static struct {
    long sent, ok, errors, non2xx, conn_errors, timeouts, unsent, no_done, reconnects, done_in_window;
    long max_queue;
    long status_hist[6];
} st;
static samples_t g_lat, g_ttfb;
static int64_t g_timeout_ns = 10000000000LL;

static void ep_set(conn_t *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_start(conn_t *c) {
    c->fd = socket(g_sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ioff = c->ilen = 0;
    resp_reset(c);
    int rc = connect(c->fd, (struct sockaddr *)&g_sa, g_salen);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = c};
    c->want_out = 1;
    if (rc == 0 || errno == EINPROGRESS) {
        c->state = C_CONNECTING;
        epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev);
    } else {
        close(c->fd);
        c->fd = -1;
        c->state = C_DOWN;
        c->retry_at = now_ns() + 100000000LL;
    }
}

static void conn_close(conn_t *c, int reconnect) {
    if (c->fd >= 0) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    set_state(c, C_DOWN);
    c->retry_at = 0;
    if (reconnect) {
        st.reconnects++;
        conn_start(c);
    }
}

static void push_idle(conn_t *c) {
    set_state(c, C_IDLE);
    g_idle[g_nidle++] = (int)(c - g_conns);
}

/* write the request (or the rest of it) */
static int conn_write(conn_t *c) {
    while (c->woff < g_req_len) {
        ssize_t w = write(c->fd, g_req + c->woff, g_req_len - c->woff);
        if (w > 0) { c->woff += w; continue; }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) ep_set(c, 1);
            return 0;
        }
        return -1;
    }
    if (c->want_out) ep_set(c, 0);
    return 0;
}

static void fail_request(conn_t *c, int kind) {
    if (c->recorded) {
        st.errors++;
        if (kind == 1) st.conn_errors++;
        else if (kind == 2) st.timeouts++;
    }
}

static void send_req(conn_t *c, int64_t intended, int recorded, int64_t t) {
    set_state(c, C_BUSY);
    c->intended = intended;
    c->sent = t;
    c->recorded = recorded;
    c->woff = 0;
    resp_reset(c);
    if (conn_write(c) < 0) {
        fail_request(c, 1);
        conn_close(c, 1);
    }
}

static void complete(conn_t *c, int64_t t) {
    if (c->recorded) {
        int s = c->status;
        if (s >= 100 && s < 600) st.status_hist[s / 100]++;
        if (s >= 200 && s < 300 && (!g_stream || c->done_seen)) {
            st.ok++;
            sample_add(&g_lat, t - c->intended);
            if (g_stream) sample_add(&g_ttfb, (c->first_body ? c->first_body : t) - c->intended);
        } else {
            st.errors++;
            if (s < 200 || s >= 300) st.non2xx++;
            else st.no_done++;
        }
    }
    if (t >= g_warm_end && t <= g_end) st.done_in_window++;
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s) { (void)s; g_stop = 1; }

/* ---------------- poll mode (config propagation probe) ---------------- */
static conn_t g_pc = {.fd = -1};

static int poll_connect(conn_t *pc) {
    pc->fd = socket(g_sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(pc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(pc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(pc->fd, (struct sockaddr *)&g_sa, g_salen) < 0) {
        close(pc->fd);
        pc->fd = -1;
        return -1;
    }
    pc->ioff = pc->ilen = 0;
    return 0;
}

static int poll_mode(double since, double timeout_s, long interval_us) {
#define c (*pc)
    conn_t *pc = &g_pc;
    long attempts = 0;
    int last = 0;
    double deadline = realtime_s() + timeout_s;
    while (realtime_s() < deadline) {
        if (c.fd < 0 && poll_connect(pc) < 0) {
            usleep(interval_us > 1000 ? interval_us : 1000);
            continue;
        }
        attempts++;
        resp_reset(pc);
        size_t off = 0;
        int bad = 0;
        while (off < g_req_len) {
            ssize_t w = write(c.fd, g_req + off, g_req_len - off);
            if (w <= 0) { bad = 1; break; }
            off += w;
        }
        int r = 0;
        while (!bad) {
            r = parse_resp(pc, now_ns());
            if (r != 0) break;
            ssize_t n = conn_read(pc);
            if (n == 0 && c.pstate == P_UNTIL_CLOSE) { r = 1; break; }
            if (n <= 0) { bad = 1; break; }
        }
        if (bad || r < 0) {
            close(c.fd);
            c.fd = -1;
            continue;
        }
        last = c.status;
        if (c.status >= 200 && c.status < 300 && (!g_stream || c.done_seen)) {
            double el = (realtime_s() - since) * 1000.0;
            printf("{\"ok\":true,\"elapsed_ms\":%.3f,\"attempts\":%ld,\"last_status\":%d}\n", el, attempts, last);
            fflush(stdout);
            return 0;
        }
        if (c.status != 401 && c.status != 403 && c.status != 503) break; /* not "key unknown yet" */
        if (c.close_after) {
            close(c.fd);
            c.fd = -1;
        }
        if (interval_us > 0) usleep(interval_us);
    }
    printf("{\"ok\":false,\"elapsed_ms\":%.3f,\"attempts\":%ld,\"last_status\":%d}\n",
           (realtime_s() - since) * 1000.0, attempts, last);
    fflush(stdout);
    return 1;
#undef c
}

/* --poll-stdin: keep one connection open; for every stdin line "SINCE KEY", poll with
 * "Authorization: Bearer KEY" added and print one result line. */
static char **g_hdrs;
static int g_nh;
static const char *g_method, *g_body;
static size_t g_blen;
static void build_request(const char *method, const char *body, size_t blen, char **hdrs, int nh);
static int poll_stdin(double timeout_s, long interval_us) {
    poll_connect(&g_pc);
    char line[4096];
    int rc = 0;
    while (fgets(line, sizeof line, stdin)) {
        char key[2048];
        double since;
        if (sscanf(line, "%lf %2047s", &since, key) != 2) continue;
        char auth[2100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        char *h[66];
        int n = 0;
        for (int i = 0; i < g_nh && n < 64; i++)
            if (strncasecmp(g_hdrs[i], "authorization:", 14) != 0) h[n++] = g_hdrs[i];
        h[n++] = auth;
        free(g_req);
        build_request(g_method, g_body, g_blen, h, n);
        rc |= poll_mode(since, timeout_s, interval_us);
    }
    return rc;
}

/* ---------------- main ---------------- */
static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -u URL [-r RATE (0 = closed loop)] [-d SECONDS (5)] [-w WARMUP_S (0)] [-c CONNS (16)]\n"
            "               [-H 'Name: value']... [-b BODY|@FILE] [-m METHOD] [-T TIMEOUT_S (10)] [--stream]\n"
            "               [--poll-ok SINCE_EPOCH_S | --poll-stdin] [--poll-interval-us N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *url = NULL, *method = NULL, *body_arg = NULL;
    double rate = 0, dur = 5, warm = 0, timeout_s = 10, poll_since = -1;
    long poll_interval = 200;
    int poll_stdin_mode = 0;
    int nconns = 16;
    char *hdrs[64];
    int nh = 0;
    static struct option lopts[] = {{"stream", no_argument, 0, 'S'},
                                    {"poll-ok", required_argument, 0, 'P'},
                                    {"poll-interval-us", required_argument, 0, 'I'},
                                    {"poll-stdin", no_argument, 0, 'Q'},
                                    {"help", no_argument, 0, 'h'},
                                    {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "u:r:d:w:c:H:b:m:T:h", lopts, NULL)) != -1) {
        switch (opt) {
        case 'u': url = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'H':
            if (nh < 64) hdrs[nh++] = optarg;
            break;
        case 'b': body_arg = optarg; break;
        case 'm': method = optarg; break;
        case 'T': timeout_s = atof(optarg); break;
        case 'S': g_stream = 1; break;
        case 'P': poll_since = atof(optarg); break;
        case 'I': poll_interval = atol(optarg); break;
        case 'Q': poll_stdin_mode = 1; break;
        default: usage();
        }
    }
    if (!url && optind < argc) url = argv[optind];
    if (!url || nconns < 1 || dur <= 0 || rate < 0) usage();
    parse_url(url);

    char *body = NULL;
    size_t blen = 0;
    if (body_arg) {
        if (body_arg[0] == '@') body = read_file(body_arg + 1, &blen);
        else {
            body = strdup(body_arg);
            blen = strlen(body);
        }
        if (g_stream && !has_stream_true(body)) {
            char *lb = strchr(body, '{');
            if (lb) {
                char *nb = malloc(blen + 32);
                size_t pre = lb - body + 1;
                memcpy(nb, body, pre);
                int add = sprintf(nb + pre, "\"stream\":true%s", lb[1] == '}' ? "" : ",");
                memcpy(nb + pre + add, lb + 1, blen - pre + 1);
                free(body);
                body = nb;
                blen = strlen(nb);
            }
        }
    }
    if (!method) method = body ? "POST" : "GET";
    build_request(method, body, blen, hdrs, nh);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake up on time: sleep slack would count as latency */

    if (poll_since >= 0) return poll_mode(poll_since, timeout_s, poll_interval);
    if (poll_stdin_mode) {
        g_hdrs = hdrs;
        g_nh = nh;
        g_method = method;
        g_body = body;
        g_blen = blen;
        return poll_stdin(timeout_s, poll_interval);
    }

    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_timeout_ns = (int64_t)(timeout_s * 1e9);
    g_nconns = nconns;
    g_conns = calloc(nconns, sizeof *g_conns);
    g_idle = calloc(nconns, sizeof *g_idle);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, tfd, &tev);

    for (int i = 0; i < nconns; i++) {
        g_conns[i].fd = -1;
        conn_start(&g_conns[i]);
    }
    struct epoll_event evs[512];
    /* connect everything first (up to 3 s) so that connection set-up is not measured */
    int64_t cdl = now_ns() + 3000000000LL;
    while (g_nidle < nconns && now_ns() < cdl && !g_stop) {
        int ne = epoll_wait(g_ep, evs, 512, 50);
        for (int i = 0; i < ne; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c || c->state != C_CONNECTING) continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                conn_close(c, 0);
                c->retry_at = now_ns() + 100000000LL;
            } else {
                ep_set(c, 0);
                push_idle(c);
            }
        }
        int64_t t = now_ns();
        for (int i = 0; i < nconns; i++)
            if (g_conns[i].state == C_DOWN && g_conns[i].retry_at <= t) conn_start(&g_conns[i]);
    }
    if (g_nidle == 0) {
        printf("{\"rate\":%g,\"error\":\"cannot connect to %s:%s\",\"sent\":0,\"ok\":0,\"errors\":0,\"achieved_rps\":0}\n",
               rate, g_host, g_port);
        return 1;
    }

    const int open_loop = rate > 0;
    const int64_t t0 = now_ns();
    g_warm_end = t0 + (int64_t)(warm * 1e9);
    g_end = g_warm_end + (int64_t)(dur * 1e9);
    const int64_t drain_end = g_end + (g_timeout_ns < 2000000000LL ? g_timeout_ns : 2000000000LL);
    const double interval_ns = open_loop ? 1e9 / rate : 0;
    /* open loop: requests [next_disp, next_sched) are due and waiting for a connection */
    long next_sched = 0, next_disp = 0;
    int64_t armed = -1;
    int64_t last_sweep = t0;
#define INTENDED(i) (t0 + (int64_t)((double)(i) * interval_ns))

    for (;;) {
        int64_t t = now_ns();
        int stopping = t >= g_end || g_stop;
        if (open_loop) {
            if (!stopping) {
                while (INTENDED(next_sched) <= t && INTENDED(next_sched) < g_end) {
                    if (INTENDED(next_sched) >= g_warm_end) st.sent++;
                    next_sched++;
                }
            }
            if (next_sched - next_disp > st.max_queue) st.max_queue = next_sched - next_disp;
            while (next_disp < next_sched && g_nidle > 0) {
                conn_t *c = &g_conns[g_idle[--g_nidle]];
                int64_t it = INTENDED(next_disp);
                send_req(c, it, it >= g_warm_end, t);
                next_disp++;
            }
        } else if (!stopping) {
            while (g_nidle > 0) {
                conn_t *c = &g_conns[g_idle[--g_nidle]];
                send_req(c, t, t >= g_warm_end, t);
                if (t >= g_warm_end) st.sent++;
            }
        }
        /* periodic: timeouts and reconnects */
        if (t - last_sweep > 50000000LL) {
            last_sweep = t;
            for (int i = 0; i < nconns; i++) {
                conn_t *c = &g_conns[i];
                if (c->state == C_BUSY && t - c->sent > g_timeout_ns) {
                    fail_request(c, 2);
                    conn_close(c, 1);
                } else if (c->state == C_DOWN && c->retry_at <= t) {
                    conn_start(c);
                }
            }
        }
        int busy = g_nbusy > 0;
        if (stopping) {
            int pending = open_loop ? (next_disp < next_sched) : 0;
            if ((!busy && !pending) || t >= drain_end || g_stop) break;
        }
        int timeout_ms = 50;
        if (open_loop && !stopping && INTENDED(next_sched) < g_end) {
            int64_t due = INTENDED(next_sched);
            if (due != armed) {
                struct itimerspec its = {.it_value = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL}};
                timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
                armed = due;
            }
            timeout_ms = 50;
        } else if (!stopping) {
            int64_t left = (g_end - t) / 1000000 + 1;
            if (left < timeout_ms) timeout_ms = (int)left;
        }
        int ne = epoll_wait(g_ep, evs, 512, timeout_ms);
        if (ne < 0 && errno != EINTR) { perror("epoll_wait"); break; }
        int64_t te = now_ns();
        for (int i = 0; i < ne; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c) {
                uint64_t x;
                while (read(tfd, &x, sizeof x) > 0) {}
                armed = -1;
                continue;
            }
            if (c->fd < 0) continue;
            uint32_t e = evs[i].events;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || (e & (EPOLLERR | EPOLLHUP))) {
                    conn_close(c, 0);
                    c->retry_at = te + 100000000LL;
                } else if (e & EPOLLOUT) {
                    ep_set(c, 0);
                    push_idle(c);
                }
                continue;
            }
            if ((e & EPOLLOUT) && c->state == C_BUSY && c->woff < g_req_len) {
                if (conn_write(c) < 0) {
                    fail_request(c, 1);
                    conn_close(c, 1);
                    continue;
                }
            }
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
                int closed = 0;
                for (;;) {
                    ssize_t r = conn_read(c);
                    if (r > 0) {
                        if (c->state != C_BUSY) { /* unexpected bytes on an idle conn */
                            c->ioff = c->ilen;
                            continue;
                        }
                        int pr = parse_resp(c, te);
                        if (pr == 0) {
                            if (c->short_read) break;
                            continue;
                        }
                        if (pr < 0) {
                            fail_request(c, 1);
                            conn_close(c, 1);
                            closed = 1;
                            break;
                        }
                        /* full response */
                        complete(c, te);
                        if (c->close_after) {
                            conn_close(c, 1);
                            closed = 1;
                            break;
                        }
                        resp_reset(c);
                        if (!open_loop && te < g_end && !g_stop) {
                            send_req(c, te, te >= g_warm_end, te);
                            if (te >= g_warm_end) st.sent++;
                            if (c->state != C_BUSY) { closed = 1; break; }
                        } else if (open_loop && next_disp < next_sched) {
                            int64_t it = INTENDED(next_disp);
                            send_req(c, it, it >= g_warm_end, te);
                            next_disp++;
                            if (c->state != C_BUSY) { closed = 1; break; }
                        } else {
                            push_idle(c);
                        }
                        break;
                    }
                    if (r == -1) break;
                    /* EOF or error */
                    if (c->state == C_BUSY) {
                        if (r == 0 && c->pstate == P_UNTIL_CLOSE) complete(c, te);
                        else fail_request(c, 1);
                    } else if (c->state == C_IDLE) {
                        /* drop it from the idle stack */
                        for (int k = 0; k < g_nidle; k++)
                            if (g_idle[k] == (int)(c - g_conns)) {
                                g_idle[k] = g_idle[--g_nidle];
                                break;
                            }
                    }
                    conn_close(c, 1);
                    closed = 1;
                    break;
                }
                (void)closed;
            }
        }
    }
    /* whatever is still queued or in flight counts as failed */
    if (open_loop) {
        for (long i = next_disp; i < next_sched; i++)
            if (INTENDED(i) >= g_warm_end) {
                st.unsent++;
                st.errors++;
            }
    }
    for (int i = 0; i < nconns; i++)
        if (g_conns[i].state == C_BUSY) fail_request(&g_conns[i], 2);

    qsort(g_lat.v, g_lat.n, sizeof *g_lat.v, cmp_u32);
    double mean = 0;
    for (size_t i = 0; i < g_lat.n; i++) mean += g_lat.v[i];
    if (g_lat.n) mean /= g_lat.n;
    double achieved = st.done_in_window / dur;
    printf("{\"mode\":\"%s\",\"rate\":%g,\"stream\":%s,\"duration_s\":%g,\"conns\":%d,\"sent\":%ld,\"ok\":%ld,"
           "\"errors\":%ld,\"achieved_rps\":%.1f,\"p50_us\":%ld,\"p90_us\":%ld,\"p99_us\":%ld,\"p999_us\":%ld,"
           "\"max_us\":%ld,\"mean_us\":%.1f",
           open_loop ? "open" : "closed", rate, g_stream ? "true" : "false", dur, nconns, st.sent, st.ok, st.errors,
           achieved, pct(&g_lat, .50), pct(&g_lat, .90), pct(&g_lat, .99), pct(&g_lat, .999),
           g_lat.n ? (long)g_lat.v[g_lat.n - 1] : -1L, mean);
    if (g_stream) {
        qsort(g_ttfb.v, g_ttfb.n, sizeof *g_ttfb.v, cmp_u32);
        printf(",\"ttfb_p50_us\":%ld,\"ttfb_p90_us\":%ld,\"ttfb_p99_us\":%ld,\"ttfb_max_us\":%ld", pct(&g_ttfb, .50),
               pct(&g_ttfb, .90), pct(&g_ttfb, .99), g_ttfb.n ? (long)g_ttfb.v[g_ttfb.n - 1] : -1L);
    }
    printf(",\"non2xx\":%ld,\"no_done\":%ld,\"conn_errors\":%ld,\"timeouts\":%ld,\"unsent\":%ld,\"reconnects\":%ld,"
           "\"max_queue\":%ld,\"status\":{\"1xx\":%ld,\"2xx\":%ld,\"3xx\":%ld,\"4xx\":%ld,\"5xx\":%ld}}\n",
           st.non2xx, st.no_done, st.conn_errors, st.timeouts, st.unsent, st.reconnects, st.max_queue,
           st.status_hist[1], st.status_hist[2], st.status_hist[3], st.status_hist[4], st.status_hist[5]);
    return 0;
}
