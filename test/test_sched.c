/*
 * test_sched.c — the scheduler: spawning, joining, yielding, fairness, work
 * spreading over Ps, spawning from plain threads, errno across migration.
 */
#include "helpers.h"

#include <pthread.h>

/* ------------------------------------------------------------------------ */
/* spawn a million, join them                                                */
/* ------------------------------------------------------------------------ */

struct million {
	long n;
	gort_wg wg;
	atomic_long ran;
	atomic_long bad_ids;
	gort_wg outer;
};

static void million_leaf(void *arg)
{
	struct million *m = arg;
	atomic_fetch_add_explicit(&m->ran, 1, memory_order_relaxed);
	gort_wg_done(&m->wg);
}

static void million_spawner(void *arg)
{
	struct million *m = arg;
	gort_wg_add(&m->wg, m->n);
	for (long i = 0; i < m->n; i++) {
		gort_id id = gort_go(million_leaf, m);
		if (id <= 0) {
			atomic_fetch_add(&m->bad_ids, 1);
			gort_wg_done(&m->wg);
		}
	}
	gort_wg_wait(&m->wg);
	CO_CHECK(atomic_load(&m->ran) == m->n, "ran %ld of %ld", atomic_load(&m->ran), m->n);
}

PROCS_TEST(sched, spawn_million_and_join, 90)
{
	static struct million m; /* static: zeroed, off the test's stack */
	m.n = scaled_min(1000000, 1000);
	rt_start(procs);

	co_run(million_spawner, &m);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&m.bad_ids), 0, "%ld spawns failed", atomic_load(&m.bad_ids));
	cr_assert_eq(atomic_load(&m.ran), m.n, "ran %ld of %ld", atomic_load(&m.ran), m.n);

	int64_t live = wait_num_coroutines(0, 5000);
	cr_assert_eq(live, 0, "gort_num_coroutines() = %lld after joining all", (long long)live);

	gort_stats st;
	wait_stats_settled(&st, 2000);
	/* the leaves plus the spawner */
	cr_assert_eq(st.spawns, (uint64_t)m.n + 1, "spawns %llu", (unsigned long long)st.spawns);
	cr_assert_eq(st.exits, st.spawns, "exits %llu spawns %llu", (unsigned long long)st.exits,
		     (unsigned long long)st.spawns);
	cr_assert_geq(st.runs, st.spawns, "runs %llu < spawns %llu", (unsigned long long)st.runs,
		      (unsigned long long)st.spawns);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* nested spawning                                                           */
/* ------------------------------------------------------------------------ */

#define TREE_DEPTH 20
/* fan-out 2 at levels where depth % 3 != 0, else 1: 13 doubling levels */
static int tree_fanout(int depth)
{
	return depth % 3 != 0 ? 2 : 1;
}

struct tree_node {
	int depth;
	long leaves; /* out: leaves under this node */
	gort_id parent;
	gort_wg *parent_wg;
};

static atomic_long tree_leaf_count;
static atomic_long tree_node_count;
static atomic_long tree_bad;

static void tree_node_fn(void *arg)
{
	struct tree_node *me = arg;
	atomic_fetch_add(&tree_node_count, 1);
	CO_CHECK(gort_self() > 0 && gort_self() != me->parent, "self %lld parent %lld",
		 (long long)gort_self(), (long long)me->parent);
	if (me->depth == TREE_DEPTH) {
		atomic_fetch_add(&tree_leaf_count, 1);
		me->leaves = 1;
	} else {
		int fan = tree_fanout(me->depth);
		struct tree_node kids[2];
		gort_wg wg = GORT_WG_INIT;
		gort_wg_add(&wg, fan);
		for (int i = 0; i < fan; i++) {
			kids[i] = (struct tree_node){.depth = me->depth + 1, .parent = gort_self(),
						     .parent_wg = &wg};
			if (gort_go(tree_node_fn, &kids[i]) <= 0) {
				atomic_fetch_add(&tree_bad, 1);
				gort_wg_done(&wg);
			}
		}
		gort_wg_wait(&wg);
		me->leaves = 0;
		for (int i = 0; i < fan; i++)
			me->leaves += kids[i].leaves;
	}
	if (me->parent_wg)
		gort_wg_done(me->parent_wg);
}

