/*
 * test_coro.c — the coroutine itself: floating-point state (MXCSR), ids,
 * names, the live count, panics.
 */
#include "helpers.h"

#include <fenv.h>
#include <math.h>

/* ------------------------------------------------------------------------ */
/* MXCSR: all six sticky flags stay set in every coroutine                   */
/* ------------------------------------------------------------------------ */

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_MXCSR 1
static unsigned read_mxcsr(void)
{
	unsigned v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}
#else
#define HAVE_MXCSR 0
static unsigned read_mxcsr(void)
{
	return 0;
}
#endif

static volatile double fp_one = 1.0, fp_three = 3.0, fp_zero = 0.0, fp_neg = -1.0;

static void do_fp_work(void)
{
	volatile double fp_sink; /* local: several coroutines run this at once */
	fp_sink = fp_one / fp_three;    /* inexact */
	fp_sink = fp_one / fp_zero;     /* divide by zero */
	fp_sink = sqrt(fp_neg);         /* invalid */
	fp_sink = 1e308 * (fp_three * 1e10); /* overflow */
	fp_sink = 1e-308 / 1e10 * fp_one / fp_three; /* underflow */
	(void)fp_sink;
}

/* Valgrind's synthetic CPU never sets the sticky flags: nothing to test. */
static void skip_under_valgrind(void)
{
	if (running_under_valgrind())
		cr_skip_test("Valgrind's CPU does not keep the sticky fp exception flags");
}

struct fp {
	gort_wg wg;
	atomic_uint first_mxcsr; /* 0: none seen yet */
	atomic_long seen;
	int rounds;
};

static void fp_check(struct fp *f, const char *who, int round)
{
	int got = fetestexcept(FE_ALL_EXCEPT);
	CO_CHECK(got == FE_ALL_EXCEPT, "%s, round %d: fetestexcept = %#x, want %#x", who, round, got,
		 FE_ALL_EXCEPT);
	if (HAVE_MXCSR) {
		unsigned m = read_mxcsr();
		CO_CHECK((m & 0x3f) == 0x3f, "%s, round %d: MXCSR %#x lacks sticky flags", who, round, m);
		unsigned expect = 0;
		if (!atomic_compare_exchange_strong(&f->first_mxcsr, &expect, m))
			CO_CHECK(m == expect, "%s, round %d: MXCSR %#x differs from another context's %#x",
				 who, round, m, expect);
	}
	atomic_fetch_add(&f->seen, 1);
}

static void fp_divider(void *p)
{
	struct fp *f = p;
	for (int r = 0; r < f->rounds; r++) {
		do_fp_work();
		fp_check(f, "divider after its own fp work", r);
		gort_yield();
		fp_check(f, "divider after a yield", r);
	}
	gort_wg_done(&f->wg);
}

static void fp_quiet(void *p)
{
	struct fp *f = p;
	for (int r = 0; r < f->rounds; r++) {
		fp_check(f, "quiet coroutine", r);
		gort_yield();
	}
	gort_wg_done(&f->wg);
}

PROCS_TEST(coro, sticky_fp_flags_set_in_every_coroutine, 30)
{
	skip_under_valgrind();
	static struct fp f;
	f.rounds = 200;
	rt_start(procs);
	enum { PAIRS = 8 };
	gort_wg_add(&f.wg, 2 * PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		cr_assert_gt(gort_go(fp_quiet, &f), 0);
		cr_assert_gt(gort_go(fp_divider, &f), 0);
	}
	gort_wg_wait(&f.wg);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&f.seen), (long)PAIRS * f.rounds * 3);
	rt_stop();
}

/* One coroutine clearing its flags does not leak the cleared state into
 * others, nor into coroutines it spawns, nor into those that start after it
 * ended. */
struct fp_clear {
	struct fp *f;
	gort_wg child_wg;
};

static void fp_clear_child(void *p)
{
	struct fp_clear *c = p;
	fp_check(c->f, "child of a coroutine that cleared its flags", 0);
	gort_wg_done(&c->child_wg);
}

static void fp_clearer(void *p)
{
	struct fp_clear *c = p;
	for (int r = 0; r < 20; r++) {
		feclearexcept(FE_ALL_EXCEPT);
		gort_yield();
	}
	feclearexcept(FE_ALL_EXCEPT);
	gort_wg_add(&c->child_wg, 1);
	CO_CHECK(gort_go(fp_clear_child, c) > 0, "spawn");
	gort_wg_wait(&c->child_wg);
	feclearexcept(FE_ALL_EXCEPT);
	gort_wg_done(&c->f->wg);
}

PROCS_TEST(coro, cleared_fp_flags_stay_in_their_coroutine, 30)
{
	skip_under_valgrind();
	static struct fp f;
	static struct fp_clear c;
	c.f = &f;
	f.rounds = 50;
	rt_start(procs);
	gort_wg_add(&f.wg, 3);
	cr_assert_gt(gort_go(fp_clearer, &c), 0);
	cr_assert_gt(gort_go(fp_quiet, &f), 0);
	cr_assert_gt(gort_go(fp_quiet, &f), 0);
	gort_wg_wait(&f.wg);
	/* coroutines made after the clearer ended */
	for (int r = 0; r < 20; r++) {
		gort_wg_add(&f.wg, 1);
		cr_assert_gt(gort_go(fp_quiet, &f), 0);
		gort_wg_wait(&f.wg);
	}
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&f.seen), 1 + 2 * 50 + 20 * 50);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* ids, self, live count                                                     */
/* ------------------------------------------------------------------------ */

