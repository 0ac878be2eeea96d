/*
 * gort_bench: gort's scheduler benchmarks, one workload per process.
 *
 * Usage:
 *   gort_bench <workload> <procs> [loops]   run one workload once
 *   gort_bench calibrate                    print LOOPS=<n>: the steal task's
 *                                           spin loop count for ~50 us
 * Environment: GORT_BENCH_SCALE=<d> (an integer, default 1) divides the
 * workloads' sizes by d for a smoke run (bench/run.sh --quick); see
 * set_sizes().
 *
 * Each workload prints its figures as lines of the form
 *   RESULT bench=<name> impl=gort procs=<n> metric=<metric> value=<number> unit=<unit>
 * The Go peers in bench/go/main.go define the same workloads, with the same
 * constants and the same output; keep the two in step.  bench/run.sh runs
 * both and tabulates the medians; bench/README.md describes the workloads.
 *
 * Only the workload itself is timed (CLOCK_MONOTONIC), never the runtime's
 * start or stop: every workload but idle runs as the main coroutine under
 * gort_main_cfg() and keeps its own clock.  Peak RSS is getrusage's
 * ru_maxrss (KiB on Linux).  Exit status: 0, 1 if the workload failed or the
 * runtime did not start, 2 for a usage error.
 */
#include <errno.h>
#include <gort.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The workloads' sizes: the full ones (the brief's) are the *_FULL
 * constants; GORT_BENCH_SCALE=<d> (an integer, default 1) divides them for
 * a smoke run (bench/run.sh --quick: figures not comparable with full
 * ones).  set_sizes() fills g_size, and the upper-case names below are
 * what the workloads use.  bench/go/main.go scales its sizes the same way. */
enum {
	SPAWN_COUNT_FULL = 1000000,  /* spawn: coroutines spawned */
	YIELD_ROUNDS_FULL = 5000000, /* yield, yield-fp: yields per coroutine */
	STEAL_TASKS_FULL = 20000,    /* steal: CPU-bound tasks */
	IDLE_SLEEP_MS_FULL = 2000,   /* idle: time asleep */
	PROTECT_OPS_FULL = 10000000, /* protect: gort_protect calls */
	PANIC_OPS_FULL = 200000,     /* panic-recover: panics recovered */
	PINGPONG_ROUNDS_FULL = 1000000, /* pingpong: round trips */
	MPMC_ITEMS_FULL = 10000000,  /* chanmpmc: ints sent */
	FIB_N_FULL = 27,             /* fib: fib(27) = 196418, 317,810 spawns */
	SKYNET_LEAVES_FULL = 1000000, /* skynet: SKYNET_DIV^6 leaves */
	SELECT_OPS_FULL = 1000000,   /* select: selects done */
	PARKED_COUNT_FULL = 100000,  /* parked: coroutines parked */
	PARKED_1M_COUNT_FULL = 1000000, /* parked_1m: coroutines parked */
	TIMER_COUNT_FULL = 100000,   /* timers: sleeping coroutines */
	MUTEX_OPS_FULL = 1000,       /* mutex: lock/increment/unlock per coroutine */
	CTX_GRANDCHILDREN_FULL = 1000, /* ctxcancel: grandchildren (waiters) per child */
	RW_OPS_FULL = 20000,         /* rwmutex: operations per coroutine */
	SEM_OPS_FULL = 1000,         /* semaphore: acquire/release pairs per coroutine */
	ECHO_ROUNDS_FULL = 10000,    /* echo: 64-byte round trips per connection */
	HOG_MS_FULL = 1000,          /* hog: how long the hog spins, and each window */
};

/* Not scaled. */
enum {
	MPMC_CAP = 128,         /* chanmpmc: the channel's capacity */
	MPMC_PRODUCERS = 4,
	MPMC_CONSUMERS = 4,
	SKYNET_DIV = 10,        /* skynet: fan-out */
	PARKED_STACK = 16 * 1024, /* parked, parked_1m: each one's stack size */
	PARKED_SETTLE_MS = 20,  /* parked: settle after the last one signals */
	TIMER_SEED = 42,        /* timers: the LCG's seed */
	MUTEX_WORKERS = 1000,   /* mutex: coroutines */
	CTX_CHILDREN = 100,     /* ctxcancel: children of the root */
	RW_WORKERS = 1000,      /* rwmutex: coroutines */
	RW_WRITE_EVERY = 100,   /* rwmutex: every 100th op is a write (1%) */
	SEM_SIZE = 10,          /* semaphore: the semaphore's size */
	SEM_WORKERS = 1000,     /* semaphore: coroutines */
	ECHO_CONNS = 100,       /* echo: client connections */
	ECHO_MSG = 64,          /* echo: message size */
	HOG_PAIRS = 500,        /* hog: ping-pong pairs (1,000 coroutines) */
	/* calibrate: the spin loop is timed over CALIB_LOOPS iterations,
	 * CALIB_RUNS times; the median is scaled to CALIB_TARGET_NS. */
	CALIB_LOOPS = 1000000,
	CALIB_RUNS = 9,
	CALIB_TARGET_NS = 50000,
};

static struct {
	int spawn, yield_rounds, steal_tasks, idle_ms, protect_ops, panic_ops, pingpong_rounds;
	int mpmc_items, fib_n, fib_want, select_ops, parked, parked_1m, timers, mutex_ops;
	int ctx_grandchildren, rw_ops, sem_ops, echo_rounds, hog_ms;
	int64_t skynet_leaves, skynet_want;
} g_size;

#define SPAWN_COUNT g_size.spawn
#define YIELD_ROUNDS g_size.yield_rounds
#define STEAL_TASKS g_size.steal_tasks
#define IDLE_SLEEP_MS g_size.idle_ms
#define PROTECT_OPS g_size.protect_ops
#define PANIC_OPS g_size.panic_ops
#define PINGPONG_ROUNDS g_size.pingpong_rounds
#define MPMC_ITEMS g_size.mpmc_items
#define FIB_N g_size.fib_n       /* fib: fib(FIB_N) = FIB_WANT */
#define FIB_WANT g_size.fib_want
#define SKYNET_LEAVES g_size.skynet_leaves
#define SKYNET_WANT g_size.skynet_want /* the sum of 0 .. SKYNET_LEAVES-1 */
#define SELECT_OPS g_size.select_ops
#define PARKED_COUNT g_size.parked
#define PARKED_1M_COUNT g_size.parked_1m
#define TIMER_COUNT g_size.timers
#define MUTEX_OPS g_size.mutex_ops
#define CTX_GRANDCHILDREN g_size.ctx_grandchildren
#define RW_OPS g_size.rw_ops
#define SEM_OPS g_size.sem_ops
#define ECHO_ROUNDS g_size.echo_rounds
#define HOG_MS g_size.hog_ms

static int64_t scaled(int64_t full, int64_t scale, int64_t min)
{
	int64_t v = full / scale;
	return v < min ? min : v;
}

/* g_size for GORT_BENCH_SCALE=scale (1: the full sizes).  fib: the largest
 * n <= FIB_N_FULL whose spawn count, fib(n+1) - 1, is at most the full
 * count / scale; skynet: the largest power of SKYNET_DIV leaves at most
 * SKYNET_LEAVES_FULL / scale (at least SKYNET_DIV); select: even. */
