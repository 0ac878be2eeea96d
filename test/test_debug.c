/*
 * test_debug.c — gort/debug.h and the GORT_DEBUG keys of runtime/debug/:
 *
 *   dump      every wait reason named in the dump with its exact blocked-at
 *             line and spawn site, the counts by reason, running and
 *             runnable entries, the grouped form (10,000 coroutines folded
 *             into one entry), the wait durations, the errors
 *   leak      each classic leak shape found (workers ranging over a
 *             channel nobody closes, a sender left behind by a timed-out
 *             select, a forgotten cancel, a WaitGroup Add without Done, a
 *             mutex never unlocked, a ticker never stopped, a channel every
 *             owner released while coroutines wait on it), and each fixed
 *             version clean; no false positive for short-lived coroutines;
 *             every ignore option
 *   deadlock  the detector when embedded (off by default; report mode
 *             reports once per stuck state)
 *   dumpsig   dumps from a signal while 100,000 coroutines run on 8 Ps
 *   stats     counters exact after a known workload, per-P sums
 *   watchdog  fires above its threshold only, stops when turned off
 *   gortdebug GORT_DEBUG keys in child processes (schedtrace, dumpexit,
 *             leakcheck=1 under gort_main, deadlock=off, bad values)
 *
 * Under gort_main, the deadlock detector (abort, report, no false alarm),
 * schedtrace and leakcheck=1 are also run as the example programs
 * examples/deadlock_*.c, schedtrace.c and leakcheck_exit1.c
 * (test_examples.c).
 *
 * Blocking calls whose line a test checks record it with __LINE__ on the
 * same line (HERE), so the expected "blocked at test/test_debug.c:N" is
 * never written down by hand.  Dumps are captured in temporary files.
 */
#include "chan_helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#define MS 1000000LL

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Record the current line in an atomic_int: put it on the line of the call
 * whose site the dump must show. */
#define HERE(slot) atomic_store(&(slot), __LINE__)

/* Everything in the file open on fd, from its start, NUL-terminated (free
 * it); NULL if it cannot be read.  No assertion: usable while stderr is
 * redirected or off the main thread. */