PROCS_TEST(sched, nested_spawn_tree_depth20, 60)
{
	long want_leaves = 1, want_nodes = 0;
	for (int d = 0; d <= TREE_DEPTH; d++) {
		want_nodes += want_leaves;
		if (d < TREE_DEPTH)
			want_leaves *= tree_fanout(d);
	}
	cr_assert_eq(want_leaves, 1L << 13);

	rt_start(procs);
	int rounds = (int)scaled_min(5, 1);
	for (int r = 0; r < rounds; r++) {
		atomic_store(&tree_leaf_count, 0);
		atomic_store(&tree_node_count, 0);
		struct tree_node root = {.depth = 0};
		co_run(tree_node_fn, &root);
		cr_assert_eq(atomic_load(&tree_bad), 0);
		cr_assert_eq(root.leaves, want_leaves, "round %d: root sums %ld leaves, want %ld", r,
			     root.leaves, want_leaves);
		cr_assert_eq(atomic_load(&tree_leaf_count), want_leaves);
		cr_assert_eq(atomic_load(&tree_node_count), want_nodes, "round %d: %ld nodes ran, want %ld",
			     r, atomic_load(&tree_node_count), want_nodes);
	}
	CO_ASSERT_NO_FAILURES();
	int64_t live = wait_num_coroutines(0, 5000);
	cr_assert_eq(live, 0, "%lld coroutines still live", (long long)live);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* yield                                                                     */
/* ------------------------------------------------------------------------ */

struct rr {
	int n, k;
	int *log;
	atomic_long pos;
	int *done_yields; /* per coroutine */
	gort_wg wg;
};

struct rr_arg {
	struct rr *rr;
	int idx;
};

static void rr_worker(void *p)
{
	struct rr_arg *a = p;
	struct rr *rr = a->rr;
	for (int i = 0; i < rr->k; i++) {
		long at = atomic_fetch_add(&rr->pos, 1);
		rr->log[at] = a->idx;
		gort_yield();
		rr->done_yields[a->idx]++;
	}
	gort_wg_done(&rr->wg);
}

static void rr_spawner(void *p)
{
	struct rr_arg *args = p;
	struct rr *rr = args[0].rr;
	gort_wg_add(&rr->wg, rr->n);
	for (int i = 0; i < rr->n; i++)
		CO_CHECK(gort_go(rr_worker, &args[i]) > 0, "spawn %d", i);
	gort_wg_wait(&rr->wg);
}

static void rr_run(struct rr *rr, int n, int k)
{
	rr->n = n;
	rr->k = k;
	rr->log = calloc((size_t)n * k, sizeof *rr->log);
	rr->done_yields = calloc((size_t)n, sizeof *rr->done_yields);
	struct rr_arg *args = calloc((size_t)n, sizeof *args);
	cr_assert(rr->log && rr->done_yields && args);
	atomic_store(&rr->pos, 0);
	memset(&rr->wg, 0, sizeof rr->wg);
	for (int i = 0; i < n; i++)
		args[i] = (struct rr_arg){rr, i};
	co_run(rr_spawner, args);
	free(args);
}

static void rr_check_strict(const struct rr *rr)
{
	int n = rr->n;
	long total = (long)n * rr->k;
	/* After the first n entries (the start), every window of n
	 * consecutive entries holds each index exactly once: the first full
	 * window after the start is a permutation and the log repeats with
	 * period n from there. */
	char *seen = calloc((size_t)n, 1);
	cr_assert(seen);
	for (long i = n; i < 2L * n && i < total; i++) {
		int v = rr->log[i];
		cr_assert(v >= 0 && v < n, "log[%ld] = %d", i, v);
		cr_assert(!seen[v], "index %d twice in window [%d, %d): not round robin", v, n, 2 * n);
		seen[v] = 1;
	}
	free(seen);
	for (long i = 2L * n; i < total; i++)
		cr_assert_eq(rr->log[i], rr->log[i - n],
			     "n=%d: log[%ld] = %d but log[%ld] = %d: not strict round robin", n, i,
			     rr->log[i], i - n, rr->log[i - n]);
}

Test(sched, yield_round_robin_is_strict_procs1, .timeout = 30)
{
	rt_start(1);
	static const int ns[] = {2, 3, 17, 100, 200};
	uint64_t yields_before = 0;
	for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
		struct rr rr;
		int n = ns[t], k = 200;
		rr_run(&rr, n, k);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(atomic_load(&rr.pos), (long)n * k);
		for (int i = 0; i < n; i++)
			cr_assert_eq(rr.done_yields[i], k, "coroutine %d came back from %d of %d yields", i,
				     rr.done_yields[i], k);
		rr_check_strict(&rr);

		/* Every yield but (at most) the last few, when fewer than two
		 * coroutines are left, had someone else to switch to. */
		gort_stats st;
		cr_assert_eq(gort_stats_read(&st), 0);
		uint64_t yields = st.yields - yields_before;
		yields_before = st.yields;
		cr_assert(yields >= (uint64_t)n * k - (uint64_t)n && yields <= (uint64_t)n * k,
			  "n=%d k=%d: stats.yields grew by %llu, want %d..%d", n, k,
			  (unsigned long long)yields, n * k - n, n * k);
		free(rr.log);
		free(rr.done_yields);
	}
	rt_stop();
}