static void set_sizes(int64_t scale)
{
	g_size.spawn = (int)scaled(SPAWN_COUNT_FULL, scale, 1);
	g_size.yield_rounds = (int)scaled(YIELD_ROUNDS_FULL, scale, 1);
	g_size.steal_tasks = (int)scaled(STEAL_TASKS_FULL, scale, 1);
	g_size.idle_ms = (int)scaled(IDLE_SLEEP_MS_FULL, scale, 1);
	g_size.protect_ops = (int)scaled(PROTECT_OPS_FULL, scale, 1);
	g_size.panic_ops = (int)scaled(PANIC_OPS_FULL, scale, 1);
	g_size.pingpong_rounds = (int)scaled(PINGPONG_ROUNDS_FULL, scale, 1);
	g_size.mpmc_items = (int)scaled(MPMC_ITEMS_FULL, scale, 1);
	/* fibs[k] = fib(k) */
	int64_t fibs[FIB_N_FULL + 2] = {0, 1};
	for (int k = 2; k < FIB_N_FULL + 2; k++)
		fibs[k] = fibs[k - 1] + fibs[k - 2];
	int64_t spawns = scaled(fibs[FIB_N_FULL + 1] - 1, scale, 1);
	int n = FIB_N_FULL;
	while (n > 2 && fibs[n + 1] - 1 > spawns)
		n--;
	g_size.fib_n = n;
	g_size.fib_want = (int)fibs[n];
	int64_t leaves = SKYNET_DIV, cap = scaled(SKYNET_LEAVES_FULL, scale, SKYNET_DIV);
	while (leaves * SKYNET_DIV <= cap)
		leaves *= SKYNET_DIV;
	g_size.skynet_leaves = leaves;
	g_size.skynet_want = leaves * (leaves - 1) / 2;
	g_size.select_ops = (int)scaled(SELECT_OPS_FULL, scale, 2) & ~1;
	g_size.parked = (int)scaled(PARKED_COUNT_FULL, scale, 1);
	g_size.parked_1m = (int)scaled(PARKED_1M_COUNT_FULL, scale, 1);
	g_size.timers = (int)scaled(TIMER_COUNT_FULL, scale, 1);
	g_size.mutex_ops = (int)scaled(MUTEX_OPS_FULL, scale, 1);
	g_size.ctx_grandchildren = (int)scaled(CTX_GRANDCHILDREN_FULL, scale, 1);
	g_size.rw_ops = (int)scaled(RW_OPS_FULL, scale, 1);
	g_size.sem_ops = (int)scaled(SEM_OPS_FULL, scale, 1);
	g_size.echo_rounds = (int)scaled(ECHO_ROUNDS_FULL, scale, 1);
	g_size.hog_ms = (int)scaled(HOG_MS_FULL, scale, 1);
}

static int g_procs;

/* The same program built against a library without debug information
 * (-DGORT_NO_DEBUG_INFO) names its rows <bench>-nodebug. */
#ifndef GORT_BENCH_SUFFIX
#define GORT_BENCH_SUFFIX ""
#endif

static void result(const char *bench, const char *metric, const char *value, const char *unit)
{
	printf("RESULT bench=%s%s impl=gort procs=%d metric=%s value=%s unit=%s\n", bench,
	       GORT_BENCH_SUFFIX, g_procs, metric, value, unit);
}

static void result_f(const char *bench, const char *metric, double v, int prec, const char *unit)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.*f", prec, v);
	result(bench, metric, buf, unit);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss; /* KiB on Linux */
}

static int64_t cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int oom(void)
{
	fprintf(stderr, "gort_bench: out of memory\n");
	return 1;
}

static int spawn_failed(gort_id id)
{
	if (id >= 0)
		return 0;
	fprintf(stderr, "gort_bench: gort_go: %s\n", gort_strerror((int)id));
	return 1;
}

/* ------------------------------------------------------------------ spawn */

static void spawn_task(void *arg)
{
	gort_wg_done(arg);
}

static int bench_spawn(void *arg)
{
	(void)arg;
	gort_wg wg = GORT_WG_INIT;
	int64_t t0 = now_ns();
	gort_wg_add(&wg, SPAWN_COUNT);
	for (int i = 0; i < SPAWN_COUNT; i++) {
		if (spawn_failed(gort_go(spawn_task, &wg)))
			return 1; /* the rest are discarded by gort_stop */
	}
	gort_wg_wait(&wg);
	int64_t el = now_ns() - t0;
	long rss = peak_rss_kib();
	char buf[32];
	result_f("spawn", "ns_per_coroutine", (double)el / SPAWN_COUNT, 2, "ns");
	snprintf(buf, sizeof buf, "%ld", rss);
	result("spawn", "peak_rss_kib", buf, "KiB");
	return 0;
}

/* ------------------------------------------------------- yield, yield-fp */

static void yield_task(void *arg)
{
	for (int i = 0; i < YIELD_ROUNDS; i++)
		gort_yield();
	gort_wg_done(arg);
}

/* Floating-point work between yields: an inexact division sets MXCSR's
 * precision flag, which is what makes context switches slow when the
 * runtime does not keep MXCSR uniform (docs/design.md). */
static void yield_fp_task(void *arg)
{
	volatile double x = 1.0;
	for (int i = 0; i < YIELD_ROUNDS; i++) {
		x = x / 3.0 + 1.0;
		gort_yield();
	}
	gort_wg_done(arg);
}

static int run_yield(const char *name, int fp)
{
	gort_wg wg = GORT_WG_INIT;
	int64_t t0 = now_ns();
	gort_wg_add(&wg, 2);
	if (spawn_failed(gort_go(yield_task, &wg)) ||
	    spawn_failed(gort_go(fp ? yield_fp_task : yield_task, &wg)))
		return 1;
	gort_wg_wait(&wg);
	int64_t el = now_ns() - t0;
	result_f(name, "ns_per_yield", (double)el / (2.0 * YIELD_ROUNDS), 2, "ns");
	return 0;
}

static int bench_yield(void *arg)
{
	(void)arg;
	return run_yield("yield", 0);
}

static int bench_yield_fp(void *arg)
{
	(void)arg;
	return run_yield("yield-fp", 1);
}

/* ---------------------------------------------------- protect, panic-recover */

/* protect: the cost of a protected region that does not panic, with one
 * deferred call (Go: a function with a defer).  The deferred call counts
 * itself, so the work cannot vanish. */
static void protect_deferred(void *arg)
{
	(*(int64_t *)arg)++;
}

static void protect_fn(void *arg)
{
	if (gort_defer(protect_deferred, arg) != 0)
		gort_panic("gort_bench: gort_defer failed");
}

static int bench_protect(void *arg)
{
	(void)arg;
	int64_t deferred = 0, odd = 0;
	int64_t t0 = now_ns();
	for (int i = 0; i < PROTECT_OPS; i++)
		odd += gort_protect(protect_fn, &deferred, NULL) != 0;
	int64_t el = now_ns() - t0;
	if (odd != 0 || deferred != PROTECT_OPS) {
		fprintf(stderr, "gort_bench: protect: %" PRId64 " odd returns, %" PRId64
				" of %d deferred calls ran\n", odd, deferred, PROTECT_OPS);
		return 1;
	}
	result_f("protect", "ns_per_op", (double)el / PROTECT_OPS, 2, "ns");
	return 0;
}

