/*
 * test_wg.c — gort_wg: waits from coroutines and plain threads, many
 * waiters, reuse over many rounds (lost-wakeup hunts), the negative-counter
 * panic.
 */
#include "helpers.h"

#include <pthread.h>
#include <sched.h>

/* ------------------------------------------------------------------------ */
/* negative counter                                                          */
/* ------------------------------------------------------------------------ */

static gort_wg neg_wg;

static void neg_fn(void *p)
{
	(void)p;
	gort_wg_add(&neg_wg, 2);
	gort_wg_done(&neg_wg);
	gort_wg_done(&neg_wg);
	gort_wg_done(&neg_wg); /* -1 */
}

static int neg_child_coro(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_go_with(neg_fn, NULL, .name = "negative") > 0, 3, "spawn");
	return child_wait_forever();
}

Test(wg, negative_counter_in_coroutine_panics, .timeout = 30)
{
	static struct child_result r;
	child_run(neg_child_coro, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "sync: negative WaitGroup counter");
}

static int neg_child_thread(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 3);
	gort_wg_add(&wg, -4);
	return 4;
}

Test(wg, negative_counter_on_plain_thread_panics, .timeout = 30)
{
	static struct child_result r;
	child_run(neg_child_thread, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "sync: negative WaitGroup counter");
}

/* ------------------------------------------------------------------------ */
/* zero counter                                                              */
/* ------------------------------------------------------------------------ */

static void zero_wait_fn(void *p)
{
	gort_wg wg;
	memset(&wg, 0, sizeof wg); /* all zeroes is an empty group */
	gort_wg_wait(&wg);
	gort_wg_add(&wg, 5);
	gort_wg_add(&wg, -5);
	gort_wg_wait(&wg);
	atomic_fetch_add((atomic_int *)p, 1);
}

PROCS_TEST(wg, wait_on_zero_returns_at_once, 10)
{
	static atomic_int ran;
	rt_start(procs);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_wait(&wg); /* plain thread */
	gort_wg_add(&wg, 1);
	gort_wg_done(&wg);
	gort_wg_wait(&wg);
	co_run(zero_wait_fn, &ran);
	cr_assert_eq(atomic_load(&ran), 1);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* many waiters, one Done                                                    */
/* ------------------------------------------------------------------------ */

#define MW_CO 50
#define MW_TH 3

struct mw {
	gort_wg wg, joined;
	atomic_int arrived, released;
};

static void mw_co_waiter(void *p)
{
	struct mw *m = p;
	atomic_fetch_add(&m->arrived, 1);
	gort_wg_wait(&m->wg);
	atomic_fetch_add(&m->released, 1);
	gort_wg_done(&m->joined);
}

static void *mw_th_waiter(void *p)
{
	struct mw *m = p;
	atomic_fetch_add(&m->arrived, 1);
	gort_wg_wait(&m->wg);
	atomic_fetch_add(&m->released, 1);
	return NULL;
}

static void mw_releaser(void *p)
{
	gort_wg_done(&((struct mw *)p)->wg);
}

PROCS_TEST(wg, one_done_releases_all_waiters, 60)
{
	static struct mw m;
	rt_start(procs);
	int rounds = (int)scaled_min(30, 5);
	for (int r = 0; r < rounds; r++) {
		atomic_store(&m.arrived, 0);
		atomic_store(&m.released, 0);
		gort_wg_add(&m.wg, 1);
		gort_wg_add(&m.joined, MW_CO);
		for (int i = 0; i < MW_CO; i++)
			cr_assert_gt(gort_go(mw_co_waiter, &m), 0);
		pthread_t th[MW_TH];
		for (int i = 0; i < MW_TH; i++)
			cr_assert_eq(pthread_create(&th[i], NULL, mw_th_waiter, &m), 0);

		int64_t deadline = now_ns() + 10 * 1000000000LL;
		while (atomic_load(&m.arrived) < MW_CO + MW_TH && now_ns() < deadline)
			usleep(100);
		cr_assert_eq(atomic_load(&m.arrived), MW_CO + MW_TH, "round %d: only %d waiters arrived", r,
			     atomic_load(&m.arrived));
		usleep(1000); /* let them park; correctness does not depend on it */
		cr_assert_eq(atomic_load(&m.released), 0, "round %d: %d waiters passed a counter of 1", r,
			     atomic_load(&m.released));

		if (r % 2 == 0)
			gort_wg_done(&m.wg); /* from this plain thread */
		else
			cr_assert_gt(gort_go(mw_releaser, &m), 0); /* from a coroutine */

		gort_wg_wait(&m.joined);
		for (int i = 0; i < MW_TH; i++)
			cr_assert_eq(pthread_join(th[i], NULL), 0);
		cr_assert_eq(atomic_load(&m.released), MW_CO + MW_TH, "round %d: %d of %d released", r,
			     atomic_load(&m.released), MW_CO + MW_TH);
	}
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* reuse: 500 rounds of a ping to 4 workers                                  */
/* ------------------------------------------------------------------------ */

struct ping {
	gort_wg wg;
	atomic_long count;
	int rounds;
	long bad_round; /* -1, or the first round that came back short */
};

struct ping_arg {
	struct ping *p;
	int yields;
};

static void ping_worker(void *p)
{
	struct ping_arg *a = p;
	for (int i = 0; i < a->yields; i++)
		gort_yield();
	atomic_fetch_add(&a->p->count, 1);
	gort_wg_done(&a->p->wg);
}

/* One round: add 4, spawn 4 workers that yield 0..2 times, wait, check. */
static int ping_round(struct ping *p, struct ping_arg args[4], int r)
{
	gort_wg_add(&p->wg, 4);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct ping_arg){p, (r + i) % 3};
		if (gort_go(ping_worker, &args[i]) <= 0)
			return -1;
	}
	gort_wg_wait(&p->wg);
	return atomic_load(&p->count) == 4L * (r + 1) ? 0 : -1;
}

