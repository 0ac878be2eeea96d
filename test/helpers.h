/*
 * helpers.h — shared helpers of gort's Criterion test suite.
 *
 * Every test/ *.c file is compiled into one Criterion binary; Criterion runs
 * each test in its own process, so a test may start and stop the runtime as
 * it likes.  What lives here:
 *
 *   PROCS_TEST(suite, name, timeout)   one body, three Tests: name_procs1,
 *                                      name_procs2, name_procs8 (8 is more
 *                                      threads than the machine has cores)
 *   scaled(n)                          a count, divided down when the
 *                                      environment sets GORT_TEST_SCALE
 *   CO_CHECK(cond, fmt, ...)           an assertion usable inside coroutines
 *                                      and plain threads (Criterion's own
 *                                      asserts longjmp and must only run on
 *                                      the test's main thread); checked by
 *                                      CO_ASSERT_NO_FAILURES() on the main
 *                                      thread once the work is joined
 *   rt_start / rt_stop                 start and stop, asserting success
 *   co_run(fn, arg)                    run fn(arg) in a coroutine, wait for it
 *   wait_num_coroutines(target, ms)    poll gort_num_coroutines() to target
 *   test_default_procs()               the procs a runtime gets by default
 *   child_run(...)                     fork a child with its stderr on a
 *                                      pipe, for tests where the process
 *                                      must die (or must print a message)
 *
 * GORT_TEST_SCALE: a number d.  d > 1 divides the big counts by d (use 10
 * under ASan/TSan/Valgrind); 0 < d < 1 multiplies them by d; 1 leaves them
 * alone; anything unparsable means 10.  Counts never drop below a floor the
 * caller gives.
 */
#ifndef GORT_TEST_HELPERS_H
#define GORT_TEST_HELPERS_H

/* Built with ThreadSanitizer? (gcc defines __SANITIZE_THREAD__; clang has
 * __has_feature.) */
#if defined(__SANITIZE_THREAD__)
#define GORT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TEST_TSAN 1
#endif
#endif

#include <criterion/criterion.h>
#include <gort.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* procs 1, 2 and 8                                                          */
/* ------------------------------------------------------------------------ */

