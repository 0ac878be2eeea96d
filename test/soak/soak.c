/*
 * soak.c — gort's soak test (issue 9): a randomised workload run for a
 * long time, checking invariants as it goes.  `make soak` builds it
 * ($(BUILD)/soak, from every file of test/soak/) and runs it at
 * GORT_PROCS=1, 2 and 8.
 *
 * Design
 * ------
 * The run is a sequence of rounds.  Round R runs a mix of workers drawn
 * from a stream seeded by (SOAK_SEED, R) for a fixed slice of time, then
 * quiesces: it sets the round's stop flag and cancels the round's
 * context, joins every worker (each finishes its protocol: senders stop,
 * owners close and drain, servers see end of file), and checks:
 *   - the workers' own invariants (each file's header says which): every
 *     channel value received exactly once or drained from a buffer after
 *     the close, and none whose send reported failure (chan.c); mutual
 *     exclusion, exact protected counters, the semaphore under its
 *     weight, errgroup results (sync.c); cancelled operations that did
 *     not happen, contexts' errors, causes, values and deadlines,
 *     after-funcs, timers (ctx.c); spawn bursts, per-spawn panic
 *     handlers, nested recover and defer order (spawn.c); loopback echo
 *     bytes checked at their stream offsets, deadlines and cancels on
 *     descriptors (io.c);
 *   - gort_leakcheck against a baseline taken at the start: no coroutine,
 *     lost-cancel context, orphaned channel or stuck wait group left;
 *   - gort_num_coroutines() back to its baseline, the gort_stats counters
 *     sane (spawns grew by at least what the soak spawned, spawns - exits
 *     = live, procs as configured, threads within the limit);
 *   - the soak's own count of the gort objects it holds (channels,
 *     contexts, descriptors, semaphores, groups) back to 0, and the
 *     process's open descriptors back to their baseline;
 *   - RSS, from /proc/self/statm after malloc_trim(0).
 * A plain pthread watches a progress counter that every worker bumps:
 * SOAK_HANG_SECONDS (30) without progress prints the seed, the round and
 * the grouped dump of every coroutine, and aborts.  The runtime's own
 * deadlock detector is on (gort_main).
 *
 * RSS.  The first SOAK_WARMUP rounds (4) run every kind at its largest,
 * the spawn bursts at their largest in each stack size in turn, and the
 * blocking-call workers grow the M pool to its high-water mark, so
 * that the runtime's caches reach their high-water marks; RSS is recorded
 * after every later round.  At the end, the largest RSS of the last 10
 * rounds may exceed the largest of the rounds before them (after the
 * warm-up) by 5% (SOAK_RSS_PCT) but at least 1 MiB (SOAK_RSS_FLOOR_KB),
 * and in a run of 40 rounds or more the largest of the second half may
 * exceed the first half's by as much: a leak makes new highs round after
 * round, while caches settle.  The floor is the noise measured at 8-13 MB:
 * the coroutine stack pools keep their hot stacks' pages and map a new
 * slab when a rare peak of coroutines needs more stacks, which moves RSS
 * by a few hundred kB now and then for minutes; malloc's per-thread caches
 * and arenas would add megabyte steps, so the soak runs with them off
 * (allocator_tunables).  Under a sanitizer the figures are printed but not
 * enforced (ASan's quarantine and TSan's shadow grow by design).
 *
 * Replay.  A broken invariant prints the seed, procs and round with the
 * message (SOAK_FAIL); the run stops after that round and exits 1.  The
 * mix of every round and each worker's stream of operations are functions
 * of the seed, the round and the worker, so `make soak SOAK_SEED=S
 * SOAK_PROCS=P SOAK_SECONDS=T` replays the same operations (the
 * interleaving is the scheduler's); SOAK_FROM_ROUND=R starts at round R,
 * SOAK_KINDS="chan io" runs only some kinds (the others' draws unchanged).
 *
 * Environment: SOAK_SEED (default: from the clock, printed), SOAK_SECONDS
 * (this run's length, default 20; `make soak` splits its SOAK_SECONDS, 60
 * by default, between the procs values), SOAK_SLICE_MS (default: a
 * twentieth of the run, 200 .. 2000 ms), SOAK_WARMUP, SOAK_ROUNDS (at most
 * this many rounds), SOAK_FROM_ROUND, SOAK_KINDS, SOAK_HANG_SECONDS,
 * SOAK_RSS_PCT, SOAK_RSS_FLOOR_KB, SOAK_MAX_THREADS, SOAK_TUNABLES=0,
 * SOAK_VERBOSE=1 (a line per round with its mix and where the memory is).
 */
