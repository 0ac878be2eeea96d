/*
 * test_io.c — gort/io.h on the netpoller, blocking calls and the monitor:
 * many concurrent loopback TCP echo connections; descriptor deadlines and
 * context deadlines (the descriptor stays usable); cancellation and close
 * waking coroutines blocked in accept, read, write and connect; a marked
 * blocking call (gort_syscall_enter/exit) that does not stop the other
 * coroutines at procs=1, and a storm of short ones that must leave every
 * P consistent; a hog at procs=2 and gort_preempt_point at procs=1; the M
 * pool's limit and its message; plain threads on gort descriptors; bad
 * arguments; and the "IO wait" entries of dumps.
 *
 * No timing is asserted to the millisecond: a wait that must end at a
 * deadline is checked to end with the right error and not before the
 * deadline; progress "during" a window is counted from the inside of the
 * window (counters read at its start and end by the coroutine that makes
 * it), never measured against a clock.
 */
#include "chan_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MS (1000 * 1000LL)

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void spawn(void (*fn)(void *), void *arg)
{
	gort_id id = gort_go(fn, arg);
	cr_assert_gt(id, 0, "gort_go = %lld", (long long)id);
}

/* From a coroutine (CO_CHECK instead of cr_assert). */
static bool co_spawn(void (*fn)(void *), void *arg)
{
	gort_id id = gort_go(fn, arg);
	CO_CHECK(id > 0, "gort_go = %lld", (long long)id);
	return id > 0;
}

/* Sleep: gort_sleep in a coroutine, usleep on a plain thread. */
static void nap_us(int us)
{
	if (gort_self() != 0)
		gort_sleep((int64_t)us * 1000);
	else
		usleep((useconds_t)us);
}

/* Wait until at least target coroutines wait for reason r; whether they
 * did within ms. */
static bool wait_reason(gort_wait_reason r, int64_t target, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * MS;
	for (;;) {
		gort_coroutine_counts c;
		if (gort_coroutine_counts_read(&c) == 0 && c.by_reason[r] >= target)
			return true;
		if (now_ns() > deadline)
			return false;
		nap_us(200);
	}
}

static int64_t reason_count(gort_wait_reason r)
{
	gort_coroutine_counts c;
	int rc = gort_coroutine_counts_read(&c);
	return rc == 0 ? c.by_reason[r] : rc;
}

/* A connected loopback TCP pair (listen, dial, accept), from a coroutine
 * or a plain thread.  0 or the first error. */
static int tcp_pair(gort_fd **a, gort_fd **b)
{
	gort_fd *lis;
	int rc = gort_listen_tcp("127.0.0.1:0", 4, &lis);
	if (rc)
		return rc;
	char hp[32];
	snprintf(hp, sizeof hp, "127.0.0.1:%d", gort_fd_port(lis));
	rc = gort_dial_tcp(hp, a);
	if (rc == 0) {
		rc = gort_accept(lis, b, NULL, NULL);
		if (rc)
			gort_fd_close(*a);
	}
	gort_fd_close(lis);
	return rc;
}

/* Shrink the kernel's buffers of a pair (writer w, reader r) so a big
 * write blocks soon.  (Loopback TCP with a tiny receive buffer crawls, at
 * ~50 KB/s here: use 64 KB where the data must also get through.) */
