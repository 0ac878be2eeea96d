/*
 * test_stack.c — coroutine stacks: guard pages that do not split mappings,
 * stack overflow reported (guard=auto, madvise, mprotect, canary), usable
 * size, size limits.
 */
#include "helpers.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------------ */
/* 100,000 live coroutines do not add a mapping each                         */
/* ------------------------------------------------------------------------ */

static long count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert(f, "open /proc/self/maps: %s", strerror(errno));
	long lines = 0;
	int c;
	while ((c = getc(f)) != EOF)
		if (c == '\n')
			lines++;
	fclose(f);
	return lines;
}

struct live {
	gort_wg started, gate, finished;
	atomic_long released;
};

static void live_fn(void *p)
{
	struct live *l = p;
	gort_wg_done(&l->started);
	gort_wg_wait(&l->gate);
	atomic_fetch_add(&l->released, 1);
	gort_wg_done(&l->finished);
}

/* Start the runtime (procs 2, guard mode from debug), park n coroutines on
 * a gate, and return how many lines /proc/self/maps grew by while they were
 * all live; then release, join and stop. */
static long live_mapping_growth(long n, const char *debug)
{
	static struct live l;
	int rc = gort_start(&(gort_config){.procs = 2, .debug = debug});
	cr_assert_eq(rc, 0, "gort_start = %d", rc);
	long before = count_maps();

	gort_wg_add(&l.gate, 1);
	gort_wg_add(&l.started, n);
	gort_wg_add(&l.finished, n);
	for (long i = 0; i < n; i++) {
		gort_id id = gort_go(live_fn, &l);
		cr_assert_gt(id, 0, "spawn %ld of %ld: %lld (%s)", i, n, (long long)id,
			     gort_strerror((int)id));
	}
	gort_wg_wait(&l.started);
	/* every one has run and is parked (or about to be) on the gate */
	cr_assert_eq(gort_num_coroutines(), n, "%lld live, want %ld",
		     (long long)gort_num_coroutines(), n);
	cr_assert_eq(atomic_load(&l.released), 0, "the gate let someone through early");
	long after = count_maps();

	gort_wg_done(&l.gate);
	gort_wg_wait(&l.finished);
	cr_assert_eq(atomic_load(&l.released), n);
	int64_t live = wait_num_coroutines(0, 10000);
	cr_assert_eq(live, 0, "%lld coroutines still live", (long long)live);
	rt_stop();
	return after - before;
}

Test(stack, live_100k_do_not_split_mappings, .timeout = 120)
{
#ifdef GORT_TEST_TSAN
	/* TSan maps memory per fiber and stops at 8128 fibers: the mapping
	 * count says nothing about guards there. */
	cr_skip_test("mapping counts are TSan's own under ThreadSanitizer");
#endif
	long n = scaled_min(100000, 5000);
	long growth = live_mapping_growth(n, NULL);
	cr_assert_lt(growth, 1000,
		     "%ld live coroutines added %ld lines to /proc/self/maps: guard pages split the "
		     "stack mappings",
		     n, growth);
}

/* The measure above can fail: mprotect guards (under their budget) do split
 * the mapping, two entries per stack. */
Test(stack, mprotect_guards_do_split_mappings, .timeout = 60)
{
	long n = 3000;
	long growth = live_mapping_growth(n, "guard=mprotect");
	cr_assert_geq(growth, n, "%ld coroutines with mprotect guards added only %ld mappings", n,
		      growth);
}

/* ------------------------------------------------------------------------ */
/* stack overflow                                                            */
/* ------------------------------------------------------------------------ */

/* Frames well under a page, each written in full, so the recursion cannot
 * step over a guard page. */
__attribute__((noinline)) static int deep_recurse(int depth)
{
	volatile char buf[480];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(depth + (int)i);
	if (depth >= 1000000)
		return buf[7];
	return deep_recurse(depth + 1) + buf[depth % (int)sizeof buf];
}

static volatile int deep_sink;

static void deep_fn(void *arg)
{
	(void)arg;
	deep_sink = deep_recurse(0);
}

