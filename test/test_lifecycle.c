/*
 * test_lifecycle.c — start, stop, restart, gort_main, configuration from
 * code and from the environment, counters.
 */
#include "helpers.h"

#include <pthread.h>
#include <sched.h>

static void nop_fn(void *p)
{
	(void)p;
}

static void wait_on(void *wg)
{
	gort_wg_wait((gort_wg *)wg);
}

/* ------------------------------------------------------------------------ */
/* error codes                                                               */
/* ------------------------------------------------------------------------ */

Test(lifecycle, calls_before_start, .timeout = 10)
{
	gort_stats st;
	cr_assert(!gort_running());
	cr_assert_eq(gort_procs(), 0);
	cr_assert_eq(gort_num_coroutines(), 0);
	cr_assert_eq(gort_stop(), -ESRCH);
	cr_assert_eq(gort_go(nop_fn, NULL), -ESRCH);
	cr_assert_eq(gort_go(NULL, NULL), -ESRCH, "not running is reported before a bad fn");
	cr_assert_eq(gort_stats_read(&st), -ESRCH);
	cr_assert_eq(gort_proc_stats_read(0, &st), -ESRCH);
	cr_assert_eq(gort_self(), 0);
	cr_assert_eq(gort_current_proc(), -1);
	gort_yield(); /* a plain thread: sched_yield */
}

Test(lifecycle, start_twice_and_stop_twice, .timeout = 10)
{
	rt_start(2);
	cr_assert_eq(gort_start(&(gort_config){.procs = 2}), -EALREADY);
	cr_assert_eq(gort_start(NULL), -EALREADY);
	cr_assert(gort_running());
	cr_assert_eq(gort_procs(), 2, "a refused start changed the running runtime");
	rt_stop();
	cr_assert_eq(gort_stop(), -ESRCH);
	cr_assert_eq(gort_procs(), 0);
	cr_assert_eq(gort_go(nop_fn, NULL), -ESRCH, "spawn after stop");
}

Test(lifecycle, bad_arguments, .timeout = 10)
{
	cr_assert_eq(gort_start(&(gort_config){.procs = -1}), -EINVAL);
	cr_assert_eq(gort_start(&(gort_config){.procs = GORT_MAX_PROCS + 1}), -EINVAL);
	cr_assert(!gort_running(), "a refused start left the runtime running");
	rt_start(2);
	gort_stats st;
	cr_assert_eq(gort_go(NULL, NULL), -EINVAL);
	cr_assert_eq(gort_go_with(NULL, NULL, .name = "x"), -EINVAL);
	cr_assert_eq(gort_stats_read(NULL), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(0, NULL), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(-1, &st), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(2, &st), -EINVAL);
	cr_assert_eq(gort_proc_stats_read(1, &st), 0);
	cr_assert_eq(st.procs, 2);
	rt_stop();
}

static void stop_from_coro(void *p)
{
	int *rc = p;
	*rc = gort_stop();
	int rc2 = gort_start(NULL);
	CO_CHECK(rc2 != 0, "gort_start from a coroutine = 0");
}