static char *read_all_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return NULL;
	size_t cap = (size_t)st.st_size + 4096, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = pread(fd, buf + len, cap - 1 - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static char *fd_text(int fd)
{
	char *t = read_all_fd(fd);
	cr_assert_not_null(t, "reading back a temporary file failed: %s", strerror(errno));
	return t;
}

static FILE *tmp(void)
{
	FILE *f = tmpfile();
	cr_assert_not_null(f, "tmpfile: %s", strerror(errno));
	return f;
}

/* gort_dump_file into a temporary file: the text (free it); *ret gets the
 * return value. */
static char *dump_text(unsigned flags, int64_t *ret)
{
	FILE *f = tmp();
	int64_t r = gort_dump_file(f, flags);
	if (ret != NULL)
		*ret = r;
	char *t = fd_text(fileno(f));
	fclose(f);
	return t;
}

/* The same through gort_dump and a file descriptor. */
static char *dump_fd_text(unsigned flags, int64_t *ret)
{
	FILE *f = tmp();
	int64_t r = gort_dump(fileno(f), flags);
	if (ret != NULL)
		*ret = r;
	char *t = fd_text(fileno(f));
	fclose(f);
	return t;
}

/* The entry of a dump whose first line begins with head, up to and with the
 * newline before its blank line (a copy: free it); NULL if there is none. */
static char *entry_of(const char *text, const char *head)
{
	for (const char *p = strstr(text, head); p != NULL; p = strstr(p + 1, head)) {
		if (p != text && p[-1] != '\n')
			continue;
		const char *end = strstr(p, "\n\n");
		size_t n = end != NULL ? (size_t)(end - p) + 1 : strlen(p);
		char *e = strndup(p, n);
		cr_assert_not_null(e);
		return e;
	}
	return NULL;
}

static int count_of(const char *s, const char *text)
{
	int n = 0;
	size_t l = strlen(text);
	for (const char *p = strstr(s, text); p != NULL; p = strstr(p + l, text))
		n++;
	return n;
}

/* text has (lacks) the printf-formatted string; the assertion names the
 * test's line. */
#define ASSERT_HAS(text, ...)                                                          \
	do {                                                                           \
		char want_[512];                                                       \
		snprintf(want_, sizeof want_, __VA_ARGS__);                            \
		cr_assert(strstr((text), want_) != NULL, "lacks \"%s\"; text:\n%s", want_, \
			  (text));                                                     \
	} while (0)
#define ASSERT_LACKS(text, ...)                                                        \
	do {                                                                           \
		char want_[512];                                                       \
		snprintf(want_, sizeof want_, __VA_ARGS__);                            \
		cr_assert(strstr((text), want_) == NULL, "has \"%s\"; text:\n%s", want_,   \
			  (text));                                                     \
	} while (0)

/* The dump entry beginning with the formatted head (a copy), asserted. */
#define ENTRY(text, ...)                                                               \
	({                                                                             \
		char head_[256];                                                       \
		snprintf(head_, sizeof head_, __VA_ARGS__);                            \
		char *e_ = entry_of((text), head_);                                    \
		cr_assert_not_null(e_, "no entry beginning \"%s\"; text:\n%s", head_, (text)); \
		e_;                                                                    \
	})

static gort_coroutine_counts counts(void)
{
	gort_coroutine_counts c;
	int rc = gort_coroutine_counts_read(&c);
	cr_assert_eq(rc, 0, "gort_coroutine_counts_read = %d", rc);
	return c;
}

/* Poll the counts until by_reason[r] == want (or ms pass); the last read. */
static gort_coroutine_counts wait_reason_count(gort_wait_reason r, int64_t want, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * MS;
	for (;;) {
		gort_coroutine_counts c = counts();
		if (c.by_reason[r] == want || now_ns() > deadline)
			return c;
		usleep(500);
	}
}

#define ASSERT_PARKED(r, want)                                                         \
	do {                                                                           \
		gort_coroutine_counts c_ = wait_reason_count((r), (want), 20000);      \
		cr_assert_eq(c_.by_reason[(r)], (want),                                \
			     "%lld coroutines waiting in \"%s\", want %lld",           \
			     (long long)c_.by_reason[(r)], gort_wait_reason_name(r),   \
			     (long long)(want));                                       \
	} while (0)

static gort_id spawned(gort_id id)
{
	cr_assert_gt(id, 0, "spawn = %lld (%s)", (long long)id, gort_strerror((int)id));
	return id;
}

/* stderr into a temporary file for a while (the dump signal, the deadlock
 * report and dumpexit write there).  Restore it before asserting. */
struct stderr_cap {
	FILE *f;
	int saved;
};

static void stderr_capture(struct stderr_cap *c)
{
	c->f = tmp();
	fflush(stderr);
	c->saved = dup(2);
	cr_assert_geq(c->saved, 0, "dup: %s", strerror(errno));
	cr_assert_geq(dup2(fileno(c->f), 2), 0, "dup2: %s", strerror(errno));
}

/* What was written so far (free it); NULL if unreadable. */
static char *stderr_text(struct stderr_cap *c)
{
	return read_all_fd(fileno(c->f));
}

static void stderr_restore(struct stderr_cap *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	/* a sanitizer's report went into the capture: show it */
	char *t = stderr_text(c);
	if (t != NULL && strstr(t, "Sanitizer") != NULL)
		fprintf(stderr, "captured stderr:\n%s\n", t);
	free(t);
}

/* Poll the captured stderr until text occurs want times (or ms pass); the
 * last count. */
static int wait_stderr_count(struct stderr_cap *c, const char *text, int want, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * MS;
	for (;;) {
		char *t = stderr_text(c);
		int n = t != NULL ? count_of(t, text) : 0;
		free(t);
		if (n >= want || now_ns() > deadline)
			return n;
		usleep(2000);
	}
}

/* ------------------------------------------------------------------------ */
/* dump: every wait reason, its blocked-at line and spawn site               */
/* ------------------------------------------------------------------------ */

/* What the blockers below wait on. */
static struct world {
	gort_chan *recv_c, *send_c, *sel_a, *sel_b, *ctx_c;
	gort_ctx *ctx;
	gort_wg wg;            /* counter 1, never done */
	gort_mutex mu;         /* held by the test */
	gort_rwmutex rw_w;     /* write-locked by the test: RLock waits */
	gort_rwmutex rw_r;     /* read-locked by the test: Lock waits */
	gort_mutex cmu;
	gort_cond cond;        /* never signalled */
	gort_sem *sem;         /* size 1, held by the test */
} W;

/* After a blocking call that never returns here: no tail call, so the
 * blocker's own frame stays in the parked backtrace. */
#define AFTER(b) atomic_store(&(b)->woken, 1)

struct blocker {
	const char *name;        /* spawn name */
	gort_wait_reason reason; /* what the counts and the dump must say */
	void (*fn)(void *);
	const char *fn_name;     /* for the symbolised backtrace */
	atomic_int line;         /* the line of its blocking call */
	atomic_int woken;
	gort_id id;
};

static void b_chan_recv(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_chan_recv(W.recv_c, NULL, NULL);
	AFTER(b);
}

static void b_chan_send(void *p)
{
	struct blocker *b = p;
	int v = 1;
	HERE(b->line); gort_chan_send(W.send_c, &v);
	AFTER(b);
}

static void b_chan_recv_nil(void *p)
{
	struct blocker *b = p;
	int v;
	HERE(b->line); gort_chan_recv(NULL, &v, NULL);
	AFTER(b);
}

static void b_chan_send_nil(void *p)
{
	struct blocker *b = p;
	int v = 1;
	HERE(b->line); gort_chan_send(NULL, &v);
	AFTER(b);
}

static void b_select(void *p)
{
	struct blocker *b = p;
	int in = 0, out = 1;
	gort_case cs[2] = {{.chan = W.sel_a, .dir = GORT_RECV, .elem = &in},
			   {.chan = W.sel_b, .dir = GORT_SEND, .elem = &out}};
	HERE(b->line); gort_select(cs, 2, false);
	AFTER(b);
}

static void b_recv_ctx(void *p)
{
	struct blocker *b = p;
	int v;
	HERE(b->line); gort_chan_recv_ctx(W.ctx, W.ctx_c, &v, NULL);
	AFTER(b);
}

static void b_select_empty(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_select(NULL, 0, false);
	AFTER(b);
}

static void b_select_nils(void *p)
{
	struct blocker *b = p;
	int in = 0, out = 1;
	gort_case cs[2] = {{.chan = NULL, .dir = GORT_RECV, .elem = &in},
			   {.chan = NULL, .dir = GORT_SEND, .elem = &out}};
	HERE(b->line); gort_select(cs, 2, false);
	AFTER(b);
}

static void b_sleep(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_sleep(3600 * 1000 * MS);
	AFTER(b);
}

static void b_wg(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_wg_wait(&W.wg);
	AFTER(b);
}

static void b_mutex(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_mutex_lock(&W.mu);
	AFTER(b);
}

static void b_rlock(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_rwmutex_rlock(&W.rw_w);
	AFTER(b);
}

static void b_lock(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_rwmutex_lock(&W.rw_r);
	AFTER(b);
}

static void b_cond(void *p)
{
	struct blocker *b = p;
	gort_mutex_lock(&W.cmu);
	HERE(b->line); gort_cond_wait(&W.cond, &W.cmu);
	AFTER(b);
}

static void b_sem(void *p)
{
	struct blocker *b = p;
	HERE(b->line); gort_sem_acquire(W.sem, 1);
	AFTER(b);
}

#define BLOCKER(nm, r, f) {.name = (nm), .reason = (r), .fn = (f), .fn_name = #f}

static void world_init(void)
{
	W.recv_c = mk(sizeof(int), 0);
	W.send_c = mk(sizeof(int), 0);
	W.sel_a = mk(sizeof(int), 0);
	W.sel_b = mk(sizeof(int), 0);
	W.ctx_c = mk(sizeof(int), 0);
	W.ctx = gort_ctx_with_cancel(NULL);
	cr_assert_not_null(W.ctx);
	gort_wg_add(&W.wg, 1);
	cr_assert(gort_mutex_trylock(&W.mu));
	cr_assert(gort_rwmutex_trylock(&W.rw_w));
	cr_assert(gort_rwmutex_tryrlock(&W.rw_r));
	W.sem = gort_sem_new(1);
	cr_assert_not_null(W.sem);
	cr_assert(gort_sem_try_acquire(W.sem, 1));
}

struct spawner {
	struct blocker *b;
	size_t n;
	gort_id self;
	atomic_int line; /* the spawn site */
};

static void spawn_blockers(void *p)
{
	struct spawner *s = p;
	s->self = gort_self();
	for (size_t i = 0; i < s->n; i++) {
		struct blocker *b = &s->b[i];
		HERE(s->line); b->id = gort_go_with(b->fn, b, .name = b->name);
	}
}

/* The names dumps show, as the issue spells them. */
Test(dump, wait_reason_names, .timeout = 10)
{
	static const char *const want[GORT_WAIT_REASONS] = {
		[GORT_WAIT_WAITGROUP] = "waitgroup wait",
		[GORT_WAIT_CHAN_SEND] = "chan send",
		[GORT_WAIT_CHAN_RECV] = "chan receive",
		[GORT_WAIT_CHAN_SEND_NIL] = "chan send (nil chan)",
		[GORT_WAIT_CHAN_RECV_NIL] = "chan receive (nil chan)",
		[GORT_WAIT_SELECT] = "select",
		[GORT_WAIT_SELECT_EMPTY] = "select (no cases)",
		[GORT_WAIT_SLEEP] = "sleep",
		[GORT_WAIT_MUTEX] = "sync.Mutex.Lock",
		[GORT_WAIT_RWMUTEX_R] = "sync.RWMutex.RLock",
		[GORT_WAIT_RWMUTEX_W] = "sync.RWMutex.Lock",
		[GORT_WAIT_COND] = "sync.Cond.Wait",
		[GORT_WAIT_SEMAPHORE] = "semaphore acquire",
		[GORT_WAIT_IO_READ] = "IO wait (read)",
		[GORT_WAIT_IO_WRITE] = "IO wait (write)",
	};
	for (int r = 1; r < GORT_WAIT_REASONS; r++) {
		const char *got = gort_wait_reason_name((gort_wait_reason)r);
		cr_assert_not_null(got);
		cr_assert_str_eq(got, want[r], "reason %d: \"%s\", want \"%s\"", r, got, want[r]);
	}
	cr_assert_str_eq(gort_wait_reason_name(GORT_WAIT_NONE), "?");
	cr_assert_str_eq(gort_wait_reason_name(GORT_WAIT_REASONS), "?");
	cr_assert_str_eq(gort_wait_reason_name((gort_wait_reason)-1), "?");
	cr_assert_str_eq(gort_wait_reason_name((gort_wait_reason)200), "?");
}

PROCS_TEST(dump, every_wait_reason_with_its_sites, 30)
{
	static struct blocker bs[] = {
		BLOCKER("b-recv", GORT_WAIT_CHAN_RECV, b_chan_recv),
		BLOCKER("b-send", GORT_WAIT_CHAN_SEND, b_chan_send),
		BLOCKER("b-recv-nil", GORT_WAIT_CHAN_RECV_NIL, b_chan_recv_nil),
		BLOCKER("b-send-nil", GORT_WAIT_CHAN_SEND_NIL, b_chan_send_nil),
		BLOCKER("b-select", GORT_WAIT_SELECT, b_select),
		BLOCKER("b-recv-ctx", GORT_WAIT_CHAN_RECV, b_recv_ctx),
		BLOCKER("b-select-empty", GORT_WAIT_SELECT_EMPTY, b_select_empty),
		BLOCKER("b-select-nils", GORT_WAIT_SELECT_EMPTY, b_select_nils),
		BLOCKER("b-sleep", GORT_WAIT_SLEEP, b_sleep),
		BLOCKER("b-wg", GORT_WAIT_WAITGROUP, b_wg),
		BLOCKER("b-mutex", GORT_WAIT_MUTEX, b_mutex),
		BLOCKER("b-rlock", GORT_WAIT_RWMUTEX_R, b_rlock),
		BLOCKER("b-lock", GORT_WAIT_RWMUTEX_W, b_lock),
		BLOCKER("b-cond", GORT_WAIT_COND, b_cond),
		BLOCKER("b-sem", GORT_WAIT_SEMAPHORE, b_sem),
	};
	enum { NB = sizeof bs / sizeof bs[0] };
	static struct blocker plain = BLOCKER("b-plain", GORT_WAIT_CHAN_RECV, b_chan_recv);
	static struct spawner sp = {.b = bs, .n = NB};

	rt_start(procs);
	world_init();
	co_run(spawn_blockers, &sp);
	atomic_int plain_line;
	HERE(plain_line); plain.id = spawned(gort_go_with(b_chan_recv, &plain, .name = "b-plain"));

	/* every reason has been reached: the counts say exactly that (once
	 * co_run's coroutine has exited) */
	cr_assert_eq(wait_num_coroutines(NB + 1, 5000), NB + 1);
	int64_t want[GORT_WAIT_REASONS] = {0};
	for (size_t i = 0; i < NB; i++) {
		spawned(bs[i].id);
		want[bs[i].reason]++;
	}
	want[GORT_WAIT_CHAN_RECV]++; /* b-plain */
	for (int r = 1; r < GORT_WAIT_REASONS; r++)
		ASSERT_PARKED((gort_wait_reason)r, want[r]);
	gort_coroutine_counts c = counts();
	cr_assert_eq(c.live, NB + 1, "live %lld", (long long)c.live);
	cr_assert_eq(c.waiting, NB + 1, "waiting %lld", (long long)c.waiting);
	cr_assert_eq(c.running, 0, "running %lld", (long long)c.running);
	cr_assert_eq(c.runnable, 0, "runnable %lld", (long long)c.runnable);
	for (int r = 0; r < GORT_WAIT_REASONS; r++)
		cr_assert_eq(c.by_reason[r], want[r], "by_reason[%s] = %lld, want %lld",
			     gort_wait_reason_name((gort_wait_reason)r), (long long)c.by_reason[r],
			     (long long)want[r]);

	/* one by one, through a file descriptor */
	int64_t ret;
	char *text = dump_fd_text(0, &ret);
	cr_assert_eq(ret, NB + 1, "gort_dump = %lld, want %d; text:\n%s", (long long)ret, NB + 1, text);
	/* symbolised backtraces (libdw) name the functions of parked stacks */
	bool symbols = strstr(text, "gort_chan_recv_at+0x") != NULL;
	const char *prev = text;
	for (size_t i = 0; i < NB; i++) {
		struct blocker *b = &bs[i];
		char *e = ENTRY(text, "coroutine %lld \"%s\" [%s, ", (long long)b->id, b->name,
				gort_wait_reason_name(b->reason));
		ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&b->line));
		ASSERT_HAS(e, "\ncreated by coroutine %lld at %s:%d\n", (long long)sp.self, __FILE__,
			   atomic_load(&sp.line));
		ASSERT_HAS(e, "\n  #0 0x");
		if (symbols)
			ASSERT_HAS(e, " %s+0x", b->fn_name);
		/* sorted by id */
		char head[64];
		snprintf(head, sizeof head, "coroutine %lld \"", (long long)b->id);
		const char *at = strstr(text, head);
		cr_assert(at > prev || (i == 0 && at >= prev), "entries out of id order:\n%s", text);
		prev = at;
		free(e);
	}
	char *e = ENTRY(text, "coroutine %lld \"b-plain\" [chan receive, ", (long long)plain.id);
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&plain.line));
	ASSERT_HAS(e, "\ncreated by a plain thread at %s:%d\n", __FILE__, atomic_load(&plain_line));
	free(e);
	/* the spawner has exited: only the blockers are shown */
	cr_assert_eq(count_of(text, "\ncoroutine ") + (strncmp(text, "coroutine ", 10) == 0), NB + 1,
		     "text:\n%s", text);
	free(text);

	/* grouped, through a stream: every blocker is a group of one */
	text = dump_text(GORT_DUMP_GROUPED, &ret);
	cr_assert_eq(ret, NB + 1, "gort_dump_file = %lld; text:\n%s", (long long)ret, text);
	for (size_t i = 0; i < NB; i++) {
		struct blocker *b = &bs[i];
		e = ENTRY(text, "1 coroutine \"%s\" [%s, ", b->name, gort_wait_reason_name(b->reason));
		ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&b->line));
		ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&sp.line));
		free(e);
	}
	e = ENTRY(text, "1 coroutine \"b-plain\" [chan receive, ");
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&plain_line));
	free(e);
	cr_assert_eq(count_of(text, "1 coroutine \""), NB + 1, "text:\n%s", text);
	free(text);

	/* without backtraces: the sites only */
	text = dump_text(GORT_DUMP_NO_BACKTRACE, &ret);
	cr_assert_eq(ret, NB + 1);
	ASSERT_LACKS(text, "#0 ");
	ASSERT_HAS(text, "\tblocked at %s:%d\n", __FILE__, atomic_load(&bs[0].line));
	free(text);

	rt_stop(); /* discards the blockers */
}

/* The caller shows as running (no blocked-at line, no backtrace); a
 * coroutine spawned but not yet run as runnable (procs 1: nothing else can
 * take it before the caller blocks). */
struct rr {
	gort_id self, child;
	atomic_int spawn_line;
	int crc;
	gort_coroutine_counts c;
	FILE *f;
	int64_t ret;
};

static void rr_child(void *p)
{
	(void)p;
}

static void rr_parent(void *p)
{
	struct rr *r = p;
	r->self = gort_self();
	HERE(r->spawn_line); r->child = gort_go_with(rr_child, NULL, .name = "fresh");
	r->crc = gort_coroutine_counts_read(&r->c);
	r->ret = gort_dump_file(r->f, 0);
}