struct overflow_child {
	const char *debug; /* cfg.debug, or NULL */
	void (*fn)(void *);
	const char *name;
	int procs;
};

static int overflow_child_main(void *p)
{
	struct overflow_child *c = p;
	int rc = gort_start(&(gort_config){.procs = c->procs, .debug = c->debug});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	gort_id id = gort_go_with(c->fn, NULL, .name = c->name, .stack_size = 64 * 1024);
	CHILD_CHECK(id > 0, 3, "gort_go_with = %lld", (long long)id);
	gort_wg_wait(&wg); /* never released: the child must die first */
	return 4;
}

static void check_overflow_report(const struct child_result *r, const char *name)
{
	assert_child_aborted(r);
	assert_stderr_has(r, "fatal: coroutine");
	assert_stderr_has(r, name);
	assert_stderr_has(r, "overflowed its 64 KiB stack");
	assert_stderr_has(r, "test_stack.c");
}

Test(stack, overflow_is_reported_default_guard, .timeout = 60)
{
	static struct child_result r;
	struct overflow_child c = {.fn = deep_fn, .name = "deep", .procs = 2};
	child_run(overflow_child_main, &c, NULL, &r);
	check_overflow_report(&r, "deep");
}

Test(stack, overflow_is_reported_guard_madvise, .timeout = 60)
{
	static struct child_result r;
	struct overflow_child c = {.fn = deep_fn, .name = "deep", .procs = 2};
	const char *env[] = {"GORT_DEBUG=guard=madvise", NULL};
	child_run(overflow_child_main, &c, env, &r);
	check_overflow_report(&r, "deep");
}

Test(stack, overflow_is_reported_guard_mprotect, .timeout = 60)
{
	static struct child_result r;
	struct overflow_child c = {.fn = deep_fn, .name = "deep", .procs = 2};
	const char *env[] = {"GORT_DEBUG=guard=mprotect", NULL};
	child_run(overflow_child_main, &c, env, &r);
	check_overflow_report(&r, "deep");
}

/* cfg.debug overrides the environment */
Test(stack, overflow_is_reported_guard_from_cfg, .timeout = 60)
{
	static struct child_result r;
	struct overflow_child c = {.fn = deep_fn, .name = "deep", .procs = 1, .debug = "guard=mprotect"};
	const char *env[] = {"GORT_DEBUG=guard=canary", NULL};
	child_run(overflow_child_main, &c, env, &r);
	check_overflow_report(&r, "deep");
}

/*
 * Canary mode checks the stack only at a switch.  The coroutine finds its
 * stack's top from a local at entry and recurses down toward the bottom of
 * its 64 KiB; from 2 KiB above the bottom on it yields at every frame (a
 * sibling keeps the P busy, so every yield switches) so that the first
 * switch after it writes over the lowest bytes of its stack reports it.
 * It stops 2 KiB past the bottom at most.
 */
static uintptr_t canary_top;
static volatile int canary_spin_stop;

__attribute__((noinline)) static int canary_recurse(int depth)
{
	volatile char buf[224];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)0x5a;
	uintptr_t here = (uintptr_t)&buf[0];
	uintptr_t used = canary_top - here;
	if (used >= 64 * 1024 + 2048)
		return buf[3];
	if (used + 2048 >= 64 * 1024)
		gort_yield();
	return canary_recurse(depth + 1) + buf[depth % (int)sizeof buf];
}

static void canary_deep_fn(void *arg)
{
	(void)arg;
	volatile char top = 0;
	canary_top = (uintptr_t)&top;
	deep_sink = canary_recurse(0);
	/* not detected: say so and end the child with status 5 */
	fprintf(stderr, "canary overwrite was not detected\n");
	canary_spin_stop = 1;
	_exit(5);
}

static void canary_spinner(void *arg)
{
	(void)arg;
	while (!canary_spin_stop)
		gort_yield();
}

static int canary_child_main(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_go_with(canary_spinner, NULL, .name = "spinner") > 0, 3, "spawn spinner");
	gort_id id = gort_go_with(canary_deep_fn, NULL, .name = "deep", .stack_size = 64 * 1024);
	CHILD_CHECK(id > 0, 3, "gort_go_with = %lld", (long long)id);
	return child_wait_forever();
}