static void set_buffers(gort_fd *w, gort_fd *r, int sz)
{
	setsockopt(gort_fd_fileno(w), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	setsockopt(gort_fd_fileno(r), SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

/* FNV-1a, 64 bits. */
static uint64_t fnv(const unsigned char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV0 0xcbf29ce484222325ULL

/* Read exactly n bytes: n, or what gort_read returned (0 or an error). */
static ssize_t read_full(gort_fd *f, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = gort_read(f, (char *)buf + got, n - got);
		if (r <= 0)
			return r;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Redirect stderr (fd 2) to a temporary file until stderr_restore. */
struct stderr_capture {
	FILE *tmp;
	int saved;
};

static void stderr_capture(struct stderr_capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	cr_assert_not_null(c->tmp, "tmpfile: %s", strerror(errno));
	c->saved = dup(2);
	cr_assert_geq(c->saved, 0, "dup: %s", strerror(errno));
	cr_assert_geq(dup2(fileno(c->tmp), 2), 0, "dup2: %s", strerror(errno));
}

/* Put stderr back; the captured text, NUL-terminated (free it). */
static char *stderr_restore(struct stderr_capture *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	fseek(c->tmp, 0, SEEK_END);
	long n = ftell(c->tmp);
	if (n < 0)
		n = 0;
	char *s = calloc(1, (size_t)n + 1);
	rewind(c->tmp);
	if (s && n > 0 && fread(s, 1, (size_t)n, c->tmp) != (size_t)n)
		s[0] = '\0';
	fclose(c->tmp);
	return s;
}

/* Whether thread tid of this process is asleep in the kernel (state S in
 * /proc), polled for up to ms: a plain thread blocked in a gort call
 * sleeps on a futex. */
static bool thread_sleeping(pid_t tid, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * MS;
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	for (;;) {
		char buf[512] = {0};
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = '\0';
			const char *rp = strrchr(buf, ')');
			if (rp && rp[1] == ' ' && rp[2] == 'S')
				return true;
		}
		if (now_ns() > deadline)
			return false;
		usleep(200);
	}
}

/* The scheduler's totals must add up: nothing is taken from the global
 * queue that was not put there (the monitor's hog drain and
 * gort_syscall_exit without a P put coroutines there too). */
static void assert_global_queue_counted(const gort_stats *have)
{
	gort_stats st;
	if (have)
		st = *have;
	else
		cr_assert_eq(gort_stats_read(&st), 0);
	cr_assert_geq(st.global_puts, st.global_takes,
		      "more taken from the global queue (%llu) than put (%llu)",
		      (unsigned long long)st.global_takes, (unsigned long long)st.global_puts);
}

static int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ------------------------------------------------------------------------ */
/* 1. many concurrent echo connections                                      */
/* ------------------------------------------------------------------------ */

struct echo {
	gort_fd *lis;
	char hostport[32];
	long n;
	atomic_long ok;              /* clients whose echo matched */
	atomic_long open_now, max_open;
	atomic_ullong sum_sent, sum_served; /* wrapping sums of checksums */
	gort_wg exchanged;           /* every client checked its echo */
	gort_wg release;             /* then the servers may close */
	gort_wg clients_done, servers_done;
};

struct echo_client {
	struct echo *e;
	long i;
};

static struct echo *echo_state; /* the servers' (a test runs alone in its process) */

static void echo_server(void *p)
{
	gort_fd *c = p;
	struct echo *e = echo_state;
	uint32_t len = 0;
	unsigned char buf[4096];
	ssize_t r = read_full(c, &len, sizeof len);
	CO_CHECK(r == (ssize_t)sizeof len, "server: header read = %zd", r);
	uint64_t h = FNV0;
	size_t left = r == (ssize_t)sizeof len ? len : 0;
	while (left > 0) {
		r = gort_read(c, buf, left < sizeof buf ? left : sizeof buf);
		if (r <= 0) {
			CO_CHECK(r > 0, "server: read = %zd (%s), %zu bytes left", r,
				 gort_strerror((int)r), left);
			break;
		}
		h = fnv(buf, (size_t)r, h);
		ssize_t w = gort_write(c, buf, (size_t)r);
		CO_CHECK(w == r, "server: write = %zd, want %zd", w, r);
		if (w != r)
			break;
		left -= (size_t)r;
	}
	atomic_fetch_add(&e->sum_served, h);
	/* hold the connection until every client has checked its echo: all
	 * n are open at once; then close first (the clients see EOF) */
	gort_wg_wait(&e->release);
	CO_CHECK(gort_fd_close(c) == 0, "server: close");
	gort_wg_done(&e->servers_done);
}

static void echo_acceptor(void *p)
{
	struct echo *e = p;
	for (long i = 0; i < e->n; i++) {
		gort_fd *c;
		int rc = gort_accept(e->lis, &c, NULL, NULL);
		if (rc) {
			CO_CHECK(rc == 0, "accept #%ld = %d (%s)", i, rc, gort_strerror(rc));
			return;
		}
		gort_id id = gort_go_with(echo_server, c, .stack_size = 64 * 1024);
		CO_CHECK(id > 0, "spawn server = %lld", (long long)id);
	}
}

static void echo_client_fn(void *p)
{
	struct echo_client *ec = p;
	struct echo *e = ec->e;
	uint64_t seed = (uint64_t)ec->i * 0x9E3779B97F4A7C15ULL + 1;
	size_t len = 2048 + (size_t)(rng_next(&seed) % 4096); /* 2..6 KB */
	unsigned char *out = malloc(len), *in = malloc(len);
	bool counted = false, exchanged = false;
	gort_fd *c = NULL;
	if (!out || !in) {
		CO_CHECK(out && in, "malloc");
		goto done;
	}
	for (size_t k = 0; k < len; k++)
		out[k] = (unsigned char)(rng_next(&seed) >> 56);
	uint64_t want = fnv(out, len, FNV0);
	atomic_fetch_add(&e->sum_sent, want);
	int rc = gort_dial_tcp(e->hostport, &c);
	if (rc) {
		CO_CHECK(rc == 0, "client %ld: dial %s = %d (%s)", ec->i, e->hostport, rc,
			 gort_strerror(rc));
		c = NULL;
		goto done;
	}
	long now = atomic_fetch_add(&e->open_now, 1) + 1;
	counted = true;
	long m = atomic_load(&e->max_open);
	while (now > m && !atomic_compare_exchange_weak(&e->max_open, &m, now)) {
	}
	uint32_t hdr = (uint32_t)len;
	ssize_t w = gort_write(c, &hdr, sizeof hdr);
	CO_CHECK(w == (ssize_t)sizeof hdr, "client %ld: header write = %zd", ec->i, w);
	w = gort_write(c, out, len);
	CO_CHECK(w == (ssize_t)len, "client %ld: write = %zd of %zu", ec->i, w, len);
	ssize_t r = read_full(c, in, len);
	CO_CHECK(r == (ssize_t)len, "client %ld: echo read = %zd (%s) of %zu", ec->i, r,
		 r < 0 ? gort_strerror((int)r) : "short", len);
	if (r == (ssize_t)len) {
		uint64_t got = fnv(in, len, FNV0);
		CO_CHECK(got == want, "client %ld: checksum %016llx, sent %016llx", ec->i,
			 (unsigned long long)got, (unsigned long long)want);
		if (got == want)
			atomic_fetch_add(&e->ok, 1);
	}
	gort_wg_done(&e->exchanged);
	exchanged = true;
	/* the server closes first: end of file here */
	unsigned char x;
	r = gort_read(c, &x, 1);
	CO_CHECK(r == 0, "client %ld: read after the echo = %zd, want 0 (EOF)", ec->i, r);
done:
	if (!exchanged)
		gort_wg_done(&e->exchanged);
	if (c)
		CO_CHECK(gort_fd_close(c) == 0, "client close");
	if (counted)
		atomic_fetch_sub(&e->open_now, 1);
	free(out);
	free(in);
	gort_wg_done(&e->clients_done);
}

struct echo_spawner {
	struct echo *e;
	struct echo_client *cl;
};

static void echo_spawn_all(void *p)
{
	struct echo_spawner *s = p;
	for (long i = 0; i < s->e->n; i++) {
		s->cl[i] = (struct echo_client){.e = s->e, .i = i};
		gort_id id = gort_go_with(echo_client_fn, &s->cl[i], .stack_size = 64 * 1024);
		if (id <= 0) {
			CO_CHECK(id > 0, "spawn client %ld = %lld", i, (long long)id);
			return;
		}
	}
}

/* The most connections both ends of which fit in the descriptor limit
 * (raised to its hard limit), up to scaled(10000). */
static long echo_connections(void)
{
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
	}
	long n = scaled_min(10000, 100);
	long limit = rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur;
	if (2 * n + 100 > limit)
		n = (limit - 100) / 2;
	cr_assert_geq(n, 50, "RLIMIT_NOFILE %ld leaves room for only %ld connections", limit, n);
	cr_log_info("io/echo: %ld concurrent connections (RLIMIT_NOFILE %ld)", n, limit);
	return n;
}

static void echo_many(int procs)
{
	static struct echo e;
	e.n = echo_connections();
	echo_state = &e;
	rt_start(procs);
	int rc = gort_listen_tcp("127.0.0.1:0", 0, &e.lis);
	cr_assert_eq(rc, 0, "listen = %d (%s)", rc, gort_strerror(rc));
	int port = gort_fd_port(e.lis);
	cr_assert_gt(port, 0, "gort_fd_port = %d", port);
	snprintf(e.hostport, sizeof e.hostport, "127.0.0.1:%d", port);
	gort_wg_add(&e.exchanged, e.n);
	gort_wg_add(&e.release, 1);
	gort_wg_add(&e.clients_done, e.n);
	gort_wg_add(&e.servers_done, e.n);
	struct echo_client *cl = calloc((size_t)e.n, sizeof *cl);
	cr_assert_not_null(cl);
	spawn(echo_acceptor, &e);
	struct echo_spawner sp = {&e, cl};
	co_run(echo_spawn_all, &sp);
	gort_wg_wait(&e.exchanged);
	long max_open = atomic_load(&e.max_open);
	gort_wg_add(&e.release, -1);
	gort_wg_wait(&e.clients_done);
	gort_wg_wait(&e.servers_done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&e.ok), e.n, "%ld of %ld echoes matched", atomic_load(&e.ok), e.n);
	cr_assert_eq(atomic_load(&e.sum_sent), atomic_load(&e.sum_served),
		     "the servers' checksums differ from the clients'");
	cr_assert_eq(max_open, e.n, "only %ld of %ld connections were open at once", max_open, e.n);
	cr_assert_eq(atomic_load(&e.open_now), 0);
	cr_assert_eq(gort_fd_close(e.lis), 0);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0, "coroutines left");
	rt_stop();
	free(cl);
	leak_check();
}

Test(io, echo_many_connections_procs1, .timeout = 120) { echo_many(1); }
Test(io, echo_many_connections_procs2, .timeout = 120) { echo_many(2); }

/* ------------------------------------------------------------------------ */
/* 2. deadlines                                                             */
/* ------------------------------------------------------------------------ */

struct delayed_write {
	gort_fd *f;
	const char *msg;
	int delay_ms;
	gort_wg done;
};

static void delayed_write_co(void *p)
{
	struct delayed_write *d = p;
	gort_sleep((int64_t)d->delay_ms * MS);
	ssize_t w = gort_write(d->f, d->msg, strlen(d->msg));
	CO_CHECK(w == (ssize_t)strlen(d->msg), "delayed write = %zd", w);
	gort_wg_done(&d->done);
}

/* Peer b writes msg after ms; a must read exactly it (deadline cleared). */
static void expect_read_after(gort_fd *a, gort_fd *b, const char *msg, int ms)
{
	struct delayed_write d = {.f = b, .msg = msg, .delay_ms = ms, .done = GORT_WG_INIT};
	gort_wg_add(&d.done, 1);
	if (!co_spawn(delayed_write_co, &d))
		return;
	char buf[64] = {0};
	ssize_t r = read_full(a, buf, strlen(msg));
	CO_CHECK(r == (ssize_t)strlen(msg) && memcmp(buf, msg, strlen(msg)) == 0,
		 "read after the deadline = %zd \"%s\", want \"%s\"", r, r > 0 ? buf : "", msg);
	gort_wg_wait(&d.done);
}

struct mover {
	gort_fd *a, *b;
	gort_wg done;
};

/* Once a reader waits on a, clear its deadline, then write to b. */
static void mover_co(void *p)
{
	struct mover *m = p;
	CO_CHECK(wait_reason(GORT_WAIT_IO_READ, 1, 10000), "the reader never blocked");
	CO_CHECK(gort_fd_set_deadline(m->a, 0, 0) == 0, "clear the deadline");
	gort_sleep(20 * MS);
	CO_CHECK(gort_write(m->b, "late", 4) == 4, "write");
	gort_wg_done(&m->done);
}

static void deadline_co(void *p)
{
	(void)p;
	gort_fd *a, *b;
	int rc = tcp_pair(&a, &b);
	if (rc) {
		CO_CHECK(rc == 0, "tcp_pair = %d (%s)", rc, gort_strerror(rc));
		return;
	}
	char buf[64];

	/* the read deadline passes: -ETIMEDOUT, not before it */
	int64_t dl = gort_now() + 50 * MS;
	CO_CHECK(gort_fd_set_deadline(a, dl, 0) == 0, "set_deadline");
	ssize_t r = gort_read(a, buf, sizeof buf);
	int64_t t = gort_now();
	CO_CHECK(r == -ETIMEDOUT, "read past the deadline = %zd (%s)", r, gort_strerror((int)r));
	CO_CHECK(t >= dl, "returned %lld ns before the deadline", (long long)(dl - t));
	/* until moved, any read fails at once; the write side is unaffected */
	r = gort_read(a, buf, sizeof buf);
	CO_CHECK(r == -ETIMEDOUT, "second read = %zd", r);
	CO_CHECK(gort_write(a, "w", 1) == 1, "write with only a read deadline");
	r = read_full(b, buf, 1);
	CO_CHECK(r == 1 && buf[0] == 'w', "peer read = %zd", r);
	/* moved to none: the descriptor is usable, a wait is woken by data */
	CO_CHECK(gort_fd_set_deadline(a, 0, 0) == 0, "clear the deadline");
	expect_read_after(a, b, "hello", 20);

	/* a deadline in the past fails at once */
	CO_CHECK(gort_fd_set_deadline(a, 1, 0) == 0, "set a past deadline");
	r = gort_read(a, buf, sizeof buf);
	CO_CHECK(r == -ETIMEDOUT, "read with a past deadline = %zd", r);
	CO_CHECK(gort_fd_set_deadline(a, 0, 0) == 0, "clear");

	/* a far deadline does not get in the way */
	CO_CHECK(gort_fd_set_deadline(a, gort_now() + 60000 * MS, 0) == 0, "far deadline");
	expect_read_after(a, b, "far", 10);

	/* a deadline cleared while a reader waits: it waits on for the data */
	struct mover mv = {.a = a, .b = b, .done = GORT_WG_INIT};
	gort_wg_add(&mv.done, 1);
	CO_CHECK(gort_fd_set_deadline(a, gort_now() + 1000 * MS, 0) == 0, "deadline");
	if (co_spawn(mover_co, &mv)) {
		memset(buf, 0, sizeof buf);
		r = read_full(a, buf, 4);
		CO_CHECK(r == 4 && memcmp(buf, "late", 4) == 0,
			 "read whose deadline was cleared while waiting = %zd (%s)", r,
			 r < 0 ? gort_strerror((int)r) : buf);
		gort_wg_wait(&mv.done);
	}

	/* a context deadline: GORT_DEADLINE_EXCEEDED, not before it */
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, 50 * MS);
	CO_CHECK(ctx != NULL, "ctx");
	int64_t cdl = 0;
	CO_CHECK(gort_ctx_deadline(ctx, &cdl), "the context has a deadline");
	r = gort_read_ctx(ctx, a, buf, sizeof buf);
	t = gort_now();
	CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "read_ctx past the deadline = %zd (%s)", r,
		 gort_strerror((int)r));
	CO_CHECK(t >= cdl, "returned %lld ns before the context's deadline", (long long)(cdl - t));
	r = gort_read_ctx(ctx, a, buf, sizeof buf);
	CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "read_ctx with a done context = %zd", r);
	gort_ctx_release(ctx);
	/* the descriptor is untouched by the context */
	expect_read_after(a, b, "after ctx", 20);

	/* a write deadline: a write that cannot finish returns -ETIMEDOUT */
	gort_fd *c, *d;
	rc = tcp_pair(&c, &d);
	CO_CHECK(rc == 0, "tcp_pair = %d", rc);
	if (rc == 0) {
		set_buffers(c, d, 4096);
		size_t big = 8u << 20;
		char *blob = calloc(1, big);
		int64_t wdl = gort_now() + 50 * MS;
		CO_CHECK(gort_fd_set_deadline(c, 0, wdl) == 0, "write deadline");
		ssize_t w = gort_write(c, blob, big);
		t = gort_now();
		CO_CHECK(w == -ETIMEDOUT, "write past the deadline = %zd (%s)", w,
			 gort_strerror((int)w));
		CO_CHECK(t >= wdl, "write returned %lld ns before the deadline",
			 (long long)(wdl - t));
		free(blob);
		gort_fd_close(c);
		gort_fd_close(d);
	}
	gort_fd_close(a);
	gort_fd_close(b);
}