Test(dump, running_and_runnable, .timeout = 20)
{
	static struct rr r;
	rt_start(1);
	r.f = tmp();
	co_run(rr_parent, &r);
	spawned(r.child);
	cr_assert_eq(r.crc, 0);
	cr_assert_eq(r.c.live, 2, "live %lld", (long long)r.c.live);
	cr_assert_eq(r.c.running, 1, "running %lld", (long long)r.c.running);
	cr_assert_eq(r.c.runnable, 1, "runnable %lld", (long long)r.c.runnable);
	cr_assert_eq(r.c.waiting, 0, "waiting %lld", (long long)r.c.waiting);
	cr_assert_eq(r.ret, 2);
	char *text = fd_text(fileno(r.f));
	char *e = ENTRY(text, "coroutine %lld [running]:\n", (long long)r.self);
	ASSERT_LACKS(e, "blocked at");
	ASSERT_LACKS(e, "#0");
	ASSERT_HAS(e, "\ncreated by a plain thread at test/helpers.h:"); /* co_run's spawn */
	free(e);
	e = ENTRY(text, "coroutine %lld \"fresh\" [runnable]:\n", (long long)r.child);
	ASSERT_LACKS(e, "blocked at");
	ASSERT_HAS(e, "\ncreated by coroutine %lld at %s:%d\n", (long long)r.self, __FILE__,
		   atomic_load(&r.spawn_line));
	free(e);
	free(text);
	fclose(r.f);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* dump: grouped                                                             */
/* ------------------------------------------------------------------------ */

struct parkers {
	gort_chan *c;
	atomic_int line;
};

static void parker(void *p)
{
	struct parkers *pk = p;
	HERE(pk->line); gort_chan_recv(pk->c, NULL, NULL);
}

/* 10,000 coroutines parked at one line, spawned at one line: one entry. */
PROCS_TEST(dump, grouped_folds_ten_thousand, 60)
{
	static struct parkers pk;
	long n = scaled_min(10000, 500);
	rt_start(procs);
	pk.c = mk(0, 0);
	atomic_int spawn_line;
	for (long i = 0; i < n; i++) {
		HERE(spawn_line); spawned(gort_go_with(parker, &pk, .name = "parker"));
	}
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, n);

	int64_t ret;
	char *text = dump_text(GORT_DUMP_GROUPED, &ret);
	cr_assert_eq(ret, n, "gort_dump_file = %lld, want %ld", (long long)ret, n);
	char *e = ENTRY(text, "%ld coroutines \"parker\" [chan receive, ", n);
	cr_assert(strncmp(text, e, strlen(e)) == 0, "the group is not the first entry:\n%s", text);
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&pk.line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&spawn_line));
	ASSERT_HAS(e, "\n  #0 0x"); /* the backtrace of one of them */
	free(e);
	/* one entry and nothing else */
	cr_assert_eq(count_of(text, "coroutine"), 1, "text:\n%s", text);
	cr_assert_eq(count_of(text, "\n\n"), 1, "text:\n%s", text);
	free(text);

	/* the same one by one: n entries */
	text = dump_text(GORT_DUMP_NO_BACKTRACE, &ret);
	cr_assert_eq(ret, n);
	cr_assert_eq(count_of(text, "\"parker\" [chan receive, "), n);
	free(text);

	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 20000), 0);
	gort_chan_release(pk.c);
	rt_stop();
	leak_check();
}

/* Different names in one group (same state, reason and sites): the header
 * names none; a group is split by its spawn site. */
static gort_id spawn_parker_named(struct parkers *pk, const char *name, atomic_int *line)
{
	HERE(*line); return spawned(gort_go_with(parker, pk, .name = name));
}

Test(dump, grouped_by_sites_not_names, .timeout = 20)
{
	static struct parkers pk;
	rt_start(2);
	pk.c = mk(0, 0);
	atomic_int l1, l2;
	for (int i = 0; i < 6; i++)
		spawn_parker_named(&pk, i % 2 ? "odd" : "even", &l1);
	for (int i = 0; i < 3; i++) {
		HERE(l2); spawned(gort_go_with(parker, &pk, .name = "odd"));
	}
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 9);
	int64_t ret;
	char *text = dump_text(GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE, &ret);
	cr_assert_eq(ret, 9);
	char *e = ENTRY(text, "6 coroutines [chan receive, ");
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&l1));
	free(e);
	e = ENTRY(text, "3 coroutines \"odd\" [chan receive, ");
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&l2));
	free(e);
	/* largest first */
	cr_assert(strstr(text, "6 coroutines") < strstr(text, "3 coroutines"), "text:\n%s", text);
	free(text);
	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* dump: wait durations                                                      */
/* ------------------------------------------------------------------------ */

/* The duration in "[reason, D]" or "[reason, D .. D2]" of an entry, in ns
 * (the first of a range); -1 if it cannot be parsed. */
static int64_t parse_duration(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != ' ')
		return -1;
	end++;
	if (strncmp(end, "us", 2) == 0)
		return v * 1000;
	if (strncmp(end, "ms", 2) == 0)
		return v * MS;
	if (strncmp(end, "s", 1) == 0 && (end[1] == ']' || end[1] == ' '))
		return v * 1000 * MS;
	if (strncmp(end, "minutes", 7) == 0)
		return v * 60 * 1000 * MS;
	return -1;
}

/* A coroutine parked for at least 50 ms, spawned at most `elapsed` ago:
 * the dump says a wait between the two (one by one, and each end of the
 * grouped range). */