struct idrec {
	gort_id self;
	int proc;
	gort_wg *wg;
};

static void idrec_fn(void *p)
{
	struct idrec *r = p;
	r->self = gort_self();
	r->proc = gort_current_proc();
	gort_wg_done(r->wg);
}

static int cmp_id(const void *a, const void *b)
{
	gort_id x = *(const gort_id *)a, y = *(const gort_id *)b;
	return (x > y) - (x < y);
}

PROCS_TEST(coro, self_matches_spawn_id_and_ids_are_unique, 30)
{
	enum { N = 2000 };
	static struct idrec recs[N];
	static gort_id ids[N];
	gort_wg wg = GORT_WG_INIT;
	rt_start(procs);
	gort_wg_add(&wg, N);
	for (int i = 0; i < N; i++) {
		recs[i] = (struct idrec){.wg = &wg, .proc = -5};
		ids[i] = gort_go(idrec_fn, &recs[i]);
		cr_assert_gt(ids[i], 0);
	}
	gort_wg_wait(&wg);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(recs[i].self, ids[i], "coroutine %d: self %lld, spawned as %lld", i,
			     (long long)recs[i].self, (long long)ids[i]);
		cr_assert(recs[i].proc >= 0 && recs[i].proc < procs, "proc %d", recs[i].proc);
	}
	qsort(ids, N, sizeof ids[0], cmp_id);
	for (int i = 1; i < N; i++)
		cr_assert_neq(ids[i], ids[i - 1], "id %lld given twice", (long long)ids[i]);
	rt_stop();
}

struct gate {
	gort_wg started, gate, finished;
};

static void gate_fn(void *p)
{
	struct gate *g = p;
	gort_wg_done(&g->started);
	gort_wg_wait(&g->gate);
	gort_wg_done(&g->finished);
}

PROCS_TEST(coro, num_coroutines_counts_live_ones, 30)
{
	static struct gate g;
	rt_start(procs);
	cr_assert_eq(gort_num_coroutines(), 0);
	for (int round = 0; round < 20; round++) {
		long n = 10 + round * 7;
		gort_wg_add(&g.gate, 1);
		gort_wg_add(&g.started, n);
		gort_wg_add(&g.finished, n);
		for (long i = 0; i < n; i++)
			cr_assert_gt(gort_go(gate_fn, &g), 0);
		gort_wg_wait(&g.started);
		cr_assert_eq(gort_num_coroutines(), n, "round %d: %lld live, want %ld", round,
			     (long long)gort_num_coroutines(), n);
		gort_wg_done(&g.gate);
		gort_wg_wait(&g.finished);
		int64_t live = wait_num_coroutines(0, 5000);
		cr_assert_eq(live, 0, "round %d: %lld live after all returned", round, (long long)live);
	}
	rt_stop();
	cr_assert_eq(gort_num_coroutines(), 0);
}

/* ------------------------------------------------------------------------ */
/* names                                                                     */
/* ------------------------------------------------------------------------ */

static void named_fn(void *p)
{
	atomic_fetch_add((atomic_int *)p, 1);
}

Test(coro, long_name_is_accepted, .timeout = 10)
{
	static atomic_int ran;
	rt_start(2);
	gort_id a = gort_go_with(named_fn, &ran, .name = "a-name-longer-than-thirty-two-characters-xxxxxx");
	cr_assert_gt(a, 0, "spawn with a long name = %lld", (long long)a);
	char exact[GORT_NAME_MAX];
	memset(exact, 'n', sizeof exact - 1);
	exact[sizeof exact - 1] = '\0';
	cr_assert_gt(gort_go_with(named_fn, &ran, .name = exact), 0);
	cr_assert_gt(gort_go_with(named_fn, &ran, .name = ""), 0);
	cr_assert_gt(gort_go_with(named_fn, &ran, .name = NULL), 0);
	int64_t live = wait_num_coroutines(0, 5000);
	cr_assert_eq(live, 0);
	cr_assert_eq(atomic_load(&ran), 4);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* panic                                                                     */
/* ------------------------------------------------------------------------ */

static void panicker_fn(void *p)
{
	(void)p;
	gort_panic("boom %d", 42);
}

static int panic_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	gort_id id = gort_go_with(panicker_fn, NULL, .name = "panicker");
	CHILD_CHECK(id > 0, 3, "spawn = %lld", (long long)id);
	return child_wait_forever();
}

Test(coro, unrecovered_panic_reports_and_aborts, .timeout = 30)
{
	static struct child_result r;
	child_run(panic_child, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "panic: boom 42");
	assert_stderr_has(&r, "panicker");
	assert_stderr_has(&r, "test_coro.c");
}

/* ------------------------------------------------------------------------ */
/* errors                                                                    */
/* ------------------------------------------------------------------------ */

Test(coro, strerror_names_codes, .timeout = 10)
{
	const char *inval = gort_strerror(-EINVAL), *nomem = gort_strerror(-ENOMEM);
	cr_assert(inval && *inval && nomem && *nomem);
	cr_assert_str_neq(inval, nomem);
	cr_assert_str_eq(gort_strerror(EINVAL), inval, "positive and negative codes differ");
	cr_assert(gort_strerror(-123456) != NULL && *gort_strerror(-123456));
	cr_assert_str_eq(gort_strerror(GORT_CANCELED), "context canceled");
	cr_assert_str_eq(gort_strerror(GORT_DEADLINE_EXCEEDED), "deadline exceeded");
}