PROCS_TEST(io, read_deadline_and_ctx_deadline, 30)
{
	rt_start(procs);
	co_run(deadline_co, NULL);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(wait_num_coroutines(0, 5000), 0, "coroutines left");
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* 3. cancellation wakes accept, read, write, connect                       */
/* 4. close wakes a waiter with -EBADF                                      */
/* ------------------------------------------------------------------------ */

enum op { OP_ACCEPT, OP_READ, OP_WRITE, OP_CONNECT, OPS };
static const char *const op_name[OPS] = {"accept", "read", "write", "connect"};

struct blocked {
	enum op op;
	gort_ctx *ctx;   /* NULL: none */
	gort_fd *f;
	const struct sockaddr_in *addr;
	long rc;
	atomic_int done;
	gort_wg *wg;
};

static void blocked_co(void *p)
{
	struct blocked *b = p;
	static char blob[4u << 20];
	char buf[16];
	gort_fd *out = NULL;
	switch (b->op) {
	case OP_ACCEPT:
		b->rc = gort_accept_ctx(b->ctx, b->f, &out, NULL, NULL);
		if (b->rc == 0)
			gort_fd_close(out);
		break;
	case OP_READ:
		b->rc = gort_read_ctx(b->ctx, b->f, buf, sizeof buf);
		break;
	case OP_WRITE:
		b->rc = gort_write_ctx(b->ctx, b->f, blob, sizeof blob);
		break;
	case OP_CONNECT:
		b->rc = gort_connect_ctx(b->ctx, b->f, (const struct sockaddr *)b->addr, sizeof *b->addr);
		break;
	default:
		break;
	}
	atomic_store(&b->done, 1);
	gort_wg_done(b->wg);
}

/* A listener (not gort's) with a full accept queue: a connect to it stays
 * in SYN_SENT (Linux drops SYNs while the queue is full, and the
 * retransmitted ones too while nobody accepts).  Fills it with raw
 * non-blocking connects until one of them does not complete.  (A
 * "non-routable" address such as 10.255.255.1:9 is no use: sandboxes and
 * some networks answer every SYN, and on the machine these tests were
 * written on that connect completed at once.) */
struct full_listener {
	int lis;
	int raw[8];
	int nraw;
	struct sockaddr_in addr;
};

static void full_listener_make(struct full_listener *fl)
{
	fl->lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fl->lis, 0, "socket: %s", strerror(errno));
	fl->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof fl->addr;
	cr_assert_eq(bind(fl->lis, (struct sockaddr *)&fl->addr, l), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fl->lis, 0), 0, "listen: %s", strerror(errno));
	cr_assert_eq(getsockname(fl->lis, (struct sockaddr *)&fl->addr, &l), 0);
	bool blocked = false;
	for (fl->nraw = 0; fl->nraw < 8 && !blocked; fl->nraw++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		cr_assert_geq(s, 0);
		fl->raw[fl->nraw] = s;
		int rc = connect(s, (struct sockaddr *)&fl->addr, sizeof fl->addr);
		cr_assert(rc == 0 || errno == EINPROGRESS, "connect: %s", strerror(errno));
		struct pollfd pfd = {.fd = s, .events = POLLOUT};
		blocked = poll(&pfd, 1, 200) == 0;
	}
	cr_assert(blocked, "a listener with backlog 0 took %d connections: cannot make a connect "
			   "block on this machine", fl->nraw);
}