#define PROCS_TEST(suite, name, tmo)                                           \
	static void suite##_##name##_body(int procs);                          \
	Test(suite, name##_procs1, .timeout = (tmo)) { suite##_##name##_body(1); } \
	Test(suite, name##_procs2, .timeout = (tmo)) { suite##_##name##_body(2); } \
	Test(suite, name##_procs8, .timeout = (tmo)) { suite##_##name##_body(8); } \
	static void suite##_##name##_body(int procs)

/* ------------------------------------------------------------------------ */
/* Sizes                                                                     */
/* ------------------------------------------------------------------------ */

static inline double test_scale_factor(void)
{
	const char *s = getenv("GORT_TEST_SCALE");
	if (s == NULL || *s == '\0')
		return 1.0;
	char *end = NULL;
	double d = strtod(s, &end);
	if (end == s || *end != '\0' || !(d > 0.0))
		return 0.1;
	return d > 1.0 ? 1.0 / d : d;
}

/* n, scaled down under GORT_TEST_SCALE, never below floor. */
static inline long scaled_min(long n, long floor)
{
	long r = (long)((double)n * test_scale_factor());
	return r < floor ? floor : r;
}
#define scaled(n) scaled_min((n), 1)

/* ------------------------------------------------------------------------ */
/* Valgrind                                                                  */
/* ------------------------------------------------------------------------ */

/* Valgrind runs the program on a synthetic CPU that does not keep the
 * MXCSR/x87 sticky exception flags (an fp exception never sets them), so a
 * test of those flags says nothing there and skips. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_HAVE_VALGRIND_H 1
#endif
#endif
static inline int running_under_valgrind(void)
{
#ifdef TEST_HAVE_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	const char *p = getenv("LD_PRELOAD");
	return p != NULL && strstr(p, "vgpreload") != NULL;
#endif
}

/* ------------------------------------------------------------------------ */
/* Clocks                                                                    */
/* ------------------------------------------------------------------------ */

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Burn CPU for about ns nanoseconds without blocking or yielding. */
static inline void spin_ns(int64_t ns)
{
	int64_t end = now_ns() + ns;
	while (now_ns() < end) {
	}
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* ------------------------------------------------------------------------ */
/* Failures recorded off the main thread                                     */
/* ------------------------------------------------------------------------ */

struct co_fail_state {
	atomic_long count;
	atomic_flag msg_taken;
	char msg[512];
};

static inline struct co_fail_state *co_fail_state(void)
{
	static struct co_fail_state s;
	return &s;
}

__attribute__((format(printf, 4, 5))) static inline void
co_fail_record(const char *file, int line, const char *expr, const char *fmt, ...)
{
	struct co_fail_state *s = co_fail_state();
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	/* Only the first failure is kept; every one goes to stderr. */
	if (!atomic_flag_test_and_set(&s->msg_taken))
		snprintf(s->msg, sizeof s->msg, "%s:%d: CO_CHECK(%s) failed: %s", file, line, expr,
			 detail);
	/* the first few go to stderr too */
	if (atomic_fetch_add(&s->count, 1) < 5)
		fprintf(stderr, "%s:%d: CO_CHECK(%s) failed: %s\n", file, line, expr, detail);
}

#define CO_CHECK(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			co_fail_record(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

#define CO_ASSERT_NO_FAILURES()                                                        \
	cr_assert_eq(atomic_load(&co_fail_state()->count), 0,                          \
		     "%ld check(s) failed off the main thread; first: %s",             \
		     (long)atomic_load(&co_fail_state()->count), co_fail_state()->msg)

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */
/* ------------------------------------------------------------------------ */

static inline void rt_start(int procs)
{
	int rc = gort_start(&(gort_config){.procs = procs});
	cr_assert_eq(rc, 0, "gort_start(procs=%d) = %d (%s)", procs, rc, gort_strerror(rc));
	cr_assert(gort_running());
	cr_assert_eq(gort_procs(), procs);
}

static inline void rt_stop(void)
{
	int rc = gort_stop();
	cr_assert_eq(rc, 0, "gort_stop() = %d (%s)", rc, gort_strerror(rc));
	cr_assert(!gort_running());
}

struct co_run_ctx {
	void (*fn)(void *);
	void *arg;
	gort_wg done;
};

static inline void co_run_tramp(void *p)
{
	struct co_run_ctx *c = p;
	c->fn(c->arg);
	gort_wg_done(&c->done);
}

/* Run fn(arg) in a coroutine of the running runtime; wait for it from this
 * (plain) thread. */
static inline void co_run(void (*fn)(void *), void *arg)
{
	struct co_run_ctx c = {.fn = fn, .arg = arg, .done = GORT_WG_INIT};
	gort_wg_add(&c.done, 1);
	gort_id id = gort_go(co_run_tramp, &c);
	cr_assert_gt(id, 0, "gort_go = %lld (%s)", (long long)id, gort_strerror((int)id));
	gort_wg_wait(&c.done);
}

/* Poll gort_num_coroutines() until it equals target or ms milliseconds have
 * passed (a coroutine that has signalled a wait group may not have returned
 * yet).  Returns the last value read. */
static inline int64_t wait_num_coroutines(int64_t target, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * 1000000;
	int64_t n;
	while ((n = gort_num_coroutines()) != target && now_ns() < deadline) {
		gort_yield();
		usleep(200);
	}
	return n;
}

/* Poll the totals until spawns == exits (or ms pass); fill *st. */
static inline void wait_stats_settled(gort_stats *st, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * 1000000;
	for (;;) {
		int rc = gort_stats_read(st);
		cr_assert_eq(rc, 0, "gort_stats_read = %d", rc);
		if (st->spawns == st->exits || now_ns() >= deadline)
			return;
		usleep(200);
	}
}

/* The procs a runtime started without a setting gets: the CPUs this
 * process may use, at most GORT_MAX_PROCS; -1 if they cannot be read. */
static inline int test_default_procs(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	int n = CPU_COUNT(&set);
	return n > GORT_MAX_PROCS ? GORT_MAX_PROCS : n;
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                           */
/* ------------------------------------------------------------------------ */

struct child_result {
	int status;      /* from waitpid */
	size_t len;      /* bytes of stderr kept in err */
	char err[65536]; /* the child's stderr, NUL-terminated */
};

/*
 * Fork; in the child put stderr on a pipe, drop GORT_PROCS, GORT_STACK_SIZE
 * and GORT_DEBUG from the environment, apply env (NULL or an array of
 * "NAME=value" strings ending with NULL; "NAME=" alone with nothing after
 * the '=' is still a set), arm a 40 s alarm, run fn(arg) and _exit with its
 * value.  The parent collects stderr and the wait status.  Call it before
 * the parent starts the runtime: the child must begin single-threaded.
 */
static inline void child_run(int (*fn)(void *), void *arg, const char *const *env,
			     struct child_result *r)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		if (dup2(fds[1], 2) < 0)
			_exit(120);
		close(fds[1]);
		setvbuf(stderr, NULL, _IONBF, 0);
		/* the child sees only the GORT_ settings the test gives it */
		unsetenv("GORT_PROCS");
		unsetenv("GORT_STACK_SIZE");
		unsetenv("GORT_DEBUG");
		for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
			char name[128];
			const char *eq = strchr(env[i], '=');
			size_t n = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
			if (n >= sizeof name)
				_exit(121);
			memcpy(name, env[i], n);
			name[n] = '\0';
			if (setenv(name, eq ? eq + 1 : "", 1) != 0)
				_exit(122);
		}
		alarm(40);
		int rc = fn(arg);
		fflush(stdout);
		_exit(rc);
	}
	close(fds[1]);
	r->len = 0;
	for (;;) {
		char buf[4096];
		ssize_t n = read(fds[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t room = sizeof r->err - 1 - r->len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(r->err + r->len, buf, take);
		r->len += take;
	}
	r->err[r->len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &r->status, 0) < 0) {
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	}
}

static inline const char *child_describe(const struct child_result *r, char *buf, size_t n)
{
	if (WIFEXITED(r->status))
		snprintf(buf, n, "exited with %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(r->status),
			 strsignal(WTERMSIG(r->status)));
	else
		snprintf(buf, n, "status 0x%x", r->status);
	return buf;
}

#define assert_child_aborted(r)                                                           \
	do {                                                                              \
		char d_[96];                                                              \
		cr_assert(WIFSIGNALED((r)->status) && WTERMSIG((r)->status) == SIGABRT,   \
			  "child should die by SIGABRT but %s; stderr:\n%s",              \
			  child_describe((r), d_, sizeof d_), (r)->err);                  \
	} while (0)

#define assert_child_exited_ok(r)                                                         \
	do {                                                                              \
		char d_[96];                                                              \
		cr_assert(WIFEXITED((r)->status) && WEXITSTATUS((r)->status) == 0,        \
			  "child should exit 0 but %s; stderr:\n%s",                      \
			  child_describe((r), d_, sizeof d_), (r)->err);                  \
	} while (0)

#define assert_stderr_has(r, text)                                                        \
	cr_assert(strstr((r)->err, (text)) != NULL,                                       \
		  "child's stderr lacks \"%s\"; stderr:\n%s", (text), (r)->err)

/* In a child: report a failed check on stderr and exit with a code the
 * parent shows. */
#define CHILD_CHECK(cond, code, ...)                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "child check failed: %s: ", #cond);    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			return (code);                                         \
		}                                                              \
	} while (0)

static inline void child_wg_done(void *wg)
{
	gort_wg_done(wg);
}

/* A child (child_run) for configuration from the environment: gort_start
 * with cfg NULL, check the procs the runtime took against *(int *)p (0:
 * the default), run a coroutine, stop. */
static inline int child_start_from_env(void *p)
{
	int want = *(int *)p ? *(int *)p : test_default_procs();
	int rc = gort_start(NULL);
	CHILD_CHECK(rc == 0, 2, "gort_start(NULL) = %d (%s)", rc, gort_strerror(rc));
	CHILD_CHECK(gort_procs() == want, 3, "gort_procs() = %d, want %d", gort_procs(), want);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	CHILD_CHECK(gort_go(child_wg_done, &wg) > 0, 4, "spawn");
	gort_wg_wait(&wg);
	CHILD_CHECK(gort_stop() == 0, 5, "stop");
	return 0;
}

/* In a child process: block the calling (plain) thread forever on a wait
 * group nobody releases, so only what the test provoked (a panic, an
 * overflow) ends the child.  Returns 4 if that ever fails. */
static inline int child_wait_forever(void)
{
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	gort_wg_wait(&wg);
	return 4;
}

#endif /* GORT_TEST_HELPERS_H */