/* panic-recover: a protected function that panics, and its deferred call
 * that recovers, so that gort_protect returns GORT_PANICKED to its caller
 * one frame up (Go: a function that panics with a deferred recover).  The
 * panic formats its message and captures a backtrace, as every gort panic
 * does; Go's takes no backtrace until a panic goes unrecovered. */
static void recover_deferred(void *arg)
{
	if (gort_recover() != NULL)
		(*(int64_t *)arg)++;
}

static void panic_fn(void *arg)
{
	GORT_DEFER(recover_deferred, arg);
	gort_panic("boom");
}

static int bench_panic_recover(void *arg)
{
	(void)arg;
	int64_t recovered = 0, panicked = 0;
	gort_panic_info info;
	int64_t t0 = now_ns();
	for (int i = 0; i < PANIC_OPS; i++)
		panicked += gort_protect(panic_fn, &recovered, &info) == GORT_PANICKED;
	int64_t el = now_ns() - t0;
	if (panicked != PANIC_OPS || recovered != PANIC_OPS || strcmp(info.message, "boom") != 0) {
		fprintf(stderr, "gort_bench: panic-recover: %" PRId64 " of %d panicked, %" PRId64
				" recovered\n", panicked, PANIC_OPS, recovered);
		return 1;
	}
	result_f("panic-recover", "ns_per_op", (double)el / PANIC_OPS, 2, "ns");
	return 0;
}

/* ------------------------------------------------------------------ steal */

/* The steal task's CPU-bound body: a latency-bound 64-bit LCG chain (each
 * step depends on the previous one, so it cannot be vectorised or
 * overlapped).  calibrate times this same function. */
__attribute__((noinline)) static uint64_t spin(uint64_t seed, int64_t loops)
{
	uint64_t x = seed;
	for (int64_t i = 0; i < loops; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	return x;
}

static int64_t g_loops;
static uint64_t *g_steal_results;
static gort_wg g_steal_wg;

static void steal_task(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	g_steal_results[i] = spin((uint64_t)i + 1, g_loops) | 1;
	gort_wg_done(&g_steal_wg);
}

static int bench_steal(void *arg)
{
	(void)arg;
	g_steal_results = calloc(STEAL_TASKS, sizeof *g_steal_results);
	if (!g_steal_results) {
		fprintf(stderr, "gort_bench: out of memory\n");
		return 1;
	}
	int64_t t0 = now_ns();
	gort_wg_add(&g_steal_wg, STEAL_TASKS);
	for (uintptr_t i = 0; i < (uintptr_t)STEAL_TASKS; i++) {
		if (spawn_failed(gort_go(steal_task, (void *)i)))
			return 1;
	}
	gort_wg_wait(&g_steal_wg);
	int64_t el = now_ns() - t0;
	for (int i = 0; i < STEAL_TASKS; i++) {
		if (g_steal_results[i] == 0) {
			fprintf(stderr, "gort_bench: steal: task %d never ran\n", i);
			return 1;
		}
	}
	free(g_steal_results);
	result_f("steal", "total_ms", (double)el / 1e6, 3, "ms");
	return 0;
}

/* ------------------------------------------------------------- pingpong */

/* Two coroutines bounce an int over two unbuffered channels: ping sends on
 * a and waits on b, pong echoes a's value back incremented on b. */
struct pingpong {
	gort_chan *a, *b;
	int64_t last; /* ping's final value */
	gort_wg wg;
};

static void ping_task(void *arg)
{
	struct pingpong *pp = arg;
	int64_t v = 0;
	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		gort_chan_send(pp->a, &v);
		gort_chan_recv(pp->b, &v, NULL);
	}
	pp->last = v;
	gort_wg_done(&pp->wg);
}

static void pong_task(void *arg)
{
	struct pingpong *pp = arg;
	int64_t v;
	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		gort_chan_recv(pp->a, &v, NULL);
		v++;
		gort_chan_send(pp->b, &v);
	}
	gort_wg_done(&pp->wg);
}

static int bench_pingpong(void *arg)
{
	(void)arg;
	struct pingpong pp = {.a = gort_chan_make(sizeof(int64_t), 0),
			      .b = gort_chan_make(sizeof(int64_t), 0)};
	if (!pp.a || !pp.b)
		return oom();
	int64_t t0 = now_ns();
	gort_wg_add(&pp.wg, 2);
	if (spawn_failed(gort_go(ping_task, &pp)) || spawn_failed(gort_go(pong_task, &pp)))
		return 1;
	gort_wg_wait(&pp.wg);
	int64_t el = now_ns() - t0;
	if (pp.last != PINGPONG_ROUNDS) {
		fprintf(stderr, "gort_bench: pingpong: got %" PRId64 ", want %d\n", pp.last,
			PINGPONG_ROUNDS);
		return 1;
	}
	gort_chan_release(pp.a);
	gort_chan_release(pp.b);
	result_f("pingpong", "ns_per_roundtrip", (double)el / PINGPONG_ROUNDS, 2, "ns");
	return 0;
}

/* ------------------------------------------------------------- chanmpmc */

/* MPMC_PRODUCERS producers send the ints 0 .. MPMC_ITEMS-1 (producer p the
 * p-th contiguous share) on one channel of capacity MPMC_CAP; MPMC_CONSUMERS
 * consumers receive until it is closed and add up what they got. */
struct mpmc {
	gort_chan *c;
	gort_wg prod, cons;
	_Atomic int64_t sum, count;
};

struct mpmc_arg {
	struct mpmc *m;
	int64_t from, to;
};

static void mpmc_producer(void *arg)
{
	struct mpmc_arg *a = arg;
	for (int64_t v = a->from; v < a->to; v++)
		gort_chan_send(a->m->c, &v);
	gort_wg_done(&a->m->prod);
}

static void mpmc_consumer(void *arg)
{
	struct mpmc *m = arg;
	int64_t v, sum = 0, n = 0;
	bool ok;
	for (;;) {
		gort_chan_recv(m->c, &v, &ok);
		if (!ok)
			break;
		sum += v;
		n++;
	}
	atomic_fetch_add(&m->sum, sum);
	atomic_fetch_add(&m->count, n);
	gort_wg_done(&m->cons);
}