PROCS_TEST(sched, every_yielder_completes, 60)
{
	rt_start(procs);
	int rounds = (int)scaled_min(20, 3);
	for (int r = 0; r < rounds; r++) {
		struct rr rr;
		int n = 64, k = (int)scaled_min(500, 50);
		rr_run(&rr, n, k);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(atomic_load(&rr.pos), (long)n * k);
		for (int i = 0; i < n; i++)
			cr_assert_eq(rr.done_yields[i], k, "round %d: coroutine %d came back from %d of %d yields",
				     r, i, rr.done_yields[i], k);
		free(rr.log);
		free(rr.done_yields);
	}
	gort_stats st;
	cr_assert_eq(gort_stats_read(&st), 0);
	cr_assert_leq(st.yields, (uint64_t)rounds * 64 * scaled_min(500, 50),
		      "more yields counted (%llu) than were made", (unsigned long long)st.yields);
	rt_stop();
}

/* A lone coroutine's yield returns at once and does not count. */
Test(sched, lone_yield_returns_procs1, .timeout = 10)
{
	rt_start(1);
	struct rr rr;
	rr_run(&rr, 1, 1000);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(rr.done_yields[0], 1000);
	free(rr.log);
	free(rr.done_yields);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* spawned coroutine is next in line                                         */
/* ------------------------------------------------------------------------ */

struct order {
	int log[16];
	atomic_int pos;
	gort_wg wg;
};

struct order_arg {
	struct order *o;
	int tag;
};

static void order_fn(void *p)
{
	struct order_arg *a = p;
	a->o->log[atomic_fetch_add(&a->o->pos, 1)] = a->tag;
	gort_wg_done(&a->o->wg);
}

static void order_parent(void *p)
{
	struct order *o = p;
	struct order_arg args[6];
	gort_wg_add(&o->wg, 6);
	for (int i = 0; i < 5; i++) {
		args[i] = (struct order_arg){o, i + 1};
		CO_CHECK(gort_go(order_fn, &args[i]) > 0, "spawn");
	}
	gort_yield(); /* lets 1..5 run */
	CO_CHECK(atomic_load(&o->pos) == 5, "after a yield %d of 5 ran", atomic_load(&o->pos));
	args[5] = (struct order_arg){o, 99};
	CO_CHECK(gort_go(order_fn, &args[5]) > 0, "spawn");
	CO_CHECK(atomic_load(&o->pos) == 5, "the spawned coroutine ran before its parent let go");
	gort_yield();
	CO_CHECK(atomic_load(&o->pos) == 6, "after a yield the spawned one has not run");
	gort_wg_wait(&o->wg);
}

Test(sched, spawn_does_not_preempt_parent_procs1, .timeout = 10)
{
	rt_start(1);
	for (int r = 0; r < 50; r++) {
		struct order o = {.wg = GORT_WG_INIT};
		co_run(order_parent, &o);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(o.log[5], 99);
	}
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* work spreads over the Ps                                                  */
/* ------------------------------------------------------------------------ */

struct spread {
	long n;
	signed char *proc_of; /* per task */
	gort_wg wg;
};

struct spread_task {
	struct spread *s;
	long i;
};

static void spread_task_fn(void *p)
{
	struct spread_task *t = p;
	spin_ns(20000);
	t->s->proc_of[t->i] = (signed char)gort_current_proc();
	gort_wg_done(&t->s->wg);
}

static void spread_spawner(void *p)
{
	struct spread_task *tasks = p;
	struct spread *s = tasks[0].s;
	gort_wg_add(&s->wg, s->n);
	for (long i = 0; i < s->n; i++)
		CO_CHECK(gort_go(spread_task_fn, &tasks[i]) > 0, "spawn %ld", i);
	gort_wg_wait(&s->wg);
}

Test(sched, cpu_bound_work_spreads_over_two_procs, .timeout = 60)
{
	struct spread s = {.n = scaled_min(10000, 2000), .wg = GORT_WG_INIT};
	s.proc_of = malloc((size_t)s.n);
	struct spread_task *tasks = calloc((size_t)s.n, sizeof *tasks);
	cr_assert(s.proc_of && tasks);
	memset(s.proc_of, -2, (size_t)s.n);
	for (long i = 0; i < s.n; i++)
		tasks[i] = (struct spread_task){&s, i};

	rt_start(2);
	co_run(spread_spawner, tasks);
	CO_ASSERT_NO_FAILURES();

	long on[2] = {0, 0};
	for (long i = 0; i < s.n; i++) {
		cr_assert(s.proc_of[i] == 0 || s.proc_of[i] == 1, "task %ld ran on P %d", i,
			  s.proc_of[i]);
		on[(int)s.proc_of[i]]++;
	}
	cr_assert(on[0] > 0 && on[1] > 0, "all %ld tasks ran on one P (P0 %ld, P1 %ld)", s.n, on[0],
		  on[1]);

	gort_stats p0, p1, all;
	cr_assert_eq(gort_proc_stats_read(0, &p0), 0);
	cr_assert_eq(gort_proc_stats_read(1, &p1), 0);
	cr_assert_eq(gort_stats_read(&all), 0);
	cr_assert(p0.runs > 0 && p1.runs > 0, "runs per P: %llu %llu", (unsigned long long)p0.runs,
		  (unsigned long long)p1.runs);
	cr_assert(all.steals + all.global_takes > 0, "steals %llu global_takes %llu",
		  (unsigned long long)all.steals, (unsigned long long)all.global_takes);
	cr_assert_geq(all.stolen, all.steals, "a steal took no coroutine");
	cr_assert_eq(p0.runs + p1.runs, all.runs, "per-P runs do not sum to the total");
	cr_assert_eq(all.procs, 2);
	rt_stop();
	free(s.proc_of);
	free(tasks);
}

/* ------------------------------------------------------------------------ */
/* spawning from plain threads                                               */
/* ------------------------------------------------------------------------ */

#define PT_THREADS 4

struct pt {
	long per_thread;
	gort_wg wg;
	atomic_long ran;
	gort_id *ret_ids;  /* what gort_go returned, per coroutine */
	gort_id *self_ids; /* what gort_self said inside, per coroutine */
	int procs;
};

struct pt_arg {
	struct pt *pt;
	long slot;
};

static void pt_leaf(void *p)
{
	struct pt_arg *a = p;
	int proc = gort_current_proc();
	CO_CHECK(proc >= 0 && proc < a->pt->procs, "gort_current_proc() = %d in a coroutine", proc);
	a->pt->self_ids[a->slot] = gort_self();
	atomic_fetch_add(&a->pt->ran, 1);
	gort_wg_done(&a->pt->wg);
}

struct pt_thread {
	struct pt *pt;
	int t;
	struct pt_arg *args;
};

static void *pt_thread_main(void *p)
{
	struct pt_thread *th = p;
	struct pt *pt = th->pt;
	CO_CHECK(gort_self() == 0, "gort_self() = %lld on a plain thread", (long long)gort_self());
	CO_CHECK(gort_current_proc() == -1, "gort_current_proc() = %d on a plain thread",
		 gort_current_proc());
	for (long i = 0; i < pt->per_thread; i++) {
		long slot = th->t * pt->per_thread + i;
		th->args[i] = (struct pt_arg){pt, slot};
		gort_id id = gort_go(pt_leaf, &th->args[i]);
		CO_CHECK(id > 0, "gort_go from a plain thread = %lld", (long long)id);
		pt->ret_ids[slot] = id;
	}
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	gort_id x = *(const gort_id *)a, y = *(const gort_id *)b;
	return (x > y) - (x < y);
}

PROCS_TEST(sched, spawn_from_plain_threads, 60)
{
	struct pt pt = {.per_thread = scaled_min(20000, 500), .wg = GORT_WG_INIT, .procs = procs};
	long total = pt.per_thread * PT_THREADS;
	pt.ret_ids = calloc((size_t)total, sizeof(gort_id));
	pt.self_ids = calloc((size_t)total, sizeof(gort_id));
	cr_assert(pt.ret_ids && pt.self_ids);
	cr_assert_eq(gort_self(), 0);
	cr_assert_eq(gort_current_proc(), -1);

	rt_start(procs);
	cr_assert_eq(gort_self(), 0, "plain thread has an id while the runtime runs");
	cr_assert_eq(gort_current_proc(), -1);
	gort_wg_add(&pt.wg, total);

	pthread_t th[PT_THREADS];
	struct pt_thread ths[PT_THREADS];
	for (int t = 0; t < PT_THREADS; t++) {
		ths[t] = (struct pt_thread){&pt, t, calloc((size_t)pt.per_thread, sizeof(struct pt_arg))};
		cr_assert(ths[t].args);
		cr_assert_eq(pthread_create(&th[t], NULL, pt_thread_main, &ths[t]), 0);
	}
	/* the waiter is a plain thread too */
	gort_wg_wait(&pt.wg);
	cr_assert_eq(atomic_load(&pt.ran), total, "ran %ld of %ld", atomic_load(&pt.ran), total);
	for (int t = 0; t < PT_THREADS; t++)
		cr_assert_eq(pthread_join(th[t], NULL), 0);
	CO_ASSERT_NO_FAILURES();

	for (long i = 0; i < total; i++)
		cr_assert_eq(pt.self_ids[i], pt.ret_ids[i],
			     "coroutine %ld: gort_self() = %lld but gort_go returned %lld", i,
			     (long long)pt.self_ids[i], (long long)pt.ret_ids[i]);
	qsort(pt.ret_ids, (size_t)total, sizeof(gort_id), cmp_id);
	cr_assert_gt(pt.ret_ids[0], 0);
	for (long i = 1; i < total; i++)
		cr_assert_neq(pt.ret_ids[i], pt.ret_ids[i - 1], "id %lld given twice",
			      (long long)pt.ret_ids[i]);

	int64_t live = wait_num_coroutines(0, 5000);
	cr_assert_eq(live, 0, "%lld coroutines still live", (long long)live);
	rt_stop();
	for (int t = 0; t < PT_THREADS; t++)
		free(ths[t].args);
	free(pt.ret_ids);
	free(pt.self_ids);
}

/* ------------------------------------------------------------------------ */
/* errno across yields that move the coroutine to another thread            */
/* ------------------------------------------------------------------------ */

/*
 * __errno_location and pthread_self are declared const, so a compiler may
 * keep their results across gort_yield(): the hazard the header warns about,
 * which no runtime can fix.  Calling them through volatile pointers makes
 * every read ask the thread it runs on, which is what the runtime must get
 * right.
 */
static int *(*volatile errno_loc)(void) = __errno_location;
static pthread_t (*volatile self_thread)(void) = pthread_self;

struct errno_run {
	int yields;
	gort_wg wg, arrived, gate;
	atomic_long mismatches;
	atomic_long migrations;
};

struct errno_arg {
	struct errno_run *run;
	int value;
};

static void errno_check(struct errno_arg *a, pthread_t before, const char *what, int i)
{
	pthread_t after = self_thread();
	if (!pthread_equal(before, after))
		atomic_fetch_add(&a->run->migrations, 1);
	int e = *errno_loc();
	if (e != a->value) {
		atomic_fetch_add(&a->run->mismatches, 1);
		CO_CHECK(e == a->value, "errno %d after %s %d, set %d", e, what, i, a->value);
		*errno_loc() = a->value;
	}
}

static void errno_yields(struct errno_arg *a, int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t before = self_thread();
		gort_yield();
		errno_check(a, before, "yield", i);
	}
}

/* Yield, park on a gate that a plain thread opens (the woken coroutines go
 * to whichever P takes them), yield again; check errno after every switch
 * point and count the times the thread changed under the coroutine. */
static void errno_worker(void *p)
{
	struct errno_arg *a = p;
	*errno_loc() = a->value;
	errno_yields(a, a->run->yields / 2);
	pthread_t before = self_thread();
	gort_wg_done(&a->run->arrived);
	gort_wg_wait(&a->run->gate);
	errno_check(a, before, "gate wait", 0);
	/* uneven tails: Ps that run dry steal from the others */
	errno_yields(a, a->run->yields / 2 * (1 + a->value % 4) / 4);
	gort_wg_done(&a->run->wg);
}

PROCS_TEST(sched, errno_survives_yield_and_migration, 60)
{
	enum { N = 48 };
	struct errno_arg args[N];
	static struct errno_run run;
	run.yields = (int)scaled_min(400, 100);
	rt_start(procs);
	long migrations = 0;
	int rounds = 0, max_rounds = 1000; /* stops at the first migration seen */
	/* Keep going until some coroutine was seen to change threads (with
	 * more than one P), at least 3 rounds. */
	while (rounds < 3 || (procs > 1 && migrations == 0 && rounds < max_rounds)) {
		atomic_store(&run.migrations, 0);
		gort_wg_add(&run.wg, N);
		gort_wg_add(&run.arrived, N);
		gort_wg_add(&run.gate, 1);
		for (int i = 0; i < N; i++) {
			args[i] = (struct errno_arg){&run, 1000 + rounds * N + i};
			cr_assert_gt(gort_go(errno_worker, &args[i]), 0);
		}
		gort_wg_wait(&run.arrived);
		gort_wg_done(&run.gate);
		gort_wg_wait(&run.wg);
		migrations += atomic_load(&run.migrations);
		rounds++;
	}
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&run.mismatches), 0);
	if (procs > 1) {
		gort_stats st;
		cr_assert_eq(gort_stats_read(&st), 0);
		cr_assert_gt(migrations, 0,
			     "no coroutine changed threads in %d rounds of %d coroutines that yield "
			     "and wait (steals %llu, global takes %llu, threads %d): the test proved "
			     "nothing",
			     rounds, N, (unsigned long long)st.steals,
			     (unsigned long long)st.global_takes, st.threads);
	}
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* the global queue is polled, so it cannot starve                          */
/* ------------------------------------------------------------------------ */

