/*
 * tinymqtt bench: native load generator. Built by scripts/bench/native.ts with gcc at
 * run time; used for the full-speed scenarios (stream, connects), where a Node process
 * spends more CPU per small read/write than the brokers it measures, and for latency,
 * where Node's event loop and GC would add their own delays to the figure.
 *
 * Same jobs and results as the Node generator (load/stream.ts, connects.ts, latency.ts):
 *   gen stream <port> <pubs> <subs> <qos> <perPublisherTopic 0|1> <topic> <filter>
 *              <payloadBytes> <batch> <window> <inflight> <warmupMs> <measureMs> <drainMs> <maxMessages>
 *   gen connects <port> <concurrency> <warmupMs> <measureMs> <maxConnects>
 *   gen latency <port> <ratePerSec> <payloadBytes> <warmupMs> <measureMs>
 *   gen storm <port> <clients> <concurrency> <clean 0|1> <idPrefix> <deadlineMs>
 *              (CONNECT + SUBSCRIBE per client, all held until stdin closes)
 *   gen sink <port|0> <maxSeconds>   (a fake broker; prints "READY <port>")
 *   gen syscall                      (ns per getppid(): how expensive syscalls are here right now)
 * Prints "MARK measure-start", "MARK measure-end", then "RESULT {json}" on stdout.
 * Only connects to 127.0.0.1. Every loop is bounded by time; exits on any setup error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 65536
#define READ_CHUNK 65536
#define MAX_PACKET (1 << 20)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void die(const char *what) {
  printf("ERROR %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static void mark(const char *name) {
  printf("MARK %s\n", name);
  fflush(stdout);
}

/* ---- packet encoding (MQTT 3.1.1) ---- */

typedef struct {
  uint8_t *p;
  size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  b->p = realloc(b->p, cap);
  if (!b->p) die("realloc");
  b->cap = cap;
}