PROCS_TEST(lifecycle, stop_from_coroutine_is_edeadlk, 10)
{
	int rc = 12345;
	rt_start(procs);
	co_run(stop_from_coro, &rc);
	cr_assert_eq(rc, -EDEADLK, "gort_stop() in a coroutine = %d", rc);
	cr_assert(gort_running());
	CO_ASSERT_NO_FAILURES();
	/* the refused stop changed nothing: the runtime still runs work */
	rc = 12345;
	co_run(stop_from_coro, &rc);
	cr_assert_eq(rc, -EDEADLK);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* restart                                                                   */
/* ------------------------------------------------------------------------ */

struct restart_work {
	gort_wg wg;
	atomic_long ran;
	gort_id max_id, min_id;
};

static void restart_leaf(void *p)
{
	struct restart_work *w = p;
	atomic_fetch_add(&w->ran, 1);
	gort_wg_done(&w->wg);
}

static void restart_spawner(void *p)
{
	struct restart_work *w = p;
	enum { N = 500 };
	gort_wg_add(&w->wg, N);
	for (int i = 0; i < N; i++) {
		gort_id id = gort_go(restart_leaf, w);
		CO_CHECK(id > 0, "spawn = %lld", (long long)id);
		if (id > w->max_id)
			w->max_id = id;
		if (w->min_id == 0 || id < w->min_id)
			w->min_id = id;
	}
	gort_wg_wait(&w->wg);
}

Test(lifecycle, restart_twenty_times, .timeout = 60)
{
	static const int procs_of[] = {1, 2, 8};
	gort_id prev_max = 0;
	for (int round = 0; round < 20; round++) {
		int procs = procs_of[round % 3];
		struct restart_work w = {.wg = GORT_WG_INIT};
		rt_start(procs);
		gort_stats st;
		cr_assert_eq(gort_stats_read(&st), 0);
		cr_assert_eq(st.spawns, 0, "round %d: counters not reset by a restart (spawns %llu)", round,
			     (unsigned long long)st.spawns);
		cr_assert_eq(st.procs, procs);

		co_run(restart_spawner, &w);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(atomic_load(&w.ran), 500, "round %d: %ld of 500 ran", round,
			     atomic_load(&w.ran));
		cr_assert_gt(w.min_id, prev_max,
			     "round %d: id %lld reused or lower than %lld from before the restart", round,
			     (long long)w.min_id, (long long)prev_max);
		prev_max = w.max_id;

		/* a few left blocked forever and a few runnable ones: stop
		 * must discard them */
		static gort_wg never;
		gort_wg_add(&never, 1);
		for (int i = 0; i < 10; i++)
			cr_assert_gt(gort_go(wait_on, &never), 0);
		rt_stop();
		memset(&never, 0, sizeof never);
		cr_assert_eq(gort_num_coroutines(), 0);
		cr_assert_eq(gort_procs(), 0);
		cr_assert_eq(gort_stats_read(&st), -ESRCH);
	}
}

static atomic_int spinners_started;

static void yield_forever(void *p)
{
	(void)p;
	atomic_fetch_add(&spinners_started, 1);
	for (;;)
		gort_yield();
}

static gort_wg blocked_gate;

static void block_forever(void *p)
{
	(void)p;
	gort_wg_wait(&blocked_gate);
}

/* A coroutine that blocks and is woken by its child: stacks of coroutines
 * discarded by an earlier stop must be as good as new. */
static void wake_me(void *wg)
{
	gort_yield();
	gort_wg_done((gort_wg *)wg);
}

static void block_until_child(void *p)
{
	(void)p;
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	CO_CHECK(gort_go(wake_me, &wg) > 0, "spawn");
	gort_wg_wait(&wg);
}

PROCS_TEST(lifecycle, stop_discards_runnable_and_blocked, 30)
{
	for (int round = 0; round < 5; round++) {
		atomic_store(&spinners_started, 0);
		memset(&blocked_gate, 0, sizeof blocked_gate);
		rt_start(procs);
		for (int i = 0; i < 20; i++)
			co_run(block_until_child, NULL);
		CO_ASSERT_NO_FAILURES();
		gort_wg_add(&blocked_gate, 1);
		for (int i = 0; i < 100; i++)
			cr_assert_gt(gort_go(block_forever, NULL), 0);
		for (int i = 0; i < 16; i++)
			cr_assert_gt(gort_go(yield_forever, NULL), 0);
		/* never spawned-but-not-run ones too */
		for (int i = 0; i < 100; i++)
			cr_assert_gt(gort_go(block_forever, NULL), 0);
		int64_t deadline = now_ns() + 5000000000LL;
		while (atomic_load(&spinners_started) == 0 && now_ns() < deadline)
			usleep(100);
		cr_assert_gt(atomic_load(&spinners_started), 0);
		rt_stop();
		cr_assert_eq(gort_num_coroutines(), 0);
	}
}

/* Stop at once after a burst of spawns, while the Ms are still starting
 * one another: every M must be joined before its memory is freed, and none
 * may outlive the runtime into the next start. */
PROCS_TEST(lifecycle, stop_right_after_a_burst, 60)
{
	int rounds = (int)scaled_min(1000, 200);
	for (int round = 0; round < rounds; round++) {
		rt_start(procs);
		int n = 50 + (round * 37) % 500;
		for (int i = 0; i < n; i++)
			cr_assert_gt(gort_go(nop_fn, NULL), 0);
		rt_stop();
		cr_assert_eq(gort_num_coroutines(), 0);
	}
}

/* Several plain threads spawn while the main thread stops the runtime: each
 * spawn either succeeds or says -ESRCH; nothing hangs or crashes. */
struct stop_race {
	atomic_int stop_seen;
	atomic_long ok, esrch, other;
};

static void *stop_race_spawner(void *p)
{
	struct stop_race *s = p;
	for (;;) {
		gort_id id = gort_go(nop_fn, NULL);
		if (id > 0)
			atomic_fetch_add(&s->ok, 1);
		else if (id == -ESRCH) {
			atomic_fetch_add(&s->esrch, 1);
			if (atomic_load(&s->stop_seen))
				return NULL;
		} else
			atomic_fetch_add(&s->other, 1);
		sched_yield();
	}
}

PROCS_TEST(lifecycle, spawn_racing_stop, 60)
{
	int rounds = (int)scaled_min(200, 20);
	for (int round = 0; round < rounds; round++) {
		struct stop_race s = {0};
		rt_start(procs);
		pthread_t th[3];
		for (int i = 0; i < 3; i++)
			cr_assert_eq(pthread_create(&th[i], NULL, stop_race_spawner, &s), 0);
		while (atomic_load(&s.ok) < round % 20)
			sched_yield();
		rt_stop();
		atomic_store(&s.stop_seen, 1);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(pthread_join(th[i], NULL), 0);
		cr_assert_eq(atomic_load(&s.other), 0, "round %d: %ld spawns failed with something else",
			     round, atomic_load(&s.other));
		cr_assert_eq(gort_num_coroutines(), 0);
	}
}

/* ------------------------------------------------------------------------ */
/* gort_main                                                                 */
/* ------------------------------------------------------------------------ */

struct main_arg {
	int ret;
	atomic_long ran;
	int calls;
	gort_id self;
	bool running;
	int seen_procs;
};

static void main_leaf(void *p)
{
	atomic_fetch_add(&((struct main_arg *)p)->ran, 1);
}

static int main_fn(void *p)
{
	struct main_arg *a = p;
	a->calls++;
	a->self = gort_self();
	a->running = gort_running();
	a->seen_procs = gort_procs();
	for (int i = 0; i < 100; i++)
		CO_CHECK(gort_go(main_leaf, a) > 0, "spawn");
	while (atomic_load(&a->ran) < 100)
		gort_yield();
	return a->ret;
}

Test(lifecycle, main_returns_fn_value, .timeout = 30)
{
	static const int rets[] = {42, 0, -7, 255};
	for (int i = 0; i < 4; i++) {
		struct main_arg a = {.ret = rets[i]};
		int procs = 1 + i % 2 * 7;
		int rc = gort_main_cfg(&(gort_config){.procs = procs}, main_fn, &a);
		cr_assert_eq(rc, rets[i], "gort_main_cfg returned %d, fn returned %d", rc, rets[i]);
		cr_assert_eq(a.calls, 1);
		cr_assert_gt(a.self, 0, "fn did not run as a coroutine");
		cr_assert(a.running);
		cr_assert_eq(a.seen_procs, procs);
		cr_assert_eq(atomic_load(&a.ran), 100);
		cr_assert(!gort_running(), "gort_main_cfg left the runtime running");
	}
	CO_ASSERT_NO_FAILURES();
}

Test(lifecycle, main_with_bad_config_or_running_runtime, .timeout = 10)
{
	struct main_arg a = {.ret = 1};
	cr_assert_eq(gort_main_cfg(&(gort_config){.procs = -1}, main_fn, &a), -EINVAL);
	cr_assert_eq(a.calls, 0, "fn ran although the runtime did not start");
	rt_start(1);
	cr_assert_eq(gort_main_cfg(NULL, main_fn, &a), -EALREADY);
	cr_assert_eq(a.calls, 0);
	cr_assert(gort_running(), "a refused gort_main stopped the running runtime");
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* counters                                                                  */
/* ------------------------------------------------------------------------ */

struct stats_work {
	gort_wg wg;
	int n;
};

static void stats_leaf(void *p)
{
	struct stats_work *w = p;
	gort_yield();
	gort_wg_done(&w->wg);
}

static void stats_spawner(void *p)
{
	struct stats_work *w = p;
	gort_wg_add(&w->wg, w->n);
	for (int i = 0; i < w->n; i++)
		CO_CHECK(gort_go(stats_leaf, w) > 0, "spawn");
	gort_wg_wait(&w->wg);
}

PROCS_TEST(lifecycle, stats_add_up, 30)
{
	struct stats_work w = {.wg = GORT_WG_INIT, .n = 5000};
	rt_start(procs);
	co_run(stats_spawner, &w);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	gort_stats st;
	wait_stats_settled(&st, 2000);
	cr_assert_eq(st.spawns, (uint64_t)w.n + 1, "spawns %llu", (unsigned long long)st.spawns);
	cr_assert_eq(st.exits, st.spawns, "exits %llu", (unsigned long long)st.exits);
	cr_assert_geq(st.runs, st.spawns);
	cr_assert_geq(st.switches, st.spawns, "switches %llu", (unsigned long long)st.switches);
	cr_assert_eq(st.procs, procs);
	cr_assert_geq(st.threads, 1);
	cr_assert(st.idle_procs >= 0 && st.idle_procs <= procs, "idle_procs %d", st.idle_procs);
	cr_assert(st.spinning >= 0 && st.spinning <= st.threads, "spinning %d", st.spinning);
	cr_assert_geq(st.global_puts, st.global_takes,
		      "more taken from the global queue (%llu) than put (%llu)",
		      (unsigned long long)st.global_takes, (unsigned long long)st.global_puts);

	uint64_t runs = 0, exits = 0, yields = 0;
	for (int p = 0; p < procs; p++) {
		gort_stats ps;
		cr_assert_eq(gort_proc_stats_read(p, &ps), 0);
		runs += ps.runs;
		exits += ps.exits;
		yields += ps.yields;
	}
	cr_assert_eq(runs, st.runs, "per-P runs sum to %llu, total %llu", (unsigned long long)runs,
		     (unsigned long long)st.runs);
	cr_assert_eq(exits, st.exits);
	cr_assert_eq(yields, st.yields);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* configuration from the environment                                        */
/* ------------------------------------------------------------------------ */

static void check_bad_env(const char *setting, const char *word)
{
	static struct child_result r;
	int want = 0;
	const char *env[] = {setting, NULL};
	child_run(child_start_from_env, &want, env, &r);
	assert_child_exited_ok(&r);
	cr_assert(r.len > 0, "%s: nothing on stderr", setting);
	cr_assert(strstr(r.err, word) != NULL, "%s: stderr does not name %s:\n%s", setting, word, r.err);
}

Test(config, bad_gort_procs_warns_and_uses_default, .timeout = 30)
{
	check_bad_env("GORT_PROCS=abc", "GORT_PROCS");
	check_bad_env("GORT_PROCS=0", "GORT_PROCS");
	check_bad_env("GORT_PROCS=-3", "GORT_PROCS");
	check_bad_env("GORT_PROCS=100000", "GORT_PROCS");
	check_bad_env("GORT_PROCS=4x", "GORT_PROCS");
}

Test(config, bad_gort_stack_size_warns_and_uses_default, .timeout = 30)
{
	check_bad_env("GORT_STACK_SIZE=lots", "GORT_STACK_SIZE");
	check_bad_env("GORT_STACK_SIZE=1", "GORT_STACK_SIZE");
	check_bad_env("GORT_STACK_SIZE=99999G", "GORT_STACK_SIZE");
}

Test(config, bad_gort_debug_warns, .timeout = 30)
{
	check_bad_env("GORT_DEBUG=guard=sometimes", "guard");
}

Test(config, gort_procs_env_is_used, .timeout = 30)
{
	static struct child_result r;
	int want = 3;
	const char *env[] = {"GORT_PROCS=3", NULL};
	child_run(child_start_from_env, &want, env, &r);
	assert_child_exited_ok(&r);
	cr_assert_eq(r.len, 0, "a good setting printed:\n%s", r.err);
}

Test(config, unset_gort_procs_means_cpu_count, .timeout = 30)
{
	static struct child_result r;
	int want = 0;
	const char *env[] = {"GORT_PROCS=", NULL};
	child_run(child_start_from_env, &want, env, &r);
	assert_child_exited_ok(&r);
}

/* cfg.procs overrides GORT_PROCS; the env is read again on every start */
Test(config, cfg_overrides_env, .timeout = 30)
{
	cr_assert_eq(setenv("GORT_PROCS", "3", 1), 0);
	rt_start(5);
	rt_stop();
	cr_assert_eq(gort_start(NULL), 0);
	cr_assert_eq(gort_procs(), 3);
	rt_stop();
	cr_assert_eq(setenv("GORT_PROCS", "2", 1), 0);
	cr_assert_eq(gort_start(NULL), 0);
	cr_assert_eq(gort_procs(), 2, "GORT_PROCS not read again at a restart");
	rt_stop();
}
