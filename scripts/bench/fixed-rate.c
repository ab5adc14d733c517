/*
 * fixed-rate: an open-loop HTTP/1.1 load at a fixed rate with microsecond latencies, for `npm run bench:nginx`.
 *
 * Why C: the Node client (fixed-rate.mjs) shares its event loop between timers, sockets and the JIT, and on the
 * 2-core bench machine it sent up to ~2 ms late at p99, as much as the latency the bench is meant to judge. This
 * one is a single thread on epoll with nanosecond timeouts (epoll_pwait2) and 1 µs timer slack, which spins only
 * for the last few µs before a request is due. What is left is the scheduler's wake-up latency, tens of ms on a
 * machine with 20+ runnable processes: so, when allowed (root or CAP_SYS_NICE), it runs as SCHED_FIFO priority 1
 * (-N: don't). It uses a few % of one core, so this takes nothing measurable from NGINX and the services, whose
 * own scheduling delays stay in the latencies, where they belong.
 *
 * Request i is due at t0 + i/rate (CLOCK_MONOTONIC) whatever happened before; its latency counts from that due
 * time (no coordinated omission: a stall is charged to every request that waited for it, including a wait for a
 * free connection when all N are busy) and also from the write() that sent it. `lag` is how late this client
 * itself picked a due request up. One request per keep-alive connection at a time (no pipelining).
 *
 * Usage: fixed-rate -p PORT [-r RATE] [-d SECONDS] [-w WARM_SECONDS] [-c CONNS] [-s SPIN_US] [-t DRAIN_SECONDS] [-N]
 *                   [-H "Name: value"]... PATH
 * Prints one JSON object: sent, ok, errors, statuses, p50Us, p90Us, p99Us, maxUs, p50SentUs, p99SentUs, lagP99Us
 * (the fields of runFixedRate in fixed-rate.mjs) plus lagMaxUs, waitedForConn, cpuMs, sched. Exit 0 when every answer was 2xx.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_SIZE 65536
#define IDLE_REQ (-1)

enum conn_state { CLOSED, CONNECTING, OPEN };
/* Where the response parser is: headers, then one of the body framings. */
enum parse_state { HEAD, BODY_LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILERS, BODY_UNTIL_CLOSE };

struct conn {
  int fd;
  enum conn_state state;
  long req;          /* request in flight or waiting for this connection's connect; IDLE_REQ if none */
  size_t written;    /* bytes of the request written so far */
  enum parse_state ps;
  int status;
  int close_after;   /* the server said Connection: close (or HTTP/1.0) */
  long long remaining; /* body bytes left (Content-Length or current chunk) */
  size_t len;        /* unparsed bytes in buf */
  char buf[BUF_SIZE];
};

static struct conn conns[MAX_CONNS];
static int nconns = 64, epfd, port;
static char *request;
static size_t request_len;
static long long spin_ns = 30000, drain_ns = 10000000000LL;

/* One phase's results (warm-up, then the measured one). */
static long total, next_req, done_count, errors, waited;
static long long t0, interval_ns;
static int64_t *lat_ns, *sent_ns, *lag_ns;
static long statuses[600], status_error, status_timeout;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long due(long i) { return t0 + (long long)((double)i * (double)interval_ns + 0.5); }

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void watch(struct conn *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

/* Starts a non-blocking connect; a refusal may come now or later as EPOLLERR. */
static int open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->len = 0;
  c->ps = HEAD;
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    c->state = OPEN;
    watch(c, EPOLLIN, EPOLL_CTL_ADD);
    return 0;
  }
  if (errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    c->state = CLOSED;
    return -1;
  }
  c->state = CONNECTING;
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  return 0;
}

static void close_conn(struct conn *c) {
  if (c->fd >= 0) close(c->fd); /* close() also removes it from the epoll set */
  c->fd = -1;
  c->state = CLOSED;
  c->len = 0;
}

/* A request is over (answered, failed or timed out): record it and free its connection. */
static void finish(struct conn *c, int status) {
  long i = c->req;
  long long t = now_ns();
  lat_ns[i] = t - due(i);
  sent_ns[i] = sent_ns[i] ? t - sent_ns[i] : 0; /* sent_ns held the write time; unsent (failed connect): 0 */
  if (status > 0 && status < 600) statuses[status]++;
  else if (status == -2) status_timeout++;
  else status_error++;
  if (status < 200 || status > 299) errors++;
  c->req = IDLE_REQ;
  done_count++;
}

