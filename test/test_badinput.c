/*
 * test_badinput.c — bad input to the public calls (issue 9, part 5): NULL,
 * zero, negative and huge pointers, sizes and counts; bad configuration
 * (environment and gort_config); calls out of the runtime's life cycle.
 *
 *   badinput   table-driven: the calls that return an error code give
 *              -EINVAL (-ESRCH, -EBADF, ...) and do nothing; the void and
 *              bool calls on a NULL object panic with a message naming
 *              the call (checked with gort_protect on a plain thread and
 *              in a coroutine, at procs 1 and 2); sizes that are negative
 *              as signed numbers, overflowing or too large to add to the
 *              clock; gort_strerror's texts (GORT_PANICKED is not EPERM)
 *   badconfig  GORT_PROCS, GORT_STACK_SIZE, GORT_MAX_THREADS and GORT_DEBUG
 *              with bad values in child processes (one line on stderr,
 *              the default used); the same values as gort_config fields
 *              (-EINVAL, nothing printed, nothing started)
 *   badlife    every call from a plain thread while the runtime is not
 *              running; channels, contexts, timers and gort_fd handles
 *              made in one run and used after gort_stop and after a
 *              restart (a deadline settled late, descriptors closed by
 *              the stop, a second close seen as -EBADF); a release after
 *              the last one (a fatal error while the memory is not reused)
 */
#include "chan_helpers.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#define MS INT64_C(1000000)