#include "soak.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	int64_t seconds, slice_ms;
	int warmup, max_rounds, from_round, hang_seconds, rss_pct;
	long rss_floor_kb;
	bool verbose;
} cfg;


/* ----------------------------------------------------------------- mix */

static struct soak_mix mix_draw_all(int round, bool warmup);

static struct soak_mix mix_max(void)
{
	struct soak_mix m = {0};
	static const int most[K_KINDS] = {
		[K_CHAN] = 3, [K_SPAWN] = 1, [K_CTX] = 3,   [K_MUTEX] = 3, [K_RW] = 3,
		[K_SEM] = 3,  [K_GROUP] = 2, [K_PANIC] = 2, [K_IO] = 6, [K_SYSCALL] = 4,
	};
	memcpy(m.count, most, sizeof most);
	m.senders_max = 6;
	m.receivers_max = 6;
	m.burst_max = SOAK_SANITIZED ? 200 : 512; /* one spawner: its peak is the class's */
	m.sem_weight = 8;
	m.panic_pct = 10;
	m.timeout_max = 500 * GORT_US;
	m.io_max_msg = 64 * 1024;
	return m;
}

static const char *const kind_names[K_KINDS] = {
	[K_CHAN] = "chan",   [K_SPAWN] = "spawn", [K_CTX] = "ctx",     [K_MUTEX] = "mutex", [K_RW] = "rw",
	[K_SEM] = "sem",     [K_GROUP] = "group", [K_PANIC] = "panic", [K_IO] = "io",
	[K_SYSCALL] = "syscall",
};
static bool kind_off[K_KINDS]; /* SOAK_KINDS leaves these out */

/* SOAK_KINDS="chan io ...": only these kinds (for narrowing a failure
 * down; the other kinds' draws stay as they were). */
static void kinds_parse(void)
{
	const char *s = getenv("SOAK_KINDS");
	if (s == NULL || *s == '\0')
		return;
	for (int k = 1; k < K_KINDS; k++) {
		const char *p = strstr(s, kind_names[k]);
		size_t n = strlen(kind_names[k]);
		kind_off[k] = p == NULL || (p > s && p[-1] != ' ' && p[-1] != ',') ||
			      (p[n] != '\0' && p[n] != ' ' && p[n] != ',');
	}
}

static void mix_filter(struct soak_mix *m)
{
	for (int k = 1; k < K_KINDS; k++)
		if (kind_off[k])
			m->count[k] = 0;
}

/* The warm-up rounds run everything at its largest; the others draw. */
static struct soak_mix mix_draw(int round, bool warmup)
{
	struct soak_mix m = mix_draw_all(round, warmup);
	mix_filter(&m);
	return m;
}

/* Stack sizes of the spawn bursts (16 KiB only without sanitizers: their
 * frames are larger). */
static const size_t burst_stacks[] = {0, 64 * 1024, 32 * 1024, 16 * 1024};
#define BURST_STACKS (SOAK_SANITIZED ? 3 : 4)

static struct soak_mix mix_draw_all(int round, bool warmup)
{
	struct soak_mix most = mix_max(), m = most;
	if (warmup) {
		m.burst_stack = burst_stacks[(round - 1) % BURST_STACKS];
		return m;
	}
	soak_rng rng = soak_stream(round, K_MIX, 0);
	int any = 0;
	for (int k = 1; k < K_KINDS; k++)
		any += m.count[k] = (int)rng_below(&rng, (uint32_t)most.count[k] + 1);
	if (any == 0)
		m.count[K_CHAN] = 1;
	m.senders_max = 1 + (int)rng_below(&rng, (uint32_t)most.senders_max);
	m.receivers_max = 1 + (int)rng_below(&rng, (uint32_t)most.receivers_max);
	m.burst_max = 1 + (int)rng_below(&rng, (uint32_t)most.burst_max);
	m.sem_weight = 1 + (int)rng_below(&rng, (uint32_t)most.sem_weight);
	m.panic_pct = (int)rng_below(&rng, 21);
	m.timeout_max = rng_range(&rng, 10 * GORT_US, 1000 * GORT_US);
	m.io_max_msg = 1 + (int)rng_below(&rng, (uint32_t)most.io_max_msg);
	m.burst_stack = burst_stacks[rng_below(&rng, BURST_STACKS)];
	return m;
}