static void buf_put(buf_t *b, const void *data, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void buf_u8(buf_t *b, uint8_t v) { buf_put(b, &v, 1); }
static void buf_u16(buf_t *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  buf_put(b, x, 2);
}
static void buf_str(buf_t *b, const char *s) {
  buf_u16(b, (uint16_t)strlen(s));
  buf_put(b, s, strlen(s));
}

/* Wraps a variable header + payload in a fixed header. */
static buf_t packet(uint8_t head, const buf_t *body) {
  buf_t out = {0};
  buf_u8(&out, head);
  size_t len = body->len;
  do {
    uint8_t b = len % 128;
    len /= 128;
    if (len) b |= 128;
    buf_u8(&out, b);
  } while (len);
  buf_put(&out, body->p, body->len);
  return out;
}

static buf_t connect_packet(const char *client_id) {
  buf_t body = {0};
  buf_str(&body, "MQTT");
  buf_u8(&body, 4);    /* protocol level 3.1.1 */
  buf_u8(&body, 0x02); /* clean session */
  buf_u16(&body, 0);   /* keepalive off: the run is shorter than any timeout */
  buf_str(&body, client_id);
  buf_t p = packet(0x10, &body);
  free(body.p);
  return p;
}

static buf_t subscribe_packet(const char *filter, int qos) {
  buf_t body = {0};
  buf_u16(&body, 1);
  buf_str(&body, filter);
  buf_u8(&body, (uint8_t)qos);
  buf_t p = packet(0x82, &body);
  free(body.p);
  return p;
}

static buf_t publish_packet(const char *topic, size_t payload_bytes, int qos, uint16_t id) {
  buf_t body = {0};
  buf_str(&body, topic);
  if (qos) buf_u16(&body, id);
  buf_reserve(&body, payload_bytes);
  memset(body.p + body.len, 'a', payload_bytes);
  body.len += payload_bytes;
  buf_t p = packet(qos ? 0x32 : 0x30, &body);
  free(body.p);
  return p;
}

static const uint8_t DISCONNECT[2] = {0xe0, 0x00};

/* ---- framing: calls on_packet for each complete packet, keeps the partial tail ---- */

typedef void (*packet_fn)(int fd, const uint8_t *p, size_t start, size_t body, size_t end);

/* Returns bytes consumed from b (whole packets only), or -1 on a malformed stream. */
static long frame(int fd, const uint8_t *b, size_t n, packet_fn on_packet) {
  size_t pos = 0;
  while (pos < n) {
    size_t i = pos + 1, len = 0, mul = 1;
    int complete = 0;
    for (int k = 0; k < 4 && i < n; k++) {
      uint8_t c = b[i++];
      len += (size_t)(c & 127) * mul;
      if (c < 128) {
        complete = 1;
        break;
      }
      mul *= 128;
    }
    if (!complete) {
      if (i - pos > 4) return -1;
      break;
    }
    if (len > MAX_PACKET) return -1;
    if (i + len > n) break;
    on_packet(fd, b, pos, i, i + len);
    pos = i + len;
  }
  return (long)pos;
}

/* ---- connections ---- */

enum { ROLE_NONE, ROLE_PUB, ROLE_SUB };

typedef struct {
  int role;
  int closed;
  buf_t in;  /* unframed bytes */
  buf_t out; /* bytes waiting for the socket (acks, QoS 1 publishes) */
  size_t out_off;
  int want_out;
  /* QoS 0 publisher: its pre-encoded batch and how much of it the socket has taken */
  buf_t batch;
  size_t batch_off;
  /* QoS 1 publisher */
  buf_t *by_id; /* index = packet id */
  uint16_t *free_ids;
  int nfree;
} conn_t;

static conn_t conns[MAX_FD];
static int epfd;

static int tcp_connect(int port, int nonblock, int nodelay) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (fd >= MAX_FD) {
    close(fd);
    errno = EMFILE;
    return -1;
  }
  int one = 1;
  if (nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int setup_type; /* packet type the blocking setup waits for */
static int setup_seen;
static uint8_t setup_code;
static void on_setup_packet(int fd, const uint8_t *p, size_t start, size_t body, size_t end) {
  (void)fd;
  if (p[start] >> 4 == setup_type) {
    setup_seen = 1;
    setup_code = end > body ? p[end - 1] : 0;
  }
}

/* Blocking request/reply used only during setup, bounded by SO_RCVTIMEO. */
static void setup_exchange(int fd, const buf_t *req, int reply_type, const char *what) {
  if (write(fd, req->p, req->len) != (ssize_t)req->len) die(what);
  conn_t *c = &conns[fd];
  setup_type = reply_type;
  setup_seen = 0;
  while (!setup_seen) {
    buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(fd, c->in.p + c->in.len, READ_CHUNK);
    if (n <= 0) die(what);
    c->in.len += (size_t)n;
    long used = frame(fd, c->in.p, c->in.len, on_setup_packet);
    if (used < 0) die(what);
    memmove(c->in.p, c->in.p + used, c->in.len - (size_t)used);
    c->in.len -= (size_t)used;
  }
  if (setup_code == 0x80 || (reply_type == 2 && setup_code != 0)) {
    errno = EPROTO;
    die(what);
  }
}

static int open_client(int port, const char *client_id) {
  int fd = tcp_connect(port, 0, 1);
  if (fd < 0) die("connect");
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  memset(&conns[fd], 0, sizeof conns[fd]);
  buf_t p = connect_packet(client_id);
  setup_exchange(fd, &p, 2, "CONNECT");
  free(p.p);
  return fd;
}

static void make_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void want_out(int fd, int on) {
  if (conns[fd].want_out == on) return;
  conns[fd].want_out = on;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = fd};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Writes what is queued in c->out; returns 0 when all is written. */
static int flush_out(int fd) {
  conn_t *c = &conns[fd];
  while (c->out_off < c->out.len) {
    ssize_t n = write(fd, c->out.p + c->out_off, c->out.len - c->out_off);
    if (n < 0) {
      if (errno == EAGAIN) {
        want_out(fd, 1);
        return 1;
      }
      c->closed = 1;
      return 1;
    }
    c->out_off += (size_t)n;
  }
  c->out.len = c->out_off = 0;
  return 0;
}

/* ---- stream job ---- */

static struct {
  int qos, pubs, subs;
  long window, batch;
  long long max_messages;
  long long sent, delivered, acked;
  int running;
  int pub_fds[64];
  int npubs;
} S;

static int window_open(void) {
  if (S.sent >= S.max_messages) return 0;
  if (S.window == 0 || S.subs == 0 || S.pubs == 0) return 1;
  return (double)S.sent - (double)S.delivered / S.subs < (double)S.window;
}

/* QoS 0: write whole batches straight from the shared buffer until EAGAIN or the window closes. */
static void pump_qos0(int fd) {
  conn_t *c = &conns[fd];
  for (int k = 0; k < 64 && S.running && !c->closed; k++) {
    if (c->batch_off == 0) {
      if (!window_open()) return;
      S.sent += S.batch;
    }
    ssize_t n = write(fd, c->batch.p + c->batch_off, c->batch.len - c->batch_off);
    if (n < 0) {
      if (errno == EAGAIN) want_out(fd, 1);
      else c->closed = 1;
      return;
    }
    c->batch_off = (c->batch_off + (size_t)n) % c->batch.len;
    if (c->batch_off != 0) {
      want_out(fd, 1);
      return;
    }
  }
  /* Still writable after 64 batches: come back through EPOLLOUT rather than starve reads. */
  if (S.running) want_out(fd, 1);
}

/* QoS 1: every free packet id becomes a PUBLISH, all written in one call. */
static void send_qos1(int fd) {
  conn_t *c = &conns[fd];
  if (c->closed) return;
  while (S.running && c->nfree > 0 && window_open()) {
    buf_t *p = &c->by_id[c->free_ids[--c->nfree]];
    buf_put(&c->out, p->p, p->len);
    S.sent++;
  }
  if (c->out.len > c->out_off) flush_out(fd);
}

static void resume_pubs(void) {
  for (int i = 0; i < S.npubs; i++) {
    int fd = S.pub_fds[i];
    if (conns[fd].want_out) continue;
    if (S.qos == 0) pump_qos0(fd);
    else send_qos1(fd);
  }
}

static void on_stream_packet(int fd, const uint8_t *p, size_t start, size_t body, size_t end) {
  (void)end;
  conn_t *c = &conns[fd];
  uint8_t type = p[start] >> 4;
  if (c->role == ROLE_SUB && type == 3) {
    S.delivered++;
    if ((p[start] & 0x06) == 0x02) {
      size_t topic_end = body + 2 + (((size_t)p[body] << 8) | p[body + 1]);
      uint8_t ack[4] = {0x40, 0x02, p[topic_end], p[topic_end + 1]};
      buf_put(&c->out, ack, 4);
    }
  } else if (c->role == ROLE_PUB && type == 4) {
    S.acked++;
    c->free_ids[c->nfree++] = (uint16_t)((p[body] << 8) | p[body + 1]);
  }
}

static void read_ready(int fd, packet_fn on_packet) {
  conn_t *c = &conns[fd];
  for (int k = 0; k < 16; k++) {
    buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = read(fd, c->in.p + c->in.len, READ_CHUNK);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      c->closed = 1;
      epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
      return;
    }
    if (n < 0) return;
    c->in.len += (size_t)n;
    long used = frame(fd, c->in.p, c->in.len, on_packet);
    if (used < 0) {
      c->closed = 1;
      return;
    }
    memmove(c->in.p, c->in.p + used, c->in.len - (size_t)used);
    c->in.len -= (size_t)used;
    if (n < READ_CHUNK) return;
  }
}

static void stream_events(int timeout_ms) {
  struct epoll_event evs[256];
  int n = epoll_wait(epfd, evs, 256, timeout_ms);
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    conn_t *c = &conns[fd];
    if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      read_ready(fd, on_stream_packet);
      if (c->role == ROLE_SUB && c->out.len > c->out_off) flush_out(fd);
      if (c->role == ROLE_PUB && S.qos == 1 && !c->want_out) send_qos1(fd);
    }
    if (evs[i].events & EPOLLOUT) {
      want_out(fd, 0);
      if (c->out.len > c->out_off && flush_out(fd)) continue;
      if (c->role == ROLE_PUB) {
        if (S.qos == 0) pump_qos0(fd);
        else send_qos1(fd);
      }
    }
  }
  resume_pubs();
}