Test(dump, wait_duration_is_since_the_park, .timeout = 20)
{
	static struct parkers pk;
	rt_start(2);
	pk.c = mk(0, 0);
	int64_t t0 = now_ns();
	for (int i = 0; i < 2; i++)
		spawned(gort_go_with(parker, &pk, .name = "waiter"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 2);
	sleep_ms(60);
	char *one = dump_text(GORT_DUMP_NO_BACKTRACE, NULL);
	char *grouped = dump_text(GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE, NULL);
	int64_t elapsed = now_ns() - t0;
	const char *p = strstr(one, "\"waiter\" [chan receive, ");
	cr_assert_not_null(p, "text:\n%s", one);
	int64_t d = parse_duration(p + strlen("\"waiter\" [chan receive, "));
	cr_assert(d >= 50 * MS && d <= elapsed,
		  "a coroutine parked for at least 50 ms and at most %lld ms shows a wait of "
		  "%lld ms:\n%s",
		  (long long)(elapsed / MS), (long long)(d / MS), one);
	p = strstr(grouped, "2 coroutines \"waiter\" [chan receive, ");
	cr_assert_not_null(p, "text:\n%s", grouped);
	p += strlen("2 coroutines \"waiter\" [chan receive, ");
	d = parse_duration(p);
	const char *range = strstr(p, " .. ");
	int64_t d2 = range != NULL && range < strchr(p, ']') ? parse_duration(range + 4) : d;
	cr_assert(d >= 50 * MS && d2 >= d && d2 <= elapsed,
		  "grouped: waits of %lld .. %lld ms, want 50 .. %lld ms:\n%s", (long long)(d / MS),
		  (long long)(d2 / MS), (long long)(elapsed / MS), grouped);
	free(one);
	free(grouped);
	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* dump, counts, leak check, watchdog: errors                                */
/* ------------------------------------------------------------------------ */

static void never_called(int64_t live, const char *dump, void *ctx)
{
	(void)live;
	(void)dump;
	(void)ctx;
}

Test(dump, errors_and_empty_runtime, .timeout = 20)
{
	gort_coroutine_counts c;
	FILE *f = tmp();
	cr_assert_eq(gort_coroutine_counts_read(&c), -ESRCH);
	cr_assert_eq(gort_dump(fileno(f), 0), -ESRCH);
	cr_assert_eq(gort_dump_file(f, 0), -ESRCH);
	cr_assert_eq(gort_leakcheck(NULL), -ESRCH);
	cr_assert_null(gort_leak_baseline_take());
	gort_leak_baseline_free(NULL);
	cr_assert_eq(gort_watchdog_set(1, 0, never_called, NULL), -ESRCH);

	rt_start(2);
	cr_assert_eq(gort_coroutine_counts_read(NULL), -EINVAL);
	cr_assert_eq(gort_dump(-1, 0), -EINVAL);
	cr_assert_eq(gort_dump_file(NULL, 0), -EINVAL);
	/* nothing alive: zero counts, an empty dump, a clean leak check at once
	 * (with the default grace: it waits only for what is alive) */
	c = counts();
	cr_assert(c.live == 0 && c.waiting == 0 && c.running == 0 && c.runnable == 0);
	int64_t ret;
	char *text = dump_text(0, &ret);
	cr_assert_eq(ret, 0);
	cr_assert_str_empty(text);
	free(text);
	text = dump_text(GORT_DUMP_GROUPED, &ret);
	cr_assert_eq(ret, 0);
	cr_assert_str_empty(text);
	free(text);
	gort_leak_report rep;
	memset(&rep, 0xff, sizeof rep);
	cr_assert_eq(gort_leakcheck(&(gort_leak_opts){.out = f, .report = &rep}), 0);
	cr_assert(rep.coroutines == 0 && rep.contexts == 0 && rep.channels == 0 && rep.waitgroups == 0);
	text = fd_text(fileno(f));
	cr_assert_str_empty(text, "a clean leak check printed:\n%s", text);
	free(text);
	gort_leak_baseline *b = gort_leak_baseline_take();
	cr_assert_not_null(b);
	gort_leak_baseline_free(b);
	/* a descriptor open for reading only: the write fails, the error comes
	 * back */
	static struct parkers pk;
	pk.c = mk(0, 0);
	spawned(gort_go(parker, &pk));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 1);
	int rd = open("/dev/null", O_RDONLY);
	cr_assert_geq(rd, 0);
	ret = gort_dump(rd, 0);
	cr_assert_lt(ret, 0, "gort_dump to a read-only descriptor = %lld", (long long)ret);
	close(rd);
	fclose(f);
	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* leak check: the shapes                                                    */
/* ------------------------------------------------------------------------ */

#define LEAK_GRACE (100 * MS)    /* a leak is reported once this is over */
#define CLEAN_GRACE (20000 * MS) /* a clean program returns long before */

struct lc {
	int64_t ret;
	gort_leak_report rep;
	char *text;
};

/* gort_leakcheck with o (its out and report replaced); r gets the result
 * and the text. */
static void lc_run(struct lc *r, gort_leak_opts o)
{
	FILE *f = tmp();
	o.out = f;
	o.report = &r->rep;
	memset(&r->rep, 0xff, sizeof r->rep);
	r->ret = gort_leakcheck(&o);
	r->text = fd_text(fileno(f));
	fclose(f);
}

static void lc_free(struct lc *r)
{
	free(r->text);
	r->text = NULL;
}

#define ASSERT_REPORT(r, co, ctx, ch, wg)                                                   \
	cr_assert((r)->rep.coroutines == (co) && (r)->rep.contexts == (ctx) &&             \
			  (r)->rep.channels == (ch) && (r)->rep.waitgroups == (wg) &&       \
			  (r)->ret == (co) + (ctx) + (ch) + (wg),                          \
		  "leak check = %lld, report {coroutines %lld, contexts %lld, channels %lld, " \
		  "waitgroups %lld}, want {%d, %d, %d, %d}; text:\n%s",                    \
		  (long long)(r)->ret, (long long)(r)->rep.coroutines,                     \
		  (long long)(r)->rep.contexts, (long long)(r)->rep.channels,              \
		  (long long)(r)->rep.waitgroups, (co), (ctx), (ch), (wg), (r)->text)

/* A clean check: 0, nothing in the report, nothing printed. */
#define ASSERT_CLEAN(r)                                                                    \
	do {                                                                               \
		ASSERT_REPORT((r), 0, 0, 0, 0);                                            \
		cr_assert_str_empty((r)->text, "a clean leak check printed:\n%s", (r)->text); \
	} while (0)

static void clean_check(void)
{
	struct lc r;
	lc_run(&r, (gort_leak_opts){.grace_ns = CLEAN_GRACE});
	ASSERT_CLEAN(&r);
	lc_free(&r);
}

/* --- workers ranging over a channel nobody closes ---------------------- */

struct pool {
	gort_chan *jobs;
	gort_wg done;          /* the workers' exits: the test frees jobs after them */
	atomic_long sum;
	atomic_int line;       /* the range's receive */
	atomic_int spawn_line;
};

static void pool_worker(void *p)
{
	struct pool *pl = p;
	for (;;) {
		int v;
		bool ok;
		HERE(pl->line); gort_chan_recv(pl->jobs, &v, &ok);
		if (!ok)
			break;
		atomic_fetch_add(&pl->sum, v);
	}
	gort_wg_done(&pl->done);
}

/* Four workers, 100 jobs sent from this thread; the fix closes jobs. */
static void pool_run(struct pool *pl, bool fixed)
{
	pl->jobs = mk(sizeof(int), 0);
	gort_wg_add(&pl->done, 4);
	for (int i = 0; i < 4; i++) {
		HERE(pl->spawn_line); spawned(gort_go_with(pool_worker, pl, .name = "worker"));
	}
	for (int i = 1; i <= 100; i++)
		gort_chan_send(pl->jobs, &i);
	if (fixed)
		gort_chan_close(pl->jobs);
}

PROCS_TEST(leak, range_over_never_closed_channel, 30)
{
	static struct pool fixed, leaky;
	struct lc r;
	rt_start(procs);

	pool_run(&fixed, true);
	clean_check();
	cr_assert_eq(atomic_load(&fixed.sum), 5050);
	/* (a clean leak check is no happens-before edge: the wait group is) */
	gort_wg_wait(&fixed.done);
	gort_chan_release(fixed.jobs);

	pool_run(&leaky, false);
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 4);
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 4, 0, 0, 0);
	cr_assert_eq(atomic_load(&leaky.sum), 5050);
	ASSERT_HAS(r.text, "gort: leak check: 4 coroutines still alive after ");
	char *e = ENTRY(r.text, "4 coroutines \"worker\" [chan receive, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	free(e);
	lc_free(&r);

	/* the fix applied late: the four exit */
	gort_chan_close(leaky.jobs);
	clean_check();
	gort_wg_wait(&leaky.done);
	gort_chan_release(leaky.jobs);
	rt_stop();
	leak_check();
}

/* --- a sender left behind by a select that timed out -------------------- */

struct tmo {
	size_t cap;            /* 0: the leak; 1: the fix */
	gort_chan *ch;         /* the result channel; the test keeps a reference */
	gort_chan *go;         /* closed when the requester has given up */
	atomic_int send_line;
	atomic_int spawn_line;
	int chosen;
};

/* The slow computation: it answers only after the requester gave up. */
static void tmo_sender(void *p)
{
	struct tmo *t = p;
	gort_chan_recv(t->go, NULL, NULL);
	int v = 42;
	HERE(t->send_line); gort_chan_send(t->ch, &v);
	gort_chan_release(t->ch);
}

static void tmo_requester(void *p)
{
	struct tmo *t = p;
	gort_chan *ch = gort_chan_make(sizeof(int), t->cap);
	CO_CHECK(ch != NULL, "gort_chan_make");
	t->ch = ch;
	gort_chan_retain(ch); /* the sender's */
	gort_chan_retain(ch); /* the test's, to clean up */
	HERE(t->spawn_line); gort_go_with(tmo_sender, t, .name = "sender");
	gort_chan *timeout = gort_after(1 * MS);
	int v = 0;
	gort_case cs[2] = {{.chan = ch, .dir = GORT_RECV, .elem = &v},
			   {.chan = timeout, .dir = GORT_RECV}};
	t->chosen = gort_select(cs, 2, false);
	gort_chan_release(timeout);
	gort_chan_release(ch);
	gort_chan_close(t->go);
}

PROCS_TEST(leak, sender_after_select_timeout, 30)
{
	static struct tmo fixed = {.cap = 1}, leaky = {.cap = 0};
	struct lc r;
	int v = 0;
	rt_start(procs);

	fixed.go = mk(0, 0);
	co_run(tmo_requester, &fixed);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(fixed.chosen, 1, "the requester should time out");
	clean_check();
	cr_assert_eq(gort_chan_try_recv(fixed.ch, &v, NULL), 0, "the late answer is buffered");
	cr_assert_eq(v, 42);
	gort_chan_release(fixed.ch);
	gort_chan_release(fixed.go);

	leaky.go = mk(0, 0);
	co_run(tmo_requester, &leaky);
	cr_assert_eq(leaky.chosen, 1, "the requester should time out");
	ASSERT_PARKED(GORT_WAIT_CHAN_SEND, 1);
	cr_assert_eq(wait_num_coroutines(1, 5000), 1); /* co_run's coroutine gone */
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 1, 0, 0, 0); /* the sender still owns the channel */
	char *e = ENTRY(r.text, "1 coroutine \"sender\" [chan send, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.send_line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	free(e);
	lc_free(&r);

	/* someone takes the answer after all: the sender exits */
	v = 0;
	gort_chan_recv(leaky.ch, &v, NULL);
	cr_assert_eq(v, 42);
	clean_check();
	gort_chan_release(leaky.ch);
	gort_chan_release(leaky.go);
	rt_stop();
	leak_check();
}

/* --- a forgotten cancel ------------------------------------------------- */

struct lostc {
	gort_ctx *parent;
	bool fixed;
	bool deadline;         /* with_timeout instead of with_cancel */
	atomic_int line;       /* where the context is made */
	gort_chan *ready;      /* one value buffered */
	int err;
};

static void lostc_handler(void *p)
{
	struct lostc *l = p;
	gort_ctx *ctx;
	if (l->deadline) {
		HERE(l->line); ctx = gort_ctx_with_timeout(l->parent, 3600 * 1000 * MS);
	} else {
		HERE(l->line); ctx = gort_ctx_with_cancel(l->parent);
	}
	CO_CHECK(ctx != NULL, "context");
	int v;
	l->err = gort_chan_recv_ctx(ctx, l->ready, &v, NULL);
	if (l->fixed)
		gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
}

static void lostc_run(struct lostc *l)
{
	l->ready = mk(sizeof(int), 1);
	int v = 7;
	gort_chan_send(l->ready, &v);
	co_run(lostc_handler, l);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(l->err, 0);
	gort_chan_release(l->ready);
}

PROCS_TEST(leak, forgotten_cancel, 30)
{
	static struct lostc fixed = {.fixed = true}, fixed_dl = {.fixed = true, .deadline = true};
	static struct lostc lost = {.fixed = false}, lost_dl = {.fixed = false, .deadline = true};
	struct lc r;
	rt_start(procs);
	gort_ctx *parent = gort_ctx_with_cancel(NULL); /* a request's context */
	cr_assert_not_null(parent);
	fixed.parent = fixed_dl.parent = lost.parent = lost_dl.parent = parent;

	lostc_run(&fixed);
	lostc_run(&fixed_dl);
	clean_check();

	lostc_run(&lost);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0); /* co_run's coroutine gone */
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 0, 1, 0, 0);
	ASSERT_HAS(r.text,
		   "gort: leak check: context created at %s:%d was released without gort_ctx_cancel "
		   "and is not done (lostcancel): its parent keeps it until the parent is cancelled\n",
		   __FILE__, atomic_load(&lost.line));
	lc_free(&r);

	lostc_run(&lost_dl);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 0, 2, 0, 0);
	ASSERT_HAS(r.text,
		   "gort: leak check: context created at %s:%d was released without gort_ctx_cancel "
		   "and is not done (lostcancel): its parent keeps it until its deadline, in ",
		   __FILE__, atomic_load(&lost_dl.line));
	/* the report is not muted by coroutine filters: contexts are no coroutines */
	lc_free(&r);
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE, .quiet = true});
	ASSERT_REPORT(&r, 0, 2, 0, 0);
	cr_assert_str_empty(r.text, "quiet, yet it printed:\n%s", r.text);
	lc_free(&r);

	/* cancelling the parent ends both */
	gort_ctx_cancel(parent);
	clean_check();
	gort_ctx_release(parent);
	rt_stop();
	leak_check();
}

/* --- a WaitGroup Add without its Done ------------------------------------ */

struct wgl {
	gort_wg wg;
	int extra;             /* Adds without a worker: 0 is the fix */
	atomic_int line;       /* the coordinator's wait */
	atomic_int spawn_line; /* the coordinator's spawn */
	atomic_int worked;
};

static void wgl_worker(void *p)
{
	struct wgl *w = p;
	atomic_fetch_add(&w->worked, 1);
	gort_wg_done(&w->wg);
}

static void wgl_coordinator(void *p)
{
	struct wgl *w = p;
	for (int i = 0; i < 3; i++)
		gort_go_with(wgl_worker, w, .name = "wg-worker");
	HERE(w->line); gort_wg_wait(&w->wg);
}

/* waiters coordinators, each spawning 3 workers that call Done. */
static void wgl_run(struct wgl *w, int waiters)
{
	gort_wg_add(&w->wg, 3 * waiters + w->extra);
	for (int i = 0; i < waiters; i++) {
		HERE(w->spawn_line); spawned(gort_go_with(wgl_coordinator, w, .name = "coordinator"));
	}
}

PROCS_TEST(leak, waitgroup_add_without_done, 30)
{
	static struct wgl fixed = {.extra = 0}, leaky = {.extra = 1};
	struct lc r;
	rt_start(procs);

	wgl_run(&fixed, 2);
	clean_check();
	cr_assert_eq(atomic_load(&fixed.worked), 6);

	wgl_run(&leaky, 2);
	ASSERT_PARKED(GORT_WAIT_WAITGROUP, 2);
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 2, 0, 0, 1); /* two waiters, one wait group */
	cr_assert_eq(atomic_load(&leaky.worked), 6);
	char *e = ENTRY(r.text, "2 coroutines \"coordinator\" [waitgroup wait, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	free(e);
	ASSERT_HAS(r.text,
		   "gort: leak check: wait group %p has counter 1 and 2 waiters, all leaked (first "
		   "blocked at %s:%d)",
		   (void *)&leaky.wg, __FILE__, atomic_load(&leaky.line));
	lc_free(&r);

	/* the missing Done */
	gort_wg_done(&leaky.wg);
	clean_check();
	rt_stop();
	leak_check();
}