/* ------------------------------------------------------------ watchdog */

static atomic_bool watchdog_stop;

static void *watchdog(void *arg)
{
	(void)arg;
	unsigned long long last = atomic_load(&soak_t.progress);
	int64_t since = gort_now(), hang = cfg.hang_seconds * GORT_SEC;
	while (!atomic_load(&watchdog_stop)) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		unsigned long long p = atomic_load(&soak_t.progress);
		int64_t now = gort_now();
		if (p != last) {
			last = p;
			since = now;
			continue;
		}
		if (now - since < hang)
			continue;
		flockfile(stderr);
		fprintf(stderr,
			"soak: FAIL [seed %llu, procs %d, round %d]: no progress for %d s (a hang or a "
			"deadlock); every coroutine:\n",
			(unsigned long long)soak_seed, soak_procs, atomic_load(&soak_t.round),
			cfg.hang_seconds);
		funlockfile(stderr);
		gort_dump(2, GORT_DUMP_GROUPED);
		fprintf(stderr, "soak: replay: make soak SOAK_SEED=%llu SOAK_PROCS=%d SOAK_SECONDS=%lld\n",
			(unsigned long long)soak_seed, soak_procs, (long long)cfg.seconds);
		abort();
	}
	return NULL;
}

/* --------------------------------------------------------------- rounds */

struct baseline {
	gort_leak_baseline *leaks;
	int64_t live;
	int fds;
};

/* Polls until f() == want or ~2 s passed; returns the last value. */
static int64_t settle(int64_t (*f)(void), int64_t want)
{
	int64_t v = f();
	for (int i = 0; i < 200 && v != want; i++) {
		gort_sleep(10 * GORT_MS);
		v = f();
	}
	return v;
}

static int64_t fds_now(void)
{
	return soak_open_fds();
}