static int run_stream(char **a) {
  int port = atoi(a[0]);
  S.pubs = atoi(a[1]);
  S.subs = atoi(a[2]);
  S.qos = atoi(a[3]);
  int per_topic = atoi(a[4]);
  const char *topic = a[5], *filter = a[6];
  size_t payload = (size_t)atol(a[7]);
  S.batch = atol(a[8]);
  S.window = atol(a[9]);
  int inflight = atoi(a[10]);
  double warmup = atof(a[11]), measure = atof(a[12]), drain = atof(a[13]);
  S.max_messages = atoll(a[14]);
  if (S.pubs > 64 || inflight > 1000 || S.batch < 1) {
    errno = EINVAL;
    die("arguments");
  }
  int sub_fds[4096];
  if (S.subs > 4096) {
    errno = EINVAL;
    die("arguments");
  }
  char id[64];
  for (int j = 0; j < S.subs; j++) {
    snprintf(id, sizeof id, "gs-%d-%d", getpid(), j);
    int fd = open_client(port, id);
    conns[fd].role = ROLE_SUB;
    buf_t p = subscribe_packet(filter, S.qos);
    setup_exchange(fd, &p, 9, "SUBSCRIBE");
    free(p.p);
    sub_fds[j] = fd;
  }
  for (int i = 0; i < S.pubs; i++) {
    snprintf(id, sizeof id, "gp-%d-%d", getpid(), i);
    int fd = open_client(port, id);
    conn_t *c = &conns[fd];
    c->role = ROLE_PUB;
    char t[256];
    snprintf(t, sizeof t, per_topic ? "%s%d" : "%s", topic, i);
    if (S.qos == 0) {
      buf_t one = publish_packet(t, payload, 0, 0);
      for (long k = 0; k < S.batch; k++) buf_put(&c->batch, one.p, one.len);
      free(one.p);
    } else {
      c->by_id = calloc((size_t)inflight + 1, sizeof(buf_t));
      c->free_ids = calloc((size_t)inflight + 1, sizeof(uint16_t));
      for (int k = 1; k <= inflight; k++) {
        c->by_id[k] = publish_packet(t, payload, 1, (uint16_t)k);
        c->free_ids[c->nfree++] = (uint16_t)k;
      }
    }
    S.pub_fds[S.npubs++] = fd;
  }
  for (int j = 0; j < S.subs; j++) make_nonblocking(sub_fds[j]);
  for (int i = 0; i < S.npubs; i++) make_nonblocking(S.pub_fds[i]);

  S.running = 1;
  double t_start = now_ms();
  resume_pubs();
  while (now_ms() - t_start < warmup) stream_events(5);
  double t0 = now_ms(), c0 = cpu_ms();
  long long sent0 = S.sent, del0 = S.delivered;
  mark("measure-start");
  while (now_ms() - t0 < measure) stream_events(5);
  double t1 = now_ms(), c1 = cpu_ms();
  long long sent1 = S.sent, del1 = S.delivered;
  mark("measure-end");
  S.running = 0;
  /* Drain: stop when nothing arrived for a second (a busy machine can stall a broker for
     hundreds of ms, which must not count as loss), or after drainMs. */
  if (S.pubs > 0 && S.subs > 0) {
    double quiet_since = now_ms(), deadline = now_ms() + drain;
    long long last = S.delivered;
    while (now_ms() < deadline && now_ms() - quiet_since < 1000) {
      stream_events(20);
      if (S.delivered != last) {
        last = S.delivered;
        quiet_since = now_ms();
      }
    }
  }
  double secs = (t1 - t0) / 1e3;
  long long expected = S.pubs > 0 && S.subs > 0 ? S.sent * S.subs : S.delivered;
  long long lost = expected > S.delivered ? expected - S.delivered : 0;
  int closed = 0;
  for (int fd = 0; fd < MAX_FD; fd++) {
    if (conns[fd].role == ROLE_NONE) continue;
    closed += conns[fd].closed;
    if (write(fd, DISCONNECT, 2) < 0) { /* the broker may be gone; closing anyway */ }
    close(fd);
  }
  printf("RESULT {\"kind\":\"stream\",\"seconds\":%.4f,\"sendRate\":%.1f,\"deliverRate\":%.1f,\"sent\":%lld,"
         "\"delivered\":%lld,\"acked\":%lld,\"lost\":%lld,\"cpu\":%.4f,\"errors\":[%s]}\n",
         secs, (sent1 - sent0) / secs, (del1 - del0) / secs, S.sent, S.delivered, S.acked, lost, (c1 - c0) / (t1 - t0),
         closed ? "\"connections closed by the broker during the run\"" : "");
  return 0;
}