static int bench_chanmpmc(void *arg)
{
	(void)arg;
	static struct mpmc m;
	struct mpmc_arg pa[MPMC_PRODUCERS];
	m.c = gort_chan_make(sizeof(int64_t), MPMC_CAP);
	if (!m.c)
		return oom();
	int64_t t0 = now_ns();
	gort_wg_add(&m.cons, MPMC_CONSUMERS);
	for (int i = 0; i < MPMC_CONSUMERS; i++)
		if (spawn_failed(gort_go(mpmc_consumer, &m)))
			return 1;
	gort_wg_add(&m.prod, MPMC_PRODUCERS);
	for (int i = 0; i < MPMC_PRODUCERS; i++) {
		pa[i] = (struct mpmc_arg){&m, (int64_t)MPMC_ITEMS * i / MPMC_PRODUCERS,
					  (int64_t)MPMC_ITEMS * (i + 1) / MPMC_PRODUCERS};
		if (spawn_failed(gort_go(mpmc_producer, &pa[i])))
			return 1;
	}
	gort_wg_wait(&m.prod);
	gort_chan_close(m.c);
	gort_wg_wait(&m.cons);
	int64_t el = now_ns() - t0;
	int64_t want = (int64_t)MPMC_ITEMS * (MPMC_ITEMS - 1) / 2;
	if (atomic_load(&m.sum) != want || atomic_load(&m.count) != MPMC_ITEMS) {
		fprintf(stderr, "gort_bench: chanmpmc: %" PRId64 " items summing to %" PRId64
				", want %d summing to %" PRId64 "\n",
			atomic_load(&m.count), atomic_load(&m.sum), MPMC_ITEMS, want);
		return 1;
	}
	gort_chan_release(m.c);
	result_f("chanmpmc", "ns_per_item", (double)el / MPMC_ITEMS, 2, "ns");
	return 0;
}

/* ------------------------------------------------------------------ fib */

/* fib(n): for n >= 2, spawn a coroutine for fib(n-1) that sends its result
 * on a 1-slot channel, compute fib(n-2) here, then receive.  The child holds
 * its own reference to the channel (gort's rule for a channel shared between
 * coroutines) and drops it after sending. */
struct fib_arg {
	int n;
	gort_chan *c;
};

static int64_t fib(int n);

static void fib_task(void *arg)
{
	struct fib_arg *a = arg;
	gort_chan *c = a->c;
	int64_t v = fib(a->n);
	gort_chan_send(c, &v);
	gort_chan_release(c);
}

static int64_t fib(int n)
{
	if (n < 2)
		return n;
	struct fib_arg a = {n - 1, gort_chan_make(sizeof(int64_t), 1)};
	if (!a.c)
		gort_panic("gort_bench: fib: out of memory");
	gort_chan_retain(a.c);
	gort_id id = gort_go(fib_task, &a);
	if (id < 0)
		gort_panic("gort_bench: fib: gort_go: %s", gort_strerror((int)id));
	int64_t y = fib(n - 2), x;
	gort_chan_recv(a.c, &x, NULL);
	gort_chan_release(a.c);
	return x + y;
}

static int bench_fib(void *arg)
{
	(void)arg;
	int64_t t0 = now_ns();
	int64_t v = fib(FIB_N);
	int64_t el = now_ns() - t0;
	if (v != FIB_WANT) {
		fprintf(stderr, "gort_bench: fib: fib(%d) = %" PRId64 ", want %d\n", FIB_N, v,
			FIB_WANT);
		return 1;
	}
	result_f("fib", "total_ms", (double)el / 1e6, 3, "ms");
	return 0;
}

/* --------------------------------------------------------------- skynet */

/* skynet: node (num, size) is a leaf returning num when size == 1, else it
 * spawns SKYNET_DIV children (num + i * size/DIV, size/DIV) that send their
 * sums on its own unbuffered channel, and sends the total of the DIV values
 * on its parent's channel.  The children's arguments live in the parent's
 * frame (the parent outlives them: it receives from every child); each
 * child holds a reference to its parent's channel, dropped after sending. */
struct skynet_arg {
	gort_chan *c;
	int64_t num, size;
};

static void skynet_task(void *arg)
{
	struct skynet_arg *a = arg;
	gort_chan *up = a->c;
	int64_t num = a->num, size = a->size, sum = 0;
	if (size == 1) {
		sum = num;
	} else {
		struct skynet_arg kids[SKYNET_DIV];
		gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
		if (!c)
			gort_panic("gort_bench: skynet: out of memory");
		int64_t sub = size / SKYNET_DIV;
		for (int i = 0; i < SKYNET_DIV; i++) {
			kids[i] = (struct skynet_arg){gort_chan_retain(c), num + i * sub, sub};
			gort_id id = gort_go(skynet_task, &kids[i]);
			if (id < 0)
				gort_panic("gort_bench: skynet: gort_go: %s", gort_strerror((int)id));
		}
		for (int i = 0; i < SKYNET_DIV; i++) {
			int64_t v;
			gort_chan_recv(c, &v, NULL);
			sum += v;
		}
		gort_chan_release(c);
	}
	gort_chan_send(up, &sum);
	gort_chan_release(up);
}

static int bench_skynet(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(sizeof(int64_t), 0);
	if (!c)
		return oom();
	struct skynet_arg root = {gort_chan_retain(c), 0, SKYNET_LEAVES};
	int64_t t0 = now_ns(), sum;
	if (spawn_failed(gort_go(skynet_task, &root)))
		return 1;
	gort_chan_recv(c, &sum, NULL);
	int64_t el = now_ns() - t0;
	long rss = peak_rss_kib();
	gort_chan_release(c);
	if (sum != SKYNET_WANT) {
		fprintf(stderr, "gort_bench: skynet: sum %" PRId64 ", want %" PRId64 "\n", sum,
			(int64_t)SKYNET_WANT);
		return 1;
	}
	char buf[32];
	result_f("skynet", "total_ms", (double)el / 1e6, 3, "ms");
	snprintf(buf, sizeof buf, "%ld", rss);
	result("skynet", "peak_rss_kib", buf, "KiB");
	return 0;
}

/* --------------------------------------------------------------- select */

/* Two producers each send SELECT_OPS/2 ints (1 .. SELECT_OPS/2) on their
 * own unbuffered channel; one coroutine (main) selects SELECT_OPS times over
 * the two receives.  Each producer holds its own reference to its channel. */
static void select_producer(void *arg)
{
	gort_chan *c = arg;
	for (int64_t v = 1; v <= SELECT_OPS / 2; v++)
		gort_chan_send(c, &v);
	gort_chan_release(c); /* its own reference */
}

static int bench_select(void *arg)
{
	(void)arg;
	gort_chan *c1 = gort_chan_make(sizeof(int64_t), 0), *c2 = gort_chan_make(sizeof(int64_t), 0);
	if (!c1 || !c2)
		return oom();
	int64_t v, sum = 0, n[2] = {0, 0};
	gort_case cases[2] = {{.chan = c1, .dir = GORT_RECV, .elem = &v},
			      {.chan = c2, .dir = GORT_RECV, .elem = &v}};
	int64_t t0 = now_ns();
	if (spawn_failed(gort_go(select_producer, gort_chan_retain(c1))) ||
	    spawn_failed(gort_go(select_producer, gort_chan_retain(c2))))
		return 1;
	for (int i = 0; i < SELECT_OPS; i++) {
		int k = gort_select(cases, 2, false);
		if (k < 0 || k > 1 || !cases[k].ok) {
			fprintf(stderr, "gort_bench: select: select returned %d\n", k);
			return 1;
		}
		n[k]++;
		sum += v;
	}
	int64_t el = now_ns() - t0;
	int64_t half = SELECT_OPS / 2, want = half * (half + 1);
	if (n[0] != half || n[1] != half || sum != want) {
		fprintf(stderr, "gort_bench: select: %" PRId64 " + %" PRId64 " values summing to %" PRId64
				", want %" PRId64 " + %" PRId64 " summing to %" PRId64 "\n",
			n[0], n[1], sum, half, half, want);
		return 1;
	}
	gort_chan_release(c1);
	gort_chan_release(c2);
	result_f("select", "ns_per_select", (double)el / SELECT_OPS, 2, "ns");
	return 0;
}