static void run_round(int number, const struct baseline *base, long *rss_out)
{
	struct soak_round *r = calloc(1, sizeof *r);
	if (r == NULL) {
		SOAK_FAIL("out of memory");
		return;
	}
	r->number = number;
	r->warmup = number <= cfg.warmup;
	r->mix = mix_draw(number, r->warmup);
	soak_current_mix = &r->mix;
	atomic_store(&soak_t.round, number);
	r->ctx = soak_ctx_cancel(NULL);
	gort_stats st0, st1;
	gort_stats_read(&st0);
	unsigned long long ops0 = atomic_load(&soak_t.ops), sent0 = atomic_load(&soak_t.sent),
			   recv0 = atomic_load(&soak_t.received) + atomic_load(&soak_t.drained);
	int64_t t0 = gort_now();
	if (cfg.verbose) {
		printf("soak: round %d%s: ", number, r->warmup ? " (warm-up)" : "");
		soak_print_mix(stdout, &r->mix);
		printf("\n");
		fflush(stdout);
	}

	chan_start(r);
	sync_start(r);
	ctx_start(r);
	spawn_start(r);
	io_start(r);
	gort_sleep(cfg.slice_ms * GORT_MS);
	atomic_store(&r->stop, true);
	gort_ctx_cancel(r->ctx);
	gort_wg_wait(&r->workers);
	soak_ops(0);

	gort_leak_report rep = {0};
	int64_t leaks = gort_leakcheck(&(gort_leak_opts){
		.grace_ns = 5 * GORT_SEC, .baseline = base->leaks, .report = &rep});
	SOAK_CHECK(leaks == 0,
		   "leak check: %lld (%lld coroutines, %lld contexts, %lld channels, %lld wait groups)",
		   (long long)leaks, (long long)rep.coroutines, (long long)rep.contexts,
		   (long long)rep.channels, (long long)rep.waitgroups);
	int64_t live = settle(gort_num_coroutines, base->live);
	SOAK_CHECK(live == base->live, "%lld coroutines alive after the round, %lld at the start",
		   (long long)live, (long long)base->live);
	sync_check(r);
	ctx_check(r);
	spawn_check(r);
	io_check(r);
	soak_ctx_done(r->ctx);
	long objects = atomic_load(&soak_t.objects);
	SOAK_CHECK(objects == 0, "%ld gort objects (channels, contexts, descriptors, ...) still held",
		   objects);
	int64_t fds = settle(fds_now, base->fds);
	SOAK_CHECK(fds == base->fds, "%lld descriptors open after the round, %d at the start",
		   (long long)fds, base->fds);

	gort_stats_read(&st1);
	uint64_t spawned = (uint64_t)atomic_load(&r->spawned);
	SOAK_CHECK(st1.spawns - st0.spawns >= spawned && st1.exits >= st0.exits,
		   "gort_stats: spawns %llu -> %llu (the soak spawned %llu), exits %llu -> %llu",
		   (unsigned long long)st0.spawns, (unsigned long long)st1.spawns,
		   (unsigned long long)spawned, (unsigned long long)st0.exits,
		   (unsigned long long)st1.exits);
	SOAK_CHECK((int64_t)(st1.spawns - st1.exits) == live,
		   "gort_stats: spawns - exits = %lld, %lld alive",
		   (long long)(st1.spawns - st1.exits), (long long)live);
	SOAK_CHECK(st1.procs == soak_procs && st1.idle_procs <= st1.procs && st1.threads >= 1 &&
			   st1.threads <= GORT_DEFAULT_MAX_THREADS,
		   "gort_stats: procs %d (expected %d), idle procs %d, threads %d", st1.procs,
		   soak_procs, st1.idle_procs, st1.threads);

	*rss_out = soak_rss_kb();
	bool show = cfg.verbose || number <= cfg.warmup + 1 || number % 10 == 0 ||
		    atomic_load(&soak_t.failures) > 0;
	if (show) {
		printf("soak: round %d%s [procs %d] %.2f s: ops %llu, values sent %llu, arrived %llu, "
		       "spawned %llu, rss %ld kB, threads %d\n",
		       number, r->warmup ? " (warm-up)" : "", soak_procs,
		       (double)(gort_now() - t0) / 1e9, atomic_load(&soak_t.ops) - ops0,
		       atomic_load(&soak_t.sent) - sent0,
		       atomic_load(&soak_t.received) + atomic_load(&soak_t.drained) - recv0,
		       (unsigned long long)spawned, *rss_out, st1.threads);
		if (cfg.verbose) {
			char mem[256];
			soak_mem_detail(mem, sizeof mem);
			printf("soak: round %d memory: %s; threads %d (idle %d), tasks %d\n", number, mem,
			       st1.threads, st1.idle_threads, soak_count_tasks());
		}
		fflush(stdout);
	}
	soak_current_mix = NULL;
	free(r);
}

static int64_t env_int(const char *name, int64_t dflt)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return dflt;
	char *end;
	long long v = strtoll(s, &end, 0);
	if (*end != '\0' || v < 0) {
		fprintf(stderr, "soak: bad %s=%s, using %lld\n", name, s, (long long)dflt);
		return dflt;
	}
	return v;
}