/* ---- connects job ---- */

enum { SLOT_IDLE, SLOT_CONNECTING, SLOT_WAIT_CONNACK };

static struct {
  int port;
  long long opened, done, failed, max;
  int running;
  char last_error[128];
  buf_t tmpl;    /* CONNECT with a fixed-width client id */
  size_t id_off; /* where its 10 digits start */
} K;

/* Closing the descriptor also takes it out of the epoll set: one syscall, not two. */
static void slot_fail(int fd, const char *why) {
  K.failed++;
  snprintf(K.last_error, sizeof K.last_error, "%s", why);
  close(fd);
}

/* Sends this attempt's CONNECT; 0 when the socket is not connected yet. */
static int send_connect(int fd) {
  long long v = K.opened;
  for (int d = 9; d >= 0; d--, v /= 10) K.tmpl.p[K.id_off + (size_t)d] = (uint8_t)('0' + v % 10);
  return write(fd, K.tmpl.p, K.tmpl.len) == (ssize_t)K.tmpl.len;
}

static int slot_start(void) {
  for (int tries = 0; tries < 100 && K.running && K.opened < K.max && K.failed < 1000; tries++) {
    K.opened++;
    /* No TCP_NODELAY: each side sends one segment and waits, so Nagle never holds one back. */
    int fd = tcp_connect(K.port, 1, 0);
    if (fd < 0) {
      K.failed++;
      snprintf(K.last_error, sizeof K.last_error, "connect: %s", strerror(errno));
      continue;
    }
    /* On loopback the handshake is usually done when connect() returns: send CONNECT at
       once and skip the writable wakeup; otherwise wait for it. */
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (send_connect(fd)) conns[fd].role = SLOT_WAIT_CONNACK;
    else if (errno == EAGAIN || errno == ENOTCONN || errno == EINPROGRESS) {
      conns[fd].role = SLOT_CONNECTING;
      ev.events = EPOLLOUT;
    } else {
      slot_fail(fd, "CONNECT write");
      continue;
    }
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 1;
  }
  return 0;
}