/* ------------------------------------------------------ parked, parked_1m */

/* count coroutines (stack PARKED_STACK bytes) each signal the wait group
 * `parked` and block receiving on one signal-only channel.  park_ms: from
 * the first spawn until `parked` reaches zero; then a settle of
 * PARKED_SETTLE_MS lets the last of them finish parking before RSS is
 * read (rss_per_coroutine: the rise in peak RSS since before the first
 * spawn, over count).  exit_ms: from closing the channel until all have
 * returned (the wait group `exited`). */
struct parked {
	gort_chan *c;
	gort_wg parked, exited;
};

static void parked_task(void *arg)
{
	struct parked *pk = arg;
	gort_wg_done(&pk->parked);
	gort_chan_recv(pk->c, NULL, NULL);
	gort_wg_done(&pk->exited);
}

static int run_parked(const char *name, int count)
{
	static struct parked pk;
	pk.c = gort_chan_make(0, 0);
	if (!pk.c)
		return oom();
	long rss0 = peak_rss_kib();
	int64_t t0 = now_ns();
	gort_wg_add(&pk.parked, count);
	gort_wg_add(&pk.exited, count);
	for (int i = 0; i < count; i++)
		if (spawn_failed(gort_go_with(parked_task, &pk, .stack_size = PARKED_STACK)))
			return 1;
	gort_wg_wait(&pk.parked);
	int64_t park = now_ns() - t0;
	gort_sleep((int64_t)PARKED_SETTLE_MS * 1000000);
	long rss1 = peak_rss_kib();
	int64_t live = gort_num_coroutines();
	/* the grouped dump (one entry of `count`), written to /dev/null */
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		return oom();
	int64_t td = now_ns();
	int64_t dumped = gort_dump_file(null, GORT_DUMP_GROUPED);
	int64_t dump = now_ns() - td;
	fclose(null);
	if (dumped < count) {
		fprintf(stderr, "gort_bench: %s: the dump wrote %" PRId64 " of %d coroutines\n", name,
			dumped, count);
		return 1;
	}
	int64_t t1 = now_ns();
	gort_chan_close(pk.c);
	gort_wg_wait(&pk.exited);
	int64_t el = now_ns() - t1;
	if (live < count) {
		fprintf(stderr, "gort_bench: %s: only %" PRId64 " of %d coroutines alive while parked\n",
			name, live, count);
		return 1;
	}
	gort_chan_release(pk.c);
	result_f(name, "rss_per_coroutine", (double)(rss1 - rss0) * 1024.0 / count, 1, "B");
	result_f(name, "park_ms", (double)park / 1e6, 3, "ms");
	result_f(name, "exit_ms", (double)el / 1e6, 3, "ms");
	result_f(name, "grouped_dump_ms", (double)dump / 1e6, 3, "ms");
	return 0;
}

static int bench_parked(void *arg)
{
	(void)arg;
	return run_parked("parked", PARKED_COUNT);
}

static int bench_parked_1m(void *arg)
{
	(void)arg;
	return run_parked("parked_1m", PARKED_1M_COUNT);
}

/* --------------------------------------------------------------- timers */

/* TIMER_COUNT coroutines each sleep a duration of 1 .. 100 ms drawn in
 * advance from the LCG x = x*6364136223846793005 + 1442695040888963407
 * (seed TIMER_SEED): d = 1 + (x >> 33) % 100 ms.  Each measures its own
 * lateness (actual sleep - requested); total_ms runs from the first spawn
 * until the last coroutine is done. */
struct timers {
	gort_wg wg;
	_Atomic int64_t late_ns;
};

static struct timers g_timers;

static void timer_task(void *arg)
{
	int64_t d = (int64_t)(intptr_t)arg * 1000000;
	int64_t t0 = now_ns();
	gort_sleep(d);
	int64_t late = now_ns() - t0 - d;
	atomic_fetch_add(&g_timers.late_ns, late);
	gort_wg_done(&g_timers.wg);
}

static int bench_timers(void *arg)
{
	(void)arg;
	int *ms = malloc(TIMER_COUNT * sizeof *ms);
	if (!ms)
		return oom();
	uint64_t x = TIMER_SEED;
	for (int i = 0; i < TIMER_COUNT; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		ms[i] = 1 + (int)((x >> 33) % 100);
	}
	int64_t t0 = now_ns();
	gort_wg_add(&g_timers.wg, TIMER_COUNT);
	for (int i = 0; i < TIMER_COUNT; i++)
		if (spawn_failed(gort_go(timer_task, (void *)(intptr_t)ms[i])))
			return 1;
	gort_wg_wait(&g_timers.wg);
	int64_t el = now_ns() - t0;
	free(ms);
	int64_t late = atomic_load(&g_timers.late_ns);
	if (late < 0) {
		fprintf(stderr, "gort_bench: timers: total lateness %" PRId64 " ns < 0: woke early\n",
			late);
		return 1;
	}
	result_f("timers", "total_ms", (double)el / 1e6, 3, "ms");
	result_f("timers", "mean_lateness_us", (double)late / TIMER_COUNT / 1e3, 3, "us");
	return 0;
}

/* ---------------------------------------------------------------- mutex */

/* MUTEX_WORKERS coroutines each lock one gort_mutex, increment a shared
 * count and unlock, MUTEX_OPS times; main waits on a wait group and checks
 * the count. */
struct mutex_bench {
	gort_mutex mu;
	int64_t count; /* (mu) */
	gort_wg wg;
};

static void mutex_task(void *arg)
{
	struct mutex_bench *m = arg;
	for (int i = 0; i < MUTEX_OPS; i++) {
		gort_mutex_lock(&m->mu);
		m->count++;
		gort_mutex_unlock(&m->mu);
	}
	gort_wg_done(&m->wg);
}

static int bench_mutex(void *arg)
{
	(void)arg;
	static struct mutex_bench m = {.mu = GORT_MUTEX_INIT};
	int64_t t0 = now_ns();
	gort_wg_add(&m.wg, MUTEX_WORKERS);
	for (int i = 0; i < MUTEX_WORKERS; i++)
		if (spawn_failed(gort_go(mutex_task, &m)))
			return 1;
	gort_wg_wait(&m.wg);
	int64_t el = now_ns() - t0;
	int64_t want = (int64_t)MUTEX_WORKERS * MUTEX_OPS;
	if (m.count != want) {
		fprintf(stderr, "gort_bench: mutex: count %" PRId64 ", want %" PRId64 "\n", m.count,
			want);
		return 1;
	}
	result_f("mutex", "ns_per_lock", (double)el / want, 2, "ns");
	return 0;
}

/* ------------------------------------------------------------ ctxcancel */