static void ping_coro_waiter(void *q)
{
	struct ping *p = q;
	struct ping_arg args[4];
	for (int r = 0; r < p->rounds; r++) {
		if (ping_round(p, args, r) != 0) {
			CO_CHECK(0, "round %d: count %ld after the wait, want %ld", r,
				 atomic_load(&p->count), 4L * (r + 1));
			return;
		}
	}
}

PROCS_TEST(wg, reuse_500_rounds_coroutine_waiter, 60)
{
	static struct ping p;
	p.rounds = (int)scaled_min(500, 100);
	rt_start(procs);
	co_run(ping_coro_waiter, &p);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&p.count), 4L * p.rounds);
	rt_stop();
}

PROCS_TEST(wg, reuse_500_rounds_thread_waiter, 60)
{
	static struct ping p;
	struct ping_arg args[4];
	p.rounds = (int)scaled_min(500, 100);
	rt_start(procs);
	for (int r = 0; r < p.rounds; r++)
		cr_assert_eq(ping_round(&p, args, r), 0, "round %d: count %ld after the wait, want %ld", r,
			     atomic_load(&p.count), 4L * (r + 1));
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* reuse: a coroutine waits, plain threads call Done                         */
/* ------------------------------------------------------------------------ */

#define DONERS 2

struct cross {
	gort_wg wg;
	atomic_int go;    /* round number released to the doners */
	atomic_int dones; /* total Done calls made */
	int rounds;
};

static void *cross_doner(void *q)
{
	struct cross *c = q;
	for (int r = 1; r <= c->rounds; r++) {
		while (atomic_load(&c->go) < r)
			sched_yield();
		atomic_fetch_add(&c->dones, 1);
		gort_wg_done(&c->wg);
	}
	return NULL;
}

static void cross_waiter(void *q)
{
	struct cross *c = q;
	for (int r = 1; r <= c->rounds; r++) {
		gort_wg_add(&c->wg, DONERS);
		atomic_store(&c->go, r);
		gort_wg_wait(&c->wg);
		int d = atomic_load(&c->dones);
		if (d != DONERS * r) {
			CO_CHECK(d == DONERS * r, "round %d: wait returned after %d Done calls, want %d",
				 r, d, DONERS * r);
			return;
		}
	}
}

PROCS_TEST(wg, reuse_coroutine_waits_threads_done, 60)
{
	static struct cross c;
	c.rounds = (int)scaled_min(500, 100);
	rt_start(procs);
	pthread_t th[DONERS];
	for (int i = 0; i < DONERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, cross_doner, &c), 0);
	co_run(cross_waiter, &c);
	if (atomic_load(&co_fail_state()->count) != 0)
		atomic_store(&c.go, c.rounds); /* let the doners finish */
	for (int i = 0; i < DONERS; i++)
		cr_assert_eq(pthread_join(th[i], NULL), 0);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* a WaitGroup may be discarded as soon as Wait returns                      */
/* ------------------------------------------------------------------------ */

/*
 * The idiom of C callers: a wait group on the stack (or the heap) of the
 * waiter, gone as soon as gort_wg_wait returns.  So the Done that brings
 * the counter to zero must not touch the group after the waiter can have
 * seen zero.  Each round's group is malloc'd, scribbled over and freed
 * right after the wait: a late Done then works on a garbage lock (ASan:
 * heap-use-after-free; otherwise it sleeps on the garbage lock forever and
 * its coroutine never ends).  The parents spin a varying while before they
 * wait so that their children run on other Ps meanwhile.
 */
#define DISCARD_PARENTS 4

struct discard {
	int rounds;
	gort_wg parents;
	atomic_long children_ran;
};

static void discard_child(void *wg)
{
	gort_wg_done((gort_wg *)wg);
}

static void discard_parent(void *p)
{
	struct discard *d = p;
	for (int r = 0; r < d->rounds; r++) {
		gort_wg *wg = calloc(1, sizeof *wg);
		CO_CHECK(wg != NULL, "calloc");
		if (!wg)
			break;
		gort_wg_add(wg, 4);
		for (int i = 0; i < 4; i++)
			CO_CHECK(gort_go(discard_child, wg) > 0, "spawn");
		spin_ns((r * 7919) % 3000);
		gort_wg_wait(wg);
		memset(wg, 0xA5, sizeof *wg);
		free(wg);
	}
	gort_wg_done(&d->parents);
}

PROCS_TEST(wg, may_be_discarded_once_wait_returns, 60)
{
	static struct discard d;
	d.rounds = (int)scaled_min(5000, 1000);
	rt_start(procs);
	gort_wg_add(&d.parents, DISCARD_PARENTS);
	for (int i = 0; i < DISCARD_PARENTS; i++)
		cr_assert_gt(gort_go(discard_parent, &d), 0);
	gort_wg_wait(&d.parents);
	CO_ASSERT_NO_FAILURES();
	int64_t live = wait_num_coroutines(0, 3000);
	cr_assert_eq(live, 0,
		     "%lld coroutine(s) never ended: a gort_wg_done touched its WaitGroup after the "
		     "waiter had returned and freed it",
		     (long long)live);
	rt_stop();
}