static int run_connects(char **a) {
  K.port = atoi(a[0]);
  int concurrency = atoi(a[1]);
  double warmup = atof(a[2]), measure = atof(a[3]);
  K.max = atoll(a[4]);
  K.running = 1;
  /* A CONNECT with a fixed-width client id, patched per attempt. */
  char id[64];
  snprintf(id, sizeof id, "gc%d-0000000000", getpid());
  K.tmpl = connect_packet(id);
  K.id_off = K.tmpl.len - 10;
  int active = 0;
  for (int i = 0; i < concurrency; i++) active += slot_start();
  double t_start = now_ms(), t0 = 0, t1 = 0, c0 = 0, c1 = 0;
  long long done0 = 0, done1 = 0;
  int phase = 0;
  struct epoll_event evs[256];
  while (active > 0 || phase < 2) {
    double t = now_ms();
    if (phase == 0 && t - t_start >= warmup) {
      phase = 1, t0 = t, c0 = cpu_ms(), done0 = K.done;
      mark("measure-start");
    } else if (phase == 1 && t - t0 >= measure) {
      phase = 2, t1 = t, c1 = cpu_ms(), done1 = K.done, K.running = 0;
      mark("measure-end");
    }
    if (phase == 2 && (active == 0 || t - t1 > 2000)) break;
    int n = epoll_wait(epfd, evs, 256, 5);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      conn_t *c = &conns[fd];
      int ok = 0, finished = 1;
      if (c->role == SLOT_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          errno = err;
          slot_fail(fd, "connect refused or reset");
        } else {
          if (!send_connect(fd)) slot_fail(fd, "CONNECT write");
          else {
            c->role = SLOT_WAIT_CONNACK;
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
            finished = 0;
          }
        }
      } else if (c->role == SLOT_WAIT_CONNACK) {
        uint8_t b[64];
        ssize_t r = read(fd, b, sizeof b);
        if (r < 0 && errno == EAGAIN) finished = 0;
        else if (r >= 4 && b[0] == 0x20 && b[3] == 0) {
          if (write(fd, DISCONNECT, 2) < 0) { /* counted anyway: the CONNACK arrived */ }
          close(fd);
          K.done++;
          ok = 1;
        } else slot_fail(fd, r == 0 ? "closed before CONNACK" : "bad CONNACK");
      }
      (void)ok;
      if (finished) {
        active--;
        active += slot_start();
      }
    }
  }
  double secs = (t1 - t0) / 1e3;
  printf("RESULT {\"kind\":\"connects\",\"seconds\":%.4f,\"perSec\":%.1f,\"total\":%lld,\"failed\":%lld,"
         "\"cpu\":%.4f,\"errors\":[%s%s%s]}\n",
         secs, (done1 - done0) / secs, K.done, K.failed, (c1 - c0) / (t1 - t0), K.failed ? "\"" : "",
         K.failed ? K.last_error : "", K.failed ? "\"" : "");
  return 0;
}


/* ---- storm job: N clients onto the broker as fast as it takes them, all staying connected ---- */

enum { STORM_CONNECTING = 10, STORM_WAIT_CONNACK, STORM_WAIT_SUBACK, STORM_DONE };

static struct {
  int port, clean;
  long clients, opened, done, failed, session_present;
  const char *prefix;
  char last_error[128];
} T;

static void storm_fail(int fd, const char *why) {
  T.failed++;
  snprintf(T.last_error, sizeof T.last_error, "%s", why);
  conns[fd].role = ROLE_NONE;
  close(fd);
}

/* CONNECT for client `index` (its id is "<prefix>-<index>"), or SUBSCRIBE to "storm/<id>". */
static int storm_send(int fd, int subscribe) {
  char id[96];
  snprintf(id, sizeof id, "%s-%ld", T.prefix, (long)conns[fd].nfree);
  buf_t p;
  if (subscribe) {
    char topic[128];
    snprintf(topic, sizeof topic, "storm/%s", id);
    p = subscribe_packet(topic, 1);
  } else {
    buf_t body = {0};
    buf_str(&body, "MQTT");
    buf_u8(&body, 4);
    buf_u8(&body, T.clean ? 0x02 : 0x00);
    buf_u16(&body, 0);
    buf_str(&body, id);
    p = packet(0x10, &body);
    free(body.p);
  }
  int ok = write(fd, p.p, p.len) == (ssize_t)p.len;
  free(p.p);
  return ok;
}

static int storm_start(void) {
  while (T.opened < T.clients && T.failed < 1000) {
    long index = T.opened++;
    int fd = tcp_connect(T.port, 1, 0);
    if (fd < 0) {
      T.failed++;
      snprintf(T.last_error, sizeof T.last_error, "connect: %s", strerror(errno));
      continue;
    }
    conns[fd].nfree = (int)index; /* the client's index, for its id */
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (storm_send(fd, 0)) conns[fd].role = STORM_WAIT_CONNACK;
    else if (errno == EAGAIN || errno == ENOTCONN || errno == EINPROGRESS) {
      conns[fd].role = STORM_CONNECTING;
      ev.events = EPOLLOUT;
    } else {
      storm_fail(fd, "CONNECT write");
      continue;
    }
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 1;
  }
  return 0;
}