/* A root context with cancel, CTX_CHILDREN children with cancel under it,
 * CTX_GRANDCHILDREN grandchildren with cancel under each child; for each
 * grandchild, a coroutine takes its done channel, signals the wait group
 * `ready` and blocks receiving on that channel.  setup_ms: from making the
 * root until `ready` reaches zero (every waiter is about to block).
 * cancel_ms: from gort_ctx_cancel(root) until every waiter has returned
 * (the wait group `exited`).  Each waiter checks that its context ended
 * with GORT_CANCELED.  The contexts are main's (it cancels and releases
 * each one at the end, after the waiters are gone), so the waiters borrow
 * them and their done channels. */
struct ctxcancel {
	gort_wg ready, exited;
	_Atomic int64_t canceled;
};

static struct ctxcancel g_ctxcancel;

static void ctx_waiter(void *arg)
{
	gort_ctx *ctx = arg;
	gort_chan *done = gort_ctx_done(ctx);
	if (!done)
		gort_panic("gort_bench: ctxcancel: gort_ctx_done: out of memory");
	gort_wg_done(&g_ctxcancel.ready);
	gort_chan_recv(done, NULL, NULL);
	if (gort_ctx_err(ctx) == GORT_CANCELED)
		atomic_fetch_add(&g_ctxcancel.canceled, 1);
	gort_wg_done(&g_ctxcancel.exited);
}

static int bench_ctxcancel(void *arg)
{
	(void)arg;
	const int WAITERS = CTX_CHILDREN * CTX_GRANDCHILDREN;
	gort_ctx **kids = calloc(CTX_CHILDREN, sizeof *kids);
	gort_ctx **gkids = calloc(WAITERS, sizeof *gkids);
	if (!kids || !gkids)
		return oom();
	int64_t t0 = now_ns();
	gort_ctx *root = gort_ctx_with_cancel(NULL);
	if (!root)
		return oom();
	gort_wg_add(&g_ctxcancel.ready, WAITERS);
	gort_wg_add(&g_ctxcancel.exited, WAITERS);
	for (int i = 0; i < CTX_CHILDREN; i++) {
		kids[i] = gort_ctx_with_cancel(root);
		if (!kids[i])
			return oom();
		for (int j = 0; j < CTX_GRANDCHILDREN; j++) {
			gort_ctx *g = gort_ctx_with_cancel(kids[i]);
			if (!g)
				return oom();
			gkids[i * CTX_GRANDCHILDREN + j] = g;
			if (spawn_failed(gort_go(ctx_waiter, g)))
				return 1;
		}
	}
	gort_wg_wait(&g_ctxcancel.ready);
	int64_t setup = now_ns() - t0;
	int64_t early = atomic_load(&g_ctxcancel.canceled);
	int64_t t1 = now_ns();
	gort_ctx_cancel(root);
	gort_wg_wait(&g_ctxcancel.exited);
	int64_t el = now_ns() - t1;
	int64_t canceled = atomic_load(&g_ctxcancel.canceled);
	for (int i = 0; i < WAITERS; i++) {
		gort_ctx_cancel(gkids[i]);
		gort_ctx_release(gkids[i]);
	}
	for (int i = 0; i < CTX_CHILDREN; i++) {
		gort_ctx_cancel(kids[i]);
		gort_ctx_release(kids[i]);
	}
	gort_ctx_cancel(root);
	gort_ctx_release(root);
	free(gkids);
	free(kids);
	if (early != 0 || canceled != WAITERS) {
		fprintf(stderr, "gort_bench: ctxcancel: %" PRId64 " waiters returned before the cancel, %"
				PRId64 " of %d saw GORT_CANCELED\n", early, canceled, WAITERS);
		return 1;
	}
	result_f("ctxcancel", "setup_ms", (double)setup / 1e6, 3, "ms");
	result_f("ctxcancel", "cancel_ms", (double)el / 1e6, 3, "ms");
	return 0;
}

/* -------------------------------------------------------------- rwmutex */

/* Read-mostly: RW_WORKERS coroutines each do RW_OPS operations on one
 * gort_rwmutex; operation i of each is a write when i % RW_WRITE_EVERY ==
 * RW_WRITE_EVERY - 1 (1%: lock, increment the pair a and b one after the
 * other, unlock), else a read (rlock, read a and b, runlock).  A read that
 * sees a != b saw a write half done: the lock failed, and the run fails.
 * Main waits on a wait group and checks the final a and b. */
struct rw_bench {
	gort_rwmutex rw;
	int64_t a, b; /* (rw) */
	gort_wg wg;
	_Atomic int64_t torn; /* reads that saw a != b */
	_Atomic int64_t sink; /* the sum of what was read, so reads are done */
};

static void rw_task(void *arg)
{
	struct rw_bench *r = arg;
	int64_t torn = 0, sum = 0;
	for (int i = 0; i < RW_OPS; i++) {
		if (i % RW_WRITE_EVERY == RW_WRITE_EVERY - 1) {
			gort_rwmutex_lock(&r->rw);
			r->a++;
			r->b++;
			gort_rwmutex_unlock(&r->rw);
		} else {
			gort_rwmutex_rlock(&r->rw);
			int64_t a = r->a, b = r->b;
			gort_rwmutex_runlock(&r->rw);
			torn += a != b;
			sum += a;
		}
	}
	atomic_fetch_add(&r->torn, torn);
	atomic_fetch_add(&r->sink, sum);
	gort_wg_done(&r->wg);
}

static int bench_rwmutex(void *arg)
{
	(void)arg;
	static struct rw_bench r = {.rw = GORT_RWMUTEX_INIT};
	int64_t t0 = now_ns();
	gort_wg_add(&r.wg, RW_WORKERS);
	for (int i = 0; i < RW_WORKERS; i++)
		if (spawn_failed(gort_go(rw_task, &r)))
			return 1;
	gort_wg_wait(&r.wg);
	int64_t el = now_ns() - t0;
	int64_t writes = (int64_t)RW_WORKERS * (RW_OPS / RW_WRITE_EVERY);
	int64_t torn = atomic_load(&r.torn);
	if (r.a != writes || r.b != writes || torn != 0) {
		fprintf(stderr, "gort_bench: rwmutex: a %" PRId64 ", b %" PRId64 ", want %" PRId64
				"; %" PRId64 " torn reads\n", r.a, r.b, writes, torn);
		return 1;
	}
	result_f("rwmutex", "ns_per_op", (double)el / ((double)RW_WORKERS * RW_OPS), 2, "ns");
	return 0;
}

/* ------------------------------------------------------------ semaphore */

/* A weighted semaphore of size SEM_SIZE; SEM_WORKERS coroutines each do,
 * SEM_OPS times: acquire(1), yield while holding the unit, release(1).  The
 * yield is what makes the units contended at any procs: without it a
 * coroutine never loses its P while holding, so at most procs units are
 * ever held and nobody waits.  The holders count themselves (an atomic
 * around the yield) and the run fails if more than SEM_SIZE ever hold at
 * once. */
struct sem_bench {
	gort_sem *s;
	gort_wg wg;
	_Atomic int64_t held, over, failed;
};

static void sem_task(void *arg)
{
	struct sem_bench *sb = arg;
	for (int i = 0; i < SEM_OPS; i++) {
		if (gort_sem_acquire(sb->s, 1) != 0) {
			atomic_fetch_add(&sb->failed, 1);
			continue;
		}
		if (atomic_fetch_add(&sb->held, 1) >= SEM_SIZE)
			atomic_fetch_add(&sb->over, 1);
		gort_yield();
		atomic_fetch_sub(&sb->held, 1);
		gort_sem_release(sb->s, 1);
	}
	gort_wg_done(&sb->wg);
}

