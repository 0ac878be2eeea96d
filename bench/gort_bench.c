/*
 * gort_bench: gort's scheduler benchmarks, one workload per process.
 *
 * Usage:
 *   gort_bench <workload> <procs> [loops]   run one workload once
 *   gort_bench calibrate                    print LOOPS=<n>: the steal task's
 *                                           spin loop count for ~50 us
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum {
	SPAWN_COUNT = 1000000,  /* spawn: coroutines spawned */
	YIELD_ROUNDS = 5000000, /* yield, yield-fp: yields per coroutine */
	STEAL_TASKS = 20000,    /* steal: CPU-bound tasks */
	IDLE_SLEEP_S = 2,       /* idle: seconds asleep */
	PROTECT_OPS = 10000000, /* protect: gort_protect calls */
	PANIC_OPS = 200000,     /* panic-recover: panics recovered */
	/* calibrate: the spin loop is timed over CALIB_LOOPS iterations,
	 * CALIB_RUNS times; the median is scaled to CALIB_TARGET_NS. */
	CALIB_LOOPS = 1000000,
	CALIB_RUNS = 9,
	CALIB_TARGET_NS = 50000,
};

static int g_procs;

static void result(const char *bench, const char *metric, const char *value, const char *unit)
{
	printf("RESULT bench=%s impl=gort procs=%d metric=%s value=%s unit=%s\n", bench, g_procs,
	       metric, value, unit);
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
	for (uintptr_t i = 0; i < STEAL_TASKS; i++) {
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
	struct timespec left = {.tv_sec = IDLE_SLEEP_S, .tv_nsec = 0};
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
	{"idle", NULL}, /* not a coroutine: see bench_idle */
};

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: gort_bench <workload> <procs> [loops]\n"
			"       gort_bench calibrate\n"
			"workloads: spawn yield yield-fp steal idle protect panic-recover\n");
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