static int run_storm(char **a) {
  T.port = atoi(a[0]);
  T.clients = atol(a[1]);
  int concurrency = atoi(a[2]);
  T.clean = atoi(a[3]);
  T.prefix = a[4];
  double deadline_ms = atof(a[5]);
  if (T.clients < 1 || T.clients > 60000 || concurrency < 1) {
    errno = EINVAL;
    die("arguments");
  }
  double t0 = now_ms(), c0 = cpu_ms();
  mark("measure-start");
  int active = 0;
  for (int i = 0; i < concurrency; i++) active += storm_start();
  struct epoll_event evs[256];
  while (active > 0 && now_ms() - t0 < deadline_ms) {
    int n = epoll_wait(epfd, evs, 256, 5);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      conn_t *c = &conns[fd];
      int finished = 0;
      if (c->role == STORM_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          errno = err;
          storm_fail(fd, "connect refused or reset");
          finished = 1;
        } else if (!storm_send(fd, 0)) {
          storm_fail(fd, "CONNECT write");
          finished = 1;
        } else {
          c->role = STORM_WAIT_CONNACK;
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
        }
      } else if (c->role == STORM_WAIT_CONNACK || c->role == STORM_WAIT_SUBACK) {
        uint8_t b[64];
        ssize_t r = read(fd, b, sizeof b);
        if (r < 0 && errno == EAGAIN) continue;
        finished = 1;
        if (c->role == STORM_WAIT_CONNACK && r >= 4 && b[0] == 0x20 && b[3] == 0) {
          T.session_present += b[2] & 1;
          if (storm_send(fd, 1)) {
            c->role = STORM_WAIT_SUBACK;
            finished = 0;
          } else storm_fail(fd, "SUBSCRIBE write");
        } else if (c->role == STORM_WAIT_SUBACK && r >= 5 && b[0] == 0x90 && b[4] < 0x80) {
          /* Done: the client stays connected and idle; no more events wanted from it. */
          c->role = STORM_DONE;
          epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
          T.done++;
        } else storm_fail(fd, r == 0 ? "closed before CONNACK/SUBACK" : "bad CONNACK/SUBACK");
      }
      if (finished) {
        active--;
        active += storm_start();
      }
    }
  }
  double t1 = now_ms(), c1 = cpu_ms();
  mark("measure-end");
  double secs = (t1 - t0) / 1e3;
  printf("RESULT {\"kind\":\"storm\",\"seconds\":%.4f,\"perSec\":%.1f,\"done\":%ld,\"failed\":%ld,"
         "\"sessionPresent\":%ld,\"cpu\":%.4f,\"errors\":[%s%s%s]}\n",
         secs, T.done / secs, T.done, T.failed, T.session_present, (c1 - c0) / (t1 - t0),
         T.failed || T.done < T.clients ? "\"" : "",
         T.failed ? T.last_error : (T.done < T.clients ? "deadline passed" : ""),
         T.failed || T.done < T.clients ? "\"" : "");
  /* Hold the clients until the orchestrator has read the broker (stdin closes) or 60 s pass. */
  struct epoll_event evin = {.events = EPOLLIN, .data.fd = 0};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &evin) == 0) {
    double until = now_ms() + 60000;
    while (now_ms() < until) {
      int n = epoll_wait(epfd, evs, 256, 100);
      int gone = 0;
      for (int i = 0; i < n; i++) if (evs[i].data.fd == 0) gone = 1;
      if (gone) break;
    }
  }
  return 0;
}

/* ---- latency job: fixed rate, send time in the payload, same clock on both ends ---- */

static struct {
  double *samples;
  long nsamples, cap, received;
  double measure_from; /* ms; sends before this are warm-up */
} L;