/* --- a mutex never unlocked --------------------------------------------- */

struct mul {
	gort_mutex mu;
	bool fixed;
	atomic_int line;
	atomic_int spawn_line;
	atomic_int got;
};

static void mul_waiter(void *p)
{
	struct mul *m = p;
	HERE(m->line); gort_mutex_lock(&m->mu);
	atomic_store(&m->got, 1);
	gort_mutex_unlock(&m->mu);
}

static void mul_holder(void *p)
{
	struct mul *m = p;
	gort_mutex_lock(&m->mu);
	HERE(m->spawn_line); gort_go_with(mul_waiter, m, .name = "lock-waiter");
	if (!m->fixed)
		return; /* the early return that forgets the unlock */
	gort_yield();
	gort_mutex_unlock(&m->mu);
}

PROCS_TEST(leak, mutex_never_unlocked, 30)
{
	static struct mul fixed = {.fixed = true}, leaky = {.fixed = false};
	struct lc r;
	rt_start(procs);

	co_run(mul_holder, &fixed);
	clean_check();
	cr_assert_eq(atomic_load(&fixed.got), 1);

	co_run(mul_holder, &leaky);
	ASSERT_PARKED(GORT_WAIT_MUTEX, 1);
	cr_assert_eq(wait_num_coroutines(1, 5000), 1); /* co_run's coroutine gone */
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 1, 0, 0, 0);
	char *e = ENTRY(r.text, "1 coroutine \"lock-waiter\" [sync.Mutex.Lock, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	free(e);
	lc_free(&r);
	cr_assert_eq(atomic_load(&leaky.got), 0);

	gort_mutex_unlock(&leaky.mu); /* any thread may unlock, as in Go */
	clean_check();
	cr_assert_eq(atomic_load(&leaky.got), 1);
	rt_stop();
	leak_check();
}

/* --- a ticker never stopped, a coroutine ranging over it ----------------- */

struct tick {
	gort_chan *quit;
	gort_wg done; /* the consumer's exit: the test frees quit after it */
	atomic_int line;
	atomic_int spawn_line;
	atomic_long ticks;
	atomic_int cleanup; /* the test's way out of the leak (the leak has none) */
};

static void tick_leaky(void *p)
{
	struct tick *t = p;
	gort_timer *tk = gort_ticker_new(5 * MS);
	CO_CHECK(tk != NULL, "gort_ticker_new");
	for (;;) {
		int64_t when;
		HERE(t->line); gort_chan_recv(gort_timer_chan(tk), &when, NULL);
		atomic_fetch_add(&t->ticks, 1);
		if (atomic_load(&t->cleanup))
			break;
	}
	gort_timer_free(tk);
}

/* The fix: a quit channel beside the ticks, and the ticker stopped on the
 * way out (Go's defer ticker.Stop()). */
static void tick_fixed(void *p)
{
	struct tick *t = p;
	gort_timer *tk = gort_ticker_new(5 * MS);
	CO_CHECK(tk != NULL, "gort_ticker_new");
	for (;;) {
		int64_t when;
		gort_case cs[2] = {{.chan = gort_timer_chan(tk), .dir = GORT_RECV, .elem = &when},
				   {.chan = t->quit, .dir = GORT_RECV}};
		if (gort_select(cs, 2, false) == 1)
			break;
		atomic_fetch_add(&t->ticks, 1);
	}
	gort_timer_free(tk);
	gort_wg_done(&t->done);
}

static void wait_ticks(struct tick *t, long n)
{
	int64_t deadline = now_ns() + 20000 * MS;
	while (atomic_load(&t->ticks) < n && now_ns() < deadline)
		usleep(1000);
	cr_assert_geq(atomic_load(&t->ticks), n, "the ticker did not tick");
}

PROCS_TEST(leak, ticker_never_stopped, 30)
{
	static struct tick fixed, leaky;
	struct lc r;
	rt_start(procs);

	fixed.quit = mk(0, 0);
	gort_wg_add(&fixed.done, 1);
	spawned(gort_go_with(tick_fixed, &fixed, .name = "ticker-consumer"));
	wait_ticks(&fixed, 2);
	gort_chan_close(fixed.quit);
	clean_check();
	gort_wg_wait(&fixed.done);
	gort_chan_release(fixed.quit);

	HERE(leaky.spawn_line); spawned(gort_go_with(tick_leaky, &leaky, .name = "ticker-consumer"));
	wait_ticks(&leaky, 2);
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 1, 0, 0, 0);
	ASSERT_HAS(r.text, "1 coroutine \"ticker-consumer\" [");
	ASSERT_HAS(r.text, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	/* caught between two ticks (nearly always): parked in its receive */
	if (strstr(r.text, "[chan receive, ") != NULL)
		ASSERT_HAS(r.text, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.line));
	lc_free(&r);
	CO_ASSERT_NO_FAILURES();

	atomic_store(&leaky.cleanup, 1);
	clean_check();
	rt_stop();
	leak_check();
}

/* --- a channel every owner released while coroutines wait on it --------- */

struct orph {
	gort_chan *c;
	atomic_int line;
	atomic_int spawn_line;
};

static void orph_recv(void *p)
{
	struct orph *o = p;
	int64_t v;
	HERE(o->line); gort_chan_recv(o->c, &v, NULL);
}

static void orph_run(struct orph *o)
{
	o->c = mk(sizeof(int64_t), 0);
	for (int i = 0; i < 2; i++) {
		HERE(o->spawn_line); spawned(gort_go_with(orph_recv, o, .name = "orphan-recv"));
	}
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 2);
}

