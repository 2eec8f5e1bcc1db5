/*
 * mock_upstream.c - fast mock OpenAI upstream for the FinOps benchmark.
 *
 * Single-threaded, epoll, HTTP/1.1 keep-alive (pipelining, HTTP/1.0, chunked request bodies and
 * "Expect: 100-continue" are handled).
 *
 *   POST .../chat/completions            -> fixed chat.completion JSON with usage (Content-Length)
 *   POST .../chat/completions "stream":true
 *                                        -> text/event-stream, chunked transfer encoding:
 *                                           N chat.completion.chunk events (the first carries the
 *                                           role, the last the finish_reason), one usage chunk
 *                                           (choices: []), then "data: [DONE]"
 *   POST .../completions, .../embeddings -> small fixed JSON bodies
 *   GET  .../models                      -> small model list
 *   GET  .../models/ID                   -> one model
 *   GET  /health, /healthz, /readyz      -> {"status":"ok"}
 *   anything else                        -> 404 OpenAI-style error
 *
 * Build: gcc -O2 -Wall -o mock_upstream mock_upstream.c
 * Usage: mock_upstream [-p PORT (8000)] [-n CHUNKS (20)] [-d DELAY_MS (0)] [-b BIND_ADDR (127.0.0.1)]
 *   -d: delay between stream events (and before a non-stream answer); 0 = everything is written
 *       at once. A request whose body contains "delay-<ms>" (e.g. in the model name) overrides -d
 *       for that request, "chunks-<n>" overrides -n.
 * Prints "listening on ADDR:PORT" on stderr when ready. SIGTERM/SIGINT: exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 512
#define MAX_HEAD 65536
#define MAX_BODY (64 << 20)

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------- growable byte buffer ---------- */
typedef struct {
    char *p;
    size_t len, off, cap; /* valid data is p[off..len) */
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->off > 0 && b->off == b->len) b->off = b->len = 0;
    if (b->len + extra <= b->cap) return;
    if (b->off > 0) { /* compact */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + extra <= b->cap) return;
    }
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + extra) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) { perror("realloc"); exit(1); }
    b->p = np;
    b->cap = nc;
}
static void buf_append(buf_t *b, const char *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static size_t buf_avail(const buf_t *b) { return b->len - b->off; }

/* ---------- canned responses ---------- */
static int g_chunks = 20;
static int g_delay_ms = 0;

static const char CHAT_BODY[] =
    "{\"id\":\"chatcmpl-mock0123456789abcdefghijklmn\",\"object\":\"chat.completion\","
    "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"This is a mock completion from the FinOps benchmark upstream: fixed size, "
    "same bytes for everyone.\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":48,\"total_tokens\":60,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
    "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock0001\"}";

static const char COMPLETION_BODY[] =
    "{\"id\":\"cmpl-mock\",\"object\":\"text_completion\",\"created\":1700000000,"
    "\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{\"text\":\" mock text\",\"index\":0,"
    "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}";

static const char EMBED_BODY[] =
    "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
    "\"embedding\":[0.0023064255,-0.009327292,0.015797347,-0.0077780345]}],"
    "\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}";

static const char MODELS_BODY[] =
    "{\"object\":\"list\",\"data\":["
    "{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":1721172741,\"owned_by\":\"system\"},"
    "{\"id\":\"gpt-4o\",\"object\":\"model\",\"created\":1715367049,\"owned_by\":\"system\"},"
    "{\"id\":\"gpt-3.5-turbo-instruct\",\"object\":\"model\",\"created\":1692901427,\"owned_by\":\"system\"},"
    "{\"id\":\"text-embedding-3-small\",\"object\":\"model\",\"created\":1705948997,\"owned_by\":\"system\"}]}";

static const char HEALTH_BODY[] = "{\"status\":\"ok\"}";
static const char NOTFOUND_BODY[] =
    "{\"error\":{\"message\":\"mock: unknown route\",\"type\":\"invalid_request_error\","
    "\"param\":null,\"code\":\"unknown_url\"}}";
static const char BADREQ_BODY[] =
    "{\"error\":{\"message\":\"mock: malformed request\",\"type\":\"invalid_request_error\","
    "\"param\":null,\"code\":null}}";

static char *g_resp_chat; static size_t g_resp_chat_len;          /* full response, keep-alive */
static char *g_resp_chat_close; static size_t g_resp_chat_close_len;
static char *g_stream_all; static size_t g_stream_all_len;        /* full streamed response (default N) */
static char *g_stream_head; static size_t g_stream_head_len;      /* headers only */
static char *g_stream_head_close; static size_t g_stream_head_close_len;

/* one SSE event, wrapped as one HTTP chunk; returns malloc'ed string */
static char *make_event_chunk(int i, int n, size_t *len) {
    char data[1024];
    int dl;
    if (i == -1) { /* usage chunk */
        dl = snprintf(data, sizeof data,
                      "data: {\"id\":\"chatcmpl-mock0123456789abcdefghijklmn\",\"object\":\"chat.completion.chunk\","
                      "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_mock0001\","
                      "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
                      n, 12 + n);
    } else if (i == -2) {
        dl = snprintf(data, sizeof data, "data: [DONE]\n\n");
    } else {
        char delta[128];
        int last = (i == n - 1);
        if (i == 0 && last)
            snprintf(delta, sizeof delta, "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}");
        else if (i == 0)
            snprintf(delta, sizeof delta, "{\"role\":\"assistant\",\"content\":\"tok0\",\"refusal\":null}");
        else if (last)
            snprintf(delta, sizeof delta, "{}");
        else
            snprintf(delta, sizeof delta, "{\"content\":\" tok%d\"}", i);
        dl = snprintf(data, sizeof data,
                      "data: {\"id\":\"chatcmpl-mock0123456789abcdefghijklmn\",\"object\":\"chat.completion.chunk\","
                      "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_mock0001\","
                      "\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}]}\n\n",
                      delta, last ? "\"stop\"" : "null");
    }
    char *out = malloc(dl + 32);
    int ol = sprintf(out, "%x\r\n", dl);
    memcpy(out + ol, data, dl);
    ol += dl;
    memcpy(out + ol, "\r\n", 2);
    ol += 2;
    *len = ol;
    return out;
}

static char *make_response(int status, const char *ctype, const char *body, size_t blen, int close,
                           size_t *len) {
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 400 ? "Bad Request"
                       : status == 413 ? "Payload Too Large" : "Error";
    char *out = malloc(blen + 512);
    int hl = sprintf(out,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "x-request-id: req_mock\r\nopenai-processing-ms: 1\r\n%s\r\n",
                     status, reason, ctype, blen, close ? "Connection: close\r\n" : "");
    memcpy(out + hl, body, blen);
    *len = hl + blen;
    return out;
}

static void build_canned(void) {
    g_resp_chat = make_response(200, "application/json", CHAT_BODY, sizeof CHAT_BODY - 1, 0, &g_resp_chat_len);
    g_resp_chat_close = make_response(200, "application/json", CHAT_BODY, sizeof CHAT_BODY - 1, 1, &g_resp_chat_close_len);
    const char *sh = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                     "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nx-request-id: req_mock\r\n";
    g_stream_head_len = strlen(sh) + 2;
    g_stream_head = malloc(g_stream_head_len + 1);
    sprintf(g_stream_head, "%s\r\n", sh);
    g_stream_head_close_len = strlen(sh) + strlen("Connection: close\r\n") + 2;
    g_stream_head_close = malloc(g_stream_head_close_len + 1);
    sprintf(g_stream_head_close, "%sConnection: close\r\n\r\n", sh);
    /* full default stream body */
    buf_t b = {0};
    for (int i = 0; i < g_chunks; i++) {
        size_t l;
        char *c = make_event_chunk(i, g_chunks, &l);
        buf_append(&b, c, l);
        free(c);
    }
    size_t l;
    char *c = make_event_chunk(-1, g_chunks, &l);
    buf_append(&b, c, l);
    free(c);
    c = make_event_chunk(-2, g_chunks, &l);
    buf_append(&b, c, l);
    free(c);
    buf_append(&b, "0\r\n\r\n", 5);
    g_stream_all = b.p;
    g_stream_all_len = b.len;
}

/* ---------- connections ---------- */
enum { RS_HEAD = 0, RS_BODY_CL, RS_CHUNK_SIZE, RS_CHUNK_DATA, RS_CHUNK_CRLF, RS_TRAILER };

typedef struct conn {
    int fd;
    buf_t in, out;
    int want_out; /* EPOLLOUT registered */
    int rd_closed; /* peer sent EOF: stop polling for input */
    int close_after_write;
    int closed;
    /* request being parsed */
    int rstate;
    size_t body_need; /* remaining Content-Length / chunk bytes */
    buf_t body;
    char method[8];
    char path[512];
    int http10, keepalive, expect100;
    /* delayed stream in progress */
    int streaming;      /* 1 while events remain to be sent with delay */
    int s_next, s_n, s_delay_ms, s_stream;
    int64_t s_due;
    struct conn *dnext, *dprev; /* delayed list */
} conn_t;

static int g_ep;
static conn_t *g_delayed; /* list of conns with a pending timed event */

static void delayed_add(conn_t *c) {
    c->dprev = NULL;
    c->dnext = g_delayed;
    if (g_delayed) g_delayed->dprev = c;
    g_delayed = c;
}
static void delayed_del(conn_t *c) {
    if (c->dprev) c->dprev->dnext = c->dnext; else if (g_delayed == c) g_delayed = c->dnext;
    if (c->dnext) c->dnext->dprev = c->dprev;
    c->dnext = c->dprev = NULL;
}

static void conn_free(conn_t *c) {
    if (c->streaming) delayed_del(c);
    close(c->fd);
    free(c->in.p);
    free(c->out.p);
    free(c->body.p);
    free(c);
}

static void update_events(conn_t *c) {
    int want = buf_avail(&c->out) > 0;
    if (want == c->want_out && !c->rd_closed) return;
    struct epoll_event ev = {.events = (c->rd_closed ? 0 : EPOLLIN | EPOLLRDHUP) | (want ? EPOLLOUT : 0),
                             .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

/* write as much of c->out as possible; returns -1 if the connection must be closed */
static int flush_out(conn_t *c) {
    while (buf_avail(&c->out) > 0) {
        ssize_t w = write(c->fd, c->out.p + c->out.off, buf_avail(&c->out));
        if (w > 0) {
            c->out.off += w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    if (buf_avail(&c->out) == 0) {
        c->out.off = c->out.len = 0;
        if (c->close_after_write && !c->streaming) return -1;
    }
    update_events(c);
    return 0;
}

static int parse_knob(const char *s, size_t n, const char *key, int dflt) {
    size_t kl = strlen(key);
    const char *p = memmem(s, n, key, kl);
    if (!p) return dflt;
    p += kl;
    if (p >= s + n || *p < '0' || *p > '9') return dflt;
    long v = 0;
    while (p < s + n && *p >= '0' && *p <= '9' && v < 1000000) v = v * 10 + (*p++ - '0');
    return (int)v;
}

/* "stream" : true  (whitespace tolerant) */
static int body_wants_stream(const char *s, size_t n) {
    const char *end = s + n, *p = s;
    while (p < end) {
        const char *q = memmem(p, end - p, "\"stream\"", 8);
        if (!q) return 0;
        q += 8;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
            if (end - q >= 4 && memcmp(q, "true", 4) == 0) return 1;
        }
        p = q;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

static void queue_simple(conn_t *c, int status, const char *body, size_t blen) {
    size_t l;
    char *r = make_response(status, "application/json", body, blen, !c->keepalive, &l);
    buf_append(&c->out, r, l);
    free(r);
}

/* emit the next timed stream event(s) for a delayed conn */
static void stream_step(conn_t *c) {
    size_t l;
    char *ev;
    if (!c->s_stream) { /* delayed non-stream answer */
        buf_append(&c->out, c->keepalive ? g_resp_chat : g_resp_chat_close,
                   c->keepalive ? g_resp_chat_len : g_resp_chat_close_len);
        c->streaming = 0;
        delayed_del(c);
        return;
    }
    ev = make_event_chunk(c->s_next, c->s_n, &l);
    buf_append(&c->out, ev, l);
    free(ev);
    c->s_next++;
    if (c->s_next >= c->s_n) {
        ev = make_event_chunk(-1, c->s_n, &l);
        buf_append(&c->out, ev, l);
        free(ev);
        ev = make_event_chunk(-2, c->s_n, &l);
        buf_append(&c->out, ev, l);
        free(ev);
        buf_append(&c->out, "0\r\n\r\n", 5);
        c->streaming = 0;
        delayed_del(c);
    } else {
        c->s_due += (int64_t)c->s_delay_ms * 1000;
    }
}

static void handle_request(conn_t *c) {
    const char *path = c->path;
    char *q = strchr(c->path, '?');
    if (q) *q = 0;
    if (!c->keepalive) c->close_after_write = 1;
    if (strcmp(c->method, "POST") == 0 && ends_with(path, "/chat/completions")) {
        int stream = body_wants_stream(c->body.p ? c->body.p : "", c->body.len);
        int n = g_chunks, d = g_delay_ms;
        if (c->body.len) {
            n = parse_knob(c->body.p, c->body.len, "chunks-", n);
            d = parse_knob(c->body.p, c->body.len, "delay-", d);
        }
        if (n < 1) n = 1;
        if (!stream && d == 0) {
            buf_append(&c->out, c->keepalive ? g_resp_chat : g_resp_chat_close,
                       c->keepalive ? g_resp_chat_len : g_resp_chat_close_len);
            return;
        }
        if (stream && d == 0 && n == g_chunks) {
            if (c->keepalive) buf_append(&c->out, g_stream_head, g_stream_head_len);
            else buf_append(&c->out, g_stream_head_close, g_stream_head_close_len);
            buf_append(&c->out, g_stream_all, g_stream_all_len);
            return;
        }
        if (stream) {
            if (c->keepalive) buf_append(&c->out, g_stream_head, g_stream_head_len);
            else buf_append(&c->out, g_stream_head_close, g_stream_head_close_len);
        }
        c->s_stream = stream;
        c->s_next = 0;
        c->s_n = n;
        c->s_delay_ms = d;
        c->s_due = now_us() + (int64_t)d * 1000;
        c->streaming = 1;
        delayed_add(c);
        if (stream && d == 0) {
            while (c->streaming) stream_step(c);
        }
        return;
    }
    if (strcmp(c->method, "POST") == 0 && ends_with(path, "/completions")) {
        queue_simple(c, 200, COMPLETION_BODY, sizeof COMPLETION_BODY - 1);
        return;
    }
    if (strcmp(c->method, "POST") == 0 && ends_with(path, "/embeddings")) {
        queue_simple(c, 200, EMBED_BODY, sizeof EMBED_BODY - 1);
        return;
    }
    if (strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0) {
        if (ends_with(path, "/models")) {
            queue_simple(c, 200, MODELS_BODY, sizeof MODELS_BODY - 1);
            return;
        }
        const char *m = strstr(path, "/models/");
        if (m && m[8]) {
            char body[700];
            int bl = snprintf(body, sizeof body,
                              "{\"id\":\"%.500s\",\"object\":\"model\",\"created\":1721172741,\"owned_by\":\"system\"}",
                              m + 8);
            queue_simple(c, 200, body, bl);
            return;
        }
        if (strcmp(path, "/health") == 0 || strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
            queue_simple(c, 200, HEALTH_BODY, sizeof HEALTH_BODY - 1);
            return;
        }
    }
    queue_simple(c, 404, NOTFOUND_BODY, sizeof NOTFOUND_BODY - 1);
}

static int hdr_eq(const char *line, size_t ll, const char *name) {
    size_t nl = strlen(name);
    return ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0;
}
static const char *hdr_val(const char *line, size_t ll, size_t nl, size_t *vl) {
    const char *v = line + nl + 1, *e = line + ll;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *vl = e - v;
    return v;
}

static void bad_request(conn_t *c) {
    c->keepalive = 0;
    queue_simple(c, 400, BADREQ_BODY, sizeof BADREQ_BODY - 1);
    c->close_after_write = 1;
}

/* parse as many complete requests as are buffered; -1 = close */
static int process_input(conn_t *c) {
    for (;;) {
        if (c->streaming || c->close_after_write) return 0; /* wait: one answer at a time */
        char *s = c->in.p + c->in.off;
        size_t n = buf_avail(&c->in);
        if (c->rstate == RS_HEAD) {
            if (n == 0) return 0;
            char *e = memmem(s, n, "\r\n\r\n", 4);
            if (!e) {
                if (n > MAX_HEAD) { bad_request(c); return 0; }
                return 0;
            }
            size_t hl = e - s + 4;
            /* request line */
            char *le = memmem(s, hl, "\r\n", 2);
            char *sp1 = memchr(s, ' ', le - s);
            char *sp2 = sp1 ? memchr(sp1 + 1, ' ', le - sp1 - 1) : NULL;
            if (!sp1 || !sp2 || sp1 - s >= (long)sizeof c->method) { bad_request(c); return 0; }
            memcpy(c->method, s, sp1 - s);
            c->method[sp1 - s] = 0;
            size_t pl = sp2 - sp1 - 1;
            if (pl >= sizeof c->path) pl = sizeof c->path - 1;
            memcpy(c->path, sp1 + 1, pl);
            c->path[pl] = 0;
            c->http10 = (le - sp2 - 1 == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0);
            c->keepalive = !c->http10;
            c->expect100 = 0;
            long clen = 0;
            int chunked = 0;
            char *line = le + 2;
            while (line < e) {
                char *lend = memmem(line, e + 2 - line, "\r\n", 2);
                size_t ll = lend - line;
                size_t vl;
                const char *v;
                if (hdr_eq(line, ll, "content-length")) {
                    v = hdr_val(line, ll, 14, &vl);
                    clen = strtol(v, NULL, 10);
                } else if (hdr_eq(line, ll, "transfer-encoding")) {
                    v = hdr_val(line, ll, 17, &vl);
                    if (vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0) chunked = 1;
                } else if (hdr_eq(line, ll, "connection")) {
                    v = hdr_val(line, ll, 10, &vl);
                    if (vl >= 5 && strncasecmp(v, "close", 5) == 0) c->keepalive = 0;
                    else if (vl >= 10 && strncasecmp(v, "keep-alive", 10) == 0) c->keepalive = 1;
                } else if (hdr_eq(line, ll, "expect")) {
                    v = hdr_val(line, ll, 6, &vl);
                    if (vl >= 12 && strncasecmp(v, "100-continue", 12) == 0) c->expect100 = 1;
                }
                line = lend + 2;
            }
            c->in.off += hl;
            c->body.len = c->body.off = 0;
            if (clen < 0 || clen > MAX_BODY) { bad_request(c); return 0; }
            if (chunked) {
                c->rstate = RS_CHUNK_SIZE;
            } else if (clen > 0) {
                c->rstate = RS_BODY_CL;
                c->body_need = clen;
            } else {
                handle_request(c);
                continue;
            }
            if (c->expect100 && buf_avail(&c->in) == 0)
                buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
            continue;
        }
        if (c->rstate == RS_BODY_CL) {
            size_t take = n < c->body_need ? n : c->body_need;
            buf_append(&c->body, s, take);
            c->in.off += take;
            c->body_need -= take;
            if (c->body_need > 0) return 0;
            c->rstate = RS_HEAD;
            handle_request(c);
            continue;
        }
        if (c->rstate == RS_CHUNK_SIZE || c->rstate == RS_TRAILER) {
            char *le = memmem(s, n, "\r\n", 2);
            if (!le) {
                if (n > 4096) { bad_request(c); return 0; }
                return 0;
            }
            size_t ll = le - s;
            c->in.off += ll + 2;
            if (c->rstate == RS_TRAILER) {
                if (ll == 0) {
                    c->rstate = RS_HEAD;
                    handle_request(c);
                }
                continue;
            }
            char *endp;
            long sz = strtol(s, &endp, 16);
            if (endp == s || sz < 0 || c->body.len + sz > MAX_BODY) { bad_request(c); return 0; }
            if (sz == 0) c->rstate = RS_TRAILER;
            else {
                c->rstate = RS_CHUNK_DATA;
                c->body_need = sz;
            }
            continue;
        }
        if (c->rstate == RS_CHUNK_DATA) {
            size_t take = n < c->body_need ? n : c->body_need;
            buf_append(&c->body, s, take);
            c->in.off += take;
            c->body_need -= take;
            if (c->body_need > 0) return 0;
            c->rstate = RS_CHUNK_CRLF;
            continue;
        }
        if (c->rstate == RS_CHUNK_CRLF) {
            if (n < 2) return 0;
            c->in.off += 2;
            c->rstate = RS_CHUNK_SIZE;
            continue;
        }
    }
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s) { (void)s; g_stop = 1; }

static void usage(void) {
    fprintf(stderr, "usage: mock_upstream [-p PORT] [-n CHUNKS] [-d DELAY_MS] [-b BIND_ADDR]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int port = 8000;
    const char *bind_addr = "127.0.0.1";
    int opt;
    while ((opt = getopt(argc, argv, "p:n:d:b:t:h")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': g_chunks = atoi(optarg); break;
        case 'd': g_delay_ms = atoi(optarg); break;
        case 'b': bind_addr = optarg; break;
        case 't': break; /* accepted for compatibility; always single-threaded */
        default: usage();
        }
    }
    if (g_chunks < 1) g_chunks = 1;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    build_canned();

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) { fprintf(stderr, "bad bind address\n"); return 2; }
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (listen(ls, 4096) < 0) { perror("listen"); return 1; }
    socklen_t al = sizeof addr;
    getsockname(ls, (struct sockaddr *)&addr, &al);
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, ls, &lev);
    fprintf(stderr, "mock_upstream: listening on %s:%d (chunks=%d delay_ms=%d)\n", bind_addr,
            ntohs(addr.sin_port), g_chunks, g_delay_ms);

    struct epoll_event evs[MAX_EVENTS];
    while (!g_stop) {
        int timeout = -1;
        if (g_delayed) {
            int64_t now = now_us(), due = INT64_MAX;
            for (conn_t *c = g_delayed; c; c = c->dnext)
                if (c->s_due < due) due = c->s_due;
            timeout = due <= now ? 0 : (int)((due - now + 999) / 1000);
        }
        int ne = epoll_wait(g_ep, evs, MAX_EVENTS, timeout);
        if (ne < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < ne; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn_t *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            int dead = 0;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    buf_reserve(&c->in, 16384);
                    ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
                    if (r > 0) {
                        c->in.len += r;
                        if ((size_t)r < c->in.cap - c->in.len + r) break; /* short read: drained */
                        continue;
                    }
                    if (r == 0) { dead = 1; break; }
                    if (errno == EINTR) continue;
                    if (errno != EAGAIN && errno != EWOULDBLOCK) dead = 1;
                    break;
                }
                process_input(c);
            } else if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                dead = 1;
            }
            if (dead && buf_avail(&c->out) == 0) { conn_free(c); continue; }
            if (dead) {
                c->close_after_write = 1;
                c->rd_closed = 1;
                c->want_out = -1; /* force update_events */
            }
            if (flush_out(c) < 0 || (dead && buf_avail(&c->out) == 0)) { conn_free(c); continue; }
            /* output drained and request parsing was waiting on it */
            if ((evs[i].events & EPOLLOUT) && buf_avail(&c->in) > 0 && !dead) {
                process_input(c);
                if (flush_out(c) < 0) { conn_free(c); continue; }
            }
        }
        if (g_delayed) {
            int64_t now = now_us();
            conn_t *c = g_delayed;
            while (c) {
                conn_t *next = c->dnext;
                if (c->s_due <= now) {
                    stream_step(c);
                    if (!c->streaming) process_input(c); /* pipelined requests behind it */
                    if (flush_out(c) < 0) conn_free(c);
                }
                c = next;
            }
        }
    }
    fprintf(stderr, "mock_upstream: exiting\n");
    return 0;
}