static void fail_conn(struct conn *c) {
  if (c->req != IDLE_REQ) finish(c, -1);
  close_conn(c);
}

/* Writes (the rest of) the request; waits for EPOLLOUT on a short write. */
static void send_some(struct conn *c) {
  if (c->written == 0) sent_ns[c->req] = now_ns();
  while (c->written < request_len) {
    ssize_t n = write(c->fd, request + c->written, request_len - c->written);
    if (n < 0) {
      if (errno == EAGAIN) {
        watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        return;
      }
      fail_conn(c);
      return;
    }
    c->written += (size_t)n;
  }
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* Hands request i to connection c: sent now when the connection is open, else once its connect completes. */
static void assign(struct conn *c, long i) {
  c->req = i;
  c->written = 0;
  c->ps = HEAD;
  if (c->state == CLOSED && open_conn(c) < 0) {
    finish(c, -1);
    return;
  }
  if (c->state == OPEN) send_some(c);
}

/* A free connection: an open idle one first, else one still connecting or closed (it will (re)connect). */
static struct conn *free_conn(void) {
  struct conn *fallback = NULL;
  for (int k = 0; k < nconns; k++) {
    if (conns[k].req != IDLE_REQ) continue;
    if (conns[k].state == OPEN) return &conns[k];
    if (!fallback) fallback = &conns[k];
  }
  return fallback;
}

/* The value of header `name` in the header block [h, end), or NULL; case-insensitive name. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen) {
  size_t nlen = strlen(name);
  for (const char *line = h; line < end;) {
    const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
    if (!eol) eol = end;
    if ((size_t)(eol - line) > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
      const char *v = line + nlen + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      *vlen = (size_t)(eol - v);
      return v;
    }
    line = eol + 2;
  }
  return NULL;
}

/*
 * Consumes what the buffer holds of the response. Returns 1 when the response is complete, 0 when more bytes are
 * needed, -1 on a malformed response.
 */
static int parse(struct conn *c) {
  size_t pos = 0;
  int complete = 0;
  for (;;) {
    char *p = c->buf + pos;
    size_t avail = c->len - pos;
    if (c->ps == HEAD) {
      char *end = memmem(p, avail, "\r\n\r\n", 4);
      if (!end) {
        if (avail >= BUF_SIZE - 1) return -1; /* headers larger than the buffer */
        break;
      }
      if (avail < 12 || strncmp(p, "HTTP/1.", 7) != 0) return -1;
      int status = atoi(p + 9);
      const char *hs = (const char *)memmem(p, (size_t)(end - p), "\r\n", 2) + 2;
      size_t vlen;
      const char *v = header(hs, end + 2, "Connection", &vlen);
      c->close_after = (v && vlen >= 5 && strncasecmp(v, "close", 5) == 0) || (p[7] == '0' && !v);
      pos += (size_t)(end + 4 - p);
      if (status >= 100 && status < 200) continue; /* an interim answer: the real one follows */
      c->status = status;
      const char *te = header(hs, end + 2, "Transfer-Encoding", &vlen);
      const char *cl = header(hs, end + 2, "Content-Length", &vlen);
      if (status == 204 || status == 304) c->ps = BODY_LENGTH, c->remaining = 0;
      else if (te && vlen >= 7 && strncasecmp(te + vlen - 7, "chunked", 7) == 0) c->ps = CHUNK_SIZE;
      else if (cl) c->ps = BODY_LENGTH, c->remaining = strtoll(cl, NULL, 10);
      else c->ps = BODY_UNTIL_CLOSE, c->close_after = 1;
    } else if (c->ps == BODY_LENGTH || c->ps == CHUNK_DATA) {
      size_t take = avail < (size_t)c->remaining ? avail : (size_t)c->remaining;
      pos += take;
      c->remaining -= (long long)take;
      if (c->remaining > 0) break;
      if (c->ps == BODY_LENGTH) {
        complete = 1;
        break;
      }
      c->ps = CHUNK_CRLF;
    } else if (c->ps == CHUNK_CRLF) {
      if (avail < 2) break;
      if (p[0] != '\r' || p[1] != '\n') return -1;
      pos += 2;
      c->ps = CHUNK_SIZE;
    } else if (c->ps == CHUNK_SIZE || c->ps == TRAILERS) {
      char *eol = memmem(p, avail, "\r\n", 2);
      if (!eol) {
        if (avail >= BUF_SIZE - 1) return -1;
        break;
      }
      pos += (size_t)(eol + 2 - p);
      if (c->ps == TRAILERS) {
        if (eol == p) { /* the empty line after the trailers ends the message */
          complete = 1;
          break;
        }
        continue;
      }
      char *hex_end;
      c->remaining = strtoll(p, &hex_end, 16); /* chunk extensions after ';' are ignored */
      if (hex_end == p || c->remaining < 0) return -1;
      c->ps = c->remaining == 0 ? TRAILERS : CHUNK_DATA;
    } else { /* BODY_UNTIL_CLOSE: everything is body until the server closes */
      pos = c->len;
      break;
    }
  }
  /* Keep only what is not parsed yet (nothing should follow a complete answer: one request at a time). */
  memmove(c->buf, c->buf + pos, c->len - pos);
  c->len -= pos;
  return complete;
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) { /* closed or reset */
      if (c->req != IDLE_REQ && c->ps == BODY_UNTIL_CLOSE && n == 0) finish(c, c->status);
      fail_conn(c);
      return;
    }
    if (c->req == IDLE_REQ) { /* bytes nobody asked for: drop the connection */
      fail_conn(c);
      return;
    }
    c->len += (size_t)n;
    int r = parse(c);
    if (r < 0) {
      fail_conn(c);
      return;
    }
    if (r == 1) {
      int close_after = c->close_after;
      finish(c, c->status);
      c->ps = HEAD;
      if (close_after) {
        close_conn(c);
        open_conn(c); /* keep the pool warm */
      }
      return;
    }
  }
}