static void on_latency_packet(int fd, const uint8_t *p, size_t start, size_t body, size_t end) {
  (void)fd;
  if (p[start] >> 4 != 3) return;
  double now = now_ms();
  size_t payload = body + 2 + (((size_t)p[body] << 8) | p[body + 1]);
  if (payload + sizeof(double) > end) return;
  double sent_at;
  memcpy(&sent_at, p + payload, sizeof sent_at);
  L.received++;
  if (sent_at >= L.measure_from && L.nsamples < L.cap) L.samples[L.nsamples++] = (now - sent_at) * 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double pct(double p) {
  if (L.nsamples == 0) return -1;
  long rank = (long)((p / 100.0) * (double)L.nsamples + 0.999999) - 1;
  if (rank < 0) rank = 0;
  if (rank >= L.nsamples) rank = L.nsamples - 1;
  return L.samples[rank];
}

static int run_latency(char **a) {
  int port = atoi(a[0]);
  double rate = atof(a[1]);
  size_t payload = (size_t)atol(a[2]);
  double warmup = atof(a[3]), measure = atof(a[4]);
  if (rate <= 0 || rate > 100000 || payload < sizeof(double) || payload > 100) {
    errno = EINVAL;
    die("arguments");
  }
  char id[64];
  snprintf(id, sizeof id, "gl-sub-%d", getpid());
  int sub = open_client(port, id);
  conns[sub].role = ROLE_SUB;
  buf_t sp = subscribe_packet("bench/latency", 0);
  setup_exchange(sub, &sp, 9, "SUBSCRIBE");
  snprintf(id, sizeof id, "gl-pub-%d", getpid());
  int pub = open_client(port, id);
  make_nonblocking(sub);
  fcntl(pub, F_SETFL, fcntl(pub, F_GETFL) | O_NONBLOCK);
  buf_t pkt = publish_packet("bench/latency", payload, 0, 0);
  /* Under 128 bytes the fixed header is 2 bytes; then the topic, then the payload. */
  if (pkt.len >= 128) {
    errno = EINVAL;
    die("latency packet too large");
  }
  size_t ts_off = 2 + 2 + strlen("bench/latency");
  long total = (long)(rate * (warmup + measure) / 1e3);
  L.cap = total;
  L.samples = calloc((size_t)total + 1, sizeof(double));
  L.measure_from = 1e300;

  /* A timerfd paces the sends with sub-millisecond precision; epoll wakes for it or a delivery. */
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  long interval_ns = (long)(1e9 / rate);
  struct itimerspec its = {.it_interval = {interval_ns / 1000000000L, interval_ns % 1000000000L},
                           .it_value = {interval_ns / 1000000000L, interval_ns % 1000000000L}};
  timerfd_settime(tfd, 0, &its, NULL);
  struct epoll_event tev = {.events = EPOLLIN, .data.fd = tfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev);

  double start = now_ms(), c0 = cpu_ms(), t0 = start;
  long sent = 0;
  int measuring = 0;
  /* Longest the generator itself fell behind its schedule: its own share of a bad tail. */
  double stall_ms = 0;
  struct epoll_event evs[8];
  while (sent < total && now_ms() - start < (warmup + measure) * 2 + 5000) {
    int n = epoll_wait(epfd, evs, 8, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == tfd) {
        uint64_t ticks = 0;
        if (read(tfd, &ticks, sizeof ticks) != sizeof ticks) continue;
        if (measuring && ticks > 1 && (double)(ticks - 1) * interval_ns / 1e6 > stall_ms)
          stall_ms = (double)(ticks - 1) * interval_ns / 1e6;
        for (uint64_t k = 0; k < ticks && sent < total; k++) {
          double now = now_ms();
          if (!measuring && now - start >= warmup) {
            measuring = 1;
            L.measure_from = now;
            t0 = now;
            c0 = cpu_ms();
            mark("measure-start");
          }
          memcpy(pkt.p + ts_off, &now, sizeof now);
          if (write(pub, pkt.p, pkt.len) == (ssize_t)pkt.len) sent++;
          else break; /* socket full: the broker is not reading; try at the next tick */
        }
      } else if (fd == sub) {
        read_ready(sub, on_latency_packet);
      }
    }
  }
  double t1 = now_ms(), c1 = cpu_ms();
  mark("measure-end");
  /* Stragglers: up to one second more. */
  double until = now_ms() + 1000;
  while (L.received < sent && now_ms() < until) {
    int n = epoll_wait(epfd, evs, 8, 20);
    for (int i = 0; i < n; i++)
      if (evs[i].data.fd == sub) read_ready(sub, on_latency_packet);
  }
  qsort(L.samples, (size_t)L.nsamples, sizeof(double), cmp_double);
  if (write(pub, DISCONNECT, 2) < 0 || write(sub, DISCONNECT, 2) < 0) { /* closing anyway */ }
  close(pub);
  close(sub);
  printf("RESULT {\"kind\":\"latency\",\"samples\":%ld,\"sent\":%ld,\"received\":%ld,\"p50\":%.1f,\"p99\":%.1f,"
         "\"p999\":%.1f,\"max\":%.1f,\"generatorStallMs\":%.1f,\"cpu\":%.4f,\"errors\":[]}\n",
         L.nsamples, sent, L.received, pct(50), pct(99), pct(99.9), L.nsamples ? L.samples[L.nsamples - 1] : -1,
         stall_ms, t1 > t0 ? (c1 - c0) / (t1 - t0) : 0);
  return 0;
}

/* ---- sink: the do-nothing broker the generator is measured against ---- */

static buf_t sink_blast;
static char sink_streaming[MAX_FD];
static char sink_closing[MAX_FD];
/* The subscriber of "bench/latency": PUBLISHes on that topic are forwarded to it unchanged,
   so the latency job measured against the sink gives the machine's floor (loopback, wakeups,
   scheduling) with no broker work at all. -1 = none. */
static int sink_forward_fd = -1;
static const char LATENCY_TOPIC[] = "bench/latency";

static int topic_is(const uint8_t *p, size_t at, const char *topic) {
  size_t n = ((size_t)p[at] << 8) | p[at + 1];
  return n == strlen(topic) && memcmp(p + at + 2, topic, n) == 0;
}