Test(stack, overflow_is_reported_guard_canary, .timeout = 60)
{
	static struct child_result r;
	const char *env[] = {"GORT_DEBUG=guard=canary", NULL};
	child_run(canary_child_main, NULL, env, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "fatal: coroutine");
	assert_stderr_has(&r, "deep");
	assert_stderr_has(&r, "test_stack.c");
	cr_assert(strstr(r.err, "overflow") || strstr(r.err, "canary"),
		  "no word of an overflow or a canary; stderr:\n%s", r.err);
}

/* The same downward walk with the default guard: a guard page must fault
 * (the yields change nothing there). */
Test(stack, overflow_walk_with_yields_default_guard, .timeout = 60)
{
#ifdef GORT_TEST_TSAN
	/* The walk yields within 2 KiB of the stack's end; under TSan the
	 * instrumented yield path is deeper than that, so the fault may land
	 * inside TSan's own runtime, which reports it itself ("nested bug")
	 * before any handler of ours runs. */
	cr_skip_test("the guard may be hit inside ThreadSanitizer's runtime");
#endif
	static struct child_result r;
	child_run(canary_child_main, NULL, NULL, &r);
	check_overflow_report(&r, "deep");
}

/* The name is copied at spawn (and cut to GORT_NAME_MAX - 1 bytes). */
static int name_child_main(void *p)
{
	const char *name = p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	char buf[128];
	snprintf(buf, sizeof buf, "%s", name);
	gort_id id = gort_go_with(deep_fn, NULL, .name = buf, .stack_size = 64 * 1024);
	CHILD_CHECK(id > 0, 3, "gort_go_with = %lld", (long long)id);
	memset(buf, 'Z', sizeof buf - 1); /* the runtime must have its own copy */
	return child_wait_forever();
}

Test(stack, overflow_report_shows_copied_name, .timeout = 60)
{
	static struct child_result r;
	child_run(name_child_main, "transient-name", NULL, &r);
	check_overflow_report(&r, "transient-name");
	cr_assert(strstr(r.err, "ZZZZ") == NULL, "the report read the caller's buffer:\n%s", r.err);
}

Test(stack, overflow_report_truncates_long_name, .timeout = 60)
{
	static struct child_result r;
	const char *name = "a-name-longer-than-thirty-two-characters-xxxxxx";
	child_run(name_child_main, (void *)name, NULL, &r);
	char kept[GORT_NAME_MAX], one_more[GORT_NAME_MAX + 1];
	memcpy(kept, name, sizeof kept - 1); /* 31 bytes */
	kept[sizeof kept - 1] = '\0';
	memcpy(one_more, name, sizeof one_more - 1); /* 32 bytes */
	one_more[sizeof one_more - 1] = '\0';
	check_overflow_report(&r, kept);
	cr_assert(strstr(r.err, one_more) == NULL, "name not cut to %d bytes:\n%s",
		  GORT_NAME_MAX - 1, r.err);
}

/* ------------------------------------------------------------------------ */
/* usable size                                                               */
/* ------------------------------------------------------------------------ */

struct big_use {
	size_t bytes;
	gort_wg wg;
	atomic_long ok;
};

__attribute__((noinline)) static long touch_stack(size_t bytes)
{
	volatile char *buf = __builtin_alloca(bytes);
	for (size_t i = 0; i < bytes; i += 512)
		buf[i] = (char)i;
	buf[bytes - 1] = 1;
	long sum = 0;
	for (size_t i = 0; i < bytes; i += 4096)
		sum += buf[i];
	return sum + buf[bytes - 1];
}

static void big_use_fn(void *p)
{
	struct big_use *b = p;
	long s = touch_stack(b->bytes);
	(void)s;
	atomic_fetch_add(&b->ok, 1);
	gort_wg_done(&b->wg);
}