PROCS_TEST(leak, channel_released_with_waiters, 30)
{
	static struct orph fixed, leaky;
	struct lc r;
	rt_start(procs);

	orph_run(&fixed);
	gort_chan_close(fixed.c);
	gort_chan_release(fixed.c);
	clean_check();

	orph_run(&leaky);
	gort_chan_release(leaky.c); /* the last owner goes; two still wait */
	lc_run(&r, (gort_leak_opts){.grace_ns = LEAK_GRACE});
	ASSERT_REPORT(&r, 2, 0, 1, 0);
	char *e = ENTRY(r.text, "2 coroutines \"orphan-recv\" [chan receive, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&leaky.line));
	ASSERT_HAS(e, "\ncreated at %s:%d\n", __FILE__, atomic_load(&leaky.spawn_line));
	free(e);
	ASSERT_HAS(r.text,
		   "gort: leak check: channel %p (8-byte elements, capacity 0) was released by every "
		   "owner while 2 coroutines wait on it (first blocked at %s:%d): nothing can ever "
		   "wake them\n",
		   (void *)leaky.c, __FILE__, atomic_load(&leaky.line));
	lc_free(&r);
	/* ignoring its waiters ignores the channel too (judged by what leaked) */
	lc_run(&r, (gort_leak_opts){.grace_ns = -1,
				    .ignore_names = (const char *const[]){"orphan-recv", NULL}});
	ASSERT_CLEAN(&r);
	lc_free(&r);
	rt_stop(); /* nothing can wake them: discarded */
}

/* ------------------------------------------------------------------------ */
/* leak check: no false positives, the caller, the grace                     */
/* ------------------------------------------------------------------------ */

static void short_lived(void *p)
{
	uint64_t seed = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL + 1;
	gort_sleep((int64_t)(rng_next(&seed) % 21) * MS);
}

/* 1,000 coroutines that sleep 0-20 ms and exit within the (default, 1 s)
 * grace: nothing reported. */
PROCS_TEST(leak, short_lived_are_not_leaks, 30)
{
	long n = scaled_min(1000, 100);
	rt_start(procs);
	for (long i = 0; i < n; i++)
		spawned(gort_go_with(short_lived, (void *)(uintptr_t)(i + 1), .name = "short"));
	struct lc r;
	lc_run(&r, (gort_leak_opts){0});
	ASSERT_CLEAN(&r);
	lc_free(&r);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
}

/* From a coroutine: the caller is never reported, and it parks (other
 * coroutines run) during the grace. */
struct from_co {
	gort_chan *c;
	int64_t ret, ret_quiet;
	gort_leak_report rep;
	FILE *f;
};

static void lc_from_coroutine(void *p)
{
	struct from_co *fc = p;
	fc->ret = gort_leakcheck(&(gort_leak_opts){.grace_ns = LEAK_GRACE, .out = fc->f, .report = &fc->rep});
	fc->ret_quiet = gort_leakcheck(&(gort_leak_opts){.grace_ns = -1, .quiet = true});
}

Test(leak, caller_is_never_reported, .timeout = 20)
{
	static struct from_co fc;
	static struct parkers pk;
	rt_start(1);
	pk.c = mk(0, 0);
	spawned(gort_go_with(parker, &pk, .name = "other"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 1);
	fc.f = tmp();
	co_run(lc_from_coroutine, &fc);
	char *text = fd_text(fileno(fc.f));
	cr_assert_eq(fc.ret, 1, "leak check from a coroutine = %lld; text:\n%s", (long long)fc.ret, text);
	cr_assert_eq(fc.rep.coroutines, 1);
	cr_assert_eq(fc.ret_quiet, 1);
	ASSERT_HAS(text, "gort: leak check: 1 coroutine still alive after ");
	ASSERT_HAS(text, "1 coroutine \"other\" [chan receive, ");
	cr_assert_eq(count_of(text, "coroutine \""), 1, "only the other one:\n%s", text);
	free(text);
	fclose(fc.f);
	gort_chan_close(pk.c);
	clean_check();
	gort_chan_release(pk.c);
	rt_stop();
}

/* A negative grace does not wait: a coroutine about to finish (in 500 ms)
 * is still reported; a grace waits for it. */
static void wait_then_exit(void *p)
{
	gort_chan_recv((gort_chan *)p, NULL, NULL);
	gort_sleep(500 * MS);
}

Test(leak, negative_grace_does_not_wait, .timeout = 20)
{
	rt_start(2);
	gort_chan *c = mk(0, 0);
	spawned(gort_go_with(wait_then_exit, c, .name = "finishing"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 1);
	gort_chan_close(c);
	struct lc r;
	lc_run(&r, (gort_leak_opts){.grace_ns = -1});
	ASSERT_REPORT(&r, 1, 0, 0, 0); /* still sleeping its 500 ms */
	lc_free(&r);
	lc_run(&r, (gort_leak_opts){.grace_ns = CLEAN_GRACE});
	ASSERT_CLEAN(&r);
	lc_free(&r);
	gort_chan_release(c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* leak check: ignore options                                                */
/* ------------------------------------------------------------------------ */

static void ign_block(void *p)
{
	gort_chan_recv((gort_chan *)p, NULL, NULL);
}

static void ign_sleep(void *p)
{
	(void)p;
	gort_sleep(3600 * 1000 * MS);
}

static void spawn_at(gort_chan *c, const char *name, const char *file, int line)
{
	spawned(gort_go_opts(ign_block, c, &(gort_spawn_opts){.name = name}, file, line));
}

/* The number of leaks with o (no grace: everything is parked), its text
 * into *text (free it). */
static int64_t leaks_with(gort_leak_opts o, char **text)
{
	struct lc r;
	o.grace_ns = -1;
	lc_run(&r, o);
	cr_assert_eq(r.ret, r.rep.coroutines, "only coroutines leak here; text:\n%s", r.text);
	*text = r.text;
	return r.ret;
}

#define SITES(...) ((const char *const[]){__VA_ARGS__, NULL})

#define EXPECT_LEAKS(want, ...)                                                            \
	do {                                                                               \
		char *t_;                                                                  \
		int64_t n_ = leaks_with((gort_leak_opts){__VA_ARGS__}, &t_);               \
		cr_assert_eq(n_, (want), "with {%s}: %lld leaks, want %d; text:\n%s",      \
			     #__VA_ARGS__, (long long)n_, (want), t_);                      \
		free(t_);                                                                  \
	} while (0)

Test(leak, ignore_options, .timeout = 30)
{
	rt_start(2);
	gort_chan *c = mk(0, 0);
	/* A: 2 at src/net/server.c:88, B: 1 at src/net/server.c:99, C: 1 at
	 * lib/other/server.c:7, D: 1 at src/net/xserver.c:5 (spawn sites given
	 * through gort_go_opts); E: a sleeper and F: "ignored-name", both
	 * spawned here */
	spawn_at(c, "a", "src/net/server.c", 88);
	spawn_at(c, "a", "src/net/server.c", 88);
	spawn_at(c, "b", "src/net/server.c", 99);
	spawn_at(c, "c", "lib/other/server.c", 7);
	spawn_at(c, "d", "src/net/xserver.c", 5);
	atomic_int e_line, f_line;
	HERE(e_line); spawned(gort_go_with(ign_sleep, NULL, .name = "e"));
	HERE(f_line); spawned(gort_go_with(ign_block, c, .name = "ignored-name"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 6);
	ASSERT_PARKED(GORT_WAIT_SLEEP, 1);

	char *t;
	cr_assert_eq(leaks_with((gort_leak_opts){0}, &t), 7, "text:\n%s", t);
	ASSERT_HAS(t, "2 coroutines \"a\" [chan receive, ");
	ASSERT_HAS(t, "\ncreated at src/net/server.c:88\n");
	ASSERT_HAS(t, "1 coroutine \"e\" [sleep, ");
	free(t);

	/* spawn sites: file:line */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_sites = SITES("src/net/server.c:88")}, &t), 5);
	ASSERT_LACKS(t, "created at src/net/server.c:88\n");
	ASSERT_HAS(t, "created at src/net/server.c:99\n");
	free(t);
	EXPECT_LEAKS(6, .ignore_sites = SITES("server.c:99"));
	EXPECT_LEAKS(7, .ignore_sites = SITES("src/net/server.c:8"));
	EXPECT_LEAKS(7, .ignore_sites = SITES("src/net/server.c:888"));
	EXPECT_LEAKS(7, .ignore_sites = SITES("test_debug.c:0"));
	{
		char site[64];
		snprintf(site, sizeof site, "%s:%d", __FILE__, atomic_load(&e_line));
		cr_assert_eq(leaks_with((gort_leak_opts){.ignore_sites = SITES(site)}, &t), 6);
		ASSERT_LACKS(t, "\"e\" [sleep");
		ASSERT_HAS(t, "\"ignored-name\"");
		free(t);
		snprintf(site, sizeof site, "test_debug.c:%d", atomic_load(&f_line));
		EXPECT_LEAKS(6, .ignore_sites = SITES(site));
	}
	/* a file alone: any line */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_sites = SITES("src/net/server.c")}, &t), 4);
	ASSERT_LACKS(t, "src/net/server.c:");
	ASSERT_HAS(t, "created at lib/other/server.c:7\n");
	free(t);
	EXPECT_LEAKS(5, .ignore_sites = SITES(__FILE__));
	EXPECT_LEAKS(7, .ignore_sites = SITES("test/test_debug"));
	/* a '/'-separated tail of the file */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_sites = SITES("server.c")}, &t), 3);
	ASSERT_HAS(t, "created at src/net/xserver.c:5\n");
	ASSERT_LACKS(t, "lib/other/server.c");
	free(t);
	EXPECT_LEAKS(4, .ignore_sites = SITES("net/server.c"));
	EXPECT_LEAKS(5, .ignore_sites = SITES("test_debug.c"));
	EXPECT_LEAKS(7, .ignore_sites = SITES("erver.c"));
	EXPECT_LEAKS(7, .ignore_sites = SITES("est_debug.c"));
	/* several */
	EXPECT_LEAKS(4, .ignore_sites = SITES("src/net/server.c:88", "lib/other/server.c"));

	/* names: exact */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_names = SITES("ignored-name")}, &t), 6);
	ASSERT_LACKS(t, "\"ignored-name\"");
	ASSERT_HAS(t, "\"d\"");
	free(t);
	EXPECT_LEAKS(4, .ignore_names = SITES("a", "c"));
	EXPECT_LEAKS(7, .ignore_names = SITES("ignored"));
	EXPECT_LEAKS(7, .ignore_names = SITES("ignored-name-2"));

	/* wait reasons */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_reasons = 1u << GORT_WAIT_SLEEP}, &t), 6);
	ASSERT_LACKS(t, "[sleep");
	free(t);
	EXPECT_LEAKS(7, .ignore_reasons = 1u << GORT_WAIT_CHAN_SEND);
	EXPECT_LEAKS(1, .ignore_reasons = 1u << GORT_WAIT_CHAN_RECV);
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_reasons = (1u << GORT_WAIT_SLEEP) |
								   (1u << GORT_WAIT_CHAN_RECV)},
				&t),
		     0);
	cr_assert_str_empty(t, "nothing leaked, yet:\n%s", t);
	free(t);

	/* together: each removes its own */
	cr_assert_eq(leaks_with((gort_leak_opts){.ignore_sites = SITES("server.c"),
						 .ignore_names = SITES("ignored-name"),
						 .ignore_reasons = 1u << GORT_WAIT_SLEEP},
				&t),
		     1);
	ASSERT_HAS(t, "1 coroutine \"d\" [chan receive, ");
	free(t);

	/* a baseline: what was alive when it was taken */
	gort_leak_baseline *b = gort_leak_baseline_take();
	cr_assert_not_null(b);
	for (int i = 0; i < 2; i++)
		spawned(gort_go_with(ign_block, c, .name = "after-baseline"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 8);
	cr_assert_eq(leaks_with((gort_leak_opts){.baseline = b}, &t), 2);
	ASSERT_HAS(t, "2 coroutines \"after-baseline\" [chan receive, ");
	ASSERT_LACKS(t, "\"a\"");
	ASSERT_LACKS(t, "\"e\"");
	free(t);
	EXPECT_LEAKS(9, .baseline = NULL);
	EXPECT_LEAKS(0, .baseline = b, .ignore_names = SITES("after-baseline"));
	EXPECT_LEAKS(2, .ignore_sites = SITES(__FILE__), .ignore_names = SITES("a", "b"));

	/* released: all but the sleeper exit */
	gort_chan_close(c);
	struct lc r;
	lc_run(&r, (gort_leak_opts){.grace_ns = CLEAN_GRACE, .ignore_reasons = 1u << GORT_WAIT_SLEEP});
	ASSERT_CLEAN(&r);
	lc_free(&r);
	lc_run(&r, (gort_leak_opts){.grace_ns = -1, .baseline = b});
	ASSERT_CLEAN(&r); /* the sleeper is in the baseline */
	lc_free(&r);
	gort_leak_baseline_free(b);
	lc_run(&r, (gort_leak_opts){.grace_ns = -1});
	ASSERT_REPORT(&r, 1, 0, 0, 0);
	lc_free(&r);
	gort_chan_release(c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* deadlock detector when embedded (under gort_main: the examples)           */
/* ------------------------------------------------------------------------ */

static const char deadlock_msg[] = "fatal error: all coroutines are asleep - deadlock!\n";

/* gort_start leaves the detector off (a plain thread may still wake them). */
Test(deadlock, off_by_default_when_embedded, .timeout = 20)
{
	static struct parkers pk;
	struct stderr_cap cap;
	stderr_capture(&cap);
	int rc = gort_start(&(gort_config){.procs = 2});
	pk.c = gort_chan_make(0, 0);
	gort_id id = gort_go(parker, &pk);
	gort_coroutine_counts c = wait_reason_count(GORT_WAIT_CHAN_RECV, 1, 20000);
	sleep_ms(400); /* four times the detector's confirmation window */
	char *text = stderr_text(&cap);
	stderr_restore(&cap);
	cr_assert_eq(rc, 0);
	spawned(id);
	cr_assert_eq(c.by_reason[GORT_WAIT_CHAN_RECV], 1);
	cr_assert_not_null(text);
	cr_assert_eq(strstr(text, "deadlock"), NULL, "stderr:\n%s", text);
	free(text);
	/* and a plain thread does wake it */
	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	rt_stop();
	fclose(cap.f);
}

/* deadlock=report: the message and the grouped dump once per stuck state,
 * and the program goes on. */
Test(deadlock, report_once_per_stuck_state, .timeout = 30)
{
	static struct parkers pk, pk2;
	struct stderr_cap cap;
	stderr_capture(&cap);
	int rc = gort_start(&(gort_config){.procs = 2, .debug = "deadlock=report"});
	pk.c = gort_chan_make(0, 0);
	pk2.c = gort_chan_make(0, 0);
	gort_id id = gort_go_with(parker, &pk, .name = "stuck");
	int first = wait_stderr_count(&cap, deadlock_msg, 1, 20000);
	sleep_ms(400); /* would it say it again? */
	char *text1 = stderr_text(&cap);
	/* a plain thread unblocks it; a new stuck state is a new report */
	gort_chan_close(pk.c);
	int64_t left = wait_num_coroutines(0, 5000);
	gort_id id2 = gort_go_with(parker, &pk2, .name = "stuck-again");
	int second = wait_stderr_count(&cap, deadlock_msg, 2, 20000);
	sleep_ms(300);
	char *text2 = stderr_text(&cap);
	stderr_restore(&cap);

	cr_assert_eq(rc, 0);
	spawned(id);
	spawned(id2);
	cr_assert_not_null(text1);
	cr_assert_not_null(text2);
	cr_assert_eq(first, 1, "no report; stderr:\n%s", text1);
	cr_assert_eq(count_of(text1, deadlock_msg), 1, "reported again; stderr:\n%s", text1);
	char *e = ENTRY(text1, "1 coroutine \"stuck\" [chan receive, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&pk.line));
	free(e);
	cr_assert_eq(left, 0);
	cr_assert_eq(second, 2, "the second stuck state was not reported; stderr:\n%s", text2);
	cr_assert_eq(count_of(text2, deadlock_msg), 2, "stderr:\n%s", text2);
	/* the second report is about the second coroutine */
	ASSERT_HAS(text2 + strlen(text1), "1 coroutine \"stuck-again\" [chan receive, ");
	free(text1);
	free(text2);
	gort_chan_close(pk2.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	gort_chan_release(pk2.c);
	rt_stop();
	fclose(cap.f);
}

/* ------------------------------------------------------------------------ */
/* dump signal under load                                                    */
/* ------------------------------------------------------------------------ */

struct churn {
	atomic_int stop;
	gort_chan *never; /* nobody sends: receives end at their deadline */
	gort_mutex mu[8];
	gort_wg done;
};

static void churner(void *p)
{
	struct churn *c = p;
	uint64_t seed = (uint64_t)gort_self() * 0x9E3779B97F4A7C15ULL + 1;
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		uint64_t r = rng_next(&seed);
		switch (r % 4) {
		case 0:
			gort_yield();
			break;
		case 1:
			gort_sleep((int64_t)(r >> 8) % (2 * MS));
			break;
		case 2:
			gort_chan_recv_until(c->never, NULL, NULL, gort_now() + (int64_t)(r >> 8) % MS);
			break;
		default: {
			gort_mutex *mu = &c->mu[(r >> 8) % 8];
			gort_mutex_lock(mu);
			gort_yield();
			gort_mutex_unlock(mu);
			break;
		}
		}
	}
	gort_wg_done(&c->done);
}

/* The sum of the group counts of every dump in text (each dump starts
 * with the header); fills sums[] (at most max), returns how many dumps. */
static int dump_sums(const char *text, const char *header, int64_t *sums, int max)
{
	int k = 0;
	const char *p = strstr(text, header);
	while (p != NULL && k < max) {
		const char *next = strstr(p + 1, header);
		int64_t sum = 0;
		for (const char *l = strchr(p, '\n'); l != NULL && (next == NULL || l < next);
		     l = strchr(l + 1, '\n')) {
			if (l[1] < '0' || l[1] > '9') /* strtoll would skip a blank line */
				continue;
			char *end;
			long long v = strtoll(l + 1, &end, 10);
			if (strncmp(end, " coroutine", 10) == 0)
				sum += v;
		}
		sums[k++] = sum;
		p = next;
	}
	return k;
}

Test(dumpsig, dumps_under_load_on_eight_procs, .timeout = 120)
{
	long n = scaled_min(100000, 5000);
	enum { ROUNDS = 2, SIGNALS = 4 };
	static struct churn ch;
	static const char header[] = "gort: dump on ";
	for (int round = 0; round < ROUNDS; round++) {
		memset(&ch, 0, sizeof ch);
		struct stderr_cap cap;
		stderr_capture(&cap);
		int rc = gort_start(&(gort_config){.procs = 8, .debug = "dumpsig=USR1"});
		long ok = 0;
		if (rc == 0) {
			ch.never = gort_chan_make(0, 0);
			gort_wg_add(&ch.done, n);
			for (long i = 0; i < n; i++)
				ok += gort_go_with(churner, &ch, .name = "churn") > 0;
			gort_wg_add(&ch.done, ok - n);
			for (int s = 0; s < SIGNALS; s++) {
				raise(SIGUSR1);
				sleep_ms(20);
			}
		}
		/* one more signal once the others' dumps have begun: when its
		 * dump begins, theirs are complete (one thread writes them in
		 * turn), all taken while every churner lived */
		int got = rc == 0 ? wait_stderr_count(&cap, header, SIGNALS, 60000) : 0;
		if (got == SIGNALS) {
			raise(SIGUSR1);
			got = wait_stderr_count(&cap, header, SIGNALS + 1, 60000);
		}
		if (rc == 0) {
			atomic_store(&ch.stop, 1);
			gort_wg_wait(&ch.done);
			gort_chan_release(ch.never);
		}
		int64_t left = wait_num_coroutines(0, 10000);
		int stop_rc = rc == 0 ? gort_stop() : 0;
		char *text = stderr_text(&cap);
		stderr_restore(&cap);

		cr_assert_eq(rc, 0, "gort_start = %d", rc);
		cr_assert_eq(ok, n, "spawned %ld of %ld", ok, n);
		cr_assert_eq(stop_rc, 0);
		cr_assert_eq(left, 0);
		cr_assert_not_null(text);
		cr_assert_eq(got, SIGNALS + 1, "round %d: %d dumps for %d signals; stderr:\n%.4000s",
			     round, got, SIGNALS + 1, text);
		cr_assert_eq(count_of(text, " (GORT_DEBUG=dumpsig):\n\n"), SIGNALS + 1);
		cr_assert(strstr(text, "gort: dump on SIGUSR1 ") != NULL ||
				  strstr(text, "gort: dump on signal 10 ") != NULL,
			  "the dump's header does not name SIGUSR1:\n%.300s", text);
		/* every dump shows every churner (they all live until the stop) */
		int64_t sums[SIGNALS + 2];
		int k = dump_sums(text, header, sums, SIGNALS + 2);
		cr_assert_eq(k, SIGNALS + 1);
		for (int i = 0; i < SIGNALS; i++)
			cr_assert_eq(sums[i], n, "round %d, dump %d shows %lld coroutines, want %ld:\n%.4000s",
				     round, i, (long long)sums[i], n, text);
		ASSERT_HAS(text, " coroutines \"churn\" [");
		free(text);
		fclose(cap.f);
	}
}

/* ------------------------------------------------------------------------ */
/* counters                                                                  */
/* ------------------------------------------------------------------------ */

struct workload {
	long n;
	gort_chan *c;
};

static void wl_worker(void *p)
{
	gort_chan_recv((gort_chan *)p, NULL, NULL);
}

static void wl_spawner(void *p)
{
	struct workload *w = p;
	for (long i = 0; i < w->n; i++)
		gort_go(wl_worker, w->c);
}

PROCS_TEST(stats, exact_after_known_workload, 30)
{
	static struct workload w;
	w.n = scaled_min(2000, 200);
	rt_start(procs);
	gort_stats st0, st;
	cr_assert_eq(gort_stats_read(&st0), 0);
	cr_assert_eq(st0.spawns, 0, "a fresh runtime has spawned nothing");
	cr_assert_eq(st0.exits, 0);
	cr_assert_eq(st0.procs, procs);
	cr_assert_eq(gort_num_coroutines(), 0);

	w.c = mk(0, 0);
	co_run(wl_spawner, &w); /* 1 spawn from this plain thread, n from a coroutine */
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, w.n); /* n blocking receives */
	cr_assert_eq(wait_num_coroutines(w.n, 5000), w.n);
	char token = 0;
	for (long i = 0; i < w.n; i++)
		gort_chan_send(w.c, &token);
	wait_stats_settled(&st, 10000);
	cr_assert_eq(gort_num_coroutines(), 0);

	cr_assert_eq(st.spawns - st0.spawns, (uint64_t)w.n + 1, "spawns %llu, want %ld",
		     (unsigned long long)(st.spawns - st0.spawns), w.n + 1);
	cr_assert_eq(st.exits - st0.exits, (uint64_t)w.n + 1, "exits %llu, want %ld",
		     (unsigned long long)(st.exits - st0.exits), w.n + 1);
	cr_assert_geq(st.parks - st0.parks, (uint64_t)w.n, "parks %llu, want >= %ld",
		      (unsigned long long)(st.parks - st0.parks), w.n);
	/* each worker ran once to park and once after its value */
	cr_assert_geq(st.runs - st0.runs, 2 * (uint64_t)w.n + 1, "runs %llu",
		      (unsigned long long)(st.runs - st0.runs));
	cr_assert_geq(st.threads, 1);
	cr_assert_leq(st.idle_procs, procs);

	/* per P: quiescent now, the sums are the totals (spawns less the one
	 * from a plain thread, which no P counts) */
	gort_stats sum;
	memset(&sum, 0, sizeof sum);
	for (int i = 0; i < procs; i++) {
		gort_stats ps;
		cr_assert_eq(gort_proc_stats_read(i, &ps), 0);
		cr_assert_eq(ps.procs, procs);
		sum.spawns += ps.spawns;
		sum.exits += ps.exits;
		sum.runs += ps.runs;
		sum.parks += ps.parks;
		sum.switches += ps.switches;
		sum.yields += ps.yields;
		sum.timers_fired += ps.timers_fired;
	}
	gort_stats st2;
	cr_assert_eq(gort_stats_read(&st2), 0);
	cr_assert_eq(sum.spawns, st2.spawns - 1, "per-P spawns %llu, total %llu (1 from a plain thread)",
		     (unsigned long long)sum.spawns, (unsigned long long)st2.spawns);
	cr_assert_eq(sum.exits, st2.exits);
	cr_assert_eq(sum.runs, st2.runs);
	cr_assert_eq(sum.parks, st2.parks);
	cr_assert_eq(sum.switches, st2.switches);
	cr_assert_eq(sum.yields, st2.yields);
	cr_assert_eq(sum.timers_fired, st2.timers_fired);
	gort_stats bad;
	cr_assert_eq(gort_proc_stats_read(procs, &bad), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(-1, &bad), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(0, NULL), -EINVAL);
	gort_chan_release(w.c);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* watchdog                                                                  */
/* ------------------------------------------------------------------------ */

struct wd {
	atomic_long calls;
	atomic_llong min_live, max_live;
	atomic_int bad_ctx;
	pthread_mutex_t mu;
	char *last_dump;   /* (mu) a copy of the dump of the last call */
	int64_t last_live; /* (mu) */
};

static struct wd the_wd = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Called from the monitor thread only, one call at a time. */
static void wd_fn(int64_t live, const char *dump, void *ctx)
{
	struct wd *w = &the_wd;
	if (ctx != w) {
		atomic_store(&w->bad_ctx, 1);
		return;
	}
	pthread_mutex_lock(&w->mu);
	free(w->last_dump);
	w->last_dump = strdup(dump != NULL ? dump : "(NULL dump)");
	w->last_live = live;
	pthread_mutex_unlock(&w->mu);
	long long cur = atomic_load(&w->min_live);
	while ((cur == 0 || live < cur) && !atomic_compare_exchange_weak(&w->min_live, &cur, live)) {
	}
	cur = atomic_load(&w->max_live);
	while (live > cur && !atomic_compare_exchange_weak(&w->max_live, &cur, live)) {
	}
	atomic_fetch_add(&w->calls, 1);
}

static long wait_calls(struct wd *w, long n)
{
	int64_t deadline = now_ns() + 20000 * MS;
	while (atomic_load(&w->calls) < n && now_ns() < deadline)
		usleep(1000);
	return atomic_load(&w->calls);
}

Test(watchdog, fires_above_threshold_only, .timeout = 30)
{
	struct wd *w = &the_wd;
	static struct parkers pk;
	rt_start(2);
	pk.c = mk(0, 0);
	for (int i = 0; i < 10; i++)
		spawned(gort_go_with(parker, &pk, .name = "below"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 10);
	cr_assert_eq(gort_watchdog_set(50, 20 * MS, wd_fn, w), 0);
	sleep_ms(300); /* some fifteen checks */
	cr_assert_eq(atomic_load(&w->calls), 0, "called with %lld live, threshold 50",
		     (long long)atomic_load(&w->max_live));

	for (int i = 0; i < 100; i++)
		spawned(gort_go_with(parker, &pk, .name = "above"));
	ASSERT_PARKED(GORT_WAIT_CHAN_RECV, 110);
	long c0 = atomic_load(&w->calls); /* some may have come while they were spawned */
	cr_assert_geq(wait_calls(w, c0 + 2), c0 + 2, "the watchdog did not fire with 110 live");
	cr_assert_gt(atomic_load(&w->min_live), 50, "called with %lld live, threshold 50",
		     (long long)atomic_load(&w->min_live));
	cr_assert_eq(atomic_load(&w->max_live), 110, "max live %lld", (long long)atomic_load(&w->max_live));
	cr_assert_eq(atomic_load(&w->bad_ctx), 0, "the callback got another ctx");
	/* it was handed the grouped dump */
	pthread_mutex_lock(&w->mu);
	char *dump = w->last_dump != NULL ? strdup(w->last_dump) : NULL;
	int64_t live = w->last_live;
	pthread_mutex_unlock(&w->mu);
	cr_assert_eq(live, 110);
	cr_assert_not_null(dump);
	char *e = ENTRY(dump, "100 coroutines \"above\" [chan receive, ");
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atomic_load(&pk.line));
	free(e);
	e = ENTRY(dump, "10 coroutines \"below\" [chan receive, ");
	free(e);
	cr_assert_eq(count_of(dump, " coroutine"), 2, "dump:\n%s", dump);
	free(dump);

	/* off: no more calls (one may have been under way) */
	cr_assert_eq(gort_watchdog_set(0, 20 * MS, wd_fn, w), 0);
	sleep_ms(50);
	long calls = atomic_load(&w->calls);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&w->calls), calls, "called after it was turned off");
	/* on again, then off with a NULL function */
	cr_assert_eq(gort_watchdog_set(50, 20 * MS, wd_fn, w), 0);
	cr_assert_geq(wait_calls(w, calls + 2), calls + 2, "the watchdog did not fire again");
	cr_assert_eq(gort_watchdog_set(50, 20 * MS, NULL, w), 0);
	sleep_ms(50);
	calls = atomic_load(&w->calls);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&w->calls), calls, "called after it was turned off");
	/* a threshold the count is not above: silent */
	cr_assert_eq(gort_watchdog_set(110, 20 * MS, wd_fn, w), 0);
	sleep_ms(300);
	cr_assert_eq(atomic_load(&w->calls), calls, "called with 110 live, threshold 110");
	cr_assert_eq(gort_watchdog_set(0, 0, NULL, NULL), 0);

	gort_chan_close(pk.c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_chan_release(pk.c);
	rt_stop();
	free(w->last_dump);
}