static void full_listener_close(struct full_listener *fl)
{
	for (int i = 0; i < fl->nraw; i++)
		close(fl->raw[i]);
	close(fl->lis);
}

struct blockers {
	struct blocked b[OPS];
	gort_fd *lis;         /* accept */
	gort_fd *ra, *rb;     /* read on ra */
	gort_fd *wa, *wb;     /* write on wa, nobody reads wb */
	gort_fd *cf;          /* connect */
	struct full_listener fl;
	gort_wg wg;
};

/* Set up one coroutine blocked in each call (with_ctx: each with a
 * cancellable context); returns once all four wait. */
static void blockers_start(struct blockers *s, bool with_ctx)
{
	int rc = gort_listen_tcp("127.0.0.1:0", 4, &s->lis);
	cr_assert_eq(rc, 0, "listen = %d", rc);
	cr_assert_eq((rc = tcp_pair(&s->ra, &s->rb)), 0, "tcp_pair = %d (%s)", rc, gort_strerror(rc));
	cr_assert_eq((rc = tcp_pair(&s->wa, &s->wb)), 0, "tcp_pair = %d", rc);
	set_buffers(s->wa, s->wb, 4096);
	full_listener_make(&s->fl);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq((rc = gort_fd_open(fd, &s->cf)), 0, "gort_fd_open = %d", rc);
	gort_fd *fds[OPS] = {s->lis, s->ra, s->wa, s->cf};
	gort_wg_add(&s->wg, OPS);
	for (int i = 0; i < OPS; i++) {
		s->b[i] = (struct blocked){.op = (enum op)i, .f = fds[i], .addr = &s->fl.addr, .wg = &s->wg};
		if (with_ctx) {
			s->b[i].ctx = gort_ctx_with_cancel(NULL);
			cr_assert_not_null(s->b[i].ctx);
		}
		spawn(blocked_co, &s->b[i]);
	}
	/* accept and read wait for reading, write and connect for writing */
	cr_assert(wait_reason(GORT_WAIT_IO_READ, 2, 10000), "accept and read never blocked (%lld)",
		  (long long)reason_count(GORT_WAIT_IO_READ));
	cr_assert(wait_reason(GORT_WAIT_IO_WRITE, 2, 10000), "write and connect never blocked (%lld)",
		  (long long)reason_count(GORT_WAIT_IO_WRITE));
	for (int i = 0; i < OPS; i++)
		cr_assert_eq(atomic_load(&s->b[i].done), 0, "%s returned %ld instead of blocking",
			     op_name[i], s->b[i].rc);
}

static void blocker_wait_done(struct blockers *s, int i)
{
	int64_t deadline = now_ns() + 10000 * MS;
	while (!atomic_load(&s->b[i].done) && now_ns() < deadline)
		usleep(200);
	cr_assert(atomic_load(&s->b[i].done), "%s was not woken", op_name[i]);
	for (int j = i + 1; j < OPS; j++)
		cr_assert_eq(atomic_load(&s->b[j].done), 0, "waking %s also ended %s (%ld)",
			     op_name[i], op_name[j], s->b[j].rc);
}

static void blockers_finish(struct blockers *s)
{
	gort_wg_wait(&s->wg);
	cr_assert_eq(reason_count(GORT_WAIT_IO_READ), 0, "readers left blocked");
	cr_assert_eq(reason_count(GORT_WAIT_IO_WRITE), 0, "writers left blocked");
	cr_assert_eq(wait_num_coroutines(0, 5000), 0, "coroutines left");
	full_listener_close(&s->fl);
}

PROCS_TEST(io, cancel_wakes_accept_read_write_connect, 30)
{
	static struct blockers s;
	rt_start(procs);
	blockers_start(&s, true);
	for (int i = 0; i < OPS; i++) {
		gort_ctx_cancel(s.b[i].ctx);
		blocker_wait_done(&s, i);
		cr_assert_eq(s.b[i].rc, GORT_CANCELED, "cancelled %s returned %ld (%s)", op_name[i],
			     s.b[i].rc, gort_strerror((int)s.b[i].rc));
	}
	blockers_finish(&s);
	for (int i = 0; i < OPS; i++)
		gort_ctx_release(s.b[i].ctx);
	/* the descriptors survive a cancelled call: the read pair still works */
	cr_assert_eq(gort_write(s.rb, "ok", 2), 2);
	char buf[2];
	cr_assert_eq(read_full(s.ra, buf, 2), 2);
	cr_assert(memcmp(buf, "ok", 2) == 0);
	gort_fd *all[] = {s.lis, s.ra, s.rb, s.wa, s.wb, s.cf};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		cr_assert_eq(gort_fd_close(all[i]), 0);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
	leak_check();
}