PROCS_TEST(stack, one_mib_stack_holds_900_kib, 30)
{
	struct big_use b = {.bytes = 900 * 1024, .wg = GORT_WG_INIT};
	rt_start(procs);
	enum { N = 8 };
	gort_wg_add(&b.wg, N);
	for (int i = 0; i < N; i++)
		cr_assert_gt(gort_go_with(big_use_fn, &b, .name = "big", .stack_size = 1024 * 1024), 0);
	gort_wg_wait(&b.wg);
	cr_assert_eq(atomic_load(&b.ok), N);
	rt_stop();
}

Test(stack, default_stack_holds_200_kib, .timeout = 30)
{
	struct big_use b = {.bytes = 200 * 1024, .wg = GORT_WG_INIT};
	rt_start(2);
	gort_wg_add(&b.wg, 4);
	for (int i = 0; i < 4; i++)
		cr_assert_gt(gort_go(big_use_fn, &b), 0);
	gort_wg_wait(&b.wg);
	cr_assert_eq(atomic_load(&b.ok), 4);
	rt_stop();
}

static int env_stack_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	struct big_use b = {.bytes = 900 * 1024, .wg = GORT_WG_INIT};
	gort_wg_add(&b.wg, 1);
	CHILD_CHECK(gort_go(big_use_fn, &b) > 0, 3, "spawn");
	gort_wg_wait(&b.wg);
	CHILD_CHECK(atomic_load(&b.ok) == 1, 4, "did not run");
	CHILD_CHECK(gort_stop() == 0, 5, "stop");
	return 0;
}

Test(stack, gort_stack_size_env_sets_default, .timeout = 30)
{
	static struct child_result r;
	const char *env[] = {"GORT_STACK_SIZE=1M", NULL};
	child_run(env_stack_child, NULL, env, &r);
	assert_child_exited_ok(&r);
}

/* ------------------------------------------------------------------------ */
/* size limits                                                               */
/* ------------------------------------------------------------------------ */

static void nop_fn(void *p)
{
	(void)p;
}

Test(stack, bad_spawn_stack_sizes_are_einval, .timeout = 10)
{
	rt_start(1);
	cr_assert_eq(gort_go_with(nop_fn, NULL, .stack_size = 1), -EINVAL);
	cr_assert_eq(gort_go_with(nop_fn, NULL, .stack_size = 4096), -EINVAL);
	cr_assert_eq(gort_go_with(nop_fn, NULL, .stack_size = (size_t)GORT_MAX_STACK_SIZE + 4096),
		     -EINVAL);
	cr_assert_eq(gort_go_with(nop_fn, NULL, .stack_size = SIZE_MAX), -EINVAL);
	/* the limits themselves are fine */
	gort_id a = gort_go_with(nop_fn, NULL, .stack_size = GORT_MIN_STACK_SIZE);
	cr_assert_gt(a, 0, "stack_size = GORT_MIN_STACK_SIZE: %lld", (long long)a);
	gort_stats st;
	wait_stats_settled(&st, 2000);
	cr_assert_eq(st.spawns, 1, "a refused spawn was counted");
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
}