/* ------------------------------------------------------------------------ */
/* GORT_DEBUG keys, in child processes                                       */
/* ------------------------------------------------------------------------ */

static int child_schedtrace(void *arg)
{
	(void)arg;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	sleep_ms(300);
	CHILD_CHECK(gort_stop() == 0, 3, "gort_stop");
	return 0;
}

Test(gortdebug, schedtrace_from_environment, .timeout = 30)
{
	static struct child_result r;
	child_run(child_schedtrace, NULL,
		  (const char *const[]){"GORT_DEBUG=schedtrace=50,scheddetail=1", NULL}, &r);
	assert_child_exited_ok(&r);
	cr_assert(strncmp(r.err, "SCHED ", 6) == 0, "stderr does not begin with SCHED:\n%s", r.err);
	assert_stderr_has(&r, " procs=2 ");
	assert_stderr_has(&r, "\n  P0: status=");
	assert_stderr_has(&r, "\n  P1: status=");
	assert_stderr_has(&r, "\n  M");
	cr_assert_geq(count_of(r.err, "SCHED "), 2, "stderr:\n%s", r.err);
	/* every line is a trace line */
	for (const char *l = r.err; *l != '\0'; l = strchr(l, '\n') + 1) {
		cr_assert(strncmp(l, "SCHED ", 6) == 0 || strncmp(l, "  P", 3) == 0 ||
				  strncmp(l, "  M", 3) == 0,
			  "a line that is no trace line:\n%.200s", l);
		if (strchr(l, '\n') == NULL)
			break;
	}
}