static void on_sink_packet(int fd, const uint8_t *p, size_t start, size_t body, size_t end) {
  conn_t *c = &conns[fd];
  switch (p[start] >> 4) {
  case 1: {
    static const uint8_t connack[4] = {0x20, 0x02, 0x00, 0x00};
    buf_put(&c->out, connack, 4);
    break;
  }
  case 3:
    if ((p[start] & 0x06) == 0x02) {
      size_t topic_end = body + 2 + (((size_t)p[body] << 8) | p[body + 1]);
      uint8_t ack[4] = {0x40, 0x02, p[topic_end], p[topic_end + 1]};
      buf_put(&c->out, ack, 4);
    }
    if (sink_forward_fd >= 0 && topic_is(p, body, LATENCY_TOPIC)) {
      buf_put(&conns[sink_forward_fd].out, p + start, end - start);
      flush_out(sink_forward_fd);
    }
    break;
  case 8: {
    uint8_t suback[5] = {0x90, 0x03, p[body], p[body + 1], 0x00};
    buf_put(&c->out, suback, 5);
    if (topic_is(p, body + 2, LATENCY_TOPIC)) sink_forward_fd = fd;
    else sink_streaming[fd] = 1;
    break;
  }
  case 12: {
    static const uint8_t pingresp[2] = {0xd0, 0x00};
    buf_put(&c->out, pingresp, 2);
    break;
  }
  case 14:
    sink_closing[fd] = 1;
    break;
  }
}

static void sink_close(int fd) {
  if (fd == sink_forward_fd) sink_forward_fd = -1;
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  conns[fd].in.len = 0;
  conns[fd].out.len = conns[fd].out_off = 0;
  conns[fd].batch_off = 0;
  conns[fd].want_out = 0;
  sink_streaming[fd] = sink_closing[fd] = 0;
}

/* Streams the pre-encoded batch while the socket takes it. */
static void sink_stream(int fd) {
  conn_t *c = &conns[fd];
  for (int k = 0; k < 64; k++) {
    ssize_t n = write(fd, sink_blast.p + c->batch_off, sink_blast.len - c->batch_off);
    if (n < 0) {
      if (errno == EAGAIN) break;
      return;
    }
    c->batch_off = (c->batch_off + (size_t)n) % sink_blast.len;
  }
  want_out(fd, 1);
}

static int run_sink(char **a) {
  double max_ms = atof(a[1]) * 1e3;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(a[0]))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &len);
  buf_t one_pub = publish_packet("bench/sink", 64, 0, 0);
  for (int k = 0; k < 128; k++) buf_put(&sink_blast, one_pub.p, one_pub.len);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  /* stdin closes when the orchestrator goes away: the sink must not outlive it. */
  struct epoll_event evin = {.events = EPOLLIN, .data.fd = 0};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &evin);
  printf("READY %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  double start = now_ms();
  struct epoll_event evs[256];
  while (now_ms() - start < max_ms) {
    int n = epoll_wait(epfd, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == 0) return 0;
      if (fd == lfd) {
        for (int k = 0; k < 64; k++) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (cfd < 0) break;
          if (cfd >= MAX_FD) {
            close(cfd);
            continue;
          }
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      conn_t *c = &conns[fd];
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        read_ready(fd, on_sink_packet);
        if (c->closed) {
          c->closed = 0;
          sink_close(fd);
          continue;
        }
        if (c->out.len > c->out_off) flush_out(fd);
        if (sink_closing[fd]) {
          sink_close(fd);
          continue;
        }
      }
      if (evs[i].events & EPOLLOUT) {
        want_out(fd, 0);
        if (c->out.len > c->out_off && flush_out(fd)) continue;
      }
      if (sink_streaming[fd] && !c->want_out) sink_stream(fd);
    }
  }
  return 0;
}

/* ---- machine check: the cost of a trivial syscall, pinned where the broker runs ---- */

static int run_syscall_cost(void) {
  double t0 = now_ms();
  long n = 0;
  /* Bounded in count and in time (half a second at most). */
  while (n < 2000000 && now_ms() - t0 < 500) {
    for (int k = 0; k < 1000; k++) (void)getppid();
    n += 1000;
  }
  printf("RESULT {\"kind\":\"syscall\",\"ns\":%.1f}\n", (now_ms() - t0) * 1e6 / (double)n);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");
  if (argc == 17 && strcmp(argv[1], "stream") == 0) return run_stream(argv + 2);
  if (argc == 7 && strcmp(argv[1], "connects") == 0) return run_connects(argv + 2);
  if (argc == 4 && strcmp(argv[1], "sink") == 0) return run_sink(argv + 2);
  if (argc == 2 && strcmp(argv[1], "syscall") == 0) return run_syscall_cost();
  if (argc == 7 && strcmp(argv[1], "latency") == 0) return run_latency(argv + 2);
  if (argc == 8 && strcmp(argv[1], "storm") == 0) return run_storm(argv + 2);
  fprintf(stderr, "usage: gen stream <14 args> | gen connects <5 args> | gen latency <5 args> | gen storm <6 args> | gen sink <port> <maxSeconds> | gen syscall\n");
  return 2;
}