Test(stack, bad_config_stack_sizes_are_einval, .timeout = 10)
{
	cr_assert_eq(gort_start(&(gort_config){.procs = 1, .stack_size = 1}), -EINVAL);
	cr_assert(!gort_running());
	cr_assert_eq(gort_start(&(gort_config){.procs = 1, .stack_size = GORT_MIN_STACK_SIZE / 2}),
		     -EINVAL);
	cr_assert_eq(gort_start(&(gort_config){.procs = 1,
						.stack_size = (size_t)GORT_MAX_STACK_SIZE * 2}),
		     -EINVAL);
	cr_assert(!gort_running());
	/* a good one still starts after the refusals */
	cr_assert_eq(gort_start(&(gort_config){.procs = 1, .stack_size = 64 * 1024}), 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* trimming: a burst does not pin its memory                                */
/* ------------------------------------------------------------------------ */

#define BURST_TOUCH (96 * 1024)

struct burst {
	gort_wg started, gate, done;
	uintptr_t *where; /* per coroutine: the start of the buffer it touched */
	atomic_long next;
};

static void burst_fn(void *p)
{
	struct burst *b = p;
	volatile char buf[BURST_TOUCH];
	memset((char *)buf, 1, sizeof buf);
	b->where[atomic_fetch_add(&b->next, 1)] = (uintptr_t)buf;
	gort_wg_done(&b->started);
	gort_wg_wait(&b->gate);
	gort_wg_done(&b->done);
	(void)buf[7];
}

/* Resident pages among the whole pages of every touched buffer. */
static long burst_resident_pages(const struct burst *b, long n, long *total)
{
	long ps = sysconf(_SC_PAGESIZE), resident = 0;
	unsigned char vec[BURST_TOUCH / 4096 + 2];
	*total = 0;
	for (long i = 0; i < n; i++) {
		uintptr_t lo = (b->where[i] + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
		uintptr_t hi = (b->where[i] + BURST_TOUCH) & ~((uintptr_t)ps - 1);
		size_t np = (hi - lo) / (size_t)ps;
		if (mincore((void *)lo, hi - lo, vec) != 0)
			continue; /* unmapped counts as not resident */
		for (size_t k = 0; k < np; k++)
			resident += vec[k] & 1;
		*total += (long)np;
	}
	return resident;
}

/* Thousands of coroutines each touch 96 KiB of stack, then all exit: the
 * stack pools keep a bounded number hot and, once an M goes idle, give the
 * rest back with MADV_DONTNEED, so most of those pages are no longer
 * resident (mincore), whatever the sanitizers do to the process's RSS. */
static atomic_int burst_spin_stop;

/* Two of these keep the only P busy, switching between them and never
 * idle, so only paced trimming can run. */
static void burst_spinner(void *p)
{
	(void)p;
	while (!atomic_load(&burst_spin_stop))
		gort_yield();
}

/* A burst of n coroutines that touch BURST_TOUCH of stack each, then exit;
 * with busy, a spinner keeps the P from ever idling meanwhile.  Most of
 * the touched pages must be given back (polled for up to 5 s). */
static void burst_trim_check(bool busy)
{
	long n = scaled_min(4000, 3000);
	struct burst *b = calloc(1, sizeof *b);
	cr_assert(b != NULL);
	b->where = calloc((size_t)n, sizeof *b->where);
	cr_assert(b->where != NULL);
	rt_start(1);
	atomic_store(&burst_spin_stop, 0);
	for (int i = 0; busy && i < 2; i++)
		cr_assert_gt(gort_go(burst_spinner, NULL), 0);
	gort_wg_add(&b->started, n);
	gort_wg_add(&b->gate, 1);
	gort_wg_add(&b->done, n);
	for (long i = 0; i < n; i++)
		cr_assert_gt(gort_go(burst_fn, b), 0);
	gort_wg_wait(&b->started);
	long total, before = burst_resident_pages(b, n, &total);
	cr_assert_gt(before, total * 9 / 10, "only %ld of %ld touched pages resident while live",
		     before, total);
	gort_wg_done(&b->gate);
	gort_wg_wait(&b->done);
	cr_assert_eq(wait_num_coroutines(busy ? 2 : 0, 10000), busy ? 2 : 0);
	/* idle: the M trims when it goes idle, just after the last exit;
	 * busy: the P trims a few stacks every 4,096 schedules */
	long after = burst_resident_pages(b, n, &total);
	for (int i = 0; i < 500 && after >= total / 2; i++) {
		sleep_ms(10);
		after = burst_resident_pages(b, n, &total);
	}
	atomic_store(&burst_spin_stop, 1);
	cr_assert_lt(after, total / 2,
		     "%ld of the %ld stack pages a burst of %ld coroutines touched are still "
		     "resident after they exited (%s runtime)",
		     after, total, n, busy ? "busy" : "idle");
	cr_assert_eq(wait_num_coroutines(0, 10000), 0);
	rt_stop();
	free(b->where);
	free(b);
}

Test(stack, burst_memory_is_trimmed_after_exit, .timeout = 120)
{
	burst_trim_check(false);
}

Test(stack, burst_memory_is_trimmed_while_busy, .timeout = 120)
{
	burst_trim_check(true);
}