PROCS_TEST(io, close_wakes_waiters_with_ebadf, 30)
{
	static struct blockers s;
	rt_start(procs);
	blockers_start(&s, false);
	/* a second reader on the same descriptor: every waiter is woken */
	static struct blocked second;
	static gort_wg second_wg = GORT_WG_INIT;
	second = (struct blocked){.op = OP_READ, .f = s.ra, .wg = &second_wg};
	gort_wg_add(&second_wg, 1);
	spawn(blocked_co, &second);
	cr_assert(wait_reason(GORT_WAIT_IO_READ, 3, 10000), "the second reader never blocked");
	gort_fd *victim[OPS] = {s.lis, s.ra, s.wa, s.cf};
	for (int i = 0; i < OPS; i++) {
		cr_assert_eq(gort_fd_close(victim[i]), 0, "close for %s", op_name[i]);
		blocker_wait_done(&s, i);
		cr_assert_eq(s.b[i].rc, -EBADF, "%s on a closed descriptor returned %ld (%s)",
			     op_name[i], s.b[i].rc, gort_strerror((int)s.b[i].rc));
		if (i == OP_READ) {
			gort_wg_wait(&second_wg);
			cr_assert_eq(second.rc, -EBADF, "second reader returned %ld", second.rc);
		}
	}
	blockers_finish(&s);
	/* the descriptors themselves were closed once the calls left: the
	 * read pair's peer sees the end of file */
	char c;
	ssize_t r = gort_read(s.rb, &c, 1);
	cr_assert_eq(r, 0, "peer of the closed descriptor read %zd, want 0 (EOF)", r);
	cr_assert_eq(gort_fd_close(s.rb), 0);
	cr_assert_eq(gort_fd_close(s.wb), 0);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* 5. a marked blocking call does not stop the others at procs=1            */
/* ------------------------------------------------------------------------ */

#define PINGPONGS 100

struct sysc {
	gort_chan *ping, *pong;
	atomic_int entered;        /* the blocker has called gort_syscall_enter */
	atomic_int inside;         /* the blocker is between enter and exit */
	atomic_long rounds;
	long rounds_at_exit;       /* read by the blocker just before exit */
	int inside_when_done;      /* read by the pinger after its last round */
	long extra_ms;             /* how long the blocker waited past 200 ms */
	gort_wg done;
};

static void sysc_blocker(void *p)
{
	struct sysc *s = p;
	atomic_store(&s->inside, 1);
	atomic_store(&s->entered, 1);
	gort_syscall_enter();
	usleep(200 * 1000);
	/* a slow machine: give the others up to 5 s more inside the call */
	while (atomic_load(&s->rounds) < PINGPONGS && s->extra_ms < 5000) {
		usleep(10 * 1000);
		s->extra_ms += 10;
	}
	s->rounds_at_exit = atomic_load(&s->rounds);
	gort_syscall_exit();
	atomic_store(&s->inside, 0);
	gort_wg_done(&s->done);
}

static void sysc_pinger(void *p)
{
	struct sysc *s = p;
	while (!atomic_load(&s->entered))
		gort_yield();
	for (long i = 0; i < PINGPONGS; i++) {
		long v = i, back = -1;
		gort_chan_send(s->ping, &v);
		gort_chan_recv(s->pong, &back, NULL);
		CO_CHECK(back == i + 1, "pong %ld for ping %ld", back, i);
		atomic_fetch_add(&s->rounds, 1);
	}
	s->inside_when_done = atomic_load(&s->inside);
	gort_wg_done(&s->done);
}

static void sysc_ponger(void *p)
{
	struct sysc *s = p;
	for (long i = 0; i < PINGPONGS; i++) {
		long v;
		gort_chan_recv(s->ping, &v, NULL);
		v++;
		gort_chan_send(s->pong, &v);
	}
	gort_wg_done(&s->done);
}

Test(io, syscall_does_not_block_pingpong_procs1, .timeout = 30)
{
	static struct sysc s;
	rt_start(1);
	s.ping = mk(sizeof(long), 0);
	s.pong = mk(sizeof(long), 0);
	gort_wg_add(&s.done, 3);
	spawn(sysc_blocker, &s);
	spawn(sysc_pinger, &s);
	spawn(sysc_ponger, &s);
	gort_wg_wait(&s.done);
	CO_ASSERT_NO_FAILURES();
	gort_stats st;
	cr_assert_eq(gort_stats_read(&st), 0);
	cr_log_info("io/syscall: %d pingpongs inside the blocking call (%ld ms past 200), %d Ms",
		    PINGPONGS, s.extra_ms, st.threads);
	cr_assert_eq(atomic_load(&s.rounds), PINGPONGS);
	cr_assert_eq(s.inside_when_done, 1,
		     "the pingpongs finished only after the blocking call had returned");
	cr_assert_eq(s.rounds_at_exit, PINGPONGS,
		     "only %ld of %d pingpongs ran while the blocking call lasted (%ld ms)",
		     s.rounds_at_exit, PINGPONGS, 200 + s.extra_ms);
	cr_assert_geq(st.threads, 2, "the P was never handed to another M");
	assert_global_queue_counted(NULL);
	gort_chan_release(s.ping);
	gort_chan_release(s.pong);
	rt_stop();
	leak_check();
}

/* Many short marked calls at once: a P is retaken, handed to another M
 * whose coroutine enters a call of its own on it, and the first M's
 * gort_syscall_exit then takes the P back (its status is "in a syscall"
 * again).  Every coroutine must come out of each call holding a P. */
struct storm {
	atomic_long calls;
	atomic_long no_proc;    /* returns from gort_syscall_exit without a P */
	gort_wg done;
	long per;
};

static void storm_co(void *p)
{
	struct storm *s = p;
	for (long i = 0; i < s->per; i++) {
		gort_syscall_enter();
		usleep((useconds_t)(100 + (i % 5) * 50));
		gort_syscall_exit();
		if (gort_current_proc() < 0)
			atomic_fetch_add(&s->no_proc, 1);
		atomic_fetch_add(&s->calls, 1);
	}
	gort_wg_done(&s->done);
}

PROCS_TEST(io, syscall_storm_keeps_ps_consistent, 60)
{
	static struct storm s;
	long n = scaled_min(200, 40);
	s.per = 20;
	rt_start(procs);
	gort_wg_add(&s.done, n);
	for (long i = 0; i < n; i++)
		spawn(storm_co, &s);
	gort_wg_wait(&s.done);
	cr_assert_eq(atomic_load(&s.calls), n * s.per);
	cr_assert_eq(atomic_load(&s.no_proc), 0, "%ld returns from gort_syscall_exit without a P",
		     atomic_load(&s.no_proc));
	cr_assert_eq(wait_num_coroutines(0, 5000), 0, "coroutines left");
	/* nothing left to run: every P goes idle (none lost or owned twice) */
	gort_stats st;
	int64_t deadline = now_ns() + 5000 * MS;
	do {
		cr_assert_eq(gort_stats_read(&st), 0);
		if (st.idle_procs == procs)
			break;
		usleep(1000);
	} while (now_ns() < deadline);
	cr_assert_eq(st.idle_procs, procs, "%d of %d Ps idle once everything is done", st.idle_procs,
		     procs);
	assert_global_queue_counted(NULL);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* 6. a hog at procs=2; gort_preempt_point at procs=1                        */
/* ------------------------------------------------------------------------ */

#define PAIRS 4

struct pair {
	gort_chan *ping, *pong;
	atomic_long rounds;
	atomic_int *stop;
	gort_wg *done;
};

static void pair_ping(void *p)
{
	struct pair *pr = p;
	long v = 0;
	while (!atomic_load(pr->stop)) {
		gort_chan_send(pr->ping, &v);
		gort_chan_recv(pr->pong, &v, NULL);
		atomic_fetch_add(&pr->rounds, 1);
	}
	v = -1;
	gort_chan_send(pr->ping, &v);
	gort_wg_done(pr->done);
}

static void pair_pong(void *p)
{
	struct pair *pr = p;
	for (;;) {
		long v;
		gort_chan_recv(pr->ping, &v, NULL);
		if (v < 0)
			break;
		v++;
		gort_chan_send(pr->pong, &v);
	}
	gort_wg_done(pr->done);
}

struct hog {
	struct pair pairs[PAIRS];
	atomic_int stop;
	gort_wg pairs_done;
	long before[PAIRS], during[PAIRS];
	long spin_ms;
	bool preempt_points;   /* call gort_preempt_point in the loop */
	long control_during;   /* procs=1: rounds during a spin without it */
	long control_after;    /* and after one gort_preempt_point */
	gort_stats st;         /* at the end */
};

static void pairs_spawn(struct hog *h)
{
	for (int i = 0; i < PAIRS; i++) {
		struct pair *pr = &h->pairs[i];
		pr->ping = gort_chan_make(sizeof(long), 0);
		pr->pong = gort_chan_make(sizeof(long), 0);
		CO_CHECK(pr->ping && pr->pong, "chan");
		pr->stop = &h->stop;
		pr->done = &h->pairs_done;
		gort_wg_add(&h->pairs_done, 2);
		co_spawn(pair_ping, pr);
		co_spawn(pair_pong, pr);
	}
}

static long pairs_total(struct hog *h)
{
	long n = 0;
	for (int i = 0; i < PAIRS; i++)
		n += atomic_load(&h->pairs[i].rounds);
	return n;
}

/* Yield until every pair has made some rounds. */
static bool pairs_warm(struct hog *h)
{
	int64_t deadline = now_ns() + 10000 * MS;
	for (int i = 0; i < PAIRS; i++)
		while (atomic_load(&h->pairs[i].rounds) < 10) {
			if (now_ns() > deadline)
				return false;
			gort_yield();
		}
	return true;
}

/* Spin ~ms without a switch (preempt: with gort_preempt_point). */
static void spin_window(struct hog *h, bool preempt)
{
	for (int i = 0; i < PAIRS; i++)
		h->before[i] = atomic_load(&h->pairs[i].rounds);
	int64_t end = now_ns() + h->spin_ms * MS;
	while (now_ns() < end) {
		if (preempt)
			gort_preempt_point();
	}
	for (int i = 0; i < PAIRS; i++)
		h->during[i] = atomic_load(&h->pairs[i].rounds) - h->before[i];
}

/* The hog spawns the pairs (so they start on its own P's queue), lets
 * them warm up, then computes. */
static void hog_co(void *p)
{
	struct hog *h = p;
	pairs_spawn(h);
	CO_CHECK(pairs_warm(h), "the pairs never got going");
	if (!h->preempt_points && gort_procs() == 1) {
		/* control: with one P and no preemption point nothing else
		 * runs; one gort_preempt_point after 10 ms lets them */
		long t0 = pairs_total(h);
		spin_ns(h->spin_ms * MS);
		h->control_during = pairs_total(h) - t0;
		gort_preempt_point();
		h->control_after = pairs_total(h) - t0;
	} else {
		spin_window(h, h->preempt_points);
	}
	atomic_store(&h->stop, 1);
}

static void hog_run(struct hog *h, int procs, bool preempt_points)
{
	rt_start(procs);
	h->spin_ms = 300;
	h->preempt_points = preempt_points;
	co_run(hog_co, h);
	gort_wg_wait(&h->pairs_done);
	CO_ASSERT_NO_FAILURES();
	for (int i = 0; i < PAIRS; i++) {
		gort_chan_release(h->pairs[i].ping);
		gort_chan_release(h->pairs[i].pong);
	}
	cr_assert_eq(wait_num_coroutines(0, 5000), 0, "coroutines left");
	cr_assert_eq(gort_stats_read(&h->st), 0);
	rt_stop();
}

Test(io, hog_does_not_stop_other_p_procs2, .timeout = 30)
{
	static struct hog h;
	hog_run(&h, 2, false);
	long total = 0;
	for (int i = 0; i < PAIRS; i++)
		total += h.during[i];
	cr_log_info("io/hog: %ld round trips during a %ld ms hog at procs=2 (%ld %ld %ld %ld)",
		    total, h.spin_ms, h.during[0], h.during[1], h.during[2], h.during[3]);
	/* every pair: the ones queued behind the hog were moved to the other P */
	for (int i = 0; i < PAIRS; i++)
		cr_assert_gt(h.during[i], 0, "pair %d made no round trip during the hog", i);
	assert_global_queue_counted(&h.st); /* the drain's moves counted */
}

Test(io, preempt_point_lets_others_run_procs1, .timeout = 30)
{
	static struct hog h;
	hog_run(&h, 1, true);
	long total = 0;
	for (int i = 0; i < PAIRS; i++)
		total += h.during[i];
	cr_log_info("io/preempt: %ld round trips during a %ld ms loop with gort_preempt_point at "
		    "procs=1 (%ld %ld %ld %ld)",
		    total, h.spin_ms, h.during[0], h.during[1], h.during[2], h.during[3]);
	for (int i = 0; i < PAIRS; i++)
		cr_assert_gt(h.during[i], 0, "pair %d made no round trip during the loop", i);
}

Test(io, hog_without_preempt_point_holds_its_only_p_procs1, .timeout = 30)
{
	static struct hog h;
	hog_run(&h, 1, false);
	cr_log_info("io/hog: procs=1: %ld round trips during a %ld ms spin, %ld after one "
		    "gort_preempt_point",
		    h.control_during, h.spin_ms, h.control_after);
	/* what the measure shows when nothing can run: exactly nothing */
	cr_assert_eq(h.control_during, 0, "%ld round trips while the only P was held",
		     h.control_during);
	/* the monitor asked the hog to yield: one preemption point lets them */
	cr_assert_gt(h.control_after, 0, "gort_preempt_point after a %ld ms spin did not yield",
		     h.spin_ms);
}

/* ------------------------------------------------------------------------ */
/* 7. the M pool's limit                                                     */
/* ------------------------------------------------------------------------ */

struct mlimit {
	atomic_int completed;
	atomic_int stop_sampling;
	int max_threads_seen;
	gort_wg done;
};

static void mlimit_blocker(void *p)
{
	struct mlimit *m = p;
	gort_syscall_enter();
	usleep(100 * 1000);
	gort_syscall_exit();
	atomic_fetch_add(&m->completed, 1);
	gort_wg_done(&m->done);
}

static void *mlimit_sampler(void *p)
{
	struct mlimit *m = p;
	while (!atomic_load(&m->stop_sampling)) {
		gort_stats st;
		if (gort_stats_read(&st) == 0 && st.threads > m->max_threads_seen)
			m->max_threads_seen = st.threads;
		usleep(500);
	}
	return NULL;
}

/* max_threads 0: from GORT_MAX_THREADS (set by the caller). */
static void mlimit_run(int procs, int max_threads, int limit, int blockers)
{
	static struct mlimit m;
	struct stderr_capture cap;
	stderr_capture(&cap);
	int rc = gort_start(&(gort_config){.procs = procs, .max_threads = max_threads});
	if (rc != 0) {
		char *err = stderr_restore(&cap);
		cr_assert_fail("gort_start = %d (%s); stderr: %s", rc, gort_strerror(rc), err);
	}
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, mlimit_sampler, &m), 0);
	gort_wg_add(&m.done, blockers);
	for (int i = 0; i < blockers; i++)
		spawn(mlimit_blocker, &m);
	gort_wg_wait(&m.done);
	atomic_store(&m.stop_sampling, 1);
	pthread_join(th, NULL);
	gort_stats st;
	cr_assert_eq(gort_stats_read(&st), 0);
	rc = gort_stop();
	char *err = stderr_restore(&cap);
	cr_assert_eq(rc, 0, "gort_stop = %d", rc);
	cr_assert_not_null(err);
	cr_log_info("io/mlimit: procs=%d limit %d: at most %d Ms seen, %d at the end; stderr: %s",
		    procs, limit, m.max_threads_seen, st.threads, err);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&m.completed), blockers, "%d of %d blocking calls completed",
		     atomic_load(&m.completed), blockers);
	cr_assert_leq(m.max_threads_seen, limit, "%d Ms seen, limit %d", m.max_threads_seen, limit);
	cr_assert_leq(st.threads, limit, "%d Ms at the end, limit %d", st.threads, limit);
	cr_assert_eq(count_occurrences(err, "M pool is at its limit"), 1,
		     "the limit message should appear once on stderr, got:\n%s", err);
	char want[32];
	snprintf(want, sizeof want, "limit of %d threads", limit);
	cr_assert(strstr(err, want) != NULL, "the message does not say \"%s\":\n%s", want, err);
	free(err);
}