static void on_event(struct epoll_event *ev) {
  struct conn *c = &conns[ev->data.u32];
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || (ev->events & (EPOLLERR | EPOLLHUP))) {
      fail_conn(c);
      return;
    }
    c->state = OPEN;
    if (c->req != IDLE_REQ) send_some(c);
    else watch(c, EPOLLIN, EPOLL_CTL_MOD);
    return;
  }
  if (ev->events & EPOLLIN) on_readable(c);
  else if (ev->events & (EPOLLERR | EPOLLHUP)) fail_conn(c);
  else if ((ev->events & EPOLLOUT) && c->req != IDLE_REQ) send_some(c);
}

/*
 * Sends `n` requests at `rate`/s on the open connections: notes each request's lag as soon as it is due, hands it a
 * free connection (or keeps it waiting for one, in order), and between due times waits in epoll_pwait2 for socket
 * events until spin_ns before the next due time, then polls (a busy wait of a few µs per request).
 */
static void run_phase(long n, double rate) {
  total = n;
  next_req = done_count = errors = waited = status_error = status_timeout = 0;
  memset(statuses, 0, sizeof statuses);
  interval_ns = (long long)(1e9 / rate);
  lat_ns = calloc((size_t)n + 1, sizeof *lat_ns);
  sent_ns = calloc((size_t)n + 1, sizeof *sent_ns);
  lag_ns = calloc((size_t)n + 1, sizeof *lag_ns);
  if (!lat_ns || !sent_ns || !lag_ns) die("calloc");
  if (n == 0) return;
  t0 = now_ns() + 5000000LL; /* first request 5 ms from now */
  long picked = 0; /* requests this client has noticed as due (their lag is known) */
  struct epoll_event events[64];
  for (;;) {
    long long t = now_ns();
    long before = picked;
    for (; picked < n && due(picked) <= t; picked++) lag_ns[picked] = t - due(picked);
    while (next_req < picked) {
      struct conn *c = free_conn();
      if (!c) break; /* all busy: it waits (in order) for the next one to free up, charged from its due time */
      if (next_req < before) waited++;
      assign(c, next_req++);
    }
    if (done_count >= n) break;
    long long wait_ns = picked < n ? due(picked) - now_ns() - spin_ns : due(n - 1) + drain_ns - now_ns();
    if (picked >= n && wait_ns <= 0) { /* answers still missing after the drain time: count them as timed out */
      for (int k = 0; k < nconns; k++)
        if (conns[k].req != IDLE_REQ) {
          finish(&conns[k], -2);
          close_conn(&conns[k]);
        }
      break;
    }
    if (wait_ns < 0) wait_ns = 0; /* inside the spin window: poll */
    struct timespec ts = {(time_t)(wait_ns / 1000000000LL), (long)(wait_ns % 1000000000LL)};
    int k = epoll_pwait2(epfd, events, 64, &ts, NULL);
    if (k < 0 && errno != EINTR) die("epoll_pwait2");
    for (int e = 0; e < k; e++) on_event(&events[e]);
  }
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in µs (as fixed-rate.mjs's percentile()). */
static long long pct_us(const int64_t *sorted, long n, long p) {
  if (n == 0) return 0;
  long rank = (p * n + 99) / 100;
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (sorted[rank - 1] + 500) / 1000;
}

int main(int argc, char **argv) {
  double rate = 1000, seconds = 10, warm = 0;
  static char headers[65536];
  size_t hlen = 0;
  int opt, realtime = 1;
  while ((opt = getopt(argc, argv, "p:r:d:w:c:s:t:NH:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'w': warm = atof(optarg); break;
      case 'c': nconns = atoi(optarg); break;
      case 's': spin_ns = (long long)(atof(optarg) * 1000); break;
      case 't': drain_ns = (long long)(atof(optarg) * 1e9); break;
      case 'N': realtime = 0; break;
      case 'H': {
        int w = snprintf(headers + hlen, sizeof headers - hlen, "%s\r\n", optarg);
        if (w < 0 || (size_t)w >= sizeof headers - hlen) return fprintf(stderr, "headers too long\n"), 2;
        hlen += (size_t)w;
        break;
      }
      default: return 2;
    }
  }
  if (optind != argc - 1 || port <= 0 || rate <= 0 || nconns < 1 || nconns > MAX_CONNS) {
    fprintf(stderr, "usage: fixed-rate -p PORT [-r RATE] [-d S] [-w S] [-c CONNS] [-s SPIN_US] [-t DRAIN_S] [-N] [-H 'N: v']... PATH\n");
    return 2;
  }
  /* The request bytes, built once. */
  size_t cap = strlen(argv[optind]) + hlen + 128;
  request = malloc(cap);
  request_len = (size_t)snprintf(request, cap, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", argv[optind], port, headers);
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* wake within ~1 µs of a timeout, not the default 50 µs */
  struct sched_param sp = {.sched_priority = 1};
  int fifo = realtime && sched_setscheduler(0, SCHED_FIFO, &sp) == 0; /* refused without the privilege: stay normal */
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  for (int k = 0; k < nconns; k++) {
    conns[k].req = IDLE_REQ;
    conns[k].fd = -1;
    open_conn(&conns[k]); /* a refused one stays closed and is retried by the request it gets */
  }
  if (warm > 0) { /* unmeasured: opens the connections, warms the server's caches */
    run_phase((long)(rate * warm + 0.5), rate);
    free(lat_ns), free(sent_ns), free(lag_ns);
  }
  long n = (long)(rate * seconds + 0.5);
  run_phase(n, rate);
  qsort(lat_ns, (size_t)n, sizeof *lat_ns, cmp64);
  qsort(sent_ns, (size_t)n, sizeof *sent_ns, cmp64);
  qsort(lag_ns, (size_t)n, sizeof *lag_ns, cmp64);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long long cpu_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
  printf("{\"sent\":%ld,\"ok\":%ld,\"errors\":%ld,\"statuses\":{", n, n - errors, errors);
  const char *sep = "";
  for (int s = 0; s < 600; s++)
    if (statuses[s]) printf("%s\"%d\":%ld", sep, s, statuses[s]), sep = ",";
  if (status_error) printf("%s\"error\":%ld", sep, status_error), sep = ",";
  if (status_timeout) printf("%s\"timeout\":%ld", sep, status_timeout);
  printf("},\"p50Us\":%lld,\"p90Us\":%lld,\"p99Us\":%lld,\"maxUs\":%lld,", pct_us(lat_ns, n, 50), pct_us(lat_ns, n, 90),
         pct_us(lat_ns, n, 99), pct_us(lat_ns, n, 100));
  printf("\"p50SentUs\":%lld,\"p99SentUs\":%lld,\"lagP99Us\":%lld,\"lagMaxUs\":%lld,\"waitedForConn\":%ld,\"cpuMs\":%lld,\"sched\":\"%s\"}\n",
         pct_us(sent_ns, n, 50), pct_us(sent_ns, n, 99), pct_us(lag_ns, n, 99), pct_us(lag_ns, n, 100), waited, cpu_us / 1000,
         fifo ? "fifo" : "other");
  return errors == 0 ? 0 : 1;
}