struct starve {
	gort_wg started, done;
	atomic_int flag;
};

static void starve_yielder(void *p)
{
	struct starve *s = p;
	gort_wg_done(&s->started);
	while (!atomic_load(&s->flag))
		gort_yield();
	gort_wg_done(&s->done);
}

static void starve_setter(void *p)
{
	struct starve *s = p;
	atomic_store(&s->flag, 1);
}

/* At procs 1, two coroutines keep the P's local queue busy forever by
 * yielding to each other.  A coroutine spawned from a plain thread lands on
 * the global queue; it runs only because a P takes one G from the global
 * queue every 61st schedule.  Without that, this test hangs. */
Test(sched, global_queue_cannot_starve_behind_busy_local_queue, .timeout = 30)
{
	for (int round = 0; round < scaled_min(50, 5); round++) {
		struct starve s = {.started = GORT_WG_INIT, .done = GORT_WG_INIT};
		atomic_init(&s.flag, 0);
		rt_start(1);
		gort_wg_add(&s.started, 2);
		gort_wg_add(&s.done, 2);
		cr_assert_gt(gort_go(starve_yielder, &s), 0);
		cr_assert_gt(gort_go(starve_yielder, &s), 0);
		gort_wg_wait(&s.started);
		cr_assert_gt(gort_go(starve_setter, &s), 0);
		gort_wg_wait(&s.done);
		cr_assert_eq(atomic_load(&s.flag), 1);
		rt_stop();
	}
}