Test(io, max_threads_limit_message_procs1, .timeout = 30)
{
	mlimit_run(1, 2, 2, 6);
}

Test(io, max_threads_env_limit_message_procs2, .timeout = 30)
{
	cr_assert_eq(setenv("GORT_MAX_THREADS", "3", 1), 0);
	mlimit_run(2, 0, 3, 10);
}

/* ------------------------------------------------------------------------ */
/* 8. plain threads on gort descriptors                                      */
/* ------------------------------------------------------------------------ */

struct plain {
	gort_fd *a, *b;
	ssize_t r;
	char buf[64];
	atomic_int started;
	_Atomic pid_t tid;     /* the plain thread's, once started */
	gort_ctx *ctx;
	int64_t deadline;
	int64_t returned_at;
	uint64_t sum;
	size_t len;
	int rc;
	gort_fd *accepted;
};

static void *plain_reader(void *p)
{
	struct plain *pl = p;
	atomic_store(&pl->tid, gettid());
	atomic_store(&pl->started, 1);
	pl->r = gort_read_ctx(pl->ctx, pl->a, pl->buf, sizeof pl->buf - 1);
	pl->returned_at = gort_now();
	return NULL;
}

static void *plain_writer(void *p)
{
	struct plain *pl = p;
	atomic_store(&pl->tid, gettid());
	unsigned char *blob = malloc(pl->len);
	uint64_t seed = 7;
	for (size_t i = 0; i < pl->len; i++)
		blob[i] = (unsigned char)(rng_next(&seed) >> 56);
	pl->sum = fnv(blob, pl->len, FNV0);
	atomic_store(&pl->started, 1);
	pl->r = gort_write(pl->a, blob, pl->len);
	free(blob);
	return NULL;
}

static void *plain_acceptor(void *p)
{
	struct plain *pl = p;
	atomic_store(&pl->tid, gettid());
	atomic_store(&pl->started, 1);
	pl->rc = gort_accept(pl->a, &pl->accepted, NULL, NULL);
	return NULL;
}

/* Once the reader sleeps in its gort_read, write(2) to the peer. */
static void *plain_raw_writer(void *p)
{
	struct plain *pl = p;
	while (!atomic_load(&pl->started))
		usleep(100);
	CO_CHECK(thread_sleeping(atomic_load(&pl->tid), 10000), "the plain reader never slept");
	ssize_t w = write(gort_fd_fileno(pl->b), "raw", 3);
	CO_CHECK(w == 3, "write(2) = %zd", w);
	return NULL;
}

/* Once the reader sleeps in its gort_read, gort_write to the peer. */
static void co_write_later(void *p)
{
	struct plain *pl = p;
	while (!atomic_load(&pl->started))
		gort_sleep(MS);
	/* polls /proc from a coroutine: fine in a test */
	CO_CHECK(thread_sleeping(atomic_load(&pl->tid), 10000), "the plain reader never slept");
	CO_CHECK(gort_write(pl->b, "from a coroutine", 16) == 16, "write");
}