static int bench_semaphore(void *arg)
{
	(void)arg;
	static struct sem_bench sb;
	sb.s = gort_sem_new(SEM_SIZE);
	if (!sb.s)
		return oom();
	int64_t t0 = now_ns();
	gort_wg_add(&sb.wg, SEM_WORKERS);
	for (int i = 0; i < SEM_WORKERS; i++)
		if (spawn_failed(gort_go(sem_task, &sb)))
			return 1;
	gort_wg_wait(&sb.wg);
	int64_t el = now_ns() - t0;
	int64_t over = atomic_load(&sb.over), failed = atomic_load(&sb.failed);
	if (over != 0 || failed != 0) {
		fprintf(stderr, "gort_bench: semaphore: %" PRId64 " acquires over the size %d, %" PRId64
				" failed\n", over, SEM_SIZE, failed);
		return 1;
	}
	/* all released: the whole size must be free again */
	if (!gort_sem_try_acquire(sb.s, SEM_SIZE)) {
		fprintf(stderr, "gort_bench: semaphore: units missing after every release\n");
		return 1;
	}
	gort_sem_release(sb.s, SEM_SIZE);
	gort_sem_free(sb.s);
	result_f("semaphore", "ns_per_op", (double)el / ((double)SEM_WORKERS * SEM_OPS), 2, "ns");
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int64_t calibrate(void)
{
	int64_t ns[CALIB_RUNS];
	volatile uint64_t sink = spin(1, CALIB_LOOPS); /* warm up */
	for (int i = 0; i < CALIB_RUNS; i++) {
		int64_t t0 = now_ns();
		sink = spin((uint64_t)i + 1, CALIB_LOOPS);
		ns[i] = now_ns() - t0;
	}
	(void)sink;
	qsort(ns, CALIB_RUNS, sizeof ns[0], cmp_i64);
	double per_loop = (double)ns[CALIB_RUNS / 2] / CALIB_LOOPS;
	int64_t loops = per_loop > 0 ? (int64_t)(CALIB_TARGET_NS / per_loop + 0.5) : 1;
	return loops < 1 ? 1 : loops;
}

/* With GORT_BENCH_STATS set (non-empty), print the scheduler's counters to
 * stderr after the workload: a diagnostic, never part of the results. */
static void print_stats(void)
{
	const char *e = getenv("GORT_BENCH_STATS");
	gort_stats s;
	if (!e || !*e || gort_stats_read(&s) != 0)
		return;
	fprintf(stderr,
		"# gort stats: procs=%d threads=%d spawns=%" PRIu64 " exits=%" PRIu64
		" runs=%" PRIu64 " switches=%" PRIu64 " yields=%" PRIu64 " parks=%" PRIu64
		" steals=%" PRIu64 " stolen=%" PRIu64 " global_takes=%" PRIu64
		" global_puts=%" PRIu64 " wakeups=%" PRIu64 "\n",
		s.procs, s.threads, s.spawns, s.exits, s.runs, s.switches, s.yields, s.parks,
		s.steals, s.stolen, s.global_takes, s.global_puts, s.wakeups);
}

/* ------------------------------------------------------------------- idle */

/* The runtime started with nothing to run.  The main coroutine cannot sleep
 * yet, so this runs on the plain main thread between gort_start and
 * gort_stop, and only the sleep is measured. */
static int bench_idle(const gort_config *cfg)
{
	int err = gort_start(cfg);
	if (err < 0) {
		fprintf(stderr, "gort_bench: gort_start: %s\n", gort_strerror(err));
		return 1;
	}
	int64_t c0 = cpu_ns(), t0 = now_ns();
	struct timespec left = {.tv_sec = IDLE_SLEEP_MS / 1000,
				.tv_nsec = (long)(IDLE_SLEEP_MS % 1000) * 1000000};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
	int64_t c1 = cpu_ns(), el = now_ns() - t0;
	print_stats();
	err = gort_stop();
	if (err < 0) {
		fprintf(stderr, "gort_bench: gort_stop: %s\n", gort_strerror(err));
		return 1;
	}
	result_f("idle", "cpu_percent", 100.0 * (double)(c1 - c0) / (double)el, 3, "%");
	return 0;
}

/* ------------------------------------------------------------------- main */

/* The main coroutine: the workload, then the optional counters. */
static int run_workload(void *arg)
{
	int (*fn)(void *) = *(int (**)(void *))arg;
	int rc = fn(NULL);
	print_stats();
	return rc;
}

/* ----------------------------------------------------------------- echo */

/* A TCP echo server on 127.0.0.1 (one coroutine per connection) and
 * ECHO_CONNS client coroutines in the same process, each doing
 * ECHO_ROUNDS round trips of ECHO_MSG bytes (write, then read it all
 * back).  requests_per_s: round trips over the wall time from the first
 * dial to the last client's end. */
static struct {
	gort_wg clients;
	int port;
	_Atomic int failed;
} g_echo;

static void echo_conn(void *arg)
{
	gort_fd *c = arg;
	char buf[4096];
	for (;;) {
		ssize_t n = gort_read(c, buf, sizeof buf);
		if (n <= 0 || gort_write(c, buf, (size_t)n) != n)
			break;
	}
	gort_fd_close(c);
}

static void echo_server(void *arg)
{
	gort_fd *lis = arg, *c;
	while (gort_accept(lis, &c, NULL, NULL) == 0)
		if (spawn_failed(gort_go(echo_conn, c)))
			gort_fd_close(c);
}

static void echo_client(void *arg)
{
	(void)arg;
	char addr[32], msg[ECHO_MSG], back[ECHO_MSG];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", g_echo.port);
	memset(msg, 'g', sizeof msg);
	gort_fd *c;
	if (gort_dial_tcp(addr, &c) != 0) {
		atomic_fetch_add(&g_echo.failed, 1);
		gort_wg_done(&g_echo.clients);
		return;
	}
	for (int i = 0; i < ECHO_ROUNDS; i++) {
		if (gort_write(c, msg, sizeof msg) != (ssize_t)sizeof msg)
			goto fail;
		for (size_t got = 0; got < sizeof back;) {
			ssize_t n = gort_read(c, back + got, sizeof back - got);
			if (n <= 0)
				goto fail;
			got += (size_t)n;
		}
	}
	gort_fd_close(c);
	gort_wg_done(&g_echo.clients);
	return;
fail:
	atomic_fetch_add(&g_echo.failed, 1);
	gort_fd_close(c);
	gort_wg_done(&g_echo.clients);
}

static int bench_echo(void *arg)
{
	(void)arg;
	gort_fd *lis;
	int rc = gort_listen_tcp("127.0.0.1:0", 1024, &lis);
	if (rc) {
		fprintf(stderr, "gort_bench: echo: listen: %s\n", gort_strerror(rc));
		return 1;
	}
	g_echo.port = gort_fd_port(lis);
	if (spawn_failed(gort_go(echo_server, lis)))
		return 1;
	int64_t t0 = now_ns();
	gort_wg_add(&g_echo.clients, ECHO_CONNS);
	for (int i = 0; i < ECHO_CONNS; i++)
		if (spawn_failed(gort_go(echo_client, NULL)))
			return 1;
	gort_wg_wait(&g_echo.clients);
	int64_t el = now_ns() - t0;
	gort_fd_close(lis);
	if (g_echo.failed) {
		fprintf(stderr, "gort_bench: echo: %d clients failed\n", g_echo.failed);
		return 1;
	}
	result_f("echo", "requests_per_s", (double)ECHO_CONNS * ECHO_ROUNDS * 1e9 / (double)el, 0, "req/s");
	return 0;
}

/* ------------------------------------------------------------------ hog */

/* HOG_PAIRS ping-pong pairs run; their round trips are counted over a
 * HOG_MS window, then over a second HOG_MS window while one more coroutine
 * spins for HOG_MS without yielding (no preemption point: the worst
 * case).  kept_fraction: the second count over the first. */
static struct {
	_Atomic long rounds;
	_Atomic int stop;
	gort_wg exited;
} g_hog;

static void hog_ping(void *arg)
{
	gort_chan **ch = arg;
	int v = 0;
	while (!atomic_load_explicit(&g_hog.stop, memory_order_relaxed)) {
		gort_chan_send(ch[0], &v);
		gort_chan_recv(ch[1], &v, NULL);
		atomic_fetch_add_explicit(&g_hog.rounds, 1, memory_order_relaxed);
	}
	gort_chan_close(ch[0]);
	gort_wg_done(&g_hog.exited);
}

static void hog_pong(void *arg)
{
	gort_chan **ch = arg;
	int v;
	bool ok;
	for (;;) {
		gort_chan_recv(ch[0], &v, &ok);
		if (!ok)
			break;
		gort_chan_send(ch[1], &v);
	}
	gort_wg_done(&g_hog.exited);
}

static void hog_spin(void *arg)
{
	(void)arg;
	int64_t end = now_ns() + (int64_t)HOG_MS * 1000000;
	while (now_ns() < end)
		;
}

static int bench_hog(void *arg)
{
	(void)arg;
	gort_chan *(*ch)[2] = calloc(HOG_PAIRS, sizeof *ch);
	if (!ch)
		return oom();
	gort_wg_add(&g_hog.exited, 2 * HOG_PAIRS);
	for (int i = 0; i < HOG_PAIRS; i++) {
		ch[i][0] = gort_chan_make(sizeof(int), 0);
		ch[i][1] = gort_chan_make(sizeof(int), 0);
		if (!ch[i][0] || !ch[i][1])
			return oom();
		if (spawn_failed(gort_go(hog_ping, ch[i])) || spawn_failed(gort_go(hog_pong, ch[i])))
			return 1;
	}
	gort_sleep(50000000); /* warm up */
	long r0 = atomic_load(&g_hog.rounds);
	gort_sleep((int64_t)HOG_MS * 1000000);
	long r1 = atomic_load(&g_hog.rounds);
	if (spawn_failed(gort_go(hog_spin, NULL)))
		return 1;
	gort_sleep((int64_t)HOG_MS * 1000000);
	long r2 = atomic_load(&g_hog.rounds);
	atomic_store(&g_hog.stop, 1);
	gort_wg_wait(&g_hog.exited);
	for (int i = 0; i < HOG_PAIRS; i++) {
		gort_chan_release(ch[i][0]);
		gort_chan_release(ch[i][1]);
	}
	free(ch);
	if (r1 == r0) {
		fprintf(stderr, "gort_bench: hog: no round trips without the hog\n");
		return 1;
	}
	result_f("hog", "kept_fraction", (double)(r2 - r1) / (double)(r1 - r0), 3, "x");
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void *arg);
} workloads[] = {
	{"spawn", bench_spawn},
	{"yield", bench_yield},
	{"yield-fp", bench_yield_fp},
	{"steal", bench_steal},
	{"protect", bench_protect},
	{"panic-recover", bench_panic_recover},
	{"pingpong", bench_pingpong},
	{"chanmpmc", bench_chanmpmc},
	{"fib", bench_fib},
	{"skynet", bench_skynet},
	{"select", bench_select},
	{"parked", bench_parked},
	{"parked_1m", bench_parked_1m},
	{"timers", bench_timers},
	{"mutex", bench_mutex},
	{"ctxcancel", bench_ctxcancel},
	{"rwmutex", bench_rwmutex},
	{"semaphore", bench_semaphore},
	{"echo", bench_echo},
	{"hog", bench_hog},
	{"idle", NULL}, /* not a coroutine: see bench_idle */
};

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: gort_bench <workload> <procs> [loops]\n"
			"       gort_bench calibrate\n"
			"workloads: spawn yield yield-fp steal idle protect panic-recover\n"
			"           pingpong chanmpmc fib skynet select parked parked_1m timers\n"
			"           mutex ctxcancel rwmutex semaphore echo hog\n"
			"environment: GORT_BENCH_SCALE=<d> divides the sizes by d (default 1)\n");
	exit(2);
}