/* One body, two Tests: name_procs1 and name_procs2. */
#define PROCS12_TEST(suite, name, tmo)                                                 \
	static void suite##_##name##_body(int procs);                                  \
	Test(suite, name##_procs1, .timeout = (tmo)) { suite##_##name##_body(1); }     \
	Test(suite, name##_procs2, .timeout = (tmo)) { suite##_##name##_body(2); }     \
	static void suite##_##name##_body(int procs)

/* ------------------------------------------------------------------------ */
/* Panics on a NULL object (and Go's other misuse panics)                    */
/* ------------------------------------------------------------------------ */

static gort_mutex pmu = GORT_MUTEX_INIT;
static gort_cond pcond = GORT_COND_INIT;
static gort_once ponce = GORT_ONCE_INIT;

static void nop(void *p)
{
	(void)p;
}

static void p_wg_add(void *p) { (void)p; gort_wg_add(NULL, 1); }
static void p_wg_done(void *p) { (void)p; gort_wg_done(NULL); }
static void p_wg_wait(void *p) { (void)p; gort_wg_wait(NULL); }
static void p_wg_negative(void *p) { (void)p; gort_wg wg = GORT_WG_INIT; gort_wg_add(&wg, -1); }
static void p_wg_delta_max(void *p) { (void)p; gort_wg wg = GORT_WG_INIT; gort_wg_add(&wg, INT64_MAX); }
static void p_wg_delta_min(void *p) { (void)p; gort_wg wg = GORT_WG_INIT; gort_wg_add(&wg, INT64_MIN); }
static void p_mu_lock(void *p) { (void)p; gort_mutex_lock(NULL); }
static void p_mu_trylock(void *p) { (void)p; (void)gort_mutex_trylock(NULL); }
static void p_mu_unlock(void *p) { (void)p; gort_mutex_unlock(NULL); }
static void p_mu_unlocked(void *p) { (void)p; gort_mutex mu = GORT_MUTEX_INIT; gort_mutex_unlock(&mu); }
static void p_rw_lock(void *p) { (void)p; gort_rwmutex_lock(NULL); }
static void p_rw_rlock(void *p) { (void)p; gort_rwmutex_rlock(NULL); }
static void p_rw_trylock(void *p) { (void)p; (void)gort_rwmutex_trylock(NULL); }
static void p_rw_tryrlock(void *p) { (void)p; (void)gort_rwmutex_tryrlock(NULL); }
static void p_rw_unlock(void *p) { (void)p; gort_rwmutex_unlock(NULL); }
static void p_rw_runlock(void *p) { (void)p; gort_rwmutex_runlock(NULL); }
static void p_rw_unlocked(void *p) { (void)p; gort_rwmutex rw = GORT_RWMUTEX_INIT; gort_rwmutex_unlock(&rw); }
static void p_rw_runlocked(void *p) { (void)p; gort_rwmutex rw = GORT_RWMUTEX_INIT; gort_rwmutex_runlock(&rw); }
static void p_once_null(void *p) { (void)p; gort_once_do(NULL, nop, NULL); }
static void p_once_fn(void *p) { (void)p; gort_once_do(&ponce, NULL, NULL); }
static void p_cond_wait_c(void *p) { (void)p; gort_cond_wait(NULL, &pmu); }
static void p_cond_wait_mu(void *p) { (void)p; gort_cond_wait(&pcond, NULL); }
static void p_cond_signal(void *p) { (void)p; gort_cond_signal(NULL); }
static void p_cond_broadcast(void *p) { (void)p; gort_cond_broadcast(NULL); }
static void p_sem_try(void *p) { (void)p; (void)gort_sem_try_acquire(NULL, 1); }
static void p_sem_release(void *p) { (void)p; gort_sem_release(NULL, 1); }
static void p_sem_over(void *p) { gort_sem_release(p, 1); } /* nothing held */
static void p_sem_neg(void *p) { gort_sem_release(p, -1); }
static void p_sem_min(void *p) { gort_sem_release(p, INT64_MIN); }
static void p_close_nil(void *p) { (void)p; gort_chan_close(NULL); }
static void p_close_closed(void *p) { gort_chan_close(p); }
static void p_send_closed(void *p) { int v = 1; (void)gort_chan_send(p, &v); }
static void p_try_send_closed(void *p) { int v = 1; (void)gort_chan_try_send(p, &v); }
static void p_ctx_nil_key(void *p) { (void)p; (void)gort_ctx_with_value(NULL, NULL, NULL); }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
static void p_panic_null(void *p)
{
	(void)p;
	const char *volatile fmt = NULL;
	gort_panic(fmt);
}
#pragma GCC diagnostic pop

struct panic_case {
	const char *what;
	void (*fn)(void *);
	int arg; /* 1: a semaphore of size 1; 2: a closed int channel */
	const char *message; /* exact, or the start of it with a trailing '*' */
};

static const struct panic_case panic_cases[] = {
	{"wg_add(NULL)", p_wg_add, 0, "gort_wg_add: wg is NULL"},
	{"wg_done(NULL)", p_wg_done, 0, "gort_wg_add: wg is NULL"},
	{"wg_wait(NULL)", p_wg_wait, 0, "gort_wg_wait: wg is NULL"},
	{"wg counter -1", p_wg_negative, 0, "sync: negative WaitGroup counter"},
	{"wg delta INT64_MAX", p_wg_delta_max, 0, "sync: WaitGroup delta out of range"},
	{"wg delta INT64_MIN", p_wg_delta_min, 0, "sync: WaitGroup delta out of range"},
	{"mutex_lock(NULL)", p_mu_lock, 0, "gort_mutex_lock: mu is NULL"},
	{"mutex_trylock(NULL)", p_mu_trylock, 0, "gort_mutex_trylock: mu is NULL"},
	{"mutex_unlock(NULL)", p_mu_unlock, 0, "gort_mutex_unlock: mu is NULL"},
	{"unlock of unlocked mutex", p_mu_unlocked, 0, "sync: unlock of unlocked mutex"},
	{"rwmutex_lock(NULL)", p_rw_lock, 0, "gort_rwmutex_lock: rw is NULL"},
	{"rwmutex_rlock(NULL)", p_rw_rlock, 0, "gort_rwmutex_rlock: rw is NULL"},
	{"rwmutex_trylock(NULL)", p_rw_trylock, 0, "gort_rwmutex_trylock: rw is NULL"},
	{"rwmutex_tryrlock(NULL)", p_rw_tryrlock, 0, "gort_rwmutex_tryrlock: rw is NULL"},
	{"rwmutex_unlock(NULL)", p_rw_unlock, 0, "gort_rwmutex_unlock: rw is NULL"},
	{"rwmutex_runlock(NULL)", p_rw_runlock, 0, "gort_rwmutex_runlock: rw is NULL"},
	{"unlock of unlocked rwmutex", p_rw_unlocked, 0, "sync: Unlock of unlocked RWMutex"},
	{"runlock of unlocked rwmutex", p_rw_runlocked, 0, "sync: RUnlock of unlocked RWMutex"},
	{"once_do(NULL, fn)", p_once_null, 0, "gort_once_do: o is NULL"},
	{"once_do(o, NULL)", p_once_fn, 0, "gort_once_do: fn is NULL"},
	{"cond_wait(NULL, mu)", p_cond_wait_c, 0, "gort_cond_wait: c is NULL"},
	{"cond_wait(c, NULL)", p_cond_wait_mu, 0, "gort_cond_wait: mu is NULL"},
	{"cond_signal(NULL)", p_cond_signal, 0, "gort_cond_signal: c is NULL"},
	{"cond_broadcast(NULL)", p_cond_broadcast, 0, "gort_cond_broadcast: c is NULL"},
	{"sem_try_acquire(NULL)", p_sem_try, 0, "gort_sem_try_acquire: s is NULL"},
	{"sem_release(NULL)", p_sem_release, 0, "gort_sem_release: s is NULL"},
	{"sem_release past held", p_sem_over, 1, "semaphore: released more than held"},
	{"sem_release(-1)", p_sem_neg, 1, "semaphore: released more than held"},
	{"sem_release(INT64_MIN)", p_sem_min, 1, "semaphore: released more than held"},
	{"chan_close(NULL)", p_close_nil, 0, "close of nil channel"},
	{"close of closed channel", p_close_closed, 2, "close of closed channel"},
	{"send on closed channel", p_send_closed, 2, "send on closed channel"},
	{"try_send on closed channel", p_try_send_closed, 2, "send on closed channel"},
	{"ctx_with_value(NULL key)", p_ctx_nil_key, 0, "context: nil key"},
	{"gort_panic(NULL)", p_panic_null, 0, "panic called with nil argument*"},
};

static bool message_is(const char *got, const char *want)
{
	size_t n = strlen(want);
	if (n && want[n - 1] == '*')
		return strncmp(got, want, n - 1) == 0;
	return strcmp(got, want) == 0;
}

/* Every panic case on the calling thread (plain or coroutine). */
static void run_panic_cases(void *p)
{
	(void)p;
	gort_sem *s = gort_sem_new(1);
	gort_chan *closed = gort_chan_make(sizeof(int), 1);
	CO_CHECK(s && closed, "setup");
	if (!s || !closed)
		return;
	gort_chan_close(closed);
	for (size_t i = 0; i < sizeof panic_cases / sizeof panic_cases[0]; i++) {
		const struct panic_case *c = &panic_cases[i];
		void *arg = c->arg == 1 ? (void *)s : c->arg == 2 ? (void *)closed : NULL;
		gort_panic_info info;
		int rc = protected_call(c->fn, arg, &info);
		CO_CHECK(rc == GORT_PANICKED, "%s on %s: gort_protect = %d, no panic", c->what,
			 gort_self() ? "a coroutine" : "a plain thread", rc);
		if (rc == GORT_PANICKED) {
			CO_CHECK(message_is(info.message, c->message), "%s: panic \"%s\", want \"%s\"",
				 c->what, info.message, c->message);
			CO_CHECK(info.runtime_error, "%s: not a runtime error", c->what);
		}
	}
	/* the objects the panics were about are untouched */
	CO_CHECK(gort_sem_try_acquire(s, 1), "the semaphore lost a unit to a refused release");
	gort_sem_release(s, 1);
	gort_chan_release(closed);
	gort_sem_free(s);
}

PROCS12_TEST(badinput, null_objects_panic, 30)
{
	run_panic_cases(NULL); /* a plain thread, runtime not running */
	CO_ASSERT_NO_FAILURES();
	rt_start(procs);
	run_panic_cases(NULL);
	co_run(run_panic_cases, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* A once whose fn was NULL is not marked done: the next good call runs. */
static void count_once(void *p)
{
	(*(int *)p)++;
}

Test(badinput, once_with_null_fn_stays_undone, .timeout = 10)
{
	gort_once o = GORT_ONCE_INIT;
	gort_panic_info info;
	cr_assert_eq(protected_call(p_once_fn, NULL, &info), GORT_PANICKED);
	int n = 0;
	gort_once_do(&o, count_once, &n);
	gort_once_do(&o, count_once, &n);
	cr_assert_eq(n, 1);
}

/* ------------------------------------------------------------------------ */
/* Error codes                                                               */
/* ------------------------------------------------------------------------ */

Test(badinput, strerror_texts, .timeout = 10)
{
	cr_assert_str_eq(gort_strerror(GORT_PANICKED), "panicked (the panic was recovered)");
	cr_assert_str_eq(gort_strerror(-EPERM), "Operation not permitted",
			 "-EPERM must keep glibc's text");
	cr_assert_str_eq(gort_strerror(0), "success");
	cr_assert_str_eq(gort_strerror(-ESRCH), "the gort runtime is not running");
	cr_assert_str_eq(gort_strerror(ESRCH), "the gort runtime is not running");
	cr_assert_str_eq(gort_strerror(GORT_CANCELED), "context canceled");
	cr_assert_str_eq(gort_strerror(GORT_DEADLINE_EXCEEDED), "deadline exceeded");
	cr_assert_str_eq(gort_strerror(-EINVAL), "Invalid argument");
	cr_assert_str_eq(gort_strerror(INT_MIN), "unknown error");
	cr_assert_str_eq(gort_strerror(INT_MAX), "unknown error");
	cr_assert_str_eq(gort_strerror(-100000), "unknown error");
	/* what gort_protect returns reads as a panic */
	gort_panic_info info;
	int rc = protected_call(p_mu_unlock, NULL, &info);
	cr_assert_eq(rc, GORT_PANICKED);
	cr_assert(strstr(gort_strerror(rc), "panic") != NULL, "%s", gort_strerror(rc));
}

Test(badinput, wait_reason_names_out_of_range, .timeout = 10)
{
	int bad[] = {-1, GORT_WAIT_NONE, GORT_WAIT_REASONS, GORT_WAIT_REASONS + 1, INT_MAX, INT_MIN};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_str_eq(gort_wait_reason_name((gort_wait_reason)bad[i]), "?", "reason %d", bad[i]);
	cr_assert_str_eq(gort_wait_reason_name(GORT_WAIT_CHAN_RECV), "chan receive");
}

/* gort_chan_make: sizes negative as signed numbers, overflowing products,
 * sizes no allocator can give.  NULL, never a channel. */
Test(badinput, chan_make_sizes, .timeout = 10)
{
	static const struct {
		size_t elem, cap;
	} bad[] = {
		{1, (size_t)-1},           /* a cap of -1 */
		{0, (size_t)-1},           /* even with no buffer to allocate */
		{sizeof(int), (size_t)-5}, /* a cap of -5 */
		{(size_t)-1, 0},           /* an element size of -1 */
		{(size_t)-1, 1},
		{(size_t)PTRDIFF_MAX + 1, 0},
		{0, (size_t)PTRDIFF_MAX + 1},
		{8, SIZE_MAX / 8},         /* the product overflows */
		{SIZE_MAX / 2 + 1, 4},
		{SIZE_MAX / 8, SIZE_MAX / 8},
		{1 << 20, (size_t)1 << 44}, /* 2^64 bytes */
		{(size_t)1 << 32, (size_t)1 << 31},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_null(gort_chan_make(bad[i].elem, bad[i].cap), "gort_chan_make(%zu, %zu)",
			       bad[i].elem, bad[i].cap);
#if !defined(GORT_TEST_ASAN) && !defined(GORT_TEST_TSAN) /* their allocators abort on impossible sizes */
	cr_assert_null(gort_chan_make(1, (size_t)1 << 60), "a channel of 2^60 bytes");
	cr_assert_null(gort_chan_make(8, (size_t)1 << 58), "a channel of 2^61 bytes");
#endif
	/* edges that are fine: a signal channel with a huge (non-negative) cap,
	 * as Go's make(chan struct{}, 1<<40), costs nothing */
	gort_chan *c = gort_chan_make(0, (size_t)1 << 40);
	cr_assert_not_null(c);
	cr_assert_eq(gort_chan_cap(c), (size_t)1 << 40);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(gort_chan_try_send(c, NULL), 0);
	cr_assert_eq(gort_chan_len(c), 1000);
	gort_chan_release(c);
	cr_assert_eq(gort_chan_len(NULL), 0);
	cr_assert_eq(gort_chan_cap(NULL), 0);
	gort_chan_release(NULL);
	cr_assert_null(gort_chan_retain(NULL));
}

/* Sends with nothing to send, selects with bad cases: -EINVAL, and the
 * channels are untouched. */
static void chan_bad_args(void *p)
{
	(void)p;
	gort_chan *c = gort_chan_make(sizeof(int), 2);
	gort_chan *sig = gort_chan_make(0, 1);
	CO_CHECK(c && sig, "make");
	if (!c || !sig)
		return;
	int v = 7;
	CO_CHECK(gort_chan_send(c, NULL) == -EINVAL, "send(c, NULL)");
	CO_CHECK(gort_chan_try_send(c, NULL) == -EINVAL, "try_send(c, NULL)");
	CO_CHECK(gort_chan_send_until(c, NULL, gort_now() + 1000 * MS) == -EINVAL, "send_until(NULL)");
	CO_CHECK(gort_chan_send_ctx(NULL, c, NULL) == -EINVAL, "send_ctx(NULL)");
	CO_CHECK(gort_chan_len(c) == 0, "a refused send buffered something");
	/* a signal channel needs no value */
	CO_CHECK(gort_chan_send(sig, NULL) == 0, "send(sig, NULL)");
	CO_CHECK(gort_chan_recv(sig, NULL, NULL) == 0, "recv(sig, NULL)");
	/* receiving into NULL drops the value */
	CO_CHECK(gort_chan_send(c, &v) == 0, "send");
	CO_CHECK(gort_chan_recv(c, NULL, NULL) == 0 && gort_chan_len(c) == 0, "recv(c, NULL)");

	gort_case good = {.chan = c, .dir = GORT_RECV, .elem = &v};
	gort_case cases[][2] = {
		{{.chan = c, .dir = 2, .elem = &v}, good},
		{{.chan = c, .dir = -1, .elem = &v}, good},
		{{.chan = NULL, .dir = 99}, good}, /* a bad dir even on a nil channel */
		{{.chan = c, .dir = GORT_SEND, .elem = NULL}, good},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CO_CHECK(gort_select(cases[i], 2, true) == -EINVAL, "select case set %zu", i);
		CO_CHECK(gort_select(cases[i], 2, false) == -EINVAL, "blocking select, set %zu", i);
		CO_CHECK(gort_select_until(cases[i], 2, gort_now() + 1000 * MS) == -EINVAL,
			 "select_until, set %zu", i);
		CO_CHECK(gort_select_until(cases[i], 2, INT64_MIN) == -EINVAL, "select_until past %zu", i);
		CO_CHECK(gort_select_ctx(NULL, cases[i], 2) == -EINVAL, "select_ctx, set %zu", i);
	}
	CO_CHECK(gort_select(NULL, 1, true) == -EINVAL, "select(NULL, 1)");
	CO_CHECK(gort_select(NULL, SIZE_MAX, false) == -EINVAL, "select(NULL, SIZE_MAX)");
	CO_CHECK(gort_select_until(NULL, 1, 0) == -EINVAL, "select_until(NULL, 1)");
	CO_CHECK(gort_select_ctx(NULL, NULL, 3) == -EINVAL, "select_ctx(NULL, 3)");
	CO_CHECK(gort_select(NULL, 0, true) == -EAGAIN, "select(NULL, 0) nonblocking");
	/* more cases than Go allows (reflect.Select: 65536); exactly that many
	 * is fine */
	gort_case *many = calloc(65537, sizeof *many);
	CO_CHECK(many != NULL, "calloc");
	if (many) {
		CO_CHECK(gort_select(many, 65537, true) == -EINVAL, "65537 cases");
		CO_CHECK(gort_select(many, (size_t)-1, true) == -EINVAL, "(size_t)-1 cases");
		CO_CHECK(gort_select_ctx(NULL, many, 65537) == -EINVAL, "select_ctx 65537 cases");
		CO_CHECK(gort_select_until(many, 65537, 0) == -EINVAL, "select_until 65537 cases");
		many[65535] = good;
		CO_CHECK(gort_chan_send(c, &v) == 0, "send");
		CO_CHECK(gort_select(many, 65536, true) == 65535, "65536 cases, the last ready");
		free(many);
	}
	/* a deadline too far or too past to add to the clock */
	CO_CHECK(gort_chan_recv_until(c, &v, NULL, INT64_MIN) == -ETIMEDOUT, "recv_until(INT64_MIN)");
	CO_CHECK(gort_chan_send(c, &v) == 0, "send");
	CO_CHECK(gort_chan_recv_until(c, &v, NULL, INT64_MAX) == 0 && v == 7, "recv_until(INT64_MAX)");
	gort_chan_release(sig);
	gort_chan_release(c);
}

PROCS12_TEST(badinput, chan_and_select_args, 30)
{
	rt_start(procs);
	chan_bad_args(NULL);
	co_run(chan_bad_args, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* Spawning: NULL function, stack sizes of 1 byte, 1 TB, (size_t)-1. */
static void spawn_bad_args(void *p)
{
	(void)p;
	CO_CHECK(gort_go(NULL, NULL) == -EINVAL, "gort_go(NULL)");
	CO_CHECK(gort_go_opts(NULL, NULL, NULL, NULL, 0) == -EINVAL, "gort_go_opts(NULL)");
	size_t bad[] = {1, 4096, GORT_MIN_STACK_SIZE - 1, (size_t)GORT_MAX_STACK_SIZE + 1,
			(size_t)1 << 40, SIZE_MAX, (size_t)-4096};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CO_CHECK(gort_go_with(nop, NULL, .stack_size = bad[i]) == -EINVAL, "stack size %zu",
			 bad[i]);
	/* the edges, and a name longer than the buffer, or NULL */
	CO_CHECK(gort_go_with(nop, NULL, .stack_size = GORT_MIN_STACK_SIZE) > 0, "min stack");
	CO_CHECK(gort_go_with(nop, NULL, .stack_size = GORT_MAX_STACK_SIZE) > 0, "max stack");
	CO_CHECK(gort_go_with(nop, NULL, .name = "a name far longer than the thirty-one bytes kept") > 0,
		 "long name");
	CO_CHECK(gort_go_with(nop, NULL, .name = NULL) > 0, "NULL name");
	CO_CHECK(gort_go_opts(nop, NULL, NULL, NULL, -1) > 0, "no spawn site");
}

PROCS12_TEST(badinput, spawn_args, 30)
{
	rt_start(procs);
	spawn_bad_args(NULL);
	co_run(spawn_bad_args, NULL);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
}

/* Durations too large to add to the clock are "never", not the past. */
static void time_bad_args(void *p)
{
	(void)p;
	CO_CHECK(gort_sleep(INT64_MIN) == 0, "sleep(INT64_MIN)");
	CO_CHECK(gort_sleep(-1) == 0, "sleep(-1)");
	CO_CHECK(gort_sleep_ctx(NULL, INT64_MIN) == 0, "sleep_ctx(INT64_MIN)");
	CO_CHECK(gort_ticker_new(0) == NULL && gort_ticker_new(-1) == NULL &&
			 gort_ticker_new(INT64_MIN) == NULL,
		 "a ticker without a positive period");
	CO_CHECK(gort_timer_chan(NULL) == NULL, "timer_chan(NULL)");
	CO_CHECK(!gort_timer_stop(NULL), "timer_stop(NULL)");
	CO_CHECK(gort_timer_reset(NULL, MS) == 0, "timer_reset(NULL)");
	gort_timer_free(NULL);

	gort_timer *never = gort_timer_new(INT64_MAX);
	gort_timer *tk = gort_ticker_new(INT64_MAX);
	gort_timer *now = gort_timer_new(INT64_MIN); /* fires at once */
	gort_chan *after = gort_after(INT64_MAX);
	CO_CHECK(never && tk && now && after, "timers");
	if (!never || !tk || !now || !after)
		return;
	int64_t t;
	CO_CHECK(gort_chan_recv_until(gort_timer_chan(now), &t, NULL, gort_now() + 5000 * MS) == 0,
		 "timer_new(INT64_MIN) did not fire");
	gort_sleep(20 * MS);
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(never), &t, NULL) == -EAGAIN, "INT64_MAX fired");
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(tk), &t, NULL) == -EAGAIN, "ticker fired");
	CO_CHECK(gort_chan_try_recv(after, &t, NULL) == -EAGAIN, "after(INT64_MAX) fired");
	CO_CHECK(gort_timer_reset(never, INT64_MAX - 1) == 1, "reset of an armed timer");
	CO_CHECK(gort_timer_reset(now, INT64_MIN) == 0, "reset of a fired timer");
	CO_CHECK(gort_chan_recv_until(gort_timer_chan(now), &t, NULL, gort_now() + 5000 * MS) == 0,
		 "reset(INT64_MIN) did not fire");
	CO_CHECK(gort_timer_stop(never), "stop of an armed timer");
	/* a sleep with a context and a huge duration is cut by the context */
	gort_ctx *c = gort_ctx_with_timeout(NULL, 20 * MS);
	CO_CHECK(c != NULL, "with_timeout");
	CO_CHECK(gort_sleep_ctx(c, INT64_MAX) == GORT_DEADLINE_EXCEEDED, "sleep_ctx(INT64_MAX)");
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	gort_timer_free(never);
	gort_timer_free(tk);
	gort_timer_free(now);
	gort_chan_release(after);
}

PROCS12_TEST(badinput, time_args, 30)
{
	rt_start(procs);
	time_bad_args(NULL);
	co_run(time_bad_args, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

static int grp_member(gort_ctx *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	return 0;
}

static void ctxcount(void *p)
{
	atomic_fetch_add((atomic_int *)p, 1);
}

/* Contexts, sync values and groups: NULL objects and out-of-range counts
 * give -EINVAL (or NULL, false) where the call returns one. */
static void ctx_sync_bad_args(void *p)
{
	(void)p;
	static int key;
	/* contexts */
	CO_CHECK(gort_ctx_value(NULL, &key) == NULL, "value(NULL)");
	CO_CHECK(gort_ctx_err(NULL) == 0 && gort_ctx_cause(NULL) == 0, "err(NULL)");
	CO_CHECK(!gort_ctx_deadline(NULL, NULL), "deadline(NULL)");
	CO_CHECK(gort_ctx_done(NULL) == NULL, "done(NULL)");
	gort_ctx_cancel(NULL);
	gort_ctx_cancel_cause(NULL, -EIO);
	gort_ctx_release(NULL);
	CO_CHECK(gort_ctx_retain(NULL) == NULL, "retain(NULL)");
	gort_ctx_release(gort_ctx_retain(gort_ctx_background()));
	gort_ctx_cancel(gort_ctx_background());
	CO_CHECK(gort_ctx_err(gort_ctx_background()) == 0, "background cancelled");
	CO_CHECK(gort_ctx_after_func(NULL, NULL, NULL) == NULL, "after_func(NULL fn)");
	CO_CHECK(!gort_ctx_after_func_stop(NULL), "after_func_stop(NULL)");
	gort_ctx *past = gort_ctx_with_timeout(NULL, INT64_MIN);
	gort_ctx *far = gort_ctx_with_timeout(NULL, INT64_MAX);
	gort_ctx *dl0 = gort_ctx_with_deadline(NULL, INT64_MIN);
	CO_CHECK(past && far && dl0, "with_timeout/deadline");
	if (past && far && dl0) {
		CO_CHECK(gort_ctx_err(past) == GORT_DEADLINE_EXCEEDED, "timeout(INT64_MIN) not done");
		CO_CHECK(gort_ctx_err(dl0) == GORT_DEADLINE_EXCEEDED, "deadline(INT64_MIN) not done");
		int64_t d = 0;
		CO_CHECK(gort_ctx_err(far) == 0 && gort_ctx_deadline(far, &d) && d == INT64_MAX,
			 "timeout(INT64_MAX): deadline %lld", (long long)d);
		CO_CHECK(gort_ctx_deadline(far, NULL), "deadline(c, NULL)");
		gort_ctx_cancel_cause(far, INT_MIN);
		CO_CHECK(gort_ctx_cause(far) == INT_MIN && gort_ctx_err(far) == GORT_CANCELED, "INT_MIN cause");
		CO_CHECK(gort_ctx_value(far, NULL) == NULL, "value(c, NULL)");
		atomic_int n = 0;
		gort_ctx_after *a = gort_ctx_after_func(past, ctxcount, &n);
		CO_CHECK(a != NULL, "after_func on a done context");
		CO_CHECK(wait_ge(&n, 1, 5000), "after_func on a done context did not run");
		if (a)
			gort_ctx_after_func_stop(a);
	}
	gort_ctx_cancel(past);
	gort_ctx_release(past);
	gort_ctx_release(far);
	gort_ctx_cancel(dl0);
	gort_ctx_release(dl0);

	/* sync: the int-returning calls */
	gort_mutex mu = GORT_MUTEX_INIT;
	CO_CHECK(gort_mutex_lock_ctx(NULL, NULL) == -EINVAL, "mutex_lock_ctx(NULL)");
	CO_CHECK(gort_rwmutex_lock_ctx(NULL, NULL) == -EINVAL, "rwmutex_lock_ctx(NULL)");
	CO_CHECK(gort_rwmutex_rlock_ctx(NULL, NULL) == -EINVAL, "rwmutex_rlock_ctx(NULL)");
	gort_cond cv = GORT_COND_INIT;
	gort_mutex_lock(&mu);
	CO_CHECK(gort_cond_wait_ctx(NULL, NULL, &mu) == -EINVAL, "cond_wait_ctx(NULL c)");
	CO_CHECK(gort_cond_wait_ctx(NULL, &cv, NULL) == -EINVAL, "cond_wait_ctx(NULL mu)");
	CO_CHECK(!gort_mutex_trylock(&mu), "a refused cond wait unlocked mu");
	gort_mutex_unlock(&mu);
	CO_CHECK(gort_wg_wait_ctx(NULL, NULL) == -EINVAL, "wg_wait_ctx(NULL)");
	CO_CHECK(gort_sem_new(-1) == NULL && gort_sem_new(INT64_MIN) == NULL, "sem_new(< 0)");
	gort_sem_free(NULL);
	CO_CHECK(gort_sem_acquire(NULL, 1) == -EINVAL, "sem_acquire(NULL)");
	gort_sem *s = gort_sem_new(INT64_MAX);
	CO_CHECK(s != NULL, "sem_new(INT64_MAX)");
	if (s) {
		CO_CHECK(gort_sem_acquire(s, -1) == -EINVAL, "sem_acquire(-1)");
		CO_CHECK(gort_sem_acquire(s, INT64_MIN) == -EINVAL, "sem_acquire(INT64_MIN)");
		CO_CHECK(!gort_sem_try_acquire(s, -1), "try_acquire(-1)");
		CO_CHECK(gort_sem_acquire(s, INT64_MAX) == 0, "acquire all of INT64_MAX");
		CO_CHECK(!gort_sem_try_acquire(s, 1), "acquire past INT64_MAX");
		gort_sem_release(s, INT64_MAX);
		CO_CHECK(gort_sem_try_acquire(s, 0), "try_acquire(0)");
		gort_sem_free(s);
	}
	/* group */
	CO_CHECK(gort_group_ctx(NULL) == NULL, "group_ctx(NULL)");
	CO_CHECK(gort_group_set_limit(NULL, 1) == -EINVAL, "set_limit(NULL)");
	CO_CHECK(gort_group_go(NULL, grp_member, NULL) == -EINVAL, "group_go(NULL)");
	CO_CHECK(gort_group_try_go(NULL, grp_member, NULL) == -EINVAL, "group_try_go(NULL)");
	CO_CHECK(gort_group_wait(NULL) == -EINVAL, "group_wait(NULL)");
	gort_group_free(NULL);
	gort_group *g = gort_group_new(NULL);
	CO_CHECK(g != NULL, "group_new");
	if (g) {
		CO_CHECK(gort_group_go(g, NULL, NULL) == -EINVAL, "group_go(g, NULL)");
		CO_CHECK(gort_group_try_go(g, NULL, NULL) == -EINVAL, "group_try_go(g, NULL)");
		CO_CHECK(gort_group_set_limit(g, INT_MIN) == 0, "set_limit(INT_MIN): no limit");
		CO_CHECK(gort_group_go(g, grp_member, NULL) == 0, "group_go");
		CO_CHECK(gort_group_wait(g) == 0, "group_wait");
		gort_group_free(g);
	}
	/* recover */
	CO_CHECK(gort_defer(NULL, NULL) == -EINVAL, "defer(NULL)");
	CO_CHECK(gort_protect(NULL, NULL, NULL) == -EINVAL, "protect(NULL)");
	CO_CHECK(gort_set_panic_policy((gort_panic_policy)-1, NULL, NULL) == -EINVAL, "policy -1");
	CO_CHECK(gort_set_panic_policy((gort_panic_policy)99, NULL, NULL) == -EINVAL, "policy 99");
	CO_CHECK(gort_set_panic_policy(GORT_PANIC_HANDLER, NULL, NULL) == -EINVAL, "handler NULL");
	CO_CHECK(gort_recover() == NULL, "recover with no panic");
	/* counters */
	gort_stats st;
	CO_CHECK(gort_stats_read(NULL) == -EINVAL, "stats_read(NULL)");
	CO_CHECK(gort_proc_stats_read(0, NULL) == -EINVAL, "proc_stats_read(0, NULL)");
	int procs[] = {-1, INT_MIN, INT_MAX, gort_procs()};
	for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++)
		CO_CHECK(gort_proc_stats_read(procs[i], &st) == -EINVAL, "proc_stats_read(%d)", procs[i]);
}

PROCS12_TEST(badinput, ctx_sync_group_recover_args, 30)
{
	rt_start(procs);
	ctx_sync_bad_args(NULL);
	co_run(ctx_sync_bad_args, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* gort_panic_print with records a program filled itself. */
Test(badinput, panic_print_bad_records, .timeout = 10)
{
	gort_panic_print(-1, NULL);
	gort_panic_print(2, NULL);
	gort_panic_info info;
	memset(&info, 'x', sizeof info); /* no NUL in its strings, counts absurd */
	memset(info.frames, 0, sizeof info.frames);
	info.nframes = 100000;
	info.coroutine = 5;
	info.spawn_file = NULL;
	gort_panic_print(-1, &info);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	gort_panic_print(fds[1], &info);
	info.nframes = -7;
	gort_panic_print(fds[1], &info);
	close(fds[1]);
	char buf[8192];
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cr_assert(strncmp(buf, "panic: xxx", 10) == 0, "%s", buf);
	/* the message was cut at its buffer's last byte */
	cr_assert_lt(strcspn(buf, "\n"), (size_t)GORT_PANIC_MSG_MAX + 8);
}

/* Dumps, leak check, watchdog. */
static void sleeper(void *p)
{
	gort_sleep(*(int64_t *)p);
}

PROCS12_TEST(badinput, debug_args, 30)
{
	rt_start(procs);
	cr_assert_eq(gort_coroutine_counts_read(NULL), -EINVAL);
	cr_assert_eq(gort_dump(-1, 0), -EINVAL);
	cr_assert_eq(gort_dump(INT_MIN, 0), -EINVAL);
	cr_assert_eq(gort_dump_file(NULL, 0), -EINVAL);
	FILE *devnull = fopen("/dev/null", "w");
	cr_assert_not_null(devnull);
	unsigned bad_flags[] = {1u << 2, 1u << 31, ~0u};
	for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
		cr_assert_eq(gort_dump(fileno(devnull), bad_flags[i]), -EINVAL, "flags 0x%x", bad_flags[i]);
		cr_assert_eq(gort_dump_file(devnull, bad_flags[i]), -EINVAL, "flags 0x%x", bad_flags[i]);
	}
	cr_assert_geq(gort_dump_file(devnull, GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE), 0);
	cr_assert_lt(gort_dump(123456, 0), 0, "a descriptor that is not open");
	gort_leak_baseline_free(NULL);
	/* a grace too long to add to the clock waits (it did not wait at all) */
	int64_t ns = 100 * MS;
	cr_assert_gt(gort_go(sleeper, &ns), 0);
	int64_t t0 = gort_now();
	gort_leak_opts o = {.grace_ns = INT64_MAX, .quiet = true, .out = devnull};
	cr_assert_eq(gort_leakcheck(&o), 0, "a coroutine ending in 100 ms leaked under grace INT64_MAX");
	cr_assert_geq(gort_now() - t0, 50 * MS, "the grace was not waited");
	o.grace_ns = INT64_MIN; /* negative: no wait */
	cr_assert_eq(gort_leakcheck(&o), 0);
	/* the watchdog: threshold <= 0, fn NULL and intervals <= 0 are "off" or "1 s" */
	cr_assert_eq(gort_watchdog_set(INT64_MIN, INT64_MIN, NULL, NULL), 0);
	cr_assert_eq(gort_watchdog_set(1, -1, NULL, NULL), 0);
	cr_assert_eq(gort_watchdog_set(0, 0, NULL, NULL), 0);
	fclose(devnull);
	rt_stop();
}

/* I/O: sizes and closed handles. */
PROCS12_TEST(badinput, io_args, 30)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	rt_start(procs);
	gort_fd *f = NULL, *g = NULL;
	cr_assert_eq(gort_fd_open(INT_MIN, &f), -EINVAL);
	cr_assert_eq(gort_fd_open(INT_MAX, &f), -EBADF, "a descriptor that is not open");
	cr_assert_eq(gort_fd_open(sv[0], &f), 0);
	cr_assert_eq(gort_fd_open(sv[1], &g), 0);
	char buf[4] = "abc";
	cr_assert_eq(gort_read(f, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
	cr_assert_eq(gort_read(f, buf, SIZE_MAX), -EINVAL);
	cr_assert_eq(gort_write(f, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
	cr_assert_eq(gort_read(f, NULL, 0), 0, "a read of nothing");
	cr_assert_eq(gort_write(g, buf, 3), 3);
	cr_assert_eq(gort_read(f, buf, 3), 3);
	cr_assert_eq(gort_fd_set_deadline(f, INT64_MIN, 0), -EINVAL);
	cr_assert_eq(gort_fd_set_deadline(f, 0, INT64_MAX), 0);
	/* closed: every call says -EBADF, a second close too */
	cr_assert_eq(gort_fd_close(f), 0);
	cr_assert_eq(gort_fd_close(f), -EBADF, "second close");
	cr_assert_eq(gort_fd_fileno(f), -EBADF);
	cr_assert_eq(gort_fd_port(f), -EBADF);
	cr_assert_eq(gort_read(f, buf, 1), -EBADF);
	cr_assert_eq(gort_write(f, buf, 1), -EBADF);
	cr_assert_eq(gort_fd_set_deadline(f, 0, 0), -EBADF);
	/* a newer descriptor does not reuse the closed handle at once: the
	 * stale close still says -EBADF and leaves the new one alone */
	int sv2[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
	gort_fd *h = NULL;
	cr_assert_eq(gort_fd_open(sv2[0], &h), 0);
	cr_assert_neq(h, f);
	cr_assert_eq(gort_fd_close(f), -EBADF, "a stale close after a newer open");
	cr_assert_eq(gort_fd_fileno(h), sv2[0]);
	cr_assert_eq(gort_fd_close(h), 0);
	cr_assert_eq(gort_fd_close(g), 0);
	close(sv2[1]);
	/* names */
	gort_fd *out = NULL;
	const char *bad_names[] = {"", ":", "noport", "host:", "host:-1", "host:65536",
				   "host:99999999999999999999", "[::1]", "[::1:80", "a:b:c"};
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		cr_assert_eq(gort_listen_tcp(bad_names[i], 0, &out), -EINVAL, "listen \"%s\"", bad_names[i]);
		cr_assert_eq(gort_dial_tcp(bad_names[i], &out), -EINVAL, "dial \"%s\"", bad_names[i]);
	}
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", INT_MIN, &out), -EINVAL);
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", INT_MAX, &out), 0, "backlog INT_MAX");
	cr_assert_gt(gort_fd_port(out), 0);
	cr_assert_eq(gort_fd_close(out), 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* setting: "NAME=value"; word: what the one line must name (NULL: the
 * setting is good and nothing may be printed). */
static void check_env(const char *setting, const char *word, int want_procs)
{
	static struct child_result r;
	const char *env[] = {"GORT_MAX_THREADS=", setting, NULL};
	child_run(child_start_from_env, &want_procs, env, &r);
	assert_child_exited_ok(&r);
	if (!word) {
		cr_assert_eq(r.len, 0, "%s printed:\n%s", setting, r.err);
		return;
	}
	cr_assert_eq(count_lines(r.err), 1, "%s: not one line on stderr:\n%s", setting, r.err);
	cr_assert(strstr(r.err, word) != NULL, "%s: the line does not name %s:\n%s", setting, word, r.err);
}

Test(badconfig, gort_procs_env, .timeout = 60)
{
	const char *bad[] = {"GORT_PROCS=0", "GORT_PROCS=-1", "GORT_PROCS=abc", "GORT_PROCS=1e9",
			     "GORT_PROCS=1025", "GORT_PROCS=99999999999999999999", "GORT_PROCS=2 ",
			     "GORT_PROCS=0x2"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_env(bad[i], "GORT_PROCS", 0);
	check_env("GORT_PROCS=", NULL, 0); /* empty: unset, quietly */
	check_env("GORT_PROCS=3", NULL, 3);
	check_env("GORT_PROCS=+2", NULL, 2);
}

Test(badconfig, gort_stack_size_env, .timeout = 60)
{
	const char *bad[] = {"GORT_STACK_SIZE=1", "GORT_STACK_SIZE=1T", "GORT_STACK_SIZE=12Q",
			     "GORT_STACK_SIZE=-5", "GORT_STACK_SIZE=0", "GORT_STACK_SIZE=2G",
			     "GORT_STACK_SIZE=18446744073709551615", "GORT_STACK_SIZE=64KK",
			     "GORT_STACK_SIZE=K", "GORT_STACK_SIZE= -18446744073709535232",
			     "GORT_STACK_SIZE= 64K", "GORT_STACK_SIZE=+64K", "GORT_STACK_SIZE=64BB",
			     "GORT_STACK_SIZE=65536IB", "GORT_STACK_SIZE=64KBB"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_env(bad[i], "GORT_STACK_SIZE", 0);
	check_env("GORT_STACK_SIZE=16K", NULL, 0);
	check_env("GORT_STACK_SIZE=1G", NULL, 0);
	check_env("GORT_STACK_SIZE=64KiB", NULL, 0);
	check_env("GORT_STACK_SIZE=64kb", NULL, 0);
	check_env("GORT_STACK_SIZE=65536B", NULL, 0);
}

Test(badconfig, gort_max_threads_env, .timeout = 60)
{
	static struct child_result r;
	const char *bad[] = {"GORT_MAX_THREADS=0", "GORT_MAX_THREADS=abc", "GORT_MAX_THREADS=1",
			     "GORT_MAX_THREADS=-3", "GORT_MAX_THREADS=1000001"};
	int want = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *env[] = {bad[i], NULL};
		child_run(child_start_from_env, &want, env, &r);
		assert_child_exited_ok(&r);
		cr_assert_eq(count_lines(r.err), 1, "%s: not one line:\n%s", bad[i], r.err);
		assert_stderr_has(&r, "GORT_MAX_THREADS");
	}
	const char *good[] = {"GORT_MAX_THREADS=2", NULL};
	child_run(child_start_from_env, &want, good, &r);
	assert_child_exited_ok(&r);
	cr_assert_eq(r.len, 0, "%s", r.err);
}

Test(badconfig, gort_debug_env, .timeout = 60)
{
	static const struct {
		const char *setting, *word;
	} bad[] = {
		{"GORT_DEBUG=bogus=1", "bogus"},
		{"GORT_DEBUG=guard=sometimes", "guard"},
		{"GORT_DEBUG=sigpanic=7", "sigpanic"},
		{"GORT_DEBUG=leakcheck=2", "leakcheck"},
		{"GORT_DEBUG=dumpexit=yes", "dumpexit"},
		{"GORT_DEBUG=hogwarn=-1", "hogwarn"},
		{"GORT_DEBUG=scheddetail=x", "scheddetail"},
		{"GORT_DEBUG=dumpsig=KILL", "dumpsig"},
		{"GORT_DEBUG=dumpsig=99999", "dumpsig"},
		{"GORT_DEBUG=dumpsig=", "dumpsig"},
		{"GORT_DEBUG=deadlock=maybe", "deadlock"},
		{"GORT_DEBUG=schedtrace=-1", "schedtrace"},
		{"GORT_DEBUG=schedtrace=abc", "schedtrace"},
		{"GORT_DEBUG=schedtrace=99999999999", "schedtrace"},
		{"GORT_DEBUG=,,=,guard", "guard"}, /* empty options are skipped */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_env(bad[i].setting, bad[i].word, 0);
	/* too long to keep: refused whole, not cut in the middle of a key */
	char longdbg[400] = "GORT_DEBUG=";
	while (strlen(longdbg) < sizeof longdbg - 12)
		strcat(longdbg, "hogwarn=0,");
	check_env(longdbg, "GORT_DEBUG", 0);
	check_env("GORT_DEBUG=", NULL, 0);
	check_env("GORT_DEBUG=guard=canary,hogwarn=1,deadlock=off", NULL, 0);
}

/* The same bad values as gort_config fields: -EINVAL, nothing started;
 * nothing printed but the bad debug option's name (one line a call); a
 * good field silences a bad environment value it overrides. */
#define CFG_BAD_DEBUG 6 /* the cases with a bad .debug: a line each */
static int ret0(void *p)
{
	(void)p;
	return 0;
}

static int cfg_child(void *p)
{
	(void)p;
	char longdbg[300];
	memset(longdbg, 0, sizeof longdbg);
	while (strlen(longdbg) < sizeof longdbg - 12)
		strcat(longdbg, "hogwarn=0,");
	const gort_config bad[] = {
		{.procs = -1},
		{.procs = INT_MIN},
		{.procs = GORT_MAX_PROCS + 1},
		{.procs = INT_MAX},
		{.stack_size = 1},
		{.stack_size = GORT_MIN_STACK_SIZE - 1},
		{.stack_size = (size_t)GORT_MAX_STACK_SIZE + 1},
		{.stack_size = (size_t)1 << 40},
		{.stack_size = SIZE_MAX},
		{.max_threads = -1},
		{.max_threads = 1},
		{.max_threads = 1000001},
		{.max_threads = INT_MIN},
		{.debug = "bogus=1"},
		{.debug = "guard=sometimes"},
		{.debug = "leakcheck=2"},
		{.debug = "dumpsig=KILL"},
		{.debug = "schedtrace=-5"},
		{.debug = longdbg},
		{.procs = 2, .stack_size = 1}, /* one bad field is enough */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = gort_start(&bad[i]);
		CHILD_CHECK(rc == -EINVAL, 10, "bad config %zu: gort_start = %d", i, rc);
		CHILD_CHECK(!gort_running(), 11, "bad config %zu left the runtime running", i);
		rc = gort_main_cfg(&bad[i], ret0, NULL);
		CHILD_CHECK(rc == -EINVAL, 12, "bad config %zu: gort_main_cfg = %d", i, rc);
	}
	/* the edges are good */
	const gort_config good[] = {
		{.stack_size = GORT_MIN_STACK_SIZE},
		{.stack_size = GORT_MAX_STACK_SIZE},
		{.stack_size = GORT_MIN_STACK_SIZE + 1}, /* rounded up to a page */
		{.max_threads = 2},
		{.max_threads = 1000000},
		{.procs = 1, .max_threads = 0},
		{.debug = ""}, /* none, and GORT_DEBUG not read */
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = gort_start(&good[i]);
		CHILD_CHECK(rc == 0, 13, "good config %zu: gort_start = %d", i, rc);
		CHILD_CHECK(gort_stop() == 0, 14, "stop");
	}
	return 0;
}

Test(badconfig, gort_config_fields, .timeout = 60)
{
	static struct child_result r;
	const char *env[] = {"GORT_MAX_THREADS=", NULL};
	child_run(cfg_child, NULL, env, &r);
	assert_child_exited_ok(&r);
	/* gort_start and gort_main_cfg name each bad debug option, once */
	cr_assert_eq(count_lines(r.err), 2 * CFG_BAD_DEBUG, "stderr:\n%s", r.err);
	for (const char *l = r.err; *l; l = strchr(l, '\n') + 1)
		cr_assert(strncmp(l, "gort: gort_config.debug: ", 25) == 0, "a line not about .debug:\n%s",
			  r.err);
}

static int override_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2, .stack_size = 64 * 1024, .max_threads = 8,
					   .debug = "hogwarn=0"});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_procs() == 2, 3, "procs %d", gort_procs());
	CHILD_CHECK(gort_stop() == 0, 4, "stop");
	return 0;
}

Test(badconfig, fields_override_bad_env_quietly, .timeout = 30)
{
	static struct child_result r;
	const char *env[] = {"GORT_PROCS=abc", "GORT_STACK_SIZE=12Q", "GORT_MAX_THREADS=0",
			     "GORT_DEBUG=bogus", NULL};
	child_run(override_child, NULL, env, &r);
	assert_child_exited_ok(&r);
	cr_assert_eq(r.len, 0, "an overridden environment value was complained about:\n%s", r.err);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

static void wait_forever(void *p)
{
	gort_wg_wait(p);
}

/* Every call from a plain thread while the runtime is not running: an
 * error code (-ESRCH mostly), or the call works without it. */
static void not_running_calls(void)
{
	cr_assert(!gort_running());
	gort_stats st;
	gort_coroutine_counts cc;
	cr_assert_eq(gort_go(nop, NULL), -ESRCH);
	cr_assert_eq(gort_stop(), -ESRCH);
	cr_assert_eq(gort_procs(), 0);
	cr_assert_eq(gort_num_coroutines(), 0);
	cr_assert_eq(gort_self(), 0);
	cr_assert_eq(gort_current_proc(), -1);
	cr_assert_eq(gort_stats_read(&st), -ESRCH);
	cr_assert_eq(gort_proc_stats_read(0, &st), -ESRCH);
	cr_assert_eq(gort_coroutine_counts_read(&cc), -ESRCH);
	cr_assert_eq(gort_dump(2, 0), -ESRCH);
	cr_assert_eq(gort_leakcheck(NULL), -ESRCH);
	cr_assert_eq(gort_watchdog_set(1, 0, NULL, NULL), -ESRCH);
	cr_assert_null(gort_leak_baseline_take());
	gort_yield();
	gort_syscall_enter();
	gort_syscall_exit();
	gort_preempt_point();
	/* time */
	int64_t t0 = gort_now();
	cr_assert_eq(gort_sleep(2 * MS), 0);
	cr_assert_geq(gort_now() - t0, 2 * MS);
	cr_assert_null(gort_timer_new(MS));
	cr_assert_null(gort_ticker_new(MS));
	cr_assert_null(gort_after(MS));
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	cr_assert_not_null(c);
	int v = 5;
	/* a deadline in the future needs the runtime's timers: -ESRCH, but
	 * what is ready is done (and a past deadline needs no timer) */
	cr_assert_eq(gort_chan_recv_until(c, &v, NULL, gort_now() + 1000 * MS), -ESRCH);
	cr_assert_eq(gort_chan_recv_until(c, &v, NULL, 0), -ETIMEDOUT);
	cr_assert_eq(gort_chan_send_until(c, &v, gort_now() + 1000 * MS), 0, "room: sent");
	cr_assert_eq(gort_chan_send_until(c, &v, gort_now() + 1000 * MS), -ESRCH, "full");
	gort_case cs[1] = {{.chan = c, .dir = GORT_SEND, .elem = &v}};
	cr_assert_eq(gort_select_until(cs, 1, INT64_MAX), -ESRCH);
	bool ok = false;
	cr_assert_eq(gort_chan_recv_until(c, &v, &ok, INT64_MAX), 0, "ready: received");
	cr_assert(ok && v == 5);
	/* contexts */
	gort_ctx *cc1 = gort_ctx_with_cancel(NULL);
	cr_assert_not_null(cc1, "with_cancel needs no runtime");
	cr_assert_eq(gort_sleep_ctx(cc1, MS), -ESRCH, "a cancellable sleep needs a timer");
	cr_assert_eq(gort_sleep_ctx(NULL, MS), 0, "a plain sleep needs none");
	cr_assert_eq(gort_sleep_ctx(cc1, 0), 0);
	cr_assert_null(gort_ctx_with_timeout(NULL, 1000 * MS));
	cr_assert_null(gort_ctx_with_deadline(cc1, INT64_MAX));
	gort_ctx *late = gort_ctx_with_deadline(cc1, 0); /* in the past: done, no timer */
	cr_assert_not_null(late);
	cr_assert_eq(gort_ctx_err(late), GORT_DEADLINE_EXCEEDED);
	cr_assert_null(gort_ctx_after_func(late, nop, NULL), "after_func on a done ctx, no runtime");
	gort_ctx_after *af = gort_ctx_after_func(cc1, nop, NULL); /* armed: fine */
	cr_assert_not_null(af);
	cr_assert(gort_ctx_after_func_stop(af));
	gort_mutex mu = GORT_MUTEX_INIT;
	cr_assert_eq(gort_mutex_lock_ctx(cc1, &mu), 0, "a mutex needs no runtime");
	gort_mutex_unlock(&mu);
	gort_ctx_release(late);
	gort_ctx_cancel(cc1);
	gort_ctx_release(cc1);
	/* group, I/O */
	gort_group *g = gort_group_new(NULL);
	cr_assert_not_null(g);
	cr_assert_eq(gort_group_go(g, grp_member, NULL), -ESRCH);
	cr_assert_eq(gort_group_set_limit(g, 1), 0);
	cr_assert_eq(gort_group_go(g, grp_member, NULL), -ESRCH, "not a wait for a place");
	cr_assert_eq(gort_group_try_go(g, grp_member, NULL), -ESRCH);
	cr_assert_eq(gort_group_wait(g), 0);
	gort_group_free(g);
	gort_fd *f = NULL;
	cr_assert_eq(gort_fd_open(0, &f), -ESRCH);
	cr_assert_eq(gort_dial_tcp("127.0.0.1:1", &f), -ESRCH);
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", 0, &f), -ESRCH);
	cr_assert_eq(gort_fd_open(-1, &f), -EINVAL, "bad arguments first");
	gort_chan_release(c);
}

Test(badlife, calls_before_the_first_start, .timeout = 30)
{
	not_running_calls();
}

Test(badlife, calls_after_stop, .timeout = 30)
{
	rt_start(2);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	cr_assert_gt(gort_go(wait_forever, &wg), 0); /* discarded by the stop */
	rt_stop();
	not_running_calls();
	rt_start(1);
	rt_stop();
	not_running_calls();
}

/* A channel made in one run: used between runs (plain threads) and in the
 * next run. */
struct pingpong {
	gort_chan *ping, *pong;
	int n;
};

static void *pong_thread(void *p)
{
	struct pingpong *pp = p;
	for (int i = 0; i < pp->n; i++) {
		int v;
		gort_chan_recv(pp->ping, &v, NULL);
		v++;
		gort_chan_send(pp->pong, &v);
	}
	return NULL;
}

static void pong_coro(void *p)
{
	pong_thread(p);
}

PROCS12_TEST(badlife, channel_across_stop_and_restart, 30)
{
	rt_start(procs);
	struct pingpong pp = {gort_chan_make(sizeof(int), 0), gort_chan_make(sizeof(int), 0), 100};
	gort_chan *buf = gort_chan_make(sizeof(int), 4);
	cr_assert(pp.ping && pp.pong && buf);
	int v = 1;
	cr_assert_eq(gort_chan_send(buf, &v), 0);
	rt_stop();
	/* between runs: plain threads, no runtime */
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, pong_thread, &pp), 0);
	for (int i = 0; i < pp.n; i++) {
		cr_assert_eq(gort_chan_send(pp.ping, &i), 0);
		cr_assert_eq(gort_chan_recv(pp.pong, &v, NULL), 0);
		cr_assert_eq(v, i + 1);
	}
	pthread_join(t, NULL);
	cr_assert_eq(gort_chan_len(buf), 1);
	/* the next run: a coroutine on the other end */
	rt_start(procs);
	cr_assert_gt(gort_go(pong_coro, &pp), 0);
	for (int i = 0; i < pp.n; i++) {
		cr_assert_eq(gort_chan_send(pp.ping, &i), 0);
		cr_assert_eq(gort_chan_recv(pp.pong, &v, NULL), 0);
		cr_assert_eq(v, i + 1);
	}
	bool ok;
	cr_assert_eq(gort_chan_recv(buf, &v, &ok), 0);
	cr_assert(ok && v == 1);
	gort_chan_close(buf);
	cr_assert_eq(gort_chan_recv(buf, &v, &ok), 0);
	cr_assert(!ok && v == 0);
	gort_chan_release(buf);
	gort_chan_release(pp.ping);
	gort_chan_release(pp.pong);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
	leak_check();
}

/* A context whose deadline was pending at gort_stop: its deadline passes
 * while the runtime is stopped; the next use says so. */
Test(badlife, deadline_passed_while_stopped, .timeout = 30)
{
	rt_start(2);
	gort_ctx *c = gort_ctx_with_timeout(NULL, 50 * MS);
	cr_assert_not_null(c);
	gort_ctx *kid = gort_ctx_with_cancel(c);
	static int key;
	gort_ctx *val = gort_ctx_with_value(kid, &key, &key);
	cr_assert(kid && val);
	rt_stop();
	sleep_ms(100);
	cr_assert_eq(gort_ctx_err(val), GORT_DEADLINE_EXCEEDED, "the deadline passed while stopped");
	cr_assert_eq(gort_ctx_err(kid), GORT_DEADLINE_EXCEEDED);
	cr_assert_eq(gort_ctx_err(c), GORT_DEADLINE_EXCEEDED);
	cr_assert_eq(gort_ctx_cause(c), GORT_DEADLINE_EXCEEDED);
	gort_chan *done = gort_ctx_done(kid);
	cr_assert_not_null(done);
	bool ok = true;
	cr_assert_eq(gort_chan_try_recv(done, NULL, &ok), 0);
	cr_assert(!ok, "the done channel is not closed");
	cr_assert_eq(gort_sleep_ctx(val, 1000 * MS), GORT_DEADLINE_EXCEEDED);
	gort_ctx_release(val);
	gort_ctx_cancel(kid);
	gort_ctx_release(kid);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	/* the same with its cause read first */
	rt_start(1);
	c = gort_ctx_with_timeout(NULL, 20 * MS);
	cr_assert_not_null(c);
	rt_stop();
	sleep_ms(40);
	cr_assert_eq(gort_ctx_cause(c), GORT_DEADLINE_EXCEEDED);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
}

/* A deadline still to come at gort_stop: the waits refuse it (-ESRCH)
 * while the runtime is stopped; after a restart it fires on time. */
PROCS12_TEST(badlife, deadline_pending_across_restart, 30)
{
	rt_start(procs);
	int64_t deadline = gort_now() + 1500 * MS;
	gort_ctx *c = gort_ctx_with_deadline(NULL, deadline);
	cr_assert_not_null(c);
	gort_ctx *kid = gort_ctx_with_cancel(c);
	static int key;
	gort_ctx *val = gort_ctx_with_value(kid, &key, &key);
	cr_assert(kid && val);
	rt_stop();
	cr_assert_eq(gort_ctx_err(val), 0);
	cr_assert_eq(gort_sleep_ctx(val, MS), -ESRCH, "no timer can end this sleep");
	gort_chan *ch = gort_chan_make(sizeof(int), 0);
	int v = 0;
	cr_assert_eq(gort_chan_recv_ctx(kid, ch, &v, NULL), -ESRCH);
	cr_assert_eq(gort_chan_send_ctx(c, ch, &v), -ESRCH);
	gort_case cs[1] = {{.chan = ch, .dir = GORT_RECV, .elem = &v}};
	cr_assert_eq(gort_select_ctx(val, cs, 1), -ESRCH);
	gort_mutex mu = GORT_MUTEX_INIT;
	cr_assert_eq(gort_mutex_lock_ctx(val, &mu), -ESRCH);
	cr_assert(gort_mutex_trylock(&mu), "a refused lock_ctx took the mutex");
	gort_mutex_unlock(&mu);
	gort_rwmutex rw = GORT_RWMUTEX_INIT;
	cr_assert_eq(gort_rwmutex_lock_ctx(val, &rw), -ESRCH);
	cr_assert_eq(gort_rwmutex_rlock_ctx(val, &rw), -ESRCH);
	cr_assert(gort_rwmutex_trylock(&rw));
	gort_rwmutex_unlock(&rw);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	cr_assert_eq(gort_wg_wait_ctx(val, &wg), -ESRCH);
	gort_wg_done(&wg);
	gort_sem *s = gort_sem_new(1);
	cr_assert_eq(gort_sem_acquire_ctx(val, s, 1), -ESRCH);
	cr_assert(gort_sem_try_acquire(s, 1), "a refused acquire took a unit");
	gort_sem_free(s);
	gort_cond cv = GORT_COND_INIT;
	gort_mutex_lock(&mu);
	cr_assert_eq(gort_cond_wait_ctx(val, &cv, &mu), -ESRCH);
	cr_assert(!gort_mutex_trylock(&mu), "mu not held after a refused cond wait");
	gort_mutex_unlock(&mu);
	cr_assert_gt(deadline - gort_now(), 500 * MS, "the machine is too slow for this test");

	/* restarted: armed again, it fires at its deadline, not before */
	rt_start(procs);
	cr_assert_eq(gort_ctx_err(val), 0);
	gort_chan *done = gort_ctx_done(val);
	cr_assert_not_null(done);
	bool ok = true;
	cr_assert_eq(gort_chan_recv_until(done, NULL, &ok, gort_now() + 10000 * MS), 0,
		     "the deadline never fired after the restart");
	cr_assert(!ok);
	cr_assert_geq(gort_now(), deadline, "fired early");
	cr_assert_eq(gort_ctx_err(c), GORT_DEADLINE_EXCEEDED);
	cr_assert_eq(gort_ctx_err(kid), GORT_DEADLINE_EXCEEDED);
	cr_assert_eq(gort_ctx_err(val), GORT_DEADLINE_EXCEEDED);
	gort_ctx_release(val);
	gort_ctx_cancel(kid);
	gort_ctx_release(kid);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	gort_chan_release(ch);

	/* and one only cancelled after the restart: a plain cancel */
	c = gort_ctx_with_timeout(NULL, 100000 * MS);
	cr_assert_not_null(c);
	rt_stop();
	rt_start(procs);
	cr_assert_eq(gort_sleep_ctx(c, MS), 0, "a deadline far away, armed again");
	gort_ctx_cancel(c);
	cr_assert_eq(gort_ctx_err(c), GORT_CANCELED);
	gort_ctx_release(c);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
	leak_check();
}

/* gort_timer_reset when the runtime is not running: no crash, -ESRCH, the
 * timer stays stopped; after a restart it can be armed again. */
PROCS12_TEST(badlife, timer_reset_between_runs, 30)
{
	rt_start(procs);
	gort_timer *t = gort_timer_new(100000 * MS);
	gort_timer *tk = gort_ticker_new(100000 * MS);
	cr_assert(t && tk);
	rt_stop();
	cr_assert_eq(gort_timer_reset(t, MS), -ESRCH);
	cr_assert_eq(gort_timer_reset(tk, MS), -ESRCH);
	cr_assert(!gort_timer_stop(t), "stopped by the refused reset");
	rt_start(procs);
	cr_assert_eq(gort_timer_reset(t, MS), 0, "not armed");
	int64_t when;
	cr_assert_eq(gort_chan_recv_until(gort_timer_chan(t), &when, NULL, gort_now() + 5000 * MS), 0,
		     "the re-armed timer did not fire");
	cr_assert_eq(gort_timer_reset(tk, 2 * MS), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(gort_chan_recv_until(gort_timer_chan(tk), &when, NULL, gort_now() + 5000 * MS), 0,
			     "tick %d", i);
	gort_timer_free(t);
	gort_timer_free(tk);
	rt_stop();
}

/* gort_stop closes the descriptors left open; their handles say -EBADF
 * afterwards, also once the numbers were reused, and after a restart. */
PROCS12_TEST(badlife, descriptors_closed_by_stop, 30)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	rt_start(procs);
	gort_fd *a = NULL, *b = NULL, *lis = NULL;
	cr_assert_eq(gort_fd_open(sv[0], &a), 0);
	cr_assert_eq(gort_fd_open(sv[1], &b), 0);
	cr_assert_eq(gort_fd_set_deadline(a, gort_now() + 100000 * MS, 0), 0); /* a timer armed */
	cr_assert_eq(gort_listen_tcp("127.0.0.1:0", 0, &lis), 0);
	int lfd = gort_fd_fileno(lis);
	cr_assert_eq(gort_write(b, "x", 1), 1);
	rt_stop();
	errno = 0;
	cr_assert_eq(fcntl(sv[0], F_GETFD), -1, "gort_stop left a descriptor open");
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(fcntl(sv[1], F_GETFD), -1);
	cr_assert_eq(fcntl(lfd, F_GETFD), -1);
	char c;
	cr_assert_eq(gort_read(a, &c, 1), -EBADF);
	cr_assert_eq(gort_write(b, "y", 1), -EBADF);
	cr_assert_eq(gort_fd_fileno(a), -EBADF);
	cr_assert_eq(gort_fd_set_deadline(a, 0, 0), -EBADF);
	/* the numbers go to new files (the restart's poller takes some):
	 * the stale handles must not close them */
	int again[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, again), 0);
	rt_start(procs);
	cr_assert_eq(gort_fd_close(a), -EBADF);
	cr_assert_eq(gort_fd_close(b), -EBADF);
	cr_assert_eq(gort_fd_close(lis), -EBADF);
	cr_assert_geq(fcntl(again[0], F_GETFD), 0, "a stale close closed a new descriptor");
	cr_assert_geq(fcntl(again[1], F_GETFD), 0);
	gort_fd *x = NULL, *y = NULL;
	cr_assert_eq(gort_fd_open(again[0], &x), 0);
	cr_assert_eq(gort_fd_open(again[1], &y), 0);
	cr_assert_eq(gort_write(x, "z", 1), 1, "the poller works after the stale closes");
	cr_assert_eq(gort_read(y, &c, 1), 1);
	cr_assert_eq(c, 'z');
	cr_assert_eq(gort_fd_close(x), 0);
	cr_assert_eq(gort_fd_close(y), 0);
	rt_stop();
}

/* A release after the last one: a fatal error naming it, while the memory
 * has not been reused.  (Not under ASan, which reports the use of freed
 * memory itself, nor under Valgrind.) */
#ifndef GORT_TEST_ASAN
static int double_release_chan(void *p)
{
	(void)p;
	gort_chan *c = gort_chan_make(sizeof(int), 4);
	gort_chan_release(c);
	gort_chan_release(c);
	return 0;
}

static int double_release_ctx(void *p)
{
	(void)p;
	static int key;
	gort_ctx *c = gort_ctx_with_value(NULL, &key, NULL);
	gort_ctx_release(c);
	gort_ctx_release(c);
	return 0;
}

static int double_release_cancel_ctx(void *p)
{
	(void)p;
	gort_ctx *c = gort_ctx_with_cancel(NULL);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	gort_ctx_release(c);
	return 0;
}

Test(badlife, release_after_the_last_is_fatal, .timeout = 30)
{
	static struct child_result r;
	int (*fns[])(void *) = {double_release_chan, double_release_ctx, double_release_cancel_ctx};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		child_run(fns[i], NULL, NULL, &r);
		assert_child_aborted(&r);
		assert_stderr_has(&r, "released more times than retained");
	}
}
#endif