/* ------------------------------------------------------------------------ */
/* The M pool under many short sleeps                                        */
/* ------------------------------------------------------------------------ */

struct naps {
	_Atomic bool stop;
	gort_wg done;
	_Atomic long naps;
};

static void napper(void *p)
{
	struct naps *s = p;
	uint64_t x = (uint64_t)(uintptr_t)&x | 1;
	while (!atomic_load(&s->stop)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		gort_sleep(50 * GORT_US + (int64_t)(x % (2 * GORT_MS)));
		atomic_fetch_add(&s->naps, 1);
	}
	gort_wg_done(&s->done);
}

/* A thousand coroutines sleep 50 us .. 2 ms over and over for a second:
 * the runtime needs an M per P and one idle M waiting for the earliest
 * timer, and makes no more.  (When every idle M slept until the same
 * deadline they all woke together, and startm, finding the idle list
 * empty meanwhile, made new threads: 8 Ps had 13-15 threads after a
 * second on 2 cores, and more every second after.) */
PROCS_TEST(sched, short_sleeps_do_not_grow_the_m_pool, 30)
{
	enum { NAPPERS = 1000 };
	static struct naps s;
	atomic_store(&s.stop, false);
	rt_start(procs);
	gort_wg_add(&s.done, NAPPERS);
	for (int i = 0; i < NAPPERS; i++)
		cr_assert_gt(gort_go(napper, &s), 0);
	sleep_ms(1000);
	gort_stats st;
	cr_assert_eq(gort_stats_read(&st), 0);
	atomic_store(&s.stop, true);
	gort_wg_wait(&s.done);
	cr_assert_gt(atomic_load(&s.naps), NAPPERS, "the nappers did not nap");
	cr_assert_leq(st.threads, procs + 3, "%d threads for %d procs (%d idle)", st.threads, procs,
		      st.idle_threads);
	rt_stop();
}