static int parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "calibrate") == 0) {
		printf("LOOPS=%" PRId64 "\n", calibrate());
		return 0;
	}
	if (argc < 3 || argc > 4)
		usage();

	long long v;
	if (parse_long(argv[2], 1, GORT_MAX_PROCS, &v) != 0) {
		fprintf(stderr, "gort_bench: bad procs '%s'\n", argv[2]);
		return 2;
	}
	g_procs = (int)v;
	if (argc == 4) {
		if (parse_long(argv[3], 1, INT64_MAX, &v) != 0) {
			fprintf(stderr, "gort_bench: bad loops '%s'\n", argv[3]);
			return 2;
		}
		g_loops = v;
	}
	const char *sc = getenv("GORT_BENCH_SCALE");
	long long scale = 1;
	if (sc && *sc && parse_long(sc, 1, 1000000000, &scale) != 0) {
		fprintf(stderr, "gort_bench: bad GORT_BENCH_SCALE '%s'\n", sc);
		return 2;
	}
	set_sizes(scale);
	if (scale > 1)
		fprintf(stderr, "gort_bench: GORT_BENCH_SCALE=%lld: sizes divided by %lld (a smoke run, "
				"not comparable with full figures)\n", scale, scale);

	size_t n = sizeof workloads / sizeof workloads[0], w;
	for (w = 0; w < n; w++)
		if (strcmp(argv[1], workloads[w].name) == 0)
			break;
	if (w == n) {
		fprintf(stderr, "gort_bench: unknown workload '%s'\n", argv[1]);
		usage();
	}
	if (strcmp(workloads[w].name, "steal") == 0 && g_loops == 0)
		g_loops = calibrate();

	/* Line-buffered: a RESULT line printed is out, even if the runtime
	 * aborts afterwards. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	gort_config cfg = {.procs = g_procs};
	int rc;
	if (workloads[w].fn == NULL) {
		rc = bench_idle(&cfg);
	} else {
		int (*fn)(void *) = workloads[w].fn;
		rc = gort_main_cfg(&cfg, run_workload, &fn);
		if (rc < 0)
			fprintf(stderr, "gort_bench: gort_main: %s\n", gort_strerror(rc));
	}
	return rc == 0 ? 0 : 1;
}