/* Once the plain writer sleeps (its buffers are full), read everything. */
static void co_drain(void *p)
{
	struct plain *pl = p;
	while (!atomic_load(&pl->started))
		gort_sleep(MS);
	CO_CHECK(thread_sleeping(atomic_load(&pl->tid), 10000), "the plain writer never slept");
	unsigned char buf[8192];
	uint64_t h = FNV0;
	size_t got = 0;
	while (got < pl->len) {
		ssize_t r = gort_read(pl->b, buf, sizeof buf);
		if (r <= 0) {
			CO_CHECK(r > 0, "drain read = %zd", r);
			return;
		}
		h = fnv(buf, (size_t)r, h);
		got += (size_t)r;
	}
	CO_CHECK(h == pl->sum, "drained checksum differs");
}

static void co_dial(void *p)
{
	struct plain *pl = p;
	char hp[32];
	snprintf(hp, sizeof hp, "127.0.0.1:%d", gort_fd_port(pl->a));
	while (!atomic_load(&pl->started))
		gort_sleep(MS);
	CO_CHECK(thread_sleeping(atomic_load(&pl->tid), 10000), "the plain acceptor never slept");
	gort_fd *c;
	int rc = gort_dial_tcp(hp, &c);
	CO_CHECK(rc == 0, "dial = %d", rc);
	if (rc == 0) {
		CO_CHECK(gort_write(c, "x", 1) == 1, "write");
		gort_fd_close(c);
	}
}

/* Run fn(pl) on a new plain thread, pl->started cleared first. */
static void plain_start(pthread_t *th, void *(*fn)(void *), struct plain *pl)
{
	atomic_store(&pl->started, 0);
	cr_assert_eq(pthread_create(th, NULL, fn, pl), 0);
}

PROCS_TEST(io, plain_threads_read_write_accept, 30)
{
	static struct plain pl;
	rt_start(procs);
	int rc = tcp_pair(&pl.a, &pl.b); /* from the test's plain thread */
	cr_assert_eq(rc, 0, "tcp_pair from a plain thread = %d (%s)", rc, gort_strerror(rc));
	pthread_t th, th2;

	/* a plain thread reads; a coroutine writes once it sleeps */
	plain_start(&th, plain_reader, &pl);
	spawn(co_write_later, &pl);
	pthread_join(th, NULL);
	cr_assert_eq(pl.r, 16, "plain read = %zd (%s)", pl.r, gort_strerror((int)pl.r));
	cr_assert_str_eq(pl.buf, "from a coroutine");

	/* a plain thread reads; another plain thread writes with write(2),
	 * while no coroutine exists at all: only the poller can wake it */
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	memset(pl.buf, 0, sizeof pl.buf);
	plain_start(&th, plain_reader, &pl);
	cr_assert_eq(pthread_create(&th2, NULL, plain_raw_writer, &pl), 0);
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	cr_assert_eq(pl.r, 3, "plain read = %zd (%s)", pl.r, gort_strerror((int)pl.r));
	cr_assert_str_eq(pl.buf, "raw");

	/* a plain thread's write blocks on full buffers; a coroutine drains */
	gort_fd *c, *d;
	cr_assert_eq(tcp_pair(&c, &d), 0);
	set_buffers(c, d, 64 * 1024);
	static struct plain w;
	w.a = c;
	w.b = d;
	w.len = 2u << 20;
	spawn(co_drain, &w);
	plain_start(&th, plain_writer, &w);
	pthread_join(th, NULL);
	cr_assert_eq(w.r, (ssize_t)w.len, "plain write = %zd", w.r);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);

	/* a plain thread accepts; a coroutine dials */
	gort_fd *lis;
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", 4, &lis), 0);
	static struct plain ac;
	ac.a = lis;
	plain_start(&th, plain_acceptor, &ac);
	spawn(co_dial, &ac);
	pthread_join(th, NULL);
	cr_assert_eq(ac.rc, 0, "plain accept = %d (%s)", ac.rc, gort_strerror(ac.rc));
	char x = 0;
	cr_assert_eq(gort_read(ac.accepted, &x, 1), 1); /* the test's plain thread */
	cr_assert_eq(x, 'x');

	/* a plain thread's read: a descriptor deadline, then a cancel */
	int64_t dl = gort_now() + 50 * MS;
	cr_assert_eq(gort_fd_set_deadline(pl.a, dl, 0), 0);
	pl.ctx = NULL;
	plain_start(&th, plain_reader, &pl);
	pthread_join(th, NULL);
	cr_assert_eq(pl.r, -ETIMEDOUT, "plain read past the deadline = %zd", pl.r);
	cr_assert_geq(pl.returned_at, dl, "returned before the deadline");
	cr_assert_eq(gort_fd_set_deadline(pl.a, 0, 0), 0);
	pl.ctx = gort_ctx_with_cancel(NULL);
	plain_start(&th, plain_reader, &pl);
	while (!atomic_load(&pl.started))
		usleep(100);
	cr_assert(thread_sleeping(atomic_load(&pl.tid), 10000), "the plain reader never slept");
	gort_ctx_cancel(pl.ctx);
	pthread_join(th, NULL);
	cr_assert_eq(pl.r, GORT_CANCELED, "cancelled plain read = %zd", pl.r);
	gort_ctx_release(pl.ctx);

	gort_fd *all[] = {pl.a, pl.b, c, d, lis, ac.accepted};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		cr_assert_eq(gort_fd_close(all[i]), 0);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* 9. bad input                                                              */
/* ------------------------------------------------------------------------ */