static int child_dumpexit(void *arg)
{
	static struct parkers pk;
	(void)arg;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	pk.c = gort_chan_make(0, 0);
	gort_go_with(parker, &pk, .name = "left-behind");
	int64_t deadline = now_ns() + 10000 * MS;
	gort_coroutine_counts c;
	while (gort_coroutine_counts_read(&c) == 0 && c.waiting < 1 && now_ns() < deadline)
		usleep(500);
	fprintf(stderr, "parked at %d\n", atomic_load(&pk.line));
	CHILD_CHECK(gort_stop() == 0, 3, "gort_stop");
	return 0;
}

Test(gortdebug, dumpexit_shows_what_is_left, .timeout = 30)
{
	static struct child_result r;
	child_run(child_dumpexit, NULL, (const char *const[]){"GORT_DEBUG=dumpexit=1", NULL}, &r);
	assert_child_exited_ok(&r);
	assert_stderr_has(&r, "gort: coroutines alive at stop (GORT_DEBUG=dumpexit=1):\n\n");
	char *e = ENTRY(r.err, "1 coroutine \"left-behind\" [chan receive, ");
	const char *p = strstr(r.err, "parked at ");
	cr_assert_not_null(p);
	ASSERT_HAS(e, "\n\tblocked at %s:%d\n", __FILE__, atoi(p + strlen("parked at ")));
	free(e);
	/* nothing left: nothing said */
	child_run(child_schedtrace, NULL, (const char *const[]){"GORT_DEBUG=dumpexit=1", NULL}, &r);
	assert_child_exited_ok(&r);
	cr_assert_str_empty(r.err, "stderr:\n%s", r.err);
}

static void leak_forever(void *p)
{
	gort_chan_recv((gort_chan *)p, NULL, NULL);
}

static int main_leaking(void *arg)
{
	gort_chan *c = arg;
	gort_go_with(leak_forever, c, .name = "forgotten");
	return 0;
}

static int main_clean(void *arg)
{
	(void)arg;
	return 5;
}

static int child_gort_main(void *arg)
{
	static gort_chan *c;
	c = gort_chan_make(0, 0);
	return gort_main(arg != NULL ? main_leaking : main_clean, c);
}

/* leakcheck=1 from the environment: gort_main exits with status 1 after
 * the report; a clean main keeps its own status. */
Test(gortdebug, leakcheck_at_main_return, .timeout = 30)
{
	static struct child_result r;
	child_run(child_gort_main, (void *)1, (const char *const[]){"GORT_DEBUG=leakcheck=1", NULL}, &r);
	char d[96];
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1,
		  "child should exit with status 1 but %s; stderr:\n%s", child_describe(&r, d, sizeof d),
		  r.err);
	assert_stderr_has(&r, "gort: leak check: 1 coroutine still alive after ");
	assert_stderr_has(&r, "1 coroutine \"forgotten\" [chan receive, ");
	assert_stderr_has(&r, "gort: leak check (GORT_DEBUG=leakcheck=1): 1 leak; exit status 1\n");

	child_run(child_gort_main, NULL, (const char *const[]){"GORT_DEBUG=leakcheck=1", NULL}, &r);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 5,
		  "child should exit with main's 5 but %s; stderr:\n%s", child_describe(&r, d, sizeof d),
		  r.err);
	cr_assert_str_empty(r.err, "stderr:\n%s", r.err);

	/* without the option the leak is not checked */
	child_run(child_gort_main, (void *)1, NULL, &r);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "child should exit 0 but %s; stderr:\n%s", child_describe(&r, d, sizeof d), r.err);
	cr_assert_str_empty(r.err, "stderr:\n%s", r.err);
}

/* deadlock=off under gort_main: everything parked for 400 ms, then a plain
 * thread wakes main; no report. */
static gort_chan *late_gate;

static void *late_opener(void *arg)
{
	(void)arg;
	sleep_ms(400);
	gort_chan_close(late_gate);
	return NULL;
}

static int main_waits_for_thread(void *arg)
{
	(void)arg;
	gort_chan_recv(late_gate, NULL, NULL);
	return 0;
}

static int child_deadlock_off(void *arg)
{
	(void)arg;
	late_gate = gort_chan_make(0, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, late_opener, NULL) != 0)
		return 9;
	int rc = gort_main(main_waits_for_thread, NULL);
	pthread_join(th, NULL);
	return rc;
}

Test(gortdebug, deadlock_off_under_main, .timeout = 30)
{
	static struct child_result r;
	child_run(child_deadlock_off, NULL, (const char *const[]){"GORT_DEBUG=deadlock=off", NULL}, &r);
	assert_child_exited_ok(&r);
	cr_assert_eq(strstr(r.err, "deadlock"), NULL, "stderr:\n%s", r.err);
}

static int child_bad_values(void *arg)
{
	(void)arg;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start with bad GORT_DEBUG values = %d", rc);
	CHILD_CHECK(gort_stop() == 0, 3, "gort_stop");
	/* the same in gort_config.debug: refused */
	static const char *const bad[] = {"deadlock=maybe", "schedtrace=x", "dumpsig=KILL",
					  "dumpsig=9", "leakcheck=2", "dumpexit=yes"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = gort_start(&(gort_config){.procs = 1, .debug = bad[i]});
		CHILD_CHECK(rc == -EINVAL, 4, "gort_config.debug = \"%s\": gort_start = %d", bad[i], rc);
	}
	rc = gort_start(&(gort_config){.procs = 1, .debug = "deadlock=report,dumpsig=SIGUSR2,leakcheck=1,"
								 "dumpexit=0,schedtrace=0,scheddetail=1"});
	CHILD_CHECK(rc == 0, 5, "good options refused: %d", rc);
	CHILD_CHECK(gort_stop() == 0, 6, "gort_stop");
	return 0;
}

Test(gortdebug, bad_values_are_reported, .timeout = 30)
{
	static struct child_result r;
	child_run(child_bad_values, NULL,
		  (const char *const[]){"GORT_DEBUG=deadlock=maybe,schedtrace=x,dumpsig=KILL,leakcheck=2", NULL},
		  &r);
	assert_child_exited_ok(&r);
	assert_stderr_has(&r, "gort: GORT_DEBUG: deadlock=maybe: bad value, option ignored\n");
	assert_stderr_has(&r, "gort: GORT_DEBUG: schedtrace=x: bad value, option ignored\n");
	assert_stderr_has(&r, "gort: GORT_DEBUG: dumpsig=KILL: bad value, option ignored\n");
	assert_stderr_has(&r, "gort: GORT_DEBUG: leakcheck=2: bad value, option ignored\n");
	assert_stderr_has(&r, "gort: gort_config.debug: dumpsig=9: bad value, option ignored\n");
	assert_stderr_has(&r, "gort: gort_config.debug: dumpexit=yes: bad value, option ignored\n");
	cr_assert_eq(strstr(r.err, "SCHED"), NULL, "stderr:\n%s", r.err);
}