static long span_max(const long *v, int from, int to)
{
	long m = 0;
	for (int i = from; i < to; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static double pct(long now, long before)
{
	return before > 0 ? 100.0 * (double)(now - before) / (double)before : 0;
}

static int real_main(void *arg)
{
	(void)arg;
	soak_procs = gort_procs();
	const char *seed = getenv("SOAK_SEED");
	if (seed != NULL && *seed != '\0') {
		soak_seed = strtoull(seed, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		soak_seed = soak_mix64(((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
				       (uint64_t)getpid()) % 1000000000000ULL;
	}
	cfg.seconds = soak_seconds = env_int("SOAK_SECONDS", 20);
	int64_t dslice = cfg.seconds * 1000 / 20;
	cfg.slice_ms = env_int("SOAK_SLICE_MS", dslice < 200 ? 200 : dslice > 2000 ? 2000 : dslice);
	cfg.warmup = (int)env_int("SOAK_WARMUP", 4);
	cfg.max_rounds = (int)env_int("SOAK_ROUNDS", 0);
	cfg.from_round = (int)env_int("SOAK_FROM_ROUND", 1);
	cfg.hang_seconds = (int)env_int("SOAK_HANG_SECONDS", 30);
	cfg.rss_pct = (int)env_int("SOAK_RSS_PCT", 5);
	cfg.rss_floor_kb = (long)env_int("SOAK_RSS_FLOOR_KB", 1024);
	cfg.verbose = env_int("SOAK_VERBOSE", 0) != 0;
	if (cfg.from_round < 1)
		cfg.from_round = 1;
	kinds_parse();
	const char *tun = getenv("GLIBC_TUNABLES");
	printf("soak: seed %llu, procs %d, %lld s in rounds of %lld ms, %d warm-up rounds%s%s%s "
	       "(replay: make soak SOAK_SEED=%llu SOAK_PROCS=%d SOAK_SECONDS=%lld)\n",
	       (unsigned long long)soak_seed, soak_procs, (long long)cfg.seconds,
	       (long long)cfg.slice_ms, cfg.warmup, SOAK_SANITIZED ? ", sanitizer build" : "",
	       tun != NULL ? ", GLIBC_TUNABLES=" : "", tun != NULL ? tun : "",
	       (unsigned long long)soak_seed, soak_procs, (long long)cfg.seconds);
	fflush(stdout);

	pthread_t wd;
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		fprintf(stderr, "soak: cannot start the watchdog thread\n");
		return 1;
	}
	struct baseline base = {gort_leak_baseline_take(), gort_num_coroutines(), soak_open_fds()};
	if (base.leaks == NULL) {
		fprintf(stderr, "soak: gort_leak_baseline_take failed\n");
		return 1;
	}

	long *rss = calloc(1, sizeof *rss);
	int nrss = 0, cap = 1, rounds = 0;
	long rss_max = 0;
	int64_t start = gort_now(), budget = cfg.seconds * GORT_SEC;
	for (int number = cfg.from_round; atomic_load(&soak_t.failures) == 0; number++) {
		if (cfg.max_rounds > 0 && rounds >= cfg.max_rounds)
			break;
		if (rounds > 0 && gort_now() - start + cfg.slice_ms * GORT_MS > budget)
			break;
		long r = 0;
		run_round(number, &base, &r);
		rounds++;
		if (number > cfg.warmup && r > 0) {
			if (nrss == cap) {
				long *bigger = realloc(rss, (size_t)(cap *= 2) * sizeof *rss);
				if (bigger == NULL)
					break;
				rss = bigger;
			}
			rss[nrss++] = r;
			if (r > rss_max)
				rss_max = r;
		}
	}

	/* RSS (see the top of the file): the largest of the last 10 rounds
	 * against the largest of the rounds after the warm-up before them
	 * and, in a run of 40 rounds or more, the largest of its second half
	 * against the largest of its first half. */
	bool rss_ok = true;
	char rss_line[512] = "rss: fewer than 2 rounds after the warm-up, not checked";
	if (nrss >= 2) {
		int w = nrss - 1 < 10 ? nrss - 1 : 10;
		long ref = span_max(rss, 0, nrss - w), wmax = span_max(rss, nrss - w, nrss);
		long tol = ref * cfg.rss_pct / 100 > cfg.rss_floor_kb ? ref * cfg.rss_pct / 100
								       : cfg.rss_floor_kb;
		rss_ok = wmax - ref <= tol;
		int n = snprintf(rss_line, sizeof rss_line,
				 "rss kB first %ld last %ld max %ld over %d rounds after the warm-up "
				 "(%+.1f%%); the last %d rounds' largest %ld vs %ld before them (%+.2f%%)",
				 rss[0], rss[nrss - 1], rss_max, nrss, pct(rss_max, rss[0]), w, wmax,
				 ref, pct(wmax, ref));
		if (nrss >= 40) {
			long h1 = span_max(rss, 0, nrss / 2), h2 = span_max(rss, nrss / 2, nrss);
			rss_ok &= h2 - h1 <= tol;
			n += snprintf(rss_line + n, sizeof rss_line - (size_t)n,
				      "; second half's largest %ld vs the first's %ld (%+.2f%%)", h2, h1,
				      pct(h2, h1));
		}
		snprintf(rss_line + n, sizeof rss_line - (size_t)n,
			 "; allowed +%ld kB (%d%%, at least %ld kB)%s%s", tol, cfg.rss_pct,
			 cfg.rss_floor_kb, nrss < 11 ? "; fewer than 10 rounds after the warm-up" : "",
			 SOAK_SANITIZED ? "; not enforced under a sanitizer" : "");
	}
	if (!rss_ok && !SOAK_SANITIZED)
		SOAK_FAIL("RSS grew: %s", rss_line);

	/* The end: nothing of the soak's is left. */
	int64_t leaks = gort_leakcheck(&(gort_leak_opts){.grace_ns = 5 * GORT_SEC});
	SOAK_CHECK(leaks == 0, "final leak check: %lld", (long long)leaks);
	gort_leak_baseline_free(base.leaks);
	atomic_store(&watchdog_stop, true);
	pthread_join(wd, NULL);
	free(rss);

	int failures = atomic_load(&soak_t.failures);
	printf("soak: %s: procs %d, seed %llu, %d rounds (%d warm-up) in %.1f s, %llu ops, values "
	       "sent %llu, received %llu + drained %llu (withdrawn %llu), %llu spawns, %llu panics "
	       "recovered, %llu cancels, %llu echo sessions / %.1f MB checked; %s\n",
	       failures ? "FAILED" : "ok", soak_procs, (unsigned long long)soak_seed, rounds,
	       rounds < cfg.warmup ? rounds : cfg.warmup, (double)(gort_now() - start) / 1e9,
	       atomic_load(&soak_t.ops), atomic_load(&soak_t.sent), atomic_load(&soak_t.received),
	       atomic_load(&soak_t.drained), atomic_load(&soak_t.withdrawn),
	       atomic_load(&soak_t.spawns), atomic_load(&soak_t.panics),
	       atomic_load(&soak_t.ctx_cancels), atomic_load(&soak_t.io_sessions),
	       (double)atomic_load(&soak_t.io_bytes) / 1e6, rss_line);
	if (failures)
		printf("soak: %d failure%s; replay: make soak SOAK_SEED=%llu SOAK_PROCS=%d SOAK_SECONDS=%lld\n",
		       failures, failures == 1 ? "" : "s", (unsigned long long)soak_seed, soak_procs,
		       (long long)cfg.seconds);
	fflush(stdout);
	return failures ? 1 : 0;
}

/* The M pool's limit: the runtime's default (GORT_MAX_THREADS), unless
 * SOAK_MAX_THREADS=<n> sets one (at the cap a blocking call keeps its P,
 * and gort says so once on stderr).  The soak once capped it at procs + 4:
 * the pool grew without bound at procs 8 on 2 cores under its timer load
 * (fixed: one idle M holds the timer duty, sched.c). */
static int max_threads(void)
{
	return (int)env_int("SOAK_MAX_THREADS", 0); /* 0: the runtime's default */
}

/* Allocator noise: glibc keeps freed chunks in a cache per thread (up to
 * ~230 KiB each, counted resident) and spreads threads over arenas whose
 * free pages fragment, so RSS after a round depends on which thread freed
 * what: steps of a megabyte that say nothing about leaks.  Unless
 * GLIBC_TUNABLES is set (or SOAK_TUNABLES=0), the soak runs itself again
 * with the per-thread cache off and two arenas; what it measures is then
 * memory in use plus the runtime's own caches.  (Sanitizers bring their
 * own allocator: nothing to do.) */
static void allocator_tunables(char **argv)
{
	if (SOAK_SANITIZED || getenv("GLIBC_TUNABLES") != NULL || env_int("SOAK_TUNABLES", 1) == 0)
		return;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2", 1);
	execv(self, argv);
	unsetenv("GLIBC_TUNABLES"); /* exec failed: go on as we are */
}

int main(int argc, char **argv)
{
	(void)argc;
	allocator_tunables(argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	gort_config gc = {.max_threads = max_threads()};
	return gort_main_cfg(&gc, real_main, NULL);
}