Test(io, bad_arguments, .timeout = 30)
{
	gort_fd *f = NULL;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* before the runtime runs */
	cr_assert_eq(gort_fd_open(sv[0], &f), -ESRCH);
	cr_assert_geq(fcntl(sv[0], F_GETFD), 0, "fd closed by a failed gort_fd_open");

	rt_start(2);
	cr_assert_eq(gort_fd_open(-1, &f), -EINVAL);
	cr_assert_eq(gort_fd_open(-42, &f), -EINVAL);
	cr_assert_eq(gort_fd_open(sv[0], NULL), -EINVAL);
	cr_assert_eq(gort_fd_close(NULL), -EINVAL);
	cr_assert_eq(gort_fd_fileno(NULL), -EINVAL);
	cr_assert_eq(gort_fd_port(NULL), -EINVAL);
	cr_assert_eq(gort_fd_set_deadline(NULL, 0, 0), -EINVAL);
	char buf[8];
	cr_assert_eq(gort_read(NULL, buf, sizeof buf), -EINVAL);
	cr_assert_eq(gort_write(NULL, buf, sizeof buf), -EINVAL);
	gort_fd *out = NULL;
	cr_assert_eq(gort_accept(NULL, &out, NULL, NULL), -EINVAL);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	cr_assert_eq(gort_connect_ctx(NULL, NULL, (struct sockaddr *)&sa, sizeof sa), -EINVAL);
	cr_assert_eq(gort_dial_tcp("127.0.0.1:1", NULL), -EINVAL);
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", 4, NULL), -EINVAL);
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", -1, &out), -EINVAL);
	cr_assert_eq(gort_dial_tcp(NULL, &out), -EINVAL);
	cr_assert_eq(gort_listen_tcp(NULL, 4, &out), -EINVAL);

	/* with a real descriptor: bad buffers, deadlines, addresses */
	cr_assert_eq(gort_fd_open(sv[0], &f), 0);
	cr_assert_eq(gort_fd_fileno(f), sv[0]);
	cr_assert_eq(gort_read(f, NULL, 4), -EINVAL);
	cr_assert_eq(gort_write(f, NULL, 4), -EINVAL);
	cr_assert_eq(gort_fd_set_deadline(f, -1, 0), -EINVAL);
	cr_assert_eq(gort_fd_set_deadline(f, 0, -5), -EINVAL);
	cr_assert_eq(gort_accept(f, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(gort_connect_ctx(NULL, f, NULL, 0), -EINVAL);
	cr_assert_lt(gort_fd_port(f), 0, "a unix socket has no port");
	cr_assert_eq(gort_fd_close(f), 0);
	errno = 0;
	cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "gort_fd_close left the fd open");
	cr_assert_eq(errno, EBADF);
	close(sv[1]);

	/* bad "host:port" strings */
	static const char *const bad[] = {
		"nohost", "1.2.3.4:", "[::1]80", ":99999", "", ":", "[::1", "[::1]:",
		"127.0.0.1:8x", "127.0.0.1:-1", "a:b:80", "127.0.0.1:80 ", "127.0.0.1: 80",
		/* ports past 65535 (getaddrinfo would take them modulo 65536) */
		"127.0.0.1:65536", "127.0.0.1:4294967297",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		out = NULL;
		int rc = gort_dial_tcp(bad[i], &out);
		cr_expect_eq(rc, -EINVAL, "gort_dial_tcp(\"%s\") = %d (%s), want -EINVAL", bad[i], rc,
			     gort_strerror(rc));
		if (rc == 0)
			gort_fd_close(out);
		out = NULL;
		rc = gort_listen_tcp(bad[i], 4, &out);
		cr_expect_eq(rc, -EINVAL, "gort_listen_tcp(\"%s\") = %d (%s), want -EINVAL", bad[i],
			     rc, gort_strerror(rc));
		if (rc == 0)
			gort_fd_close(out);
	}
	/* a name that does not resolve */
	int rc = gort_dial_tcp("no-such-host.invalid:80", &out);
	cr_assert_eq(rc, -EHOSTUNREACH, "dial to an unresolvable name = %d (%s)", rc,
		     gort_strerror(rc));
	/* nothing listens there (port 1 on loopback) */
	rc = gort_dial_tcp("127.0.0.1:1", &out);
	cr_assert_eq(rc, -ECONNREFUSED, "dial to a closed port = %d (%s)", rc, gort_strerror(rc));

	/* a regular file: refused (epoll does not take it), fd left open */
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	int fd = fileno(tmp);
	f = NULL;
	rc = gort_fd_open(fd, &f);
	cr_assert_lt(rc, 0, "gort_fd_open on a regular file = %d", rc);
	cr_assert_eq(rc, -EPERM, "gort_fd_open on a regular file = %d (%s)", rc, gort_strerror(rc));
	cr_assert_null(f, "*out set on failure");
	cr_assert_geq(fcntl(fd, F_GETFD), 0, "the fd was closed by a failed gort_fd_open");
	cr_assert_eq(write(fd, "still mine", 10), 10, "the fd is not usable: %s", strerror(errno));
	fclose(tmp);
	/* a closed fd */
	int sv2[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	close(sv2[0]);
	close(sv2[1]);
	cr_assert_eq(gort_fd_open(sv2[0], &f), -EBADF);

	CO_ASSERT_NO_FAILURES();
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* 10. dumps                                                                 */
/* ------------------------------------------------------------------------ */

/* The lines of the two blocking calls (set by the coroutines, read by the
 * test once they wait: atomics, as nothing else orders them). */
static atomic_int dump_read_line, dump_write_line;

static void dump_reader(void *p)
{
	gort_fd *f = p;
	char c;
	atomic_store(&dump_read_line, __LINE__); ssize_t r = gort_read(f, &c, 1); /* one line */
	CO_CHECK(r == -EBADF, "dump reader = %zd", r);
}

static void dump_writer(void *p)
{
	gort_fd *f = p;
	static char blob[4u << 20];
	atomic_store(&dump_write_line, __LINE__); ssize_t r = gort_write(f, blob, sizeof blob);
	CO_CHECK(r == -EBADF, "dump writer = %zd", r);
}

static void dump_bystander(void *p)
{
	gort_wg_wait((gort_wg *)p);
}

/* The text of one dump entry: from the header naming reason to the blank
 * line that ends it.  NULL if there is none. */
static char *dump_entry(const char *dump, const char *reason)
{
	char hdr[64];
	snprintf(hdr, sizeof hdr, "[%s", reason);
	const char *p = strstr(dump, hdr);
	if (!p)
		return NULL;
	while (p > dump && p[-1] != '\n')
		p--;
	const char *end = strstr(p, "\n\n"); /* every entry ends with a blank line */
	size_t n = end ? (size_t)(end - p) : strlen(p);
	return strndup(p, n);
}

/* A dump of at least min coroutines (or groups), as text (free it). */
static char *dump_text(unsigned flags, int64_t min)
{
	FILE *t = tmpfile();
	cr_assert_not_null(t);
	int64_t n = gort_dump_file(t, flags);
	cr_assert_geq(n, min, "gort_dump_file = %lld, want %lld or more", (long long)n,
		      (long long)min);
	long len = ftell(t);
	char *s = calloc(1, (size_t)len + 1);
	rewind(t);
	cr_assert_eq(fread(s, 1, (size_t)len, t), (size_t)len);
	fclose(t);
	return s;
}

Test(io, dump_shows_io_wait, .timeout = 30)
{
	rt_start(2);
	cr_assert_str_eq(gort_wait_reason_name(GORT_WAIT_IO_READ), "IO wait (read)");
	cr_assert_str_eq(gort_wait_reason_name(GORT_WAIT_IO_WRITE), "IO wait (write)");
	gort_fd *a, *b, *c, *d;
	cr_assert_eq(tcp_pair(&a, &b), 0);
	cr_assert_eq(tcp_pair(&c, &d), 0);
	set_buffers(c, d, 4096);
	spawn(dump_reader, a);
	spawn(dump_writer, c);
	cr_assert(wait_reason(GORT_WAIT_IO_READ, 1, 10000), "the reader never blocked");
	cr_assert(wait_reason(GORT_WAIT_IO_WRITE, 1, 10000), "the writer never blocked");
	cr_assert_eq(reason_count(GORT_WAIT_IO_READ), 1);
	cr_assert_eq(reason_count(GORT_WAIT_IO_WRITE), 1);
	char want_r[128], want_w[128];
	snprintf(want_r, sizeof want_r, "blocked at %s:%d", __FILE__, atomic_load(&dump_read_line));
	snprintf(want_w, sizeof want_w, "blocked at %s:%d", __FILE__, atomic_load(&dump_write_line));
	unsigned flags[] = {0, GORT_DUMP_GROUPED, GORT_DUMP_NO_BACKTRACE};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		char *dump = dump_text(flags[i], 2);
		char *er = dump_entry(dump, "IO wait (read)");
		char *ew = dump_entry(dump, "IO wait (write)");
		cr_assert_not_null(er, "no \"IO wait (read)\" entry (flags %u):\n%s", flags[i], dump);
		cr_assert_not_null(ew, "no \"IO wait (write)\" entry (flags %u):\n%s", flags[i], dump);
		cr_assert(strstr(er, want_r) != NULL, "the read entry lacks \"%s\":\n%s", want_r, er);
		cr_assert(strstr(ew, want_w) != NULL, "the write entry lacks \"%s\":\n%s", want_w, ew);
		if (!(flags[i] & GORT_DUMP_NO_BACKTRACE))
			cr_assert(strstr(er, "#0 ") != NULL, "the read entry has no backtrace:\n%s", er);
		free(er);
		free(ew);
		free(dump);
	}
	/* close wakes both; the dump has no IO wait left (a bystander keeps
	 * it non-empty) */
	static gort_wg hold = GORT_WG_INIT;
	gort_wg_add(&hold, 1);
	spawn(dump_bystander, &hold);
	cr_assert_eq(gort_fd_close(a), 0);
	cr_assert_eq(gort_fd_close(c), 0);
	cr_assert_eq(wait_num_coroutines(1, 5000), 1);
	cr_assert(wait_reason(GORT_WAIT_WAITGROUP, 1, 10000), "the bystander never waited");
	char *dump = dump_text(0, 1);
	cr_assert_null(strstr(dump, "IO wait"), "IO waits left:\n%s", dump);
	free(dump);
	gort_wg_add(&hold, -1);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	cr_assert_eq(gort_fd_close(b), 0);
	cr_assert_eq(gort_fd_close(d), 0);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
	leak_check();
}
