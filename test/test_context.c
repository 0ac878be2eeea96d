/*
 * test_context.c — contexts (context/): Go's context tree and the _ctx
 * calls (send, receive, select, sleep).
 *
 *   - propagation: a root's cancel reaches 100,000 descendants (a tree 8
 *     wide, with value and deadline nodes mixed in) and ends every wait on
 *     them: recv_ctx, send_ctx, select_ctx, sleep_ctx and plain receives on
 *     gort_ctx_done, from coroutines, a coroutine waiting on many at once,
 *     and plain threads; a chain 100,000 deep is cancelled from the middle
 *     and from the root inside a 64 KiB coroutine (nothing may recurse);
 *     releasing every handle afterwards frees everything;
 *   - deadlines: never before their time, GORT_DEADLINE_EXCEEDED as err
 *     and cause, a parent's earlier deadline wins, a past one is done at
 *     once (with or without the runtime), a cancel first gives
 *     GORT_CANCELED and stays;
 *   - a _ctx call that fails did nothing: a cancelled receive took no
 *     value, a cancelled send delivered none (cancels raced against sends
 *     and receives, round after round, every value accounted for); a
 *     context done already fails the call before it looks at the channel;
 *     select_ctx chooses among ready cases as select does (also past its
 *     on-stack case array), a send case on a closed channel panics;
 *   - causes, after-funcs (once, in a coroutine, after the cancel; stop),
 *     values (1,000 levels, shadowing), children of done parents, a
 *     cancelled child detached from its parent (a million of them cost no
 *     memory), sleep_ctx;
 *   - concurrency at procs 1, 2 and 8: coroutines and plain threads make,
 *     cancel and wait on contexts while cancels race the waits, the
 *     after-funcs' stops and the root's cancel; a context's first use
 *     (its done channel made, an after-func armed) races its cancel; a
 *     child with a deadline is made while its parent is cancelled (its
 *     timer must not outlive the cancel);
 *   - edges: deadline 0, a timeout too large to add to the clock, a
 *     deadline context cancelled after the runtime stopped.
 *
 * Checks made off the test's main thread use CO_CHECK.  Timing is asserted
 * one way only, where the API promises it (a deadline never fires early, a
 * full sleep is never short); "returned early" is told from "slept the
 * whole time" with seconds of slack.  Contexts whose freeing matters are
 * made in coroutines or plain threads: LeakSanitizer ignores what the
 * test's main thread allocates (test/lsan.supp).
 */
#include "chan_helpers.h"

#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#if defined(GORT_TEST_ASAN) || defined(GORT_TEST_TSAN)
/* sanitizer/allocator_interface.h, declared here: gcc and clang ship it
 * in different places */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

#define MS 1000000LL
#define FOREVER_NS (3600LL * 1000 * MS) /* an hour: never, within a test */
#define SENTINEL (-123456789L)
#define FILLER (-7L)

static void *must_(void *p, const char *what, const char *file, int line)
{
	if (p == NULL) {
		fprintf(stderr, "%s:%d: %s returned NULL\n", file, line, what);
		abort();
	}
	return p;
}
/* p, or abort (a crash fails the test) — usable off the main thread */
#define MUST(p) must_((p), #p, __FILE__, __LINE__)

static char key_a, key_b, missing_key;

/* Is c a closed channel (a receive would not block and says ok false)? */
static bool chan_closed(gort_chan *c)
{
	bool ok = true;
	return c != NULL && gort_chan_try_recv(c, NULL, &ok) == 0 && !ok;
}

static bool done_closed(gort_ctx *ctx)
{
	return chan_closed(gort_ctx_done(ctx));
}

/* Poll *v until it is >= target or ms pass, napping between polls (a
 * coroutine parks on a timer, a thread sleeps).  Whether it got there. */
static bool await_ge(atomic_int *v, int target, int ms)
{
	int64_t end = now_ns() + (int64_t)ms * MS;
	for (int polls = 0; atomic_load(v) < target; polls++) {
		if (polls < 1000) {
			gort_yield();
			continue;
		}
		if (now_ns() > end)
			return false;
		gort_sleep(100 * 1000);
	}
	return true;
}

/* Give a wrong implementation time to do what it must not.  Not a timing
 * assertion. */
static void nap_ms(int ms)
{
	gort_sleep((int64_t)ms * MS);
}

/* Channels nobody ever sends on (r) or receives from (s): a wait on them
 * ends only by its context. */
struct dead {
	gort_chan *r, *s;
};

static struct dead dead_make(void)
{
	return (struct dead){MUST(gort_chan_make(sizeof(long), 0)), MUST(gort_chan_make(sizeof(long), 0))};
}

static void dead_free(struct dead *d)
{
	gort_chan_release(d->r);
	gort_chan_release(d->s);
}

/* The waits that a context ends. */
enum { W_RECV_CTX, W_SEND_CTX, W_SELECT_CTX, W_SLEEP_CTX, W_DONE_RECV, W_KINDS };
static const char *const wait_name[W_KINDS] = {"recv_ctx", "send_ctx", "select_ctx", "sleep_ctx",
					       "recv on gort_ctx_done"};

/* Wait on ctx the way kind says, on channels that never become ready;
 * the call's result (for W_DONE_RECV: the context's error once its done
 * channel is closed). */
static int wait_on(gort_ctx *ctx, int kind, struct dead *d)
{
	long v = SENTINEL;
	bool ok = true;
	int r;
	switch (kind) {
	case W_RECV_CTX:
		r = gort_chan_recv_ctx(ctx, d->r, &v, &ok);
		CO_CHECK(r != 0, "recv_ctx on a dead channel returned 0");
		CO_CHECK(v == SENTINEL, "a failed recv_ctx wrote %ld into its element", v);
		break;
	case W_SEND_CTX:
		v = 1;
		r = gort_chan_send_ctx(ctx, d->s, &v);
		CO_CHECK(r != 0, "send_ctx on a dead channel returned 0");
		break;
	case W_SELECT_CTX: {
		long out = 2;
		gort_case cs[3] = {
			{.chan = d->r, .dir = GORT_RECV, .elem = &v},
			{.chan = d->s, .dir = GORT_SEND, .elem = &out},
			{.chan = NULL, .dir = GORT_RECV, .elem = NULL},
		};
		r = gort_select_ctx(ctx, cs, 3);
		CO_CHECK(r < 0, "select_ctx over dead channels chose case %d", r);
		CO_CHECK(v == SENTINEL, "a failed select_ctx wrote %ld into a receive's element", v);
		break;
	}
	case W_SLEEP_CTX:
		r = gort_sleep_ctx(ctx, FOREVER_NS);
		break;
	default: {
		gort_chan *done = gort_ctx_done(ctx);
		CO_CHECK(done != NULL, "gort_ctx_done of a cancelable context is NULL");
		if (done == NULL)
			return 0;
		gort_chan_recv(done, NULL, &ok);
		CO_CHECK(!ok, "a receive on gort_ctx_done returned ok = true");
		r = gort_ctx_err(ctx);
		CO_CHECK(r != 0, "gort_ctx_done is closed but gort_ctx_err is 0");
		break;
	}
	}
	return r;
}

/* One waiter: counts itself ready, waits, records the result. */
struct waiter {
	gort_ctx *ctx;
	int kind;
	struct dead *dead;
	int result;
	atomic_int *ready, *returned;
	gort_wg *wg;
};

static void waiter_fn(void *p)
{
	struct waiter *w = p;
	atomic_fetch_add(w->ready, 1);
	w->result = wait_on(w->ctx, w->kind, w->dead);
	atomic_fetch_add(w->returned, 1);
	if (w->wg != NULL)
		gort_wg_done(w->wg);
}

static void *waiter_th(void *p)
{
	waiter_fn(p);
	return NULL;
}

/* Cancel a context after a nap, from a coroutine. */
struct later {
	gort_ctx *ctx;
	int64_t ns;
	gort_wg wg;
};

static void cancel_later_fn(void *p)
{
	struct later *l = p;
	gort_sleep(l->ns);
	gort_ctx_cancel(l->ctx);
	gort_wg_done(&l->wg);
}

static void cancel_later(struct later *l, gort_ctx *ctx, int64_t ns)
{
	l->ctx = ctx;
	l->ns = ns;
	gort_wg_add(&l->wg, 1);
	gort_id id = gort_go(cancel_later_fn, l);
	CO_CHECK(id > 0, "gort_go = %lld", (long long)id);
}

/* fn(NULL) in a coroutine and, at the same time, on this plain thread;
 * then every CO_CHECK must have passed.  fn keeps its state local. */
struct both {
	void (*fn)(void *);
	gort_wg wg;
};

static void both_tramp(void *p)
{
	struct both *b = p;
	b->fn(NULL);
	gort_wg_done(&b->wg);
}

static void run_both(void (*fn)(void *))
{
	struct both b = {.fn = fn, .wg = GORT_WG_INIT};
	gort_wg_add(&b.wg, 1);
	gort_id id = gort_go(both_tramp, &b);
	cr_assert_gt(id, 0, "gort_go = %lld", (long long)id);
	fn(NULL);
	gort_wg_wait(&b.wg);
	CO_ASSERT_NO_FAILURES();
}

/* Bytes the allocator has handed out and not had back. */
static long long heap_in_use(void)
{
#if defined(GORT_TEST_ASAN) || defined(GORT_TEST_TSAN)
	return (long long)__sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
#endif
}

/* ------------------------------------------------------------------------ */
/* Propagation: a wide tree, a deep chain                                    */
/* ------------------------------------------------------------------------ */

enum { TREE_FANOUT = 8, TREE_WAITERS = 100, TREE_THREADS = 2, TREE_MANY = 64 };

static char tree_key;

struct tree {
	long n; /* nodes, the root included */
	gort_ctx **node;
	unsigned char *is_value;
	struct dead dead;
	struct waiter w[TREE_WAITERS + TREE_THREADS];
	long many[TREE_MANY];
	atomic_int ready, returned;
	gort_wg wg;
};

/* node[i]'s parent is node[(i - 1) / 8]: a tree 8 wide, 6 levels deep for
 * 100,000 nodes; every 11th node carries a value (its children hang under
 * it), every 101st has a deadline an hour away. */
static void tree_build(void *p)
{
	struct tree *t = p;
	t->dead = dead_make();
	t->node[0] = MUST(gort_ctx_with_cancel(NULL));
	for (long i = 1; i < t->n; i++) {
		gort_ctx *parent = t->node[(i - 1) / TREE_FANOUT];
		if (i % 11 == 0) {
			t->node[i] = MUST(gort_ctx_with_value(parent, &tree_key, (void *)(intptr_t)i));
			t->is_value[i] = 1;
		} else if (i % 101 == 0) {
			t->node[i] = MUST(gort_ctx_with_timeout(parent, FOREVER_NS));
		} else {
			t->node[i] = MUST(gort_ctx_with_cancel(parent));
		}
	}
}

/* One coroutine waits on many: a select over TREE_MANY done channels, then
 * a plain receive on each, then a _ctx call on each (all fail at once). */
static void tree_many_fn(void *p)
{
	struct tree *t = p;
	gort_case cs[TREE_MANY];
	for (int j = 0; j < TREE_MANY; j++)
		cs[j] = (gort_case){.chan = gort_ctx_done(t->node[t->many[j]]), .dir = GORT_RECV};
	atomic_fetch_add(&t->ready, 1);
	int r = gort_select(cs, TREE_MANY, false);
	CO_CHECK(r >= 0 && r < TREE_MANY, "select over done channels = %d", r);
	if (r >= 0 && r < TREE_MANY) {
		CO_CHECK(!cs[r].ok, "a done channel gave a value");
		CO_CHECK(gort_ctx_err(t->node[t->many[r]]) == GORT_CANCELED, "err %d",
			 gort_ctx_err(t->node[t->many[r]]));
	}
	for (int j = 0; j < TREE_MANY; j++) {
		bool ok = true;
		gort_chan_recv(cs[j].chan, NULL, &ok);
		CO_CHECK(!ok, "done channel of node %ld gave a value", t->many[j]);
		int e = gort_sleep_ctx(t->node[t->many[j]], FOREVER_NS);
		CO_CHECK(e == GORT_CANCELED, "sleep_ctx on cancelled node %ld = %d", t->many[j], e);
	}
	atomic_fetch_add(&t->returned, 1);
	gort_wg_done(&t->wg);
}

static void tree_release(void *p)
{
	struct tree *t = p;
	for (long i = t->n - 1; i >= 0; i--)
		gort_ctx_release(t->node[i]);
	dead_free(&t->dead);
}

PROCS_TEST(context, cancel_reaches_100k_descendants, 60)
{
	static struct tree t;
	t.n = scaled_min(100000, 5000) + 1;
	t.node = calloc((size_t)t.n, sizeof *t.node);
	t.is_value = calloc((size_t)t.n, 1);
	cr_assert(t.node != NULL && t.is_value != NULL);
	rt_start(procs);
	co_run(tree_build, &t);
	for (long i = 0; i < t.n; i++)
		cr_assert_eq(gort_ctx_err(t.node[i]), 0, "node %ld done before any cancel", i);

	/* waiters on nodes spread over the deepest half, every kind of wait */
	int nw = TREE_WAITERS + TREE_THREADS;
	for (int k = 0; k < nw; k++) {
		long idx = t.n - 1 - (long)k * ((t.n / 2) / nw);
		t.w[k] = (struct waiter){.ctx = t.node[idx], .kind = k % W_KINDS, .dead = &t.dead,
					 .ready = &t.ready, .returned = &t.returned, .wg = &t.wg};
	}
	for (int j = 0; j < TREE_MANY; j++)
		t.many[j] = 1 + (long)j * ((t.n - 2) / TREE_MANY);
	gort_wg_add(&t.wg, nw + 1);
	for (int k = 0; k < TREE_WAITERS; k++)
		cr_assert_gt(gort_go(waiter_fn, &t.w[k]), 0);
	pthread_t th[TREE_THREADS];
	for (int k = 0; k < TREE_THREADS; k++)
		cr_assert_eq(pthread_create(&th[k], NULL, waiter_th, &t.w[TREE_WAITERS + k]), 0);
	cr_assert_gt(gort_go(tree_many_fn, &t), 0);
	cr_assert(wait_ge(&t.ready, nw + 1, 10000), "only %d of %d waiters started",
		  atomic_load(&t.ready), nw + 1);
	sleep_ms(20); /* let them block */
	cr_assert_eq(atomic_load(&t.returned), 0, "%d wait(s) ended before any cancel",
		     atomic_load(&t.returned));

	gort_ctx_cancel(t.node[0]);
	cr_assert(wait_ge(&t.returned, nw + 1, 10000),
		  "only %d of %d waits ended after the root's cancel (lost wakeup)",
		  atomic_load(&t.returned), nw + 1);
	gort_wg_wait(&t.wg);
	for (int k = 0; k < TREE_THREADS; k++)
		pthread_join(th[k], NULL);
	CO_ASSERT_NO_FAILURES();
	for (int k = 0; k < nw; k++)
		cr_assert_eq(t.w[k].result, GORT_CANCELED, "waiter %d (%s, %s) returned %d", k,
			     wait_name[t.w[k].kind], k < TREE_WAITERS ? "coroutine" : "thread",
			     t.w[k].result);
	for (long i = 0; i < t.n; i++) {
		cr_assert_eq(gort_ctx_err(t.node[i]), GORT_CANCELED, "node %ld: err %d", i,
			     gort_ctx_err(t.node[i]));
		cr_assert_eq(gort_ctx_cause(t.node[i]), GORT_CANCELED, "node %ld: cause %d", i,
			     gort_ctx_cause(t.node[i]));
		if (t.is_value[i])
			cr_assert_eq(gort_ctx_value(t.node[i], &tree_key), (void *)(intptr_t)i,
				     "node %ld lost its value", i);
		if (i % 16 == 0)
			cr_assert(done_closed(t.node[i]), "node %ld: done channel not closed", i);
	}
	/* every handle released after the cancel: everything is freed */
	co_run(tree_release, &t);
	free(t.node);
	free(t.is_value);
	rt_stop();
	leak_check();
}

/* A chain: c[i]'s parent is c[i - 1]; c[1] and every c[10k + 5] carry
 * values.  Everything here runs in a coroutine with a 64 KiB stack:
 * anything recursive over the depth would overflow it. */
static char chain_key, chain_key2;
#define CHAIN_CAUSE 4242

struct chain {
	long n, mid;
	bool cut_mid;
	gort_ctx **c;
	struct dead dead;
	atomic_int ready, ret_low, ret_high;
	gort_wg wg, body_done;
};

/* bad nodes among c[from, to): err must be err, cause must be cause */
static long chain_bad(struct chain *ch, long from, long to, int err, int cause, long *first)
{
	long bad = 0;
	for (long i = from; i < to; i++) {
		if (gort_ctx_err(ch->c[i]) != err || gort_ctx_cause(ch->c[i]) != cause) {
			if (bad++ == 0)
				*first = i;
		}
	}
	return bad;
}

static void chain_body(void *p)
{
	struct chain *ch = p;
	long n = ch->n, mid = ch->mid, first = -1, bad;
	gort_ctx **c = ch->c;
	ch->dead = dead_make();
	c[0] = MUST(gort_ctx_with_cancel(NULL));
	c[1] = MUST(gort_ctx_with_value(c[0], &chain_key, &chain_key));
	for (long i = 2; i < n; i++)
		c[i] = MUST(i % 10 == 5 ? gort_ctx_with_value(c[i - 1], &chain_key2, (void *)(intptr_t)i)
					: gort_ctx_with_cancel(c[i - 1]));
	gort_ctx *leaf = c[n - 1];
	long last5 = (n - 1 - 5) / 10 * 10 + 5;
	CO_CHECK(gort_ctx_value(leaf, &chain_key) == &chain_key, "the root's value not found from the leaf");
	CO_CHECK(gort_ctx_value(leaf, &chain_key2) == (void *)(intptr_t)last5,
		 "the nearest value is not the one found");
	CO_CHECK(gort_ctx_value(leaf, &missing_key) == NULL, "a missing key found");
	CO_CHECK(!gort_ctx_deadline(leaf, NULL), "a deadline in a chain without one");
	CO_CHECK(gort_ctx_err(leaf) == 0 && gort_ctx_cause(leaf) == 0, "the leaf done before any cancel");

	/* two waiters below the middle, two above */
	struct waiter w[4] = {
		{.ctx = leaf, .kind = W_RECV_CTX, .returned = &ch->ret_low},
		{.ctx = c[mid + 1], .kind = W_SLEEP_CTX, .returned = &ch->ret_low},
		{.ctx = c[mid - 1], .kind = W_SELECT_CTX, .returned = &ch->ret_high},
		{.ctx = c[2], .kind = W_DONE_RECV, .returned = &ch->ret_high},
	};
	gort_wg_add(&ch->wg, 4);
	for (int k = 0; k < 4; k++) {
		w[k].dead = &ch->dead;
		w[k].ready = &ch->ready;
		w[k].wg = &ch->wg;
		gort_id id = gort_go_with(waiter_fn, &w[k], .stack_size = 64 * 1024);
		CO_CHECK(id > 0, "gort_go = %lld", (long long)id);
	}
	CO_CHECK(await_ge(&ch->ready, 4, 10000), "waiters did not start");
	nap_ms(10);
	CO_CHECK(atomic_load(&ch->ret_low) + atomic_load(&ch->ret_high) == 0,
		 "a wait ended before any cancel");

	if (ch->cut_mid) {
		gort_ctx_cancel_cause(c[mid], CHAIN_CAUSE);
		CO_CHECK(await_ge(&ch->ret_low, 2, 10000),
			 "%d of the 2 waits below the middle ended after its cancel", atomic_load(&ch->ret_low));
		nap_ms(10);
		CO_CHECK(atomic_load(&ch->ret_high) == 0, "a cancel in the middle woke a waiter above it");
		bad = chain_bad(ch, mid, n, GORT_CANCELED, CHAIN_CAUSE, &first);
		CO_CHECK(bad == 0, "%ld nodes below the middle not cancelled with its cause; first %ld", bad,
			 first);
		bad = chain_bad(ch, 0, mid, 0, 0, &first);
		CO_CHECK(bad == 0, "%ld nodes above the middle touched by its cancel; first %ld", bad, first);
	}
	gort_ctx_cancel(c[0]);
	CO_CHECK(await_ge(&ch->ret_low, 2, 10000) && await_ge(&ch->ret_high, 2, 10000),
		 "waits still blocked after the root's cancel: %d below, %d above",
		 2 - atomic_load(&ch->ret_low), 2 - atomic_load(&ch->ret_high));
	gort_wg_wait(&ch->wg);
	for (int k = 0; k < 4; k++)
		CO_CHECK(w[k].result == GORT_CANCELED, "waiter %d (%s) returned %d", k,
			 wait_name[w[k].kind], w[k].result);
	bad = chain_bad(ch, 0, ch->cut_mid ? mid : n, GORT_CANCELED, GORT_CANCELED, &first);
	CO_CHECK(bad == 0, "%ld nodes not cancelled by the root's cancel; first %ld", bad, first);
	if (ch->cut_mid) {
		bad = chain_bad(ch, mid, n, GORT_CANCELED, CHAIN_CAUSE, &first);
		CO_CHECK(bad == 0, "%ld nodes below the middle lost their cause; first %ld", bad, first);
	}
	/* root first: each node is then held only by its child, and the
	 * leaf's release frees the whole chain */
	for (long i = 0; i < n; i++)
		gort_ctx_release(c[i]);
	dead_free(&ch->dead);
	gort_wg_done(&ch->body_done);
}

static void chain_test(bool cut_mid)
{
	static struct chain ch;
	ch.n = scaled_min(100000, 5000);
	ch.mid = ch.n / 2;
	if (ch.mid % 10 == 5)
		ch.mid++; /* a cancel node */
	ch.cut_mid = cut_mid;
	ch.c = calloc((size_t)ch.n, sizeof *ch.c);
	cr_assert_not_null(ch.c);
	rt_start(2);
	gort_wg_add(&ch.body_done, 1);
	gort_id id = gort_go_with(chain_body, &ch, .name = "chain", .stack_size = 64 * 1024);
	cr_assert_gt(id, 0);
	gort_wg_wait(&ch.body_done);
	CO_ASSERT_NO_FAILURES();
	free(ch.c);
	rt_stop();
	leak_check();
}

Test(context, chain_100k_deep_cancelled_from_root, .timeout = 60)
{
	chain_test(false);
}

Test(context, chain_100k_deep_cancelled_from_middle_then_root, .timeout = 60)
{
	chain_test(true);
}

/* ------------------------------------------------------------------------ */
/* Deadlines                                                                 */
/* ------------------------------------------------------------------------ */

/* One deadline per kind of wait: it ends at (never before) the deadline
 * with GORT_DEADLINE_EXCEEDED, as err and as cause, for the context and
 * its children alike; a cancel afterwards changes nothing. */
static void deadline_fires_cases(void *arg)
{
	(void)arg;
	struct dead d = dead_make();
	for (int kind = 0; kind < W_KINDS; kind++) {
		int64_t t0 = gort_now();
		gort_ctx *c = MUST(gort_ctx_with_timeout(NULL, 20 * MS));
		int64_t t1 = gort_now();
		gort_ctx *kid = MUST(gort_ctx_with_cancel(c));
		gort_ctx *val = MUST(gort_ctx_with_value(c, &key_a, &key_a));
		int64_t dl = 0, kdl = 0, vdl = 0;
		CO_CHECK(gort_ctx_deadline(c, &dl), "with_timeout gave no deadline");
		CO_CHECK(dl >= t0 + 20 * MS && dl <= t1 + 20 * MS, "deadline %lld not in [%lld, %lld]",
			 (long long)dl, (long long)(t0 + 20 * MS), (long long)(t1 + 20 * MS));
		CO_CHECK(gort_ctx_deadline(kid, &kdl) && kdl == dl, "the child's deadline %lld", (long long)kdl);
		CO_CHECK(gort_ctx_deadline(val, &vdl) && vdl == dl, "the value's deadline %lld", (long long)vdl);
		CO_CHECK(gort_ctx_err(c) == 0 && gort_ctx_cause(c) == 0 && gort_ctx_err(kid) == 0,
			 "done before the deadline");
		gort_ctx *on = kind % 3 == 0 ? c : kind % 3 == 1 ? kid : val;
		int r = wait_on(on, kind, &d);
		int64_t woke = gort_now();
		CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "%s returned %d", wait_name[kind], r);
		CO_CHECK(woke >= dl, "%s returned %lld ns before the deadline", wait_name[kind],
			 (long long)(dl - woke));
		/* a child is cancelled after its parent is done (as in Go, a
		 * waiter on the parent may see it a moment before): wait for it */
		gort_chan_recv(gort_ctx_done(kid), NULL, NULL);
		CO_CHECK(gort_ctx_err(c) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(c) == GORT_DEADLINE_EXCEEDED,
			 "err %d cause %d", gort_ctx_err(c), gort_ctx_cause(c));
		CO_CHECK(gort_ctx_err(kid) == GORT_DEADLINE_EXCEEDED &&
				 gort_ctx_cause(kid) == GORT_DEADLINE_EXCEEDED,
			 "child: err %d cause %d", gort_ctx_err(kid), gort_ctx_cause(kid));
		CO_CHECK(gort_ctx_err(val) == GORT_DEADLINE_EXCEEDED, "value: err %d", gort_ctx_err(val));
		CO_CHECK(done_closed(c) && done_closed(kid) && done_closed(val), "done channels not closed");
		gort_ctx_cancel(c);
		gort_ctx_cancel_cause(kid, 99);
		CO_CHECK(gort_ctx_err(c) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(c) == GORT_DEADLINE_EXCEEDED,
			 "a cancel after the deadline changed err %d / cause %d", gort_ctx_err(c),
			 gort_ctx_cause(c));
		CO_CHECK(gort_ctx_cause(kid) == GORT_DEADLINE_EXCEEDED, "child's cause now %d",
			 gort_ctx_cause(kid));
		gort_ctx_release(val);
		gort_ctx_release(kid);
		gort_ctx_release(c);
	}
	dead_free(&d);
}

Test(context, deadline_fires_not_early_with_deadline_exceeded, .timeout = 30)
{
	rt_start(2);
	run_both(deadline_fires_cases);
	rt_stop();
	leak_check();
}

static void parent_deadline_cases(void *arg)
{
	(void)arg;
	struct dead d = dead_make();
	int64_t pdl = 0, x = 0;
	gort_ctx *p = MUST(gort_ctx_with_timeout(NULL, 40 * MS));
	CO_CHECK(gort_ctx_deadline(p, &pdl), "no deadline");
	gort_ctx *late = MUST(gort_ctx_with_timeout(p, FOREVER_NS));
	gort_ctx *same = MUST(gort_ctx_with_deadline(p, pdl));
	gort_ctx *early = MUST(gort_ctx_with_deadline(p, pdl - 20 * MS));
	gort_ctx *kid = MUST(gort_ctx_with_cancel(late));
	gort_ctx *val = MUST(gort_ctx_with_value(late, &key_a, NULL));
	CO_CHECK(gort_ctx_deadline(late, &x) && x == pdl, "a later deadline reported: %lld, parent's %lld",
		 (long long)x, (long long)pdl);
	CO_CHECK(gort_ctx_deadline(same, &x) && x == pdl, "an equal deadline: %lld", (long long)x);
	CO_CHECK(gort_ctx_deadline(early, &x) && x == pdl - 20 * MS,
		 "an earlier deadline is the child's own: %lld, want %lld", (long long)x,
		 (long long)(pdl - 20 * MS));
	CO_CHECK(gort_ctx_deadline(kid, &x) && x == pdl, "grandchild: %lld", (long long)x);
	CO_CHECK(gort_ctx_deadline(val, &x) && x == pdl, "value: %lld", (long long)x);

	/* the earlier one ends first, the parent goes on */
	gort_chan_recv(gort_ctx_done(early), NULL, NULL);
	int pe = gort_ctx_err(p);
	int64_t now = gort_now();
	CO_CHECK(now >= pdl - 20 * MS, "the earlier deadline fired %lld ns early",
		 (long long)(pdl - 20 * MS - now));
	CO_CHECK(gort_ctx_err(early) == GORT_DEADLINE_EXCEEDED, "err %d", gort_ctx_err(early));
	if (now < pdl)
		CO_CHECK(pe == 0, "the parent done (%d) before its deadline", pe);
	/* the later one ends with the parent */
	int r = wait_on(kid, W_RECV_CTX, &d);
	now = gort_now();
	CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "recv_ctx under the parent's deadline = %d", r);
	CO_CHECK(now >= pdl, "ended %lld ns before the parent's deadline", (long long)(pdl - now));
	CO_CHECK(gort_ctx_err(late) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(late) == GORT_DEADLINE_EXCEEDED,
		 "late: err %d cause %d", gort_ctx_err(late), gort_ctx_cause(late));
	gort_chan_recv(gort_ctx_done(same), NULL, NULL); /* a sibling: cancelled in its turn */
	CO_CHECK(gort_ctx_cause(kid) == GORT_DEADLINE_EXCEEDED && gort_ctx_err(same) == GORT_DEADLINE_EXCEEDED,
		 "cause %d, same's err %d", gort_ctx_cause(kid), gort_ctx_err(same));

	/* the other way round: a child's own earlier deadline leaves the parent alone */
	gort_ctx *q = MUST(gort_ctx_with_timeout(NULL, FOREVER_NS));
	int64_t t0 = gort_now();
	gort_ctx *qc = MUST(gort_ctx_with_timeout(q, 20 * MS));
	CO_CHECK(gort_ctx_deadline(qc, &x) && x >= t0 + 20 * MS && x < t0 + FOREVER_NS / 2,
		 "the child's own deadline: %lld", (long long)x);
	r = wait_on(qc, W_SELECT_CTX, &d);
	CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "select_ctx = %d", r);
	CO_CHECK(gort_ctx_err(q) == 0, "the child's deadline ended the parent: %d", gort_ctx_err(q));
	gort_ctx_cancel(q);
	CO_CHECK(gort_ctx_err(q) == GORT_CANCELED && gort_ctx_cause(q) == GORT_CANCELED, "err %d cause %d",
		 gort_ctx_err(q), gort_ctx_cause(q));
	CO_CHECK(gort_ctx_err(qc) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(qc) == GORT_DEADLINE_EXCEEDED,
		 "the parent's cancel rewrote the child's err %d / cause %d", gort_ctx_err(qc),
		 gort_ctx_cause(qc));

	/* no deadline anywhere */
	gort_ctx *nc = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *nv = MUST(gort_ctx_with_value(NULL, &key_a, NULL));
	CO_CHECK(!gort_ctx_deadline(gort_ctx_background(), &x), "background has a deadline");
	CO_CHECK(!gort_ctx_deadline(NULL, &x), "NULL (background) has a deadline");
	CO_CHECK(!gort_ctx_deadline(nc, NULL) && !gort_ctx_deadline(nv, NULL), "a deadline from nowhere");

	gort_ctx *all[] = {kid, val, late, same, early, p, qc, q, nc, nv};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		gort_ctx_cancel(all[i]);
		gort_ctx_release(all[i]);
	}
	dead_free(&d);
}

Test(context, parent_earlier_deadline_wins, .timeout = 30)
{
	rt_start(2);
	run_both(parent_deadline_cases);
	rt_stop();
	leak_check();
}

static void past_deadline_cases(void *arg)
{
	(void)arg;
	gort_ctx *live = MUST(gort_ctx_with_cancel(NULL));
	int64_t now = gort_now();
	int64_t want[5] = {now - 1, now - 1000 * MS, 0, 0, 1};
	gort_ctx *c[5] = {
		MUST(gort_ctx_with_deadline(live, now - 1)),
		MUST(gort_ctx_with_deadline(live, now - 1000 * MS)),
		MUST(gort_ctx_with_timeout(live, 0)),
		MUST(gort_ctx_with_timeout(live, -5 * MS)),
		MUST(gort_ctx_with_deadline(NULL, 1)),
	};
	gort_chan *b = MUST(gort_chan_make(sizeof(long), 1));
	long one = 1;
	CO_CHECK(gort_chan_try_send(b, &one) == 0, "try_send");
	for (int i = 0; i < 5; i++) {
		int64_t x = 0;
		CO_CHECK(gort_ctx_err(c[i]) == GORT_DEADLINE_EXCEEDED, "%d: err %d", i, gort_ctx_err(c[i]));
		CO_CHECK(gort_ctx_cause(c[i]) == GORT_DEADLINE_EXCEEDED, "%d: cause %d", i, gort_ctx_cause(c[i]));
		CO_CHECK(done_closed(c[i]), "%d: done channel not closed", i);
		CO_CHECK(gort_ctx_deadline(c[i], &x), "%d: no deadline", i);
		if (want[i] != 0)
			CO_CHECK(x == want[i], "%d: deadline %lld, want %lld", i, (long long)x, (long long)want[i]);
		long v = SENTINEL;
		CO_CHECK(gort_chan_recv_ctx(c[i], b, &v, NULL) == GORT_DEADLINE_EXCEEDED && v == SENTINEL,
			 "%d: recv_ctx on a ready channel took %ld", i, v);
	}
	CO_CHECK(gort_chan_len(b) == 1, "the value was taken");
	CO_CHECK(gort_ctx_err(live) == 0, "a child's past deadline ended its parent");
	for (int i = 0; i < 5; i++) {
		gort_ctx_cancel(c[i]);
		CO_CHECK(gort_ctx_err(c[i]) == GORT_DEADLINE_EXCEEDED, "%d: cancel rewrote err", i);
		gort_ctx_release(c[i]);
	}
	gort_ctx_cancel(live);
	gort_ctx_release(live);
	gort_chan_release(b);
}

Test(context, past_deadline_is_done_at_once, .timeout = 30)
{
	rt_start(2);
	run_both(past_deadline_cases);
	rt_stop();
	leak_check();
}

/* Without the runtime: a past deadline still makes a done context (no
 * timer needed); a future one cannot be armed (NULL); cancel contexts
 * work. */
Test(context, contexts_without_runtime, .timeout = 30)
{
	cr_assert(!gort_running());
	gort_ctx *c = gort_ctx_with_deadline(NULL, gort_now() - 1);
	cr_assert_not_null(c);
	cr_assert_eq(gort_ctx_err(c), GORT_DEADLINE_EXCEEDED);
	cr_assert_eq(gort_ctx_cause(c), GORT_DEADLINE_EXCEEDED);
	cr_assert(done_closed(c));
	cr_assert_null(gort_ctx_with_timeout(NULL, FOREVER_NS), "a future deadline without the runtime");
	gort_ctx *k = gort_ctx_with_cancel(NULL);
	cr_assert_not_null(k);
	gort_ctx *kk = gort_ctx_with_cancel(k);
	cr_assert_not_null(kk);
	cr_assert_null(gort_ctx_with_timeout(k, FOREVER_NS), "a future deadline without the runtime");
	cr_assert_eq(gort_ctx_err(kk), 0);
	gort_ctx_cancel_cause(k, 77);
	cr_assert_eq(gort_ctx_err(kk), GORT_CANCELED);
	cr_assert_eq(gort_ctx_cause(kk), 77);
	gort_ctx_release(kk);
	gort_ctx_release(k);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
}

struct sleeper_rec {
	gort_ctx *ctx;
	int res;
	atomic_int started, finished;
};

static void sleeper_fn(void *p)
{
	struct sleeper_rec *s = p;
	atomic_store(&s->started, 1);
	s->res = gort_sleep_ctx(s->ctx, FOREVER_NS);
	atomic_store(&s->finished, 1);
}

static void cancel_before_deadline_cases(void *arg)
{
	(void)arg;
	/* cancelled straight away: GORT_CANCELED, and the deadline passing
	 * later changes nothing (unless this thread was held up past the
	 * deadline before its cancel: nothing to check then) */
	gort_ctx *c = MUST(gort_ctx_with_timeout(NULL, 40 * MS));
	gort_ctx *kid = MUST(gort_ctx_with_timeout(c, FOREVER_NS));
	int64_t dl = 0;
	CO_CHECK(gort_ctx_deadline(c, &dl), "no deadline");
	bool in_time = gort_now() < dl - 20 * MS;
	gort_ctx_cancel(c);
	if (in_time) {
		CO_CHECK(gort_ctx_err(c) == GORT_CANCELED && gort_ctx_cause(c) == GORT_CANCELED,
			 "err %d cause %d", gort_ctx_err(c), gort_ctx_cause(c));
		CO_CHECK(gort_ctx_err(kid) == GORT_CANCELED && gort_ctx_cause(kid) == GORT_CANCELED,
			 "child: err %d cause %d", gort_ctx_err(kid), gort_ctx_cause(kid));
		nap_ms(60);
		CO_CHECK(gort_ctx_err(c) == GORT_CANCELED && gort_ctx_cause(c) == GORT_CANCELED,
			 "the deadline passing rewrote err %d / cause %d", gort_ctx_err(c), gort_ctx_cause(c));
		CO_CHECK(gort_ctx_err(kid) == GORT_CANCELED, "child: err %d", gort_ctx_err(kid));
	}
	gort_ctx_release(kid);
	gort_ctx_release(c);

	/* a waiter on a context whose deadline is far: the cancel ends it */
	struct sleeper_rec s = {.ctx = MUST(gort_ctx_with_timeout(NULL, FOREVER_NS))};
	gort_id id = gort_go(sleeper_fn, &s);
	CO_CHECK(id > 0, "gort_go");
	CO_CHECK(await_ge(&s.started, 1, 10000), "the sleeper did not start");
	nap_ms(5);
	gort_ctx_cancel(s.ctx);
	CO_CHECK(await_ge(&s.finished, 1, 10000), "sleep_ctx still sleeping after the cancel");
	CO_CHECK(s.res == GORT_CANCELED, "sleep_ctx = %d", s.res);
	gort_ctx_release(s.ctx);
}

Test(context, cancel_before_deadline_is_canceled, .timeout = 30)
{
	rt_start(2);
	run_both(cancel_before_deadline_cases);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* A failed _ctx call did nothing: cancels raced against sends / receives    */
/* ------------------------------------------------------------------------ */

enum { RACE_K = 4, RACE_S = 2 };

struct race;
struct race_slot {
	struct race *r;
	int k;
	gort_ctx *ctx;
	long v;
	bool ok;
	int res;
};

struct race {
	gort_chan *c;
	size_t cap;
	long rounds;
	uint64_t rng;
	gort_ctx *parent;
	struct race_slot slot[RACE_K];
	long base;
	int cancel_yields, other_yields, first_cancel;
	bool cancel_parent;
	long got[RACE_S];
	gort_wg ops_wg, side_wg;
	atomic_int ops_finished, other_done;
	long done_ops, cancelled_ops; /* totals over the rounds */
};

static void race_canceller(void *p)
{
	struct race *r = p;
	for (int i = 0; i < r->cancel_yields; i++)
		gort_yield();
	if (r->cancel_parent)
		gort_ctx_cancel(r->parent);
	else
		for (int i = 0; i < RACE_K; i++)
			gort_ctx_cancel(r->slot[(r->first_cancel + i) % RACE_K].ctx);
	gort_wg_done(&r->side_wg);
}

static void race_round_setup(struct race *r, long round)
{
	uint64_t x = rng_next(&r->rng);
	r->parent = MUST(gort_ctx_with_cancel(NULL));
	for (int k = 0; k < RACE_K; k++)
		r->slot[k] = (struct race_slot){.r = r, .k = k, .ctx = MUST(gort_ctx_with_cancel(r->parent))};
	r->base = round * 16 + 1;
	r->cancel_yields = (int)(x % 4);
	r->other_yields = (int)((x >> 4) % 4);
	r->cancel_parent = (x >> 8) % 3 == 0;
	r->first_cancel = (int)((x >> 12) % RACE_K);
	atomic_store(&r->ops_finished, 0);
	atomic_store(&r->other_done, 0);
}

static void race_round_teardown(struct race *r)
{
	for (int k = 0; k < RACE_K; k++)
		gort_ctx_release(r->slot[k].ctx);
	gort_ctx_cancel(r->parent);
	gort_ctx_release(r->parent);
}

/* Spawn fn(r) and the canceller, in an order the round's dice choose,
 * after some yields (some of the K operations have blocked, some not). */
static void race_start_both(struct race *r, void (*fn)(void *))
{
	uint64_t x = rng_next(&r->rng);
	for (int i = 0; i < (int)(x % 3); i++)
		gort_yield();
	gort_wg_add(&r->side_wg, 1);
	if (x & 8) {
		CO_CHECK(gort_go(fn, r) > 0, "gort_go");
		CO_CHECK(gort_go(race_canceller, r) > 0, "gort_go");
	} else {
		CO_CHECK(gort_go(race_canceller, r) > 0, "gort_go");
		CO_CHECK(gort_go(fn, r) > 0, "gort_go");
	}
}

/* Wait for the round's K operations: each ends by its value or its
 * cancel.  One still blocked after its cancel is a lost wakeup: the test
 * fails (gort_stop discards what is left). */
static bool race_ops_end(struct race *r, long round)
{
	if (!await_ge(&r->ops_finished, RACE_K, 10000)) {
		CO_CHECK(0, "round %ld: %d of %d operations still blocked after their cancel (lost wakeup)",
			 round, RACE_K - atomic_load(&r->ops_finished), RACE_K);
		return false;
	}
	gort_wg_wait(&r->ops_wg);
	return true;
}

/* --- receive: K receivers with contexts, a plain sender of S values --- */

static void rr_receiver(void *p)
{
	struct race_slot *s = p;
	s->v = SENTINEL;
	s->ok = false;
	s->res = gort_chan_recv_ctx(s->ctx, s->r->c, &s->v, &s->ok);
	atomic_fetch_add(&s->r->ops_finished, 1);
	gort_wg_done(&s->r->ops_wg);
}

static void rr_sender(void *p)
{
	struct race *r = p;
	for (int i = 0; i < r->other_yields; i++)
		gort_yield();
	for (int i = 0; i < RACE_S; i++) {
		long v = r->base + i;
		gort_chan_send(r->c, &v);
	}
	atomic_store(&r->other_done, 1);
}

static void rr_driver(void *p)
{
	struct race *r = p;
	r->c = MUST(gort_chan_make(sizeof(long), r->cap));
	for (long round = 0; round < r->rounds; round++) {
		race_round_setup(r, round);
		gort_wg_add(&r->ops_wg, RACE_K);
		for (int k = 0; k < RACE_K; k++)
			CO_CHECK(gort_go(rr_receiver, &r->slot[k]) > 0, "gort_go");
		race_start_both(r, rr_sender);
		if (!race_ops_end(r, round))
			return;
		gort_wg_wait(&r->side_wg);
		unsigned seen = 0;
		int taken = 0;
		for (int k = 0; k < RACE_K; k++) {
			struct race_slot *s = &r->slot[k];
			if (s->res == 0) {
				long i = s->v - r->base;
				CO_CHECK(s->ok && i >= 0 && i < RACE_S && !(seen & (1u << i)),
					 "round %ld: receiver %d took %ld (ok %d)", round, k, s->v, s->ok);
				if (i >= 0 && i < RACE_S)
					seen |= 1u << i;
				taken++;
			} else {
				CO_CHECK(s->res == GORT_CANCELED, "round %ld: recv_ctx = %d", round, s->res);
				CO_CHECK(s->v == SENTINEL, "round %ld: a cancelled recv_ctx wrote %ld", round, s->v);
			}
		}
		/* what no receiver with a context took is still there, once */
		bool lost = false;
		for (int i = taken; i < RACE_S; i++) {
			long v = SENTINEL;
			bool ok = false;
			int rc = gort_chan_recv_until(r->c, &v, &ok, gort_now() + 5000 * MS);
			if (rc != 0) {
				CO_CHECK(0, "round %ld: %d values taken with a context, but only %d of the other %d "
					 "came: a cancelled receive took one", round, taken, i - taken,
					 RACE_S - taken);
				lost = true;
				break;
			}
			long j = v - r->base;
			CO_CHECK(ok && j >= 0 && j < RACE_S && !(seen & (1u << j)),
				 "round %ld: plain receive got %ld (ok %d), seen %#x", round, v, ok, seen);
			if (j >= 0 && j < RACE_S)
				seen |= 1u << j;
		}
		if (!lost)
			CO_CHECK(seen == (1u << RACE_S) - 1, "round %ld: values received %#x", round, seen);
		if (!await_ge(&r->other_done, 1, 5000)) {
			CO_CHECK(0, "round %ld: the sender is still blocked after all %d values were received",
				 round, RACE_S);
			return; /* the test fails; gort_stop discards the sender */
		}
		long extra = SENTINEL;
		CO_CHECK(gort_chan_try_recv(r->c, &extra, NULL) == -EAGAIN, "round %ld: extra value %ld",
			 round, extra);
		r->done_ops += taken;
		r->cancelled_ops += RACE_K - taken;
		race_round_teardown(r);
	}
	gort_chan_release(r->c);
}

/* --- send: K senders with contexts (distinct values), a plain receiver of S --- */

static void rs_sender(void *p)
{
	struct race_slot *s = p;
	s->v = s->r->base + s->k;
	s->res = gort_chan_send_ctx(s->ctx, s->r->c, &s->v);
	atomic_fetch_add(&s->r->ops_finished, 1);
	gort_wg_done(&s->r->ops_wg);
}

static void rs_receiver(void *p)
{
	struct race *r = p;
	for (int i = 0; i < r->other_yields; i++)
		gort_yield();
	for (int i = 0; i < RACE_S; i++) {
		bool ok = false;
		r->got[i] = SENTINEL;
		gort_chan_recv(r->c, &r->got[i], &ok);
		CO_CHECK(ok, "receive on an open channel: ok false");
	}
	atomic_store(&r->other_done, 1);
}

/* account for v: a filler, or sender k's value (each at most once) */
static void rs_account(struct race *r, long round, long v, unsigned *arrived, int *fillers)
{
	if (v == FILLER) {
		(*fillers)++;
		return;
	}
	long k = v - r->base;
	CO_CHECK(k >= 0 && k < RACE_K && !(*arrived & (1u << k)), "round %ld: value %ld arrived (seen %#x)",
		 round, v, *arrived);
	if (k >= 0 && k < RACE_K)
		*arrived |= 1u << k;
}

static void rs_driver(void *p)
{
	struct race *r = p;
	r->c = MUST(gort_chan_make(sizeof(long), r->cap));
	for (long round = 0; round < r->rounds; round++) {
		race_round_setup(r, round);
		gort_wg_add(&r->ops_wg, RACE_K);
		for (int k = 0; k < RACE_K; k++)
			CO_CHECK(gort_go(rs_sender, &r->slot[k]) > 0, "gort_go");
		race_start_both(r, rs_receiver);
		if (!race_ops_end(r, round))
			return;
		gort_wg_wait(&r->side_wg);
		unsigned sent = 0;
		int nsent = 0;
		for (int k = 0; k < RACE_K; k++) {
			if (r->slot[k].res == 0) {
				sent |= 1u << k;
				nsent++;
			} else {
				CO_CHECK(r->slot[k].res == GORT_CANCELED, "round %ld: send_ctx = %d", round,
					 r->slot[k].res);
			}
		}
		/* the receiver wants S values: top it up with fillers */
		for (int i = nsent; i < RACE_S; i++) {
			long f = FILLER;
			int rc = gort_chan_send_until(r->c, &f, gort_now() + 5000 * MS);
			CO_CHECK(rc == 0, "round %ld: filler %d not taken (%d): the receiver got a value no "
				 "send_ctx reported", round, i - nsent, rc);
		}
		if (!await_ge(&r->other_done, 1, 5000)) {
			CO_CHECK(0, "round %ld: the receiver still waits: a value reported sent never arrived",
				 round);
			return;
		}
		unsigned arrived = 0;
		int fillers = 0;
		for (int i = 0; i < RACE_S; i++)
			rs_account(r, round, r->got[i], &arrived, &fillers);
		long v;
		while (gort_chan_try_recv(r->c, &v, NULL) == 0)
			rs_account(r, round, v, &arrived, &fillers);
		CO_CHECK(arrived == sent, "round %ld: send_ctx returned 0 for senders %#x, values arrived from %#x",
			 round, sent, arrived);
		CO_CHECK(fillers == (nsent < RACE_S ? RACE_S - nsent : 0), "round %ld: %d fillers for %d sent",
			 round, fillers, nsent);
		r->done_ops += nsent;
		r->cancelled_ops += RACE_K - nsent;
		race_round_teardown(r);
	}
	gort_chan_release(r->c);
}

static void race_run(int procs, void (*driver)(void *), size_t cap)
{
	static struct race r;
	memset(&r, 0, sizeof r);
	r.cap = cap;
	r.rounds = scaled_min(1500, 200);
	r.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)procs << 8) ^ cap;
	co_run(driver, &r);
	CO_ASSERT_NO_FAILURES();
	/* the race went both ways */
	cr_assert(r.done_ops > 0 && r.cancelled_ops > 0, "cap %zu: %ld operations done, %ld cancelled", cap,
		  r.done_ops, r.cancelled_ops);
}

PROCS_TEST(context, cancelled_recv_takes_no_value, 60)
{
	rt_start(procs);
	race_run(procs, rr_driver, 0);
	race_run(procs, rr_driver, 1);
	rt_stop();
	leak_check();
}

PROCS_TEST(context, cancelled_send_delivers_nothing, 60)
{
	rt_start(procs);
	race_run(procs, rs_driver, 0);
	race_run(procs, rs_driver, 1);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* select_ctx; a context done already                                        */
/* ------------------------------------------------------------------------ */

static void select_ready_cases(void *arg)
{
	(void)arg;
	gort_ctx *live = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *lval = MUST(gort_ctx_with_value(live, &key_a, NULL));
	gort_chan *b1 = MUST(gort_chan_make(sizeof(long), 1)), *b2 = MUST(gort_chan_make(sizeof(long), 1));
	gort_chan *e = MUST(gort_chan_make(sizeof(long), 1)), *cl = MUST(gort_chan_make(sizeof(long), 0));
	gort_chan_close(cl);
	long one = 1, two = 2, three = 3, v;
	bool ok;
	CO_CHECK(gort_chan_try_send(b1, &one) == 0 && gort_chan_try_send(b2, &two) == 0, "try_send");
	int chosen[2] = {0, 0};
	for (int i = 0; i < 400; i++) {
		v = SENTINEL;
		gort_case cs[3] = {
			{.chan = b1, .dir = GORT_RECV, .elem = &v},
			{.chan = b2, .dir = GORT_RECV, .elem = &v},
			{.chan = e, .dir = GORT_RECV, .elem = &v},
		};
		int r = gort_select_ctx(i % 2 ? live : lval, cs, 3);
		CO_CHECK(r == 0 || r == 1, "select_ctx over two ready cases = %d", r);
		if (r != 0 && r != 1)
			break;
		CO_CHECK(cs[r].ok && v == r + 1, "case %d: ok %d, value %ld", r, cs[r].ok, v);
		chosen[r]++;
		CO_CHECK(gort_chan_try_send(r == 0 ? b1 : b2, r == 0 ? &one : &two) == 0, "refill");
	}
	CO_CHECK(chosen[0] > 0 && chosen[1] > 0, "ready cases chosen %d and %d times of 400", chosen[0],
		 chosen[1]);
	/* a send case with room */
	gort_case sc[2] = {{.chan = e, .dir = GORT_SEND, .elem = &three}, {.chan = NULL, .dir = GORT_RECV}};
	CO_CHECK(gort_select_ctx(live, sc, 2) == 0 && gort_chan_len(e) == 1, "send case not done");
	CO_CHECK(gort_chan_try_recv(e, &v, NULL) == 0 && v == 3, "sent %ld", v);
	/* a closed channel: ok false, zeroed element */
	v = SENTINEL;
	gort_case cc[1] = {{.chan = cl, .dir = GORT_RECV, .elem = &v, .ok = true}};
	CO_CHECK(gort_select_ctx(live, cc, 1) == 0 && !cc[0].ok && v == 0, "closed case: ok %d v %ld", cc[0].ok,
		 v);
	/* the one-operation forms, and NULL for background */
	v = SENTINEL;
	ok = false;
	CO_CHECK(gort_chan_recv_ctx(live, b1, &v, &ok) == 0 && ok && v == 1, "recv_ctx: ok %d v %ld", ok, v);
	CO_CHECK(gort_chan_send_ctx(live, b1, &one) == 0 && gort_chan_len(b1) == 1, "send_ctx");
	v = SENTINEL;
	CO_CHECK(gort_chan_recv_ctx(NULL, b1, &v, &ok) == 0 && ok && v == 1, "recv_ctx(NULL): v %ld", v);
	CO_CHECK(gort_chan_send_ctx(NULL, b1, &one) == 0, "send_ctx(NULL)");
	v = SENTINEL;
	gort_case nc[1] = {{.chan = b1, .dir = GORT_RECV, .elem = &v}};
	CO_CHECK(gort_select_ctx(NULL, nc, 1) == 0 && v == 1, "select_ctx(NULL): v %ld", v);
	ok = true;
	CO_CHECK(gort_chan_recv_ctx(live, cl, &v, &ok) == 0 && !ok, "recv_ctx on closed: ok %d", ok);
	/* many cases (past the on-stack array): the chosen one's ok comes back */
	gort_case many[20];
	for (int i = 0; i < 20; i++)
		many[i] = (gort_case){.chan = NULL, .dir = GORT_RECV, .ok = true};
	many[17] = (gort_case){.chan = cl, .dir = GORT_RECV, .elem = &v, .ok = true};
	v = SENTINEL;
	int r17 = gort_select_ctx(live, many, 20);
	CO_CHECK(r17 == 17 && !many[17].ok && v == 0, "20 cases: chose %d, ok %d", r17, many[17].ok);
	CO_CHECK(gort_chan_try_send(b1, &one) == 0, "refill");
	many[17] = (gort_case){.chan = b1, .dir = GORT_RECV, .elem = &v, .ok = false};
	r17 = gort_select_ctx(live, many, 20);
	CO_CHECK(r17 == 17 && many[17].ok && v == 1, "20 cases: chose %d, ok %d, v %ld", r17, many[17].ok, v);
	CO_CHECK(gort_ctx_err(live) == 0, "live context done");
	gort_ctx_release(lval);
	gort_ctx_cancel(live);
	gort_ctx_release(live);
	gort_chan_release(b1);
	gort_chan_release(b2);
	gort_chan_release(e);
	gort_chan_release(cl);
}

Test(context, select_ctx_chooses_ready_cases, .timeout = 30)
{
	rt_start(2);
	run_both(select_ready_cases);
	rt_stop();
	leak_check();
}

/* An operation blocked in a _ctx call. */
struct blocked {
	gort_ctx *ctx;
	gort_chan *c;
	int op; /* 0 select_ctx receive, 1 send_ctx, 2 select_ctx with no cases */
	long v;
	bool ok;
	int res;
	atomic_int started, finished;
};

static void blocked_fn(void *p)
{
	struct blocked *b = p;
	atomic_store(&b->started, 1);
	if (b->op == 0) {
		b->v = SENTINEL;
		gort_case cs[2] = {{.chan = b->c, .dir = GORT_RECV, .elem = &b->v}, {.chan = NULL, .dir = GORT_SEND}};
		b->res = gort_select_ctx(b->ctx, cs, 2);
		b->ok = cs[0].ok;
	} else if (b->op == 1) {
		b->v = 77;
		b->res = gort_chan_send_ctx(b->ctx, b->c, &b->v);
	} else {
		b->res = gort_select_ctx(b->ctx, NULL, 0);
	}
	atomic_store(&b->finished, 1);
}

static void blocked_start(struct blocked *b, int op, gort_ctx *ctx, gort_chan *c)
{
	*b = (struct blocked){.ctx = ctx, .c = c, .op = op};
	cr_assert_gt(gort_go(blocked_fn, b), 0);
	cr_assert(wait_ge(&b->started, 1, 10000));
	sleep_ms(10);
	cr_assert_eq(atomic_load(&b->finished), 0, "op %d returned while nothing was ready", op);
}

Test(context, select_ctx_blocked_then_ready_or_cancelled, .timeout = 30)
{
	static struct blocked b;
	rt_start(2);
	gort_chan *u = mk(sizeof(long), 0);
	gort_ctx *c = gort_ctx_with_cancel(NULL);
	/* a value comes: the case is chosen */
	blocked_start(&b, 0, c, u);
	long x = 42, v;
	gort_chan_send(u, &x);
	cr_assert(wait_ge(&b.finished, 1, 10000));
	cr_assert(b.res == 0 && b.ok && b.v == 42, "res %d ok %d v %ld", b.res, b.ok, b.v);
	/* the cancel comes: the error, nothing taken, nothing left queued */
	blocked_start(&b, 0, c, u);
	gort_ctx_cancel(c);
	cr_assert(wait_ge(&b.finished, 1, 10000), "select_ctx still blocked after the cancel");
	cr_assert_eq(b.res, GORT_CANCELED);
	cr_assert_eq(b.v, SENTINEL);
	cr_assert_eq(gort_chan_try_send(u, &x), -EAGAIN, "the cancelled select left a receiver queued");
	gort_ctx_release(c);
	/* a blocked send_ctx, cancelled: nothing queued behind */
	c = gort_ctx_with_cancel(NULL);
	blocked_start(&b, 1, c, u);
	gort_ctx_cancel(c);
	cr_assert(wait_ge(&b.finished, 1, 10000), "send_ctx still blocked after the cancel");
	cr_assert_eq(b.res, GORT_CANCELED);
	cr_assert_eq(gort_chan_try_recv(u, &v, NULL), -EAGAIN, "the cancelled send left a value");
	gort_ctx_release(c);
	/* a select with no cases waits for the context only */
	c = gort_ctx_with_timeout(NULL, 100 * MS);
	blocked_start(&b, 2, c, NULL);
	cr_assert(wait_ge(&b.finished, 1, 10000), "select_ctx with no cases outlived the deadline");
	cr_assert_eq(b.res, GORT_DEADLINE_EXCEEDED);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	gort_chan_release(u);
	rt_stop();
	leak_check();
}

/* A plain operation parked on an unbuffered channel, for the done-context
 * cases: a _ctx call on a done context must not pair with it. */
struct parked {
	gort_chan *c;
	bool send;
	long v;
	atomic_int started, finished;
	gort_wg wg;
};

static void parked_fn(void *p)
{
	struct parked *q = p;
	atomic_store(&q->started, 1);
	if (q->send)
		gort_chan_send(q->c, &q->v);
	else
		gort_chan_recv(q->c, &q->v, NULL);
	atomic_store(&q->finished, 1);
	gort_wg_done(&q->wg);
}

static void done_fails_at_once(gort_ctx *done, int want)
{
	gort_chan *b = MUST(gort_chan_make(sizeof(long), 1)), *room = MUST(gort_chan_make(sizeof(long), 1));
	gort_chan *u = MUST(gort_chan_make(sizeof(long), 0));
	long one = 1, v;
	CO_CHECK(gort_chan_try_send(b, &one) == 0, "try_send");
	for (int i = 0; i < 200; i++) {
		v = SENTINEL;
		bool ok = false;
		int r = gort_chan_recv_ctx(done, b, &v, &ok);
		CO_CHECK(r == want && v == SENTINEL, "recv_ctx on a ready channel: %d, v %ld", r, v);
		gort_case cs[2] = {{.chan = b, .dir = GORT_RECV, .elem = &v},
				   {.chan = room, .dir = GORT_SEND, .elem = &one}};
		r = gort_select_ctx(done, cs, 2);
		CO_CHECK(r == want && v == SENTINEL, "select_ctx over ready cases: %d", r);
		r = gort_chan_send_ctx(done, room, &one);
		CO_CHECK(r == want, "send_ctx with room: %d", r);
		if (r != want || v != SENTINEL)
			break;
	}
	CO_CHECK(gort_chan_len(b) == 1 && gort_chan_len(room) == 0, "a failed call moved a value: len %zu, %zu",
		 gort_chan_len(b), gort_chan_len(room));
	int64_t t0 = gort_now();
	CO_CHECK(gort_sleep_ctx(done, FOREVER_NS) == want, "sleep_ctx on a done context");
	CO_CHECK(gort_sleep_ctx(done, 0) == want, "sleep_ctx(0) on a done context");
	CO_CHECK(gort_select_ctx(done, NULL, 0) == want, "select_ctx with no cases");
	CO_CHECK(gort_now() - t0 < 5000 * MS, "a call on a done context waited");

	/* a receiver parked on u: send_ctx must not hand it the value */
	struct parked q = {.c = u, .send = false, .v = SENTINEL, .wg = GORT_WG_INIT};
	gort_wg_add(&q.wg, 1);
	CO_CHECK(gort_go(parked_fn, &q) > 0, "gort_go");
	CO_CHECK(await_ge(&q.started, 1, 10000), "not started");
	nap_ms(5);
	long x = 11;
	CO_CHECK(gort_chan_send_ctx(done, u, &x) == want, "send_ctx to a waiting receiver");
	nap_ms(5);
	CO_CHECK(atomic_load(&q.finished) == 0, "the waiting receiver got %ld from a failed send_ctx", q.v);
	x = 12;
	gort_chan_send(u, &x);
	gort_wg_wait(&q.wg);
	CO_CHECK(q.v == 12, "the receiver got %ld, want 12", q.v);
	/* a sender parked on u: recv_ctx must not take its value */
	q = (struct parked){.c = u, .send = true, .v = 13, .wg = GORT_WG_INIT};
	gort_wg_add(&q.wg, 1);
	CO_CHECK(gort_go(parked_fn, &q) > 0, "gort_go");
	CO_CHECK(await_ge(&q.started, 1, 10000), "not started");
	nap_ms(5);
	v = SENTINEL;
	CO_CHECK(gort_chan_recv_ctx(done, u, &v, NULL) == want && v == SENTINEL, "recv_ctx from a waiting sender");
	nap_ms(5);
	CO_CHECK(atomic_load(&q.finished) == 0, "the waiting sender's value was taken by a failed recv_ctx");
	gort_chan_recv(u, &v, NULL);
	gort_wg_wait(&q.wg);
	CO_CHECK(v == 13, "got %ld, want 13", v);
	gort_chan_release(b);
	gort_chan_release(room);
	gort_chan_release(u);
}

static void done_ctx_cases(void *arg)
{
	(void)arg;
	gort_ctx *c = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *cv = MUST(gort_ctx_with_value(c, &key_a, NULL));
	gort_ctx_cancel(c);
	done_fails_at_once(c, GORT_CANCELED);
	done_fails_at_once(cv, GORT_CANCELED);
	gort_ctx *d = MUST(gort_ctx_with_deadline(NULL, gort_now() - 1));
	done_fails_at_once(d, GORT_DEADLINE_EXCEEDED);
	gort_ctx *k = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx_cancel_cause(k, 5); /* the error is GORT_CANCELED, whatever the cause */
	done_fails_at_once(k, GORT_CANCELED);
	gort_ctx_release(cv);
	gort_ctx_release(c);
	gort_ctx_release(d);
	gort_ctx_release(k);
}

Test(context, done_context_fails_call_at_once, .timeout = 30)
{
	rt_start(2);
	run_both(done_ctx_cases);
	rt_stop();
	leak_check();
}

/* A send case on a closed channel panics (as a plain send does), also
 * among many cases, and leaves nothing behind (the leak check). */
struct closed_send {
	gort_ctx *ctx;
	gort_chan *c;
	size_t n;
};

static void closed_send_fn(void *p)
{
	struct closed_send *cs = p;
	long v = 1;
	if (cs->n == 0) {
		(void)gort_chan_send_ctx(cs->ctx, cs->c, &v);
		return;
	}
	gort_case many[20];
	for (size_t i = 0; i < cs->n; i++)
		many[i] = (gort_case){.chan = NULL, .dir = GORT_RECV};
	many[cs->n - 1] = (gort_case){.chan = cs->c, .dir = GORT_SEND, .elem = &v};
	(void)gort_select_ctx(cs->ctx, many, cs->n);
}

static void closed_send_cases(void *arg)
{
	(void)arg;
	struct closed_send cs = {.ctx = MUST(gort_ctx_with_cancel(NULL)), .c = MUST(gort_chan_make(sizeof(long), 1))};
	gort_chan_close(cs.c);
	size_t ns[] = {0, 1, 20};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		gort_panic_info info;
		cs.n = ns[i];
		int r = protected_call(closed_send_fn, &cs, &info);
		CO_CHECK(r == GORT_PANICKED, "%zu cases: a send on a closed channel did not panic (%d)", ns[i], r);
		CO_CHECK(strstr(info.message, "send on closed channel") != NULL, "%zu cases: panic \"%s\"", ns[i],
			 info.message);
	}
	gort_ctx_cancel(cs.ctx);
	gort_ctx_release(cs.ctx);
	gort_chan_release(cs.c);
}

Test(context, send_ctx_on_closed_channel_panics, .timeout = 30)
{
	rt_start(2);
	co_run(closed_send_cases, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* Causes                                                                    */
/* ------------------------------------------------------------------------ */

#define CAUSE_X 1001
#define CAUSE_A (-EPIPE)

static void cause_cases(void *arg)
{
	(void)arg;
	gort_ctx *root = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *a = MUST(gort_ctx_with_cancel(root));
	gort_ctx *a1 = MUST(gort_ctx_with_cancel(a));
	gort_ctx *b = MUST(gort_ctx_with_cancel(root));
	gort_ctx *v = MUST(gort_ctx_with_value(root, &key_a, NULL));
	gort_ctx *g = MUST(gort_ctx_with_cancel(v));
	gort_ctx *d = MUST(gort_ctx_with_timeout(root, FOREVER_NS));
	gort_ctx *d1 = MUST(gort_ctx_with_cancel(d));
	gort_ctx *all[] = {root, a, a1, b, v, g, d, d1};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		CO_CHECK(gort_ctx_err(all[i]) == 0 && gort_ctx_cause(all[i]) == 0, "%zu: done before any cancel", i);

	/* a child cancelled first keeps its own cause */
	gort_ctx_cancel_cause(a, CAUSE_A);
	CO_CHECK(gort_ctx_err(a) == GORT_CANCELED && gort_ctx_cause(a) == CAUSE_A, "a: err %d cause %d",
		 gort_ctx_err(a), gort_ctx_cause(a));
	CO_CHECK(gort_ctx_err(a1) == GORT_CANCELED && gort_ctx_cause(a1) == CAUSE_A, "a1: err %d cause %d",
		 gort_ctx_err(a1), gort_ctx_cause(a1));
	CO_CHECK(gort_ctx_err(root) == 0 && gort_ctx_err(b) == 0, "the child's cancel reached up or across");

	gort_ctx_cancel_cause(root, CAUSE_X);
	gort_ctx *x_ones[] = {root, b, v, g, d, d1};
	for (size_t i = 0; i < sizeof x_ones / sizeof x_ones[0]; i++)
		CO_CHECK(gort_ctx_err(x_ones[i]) == GORT_CANCELED && gort_ctx_cause(x_ones[i]) == CAUSE_X,
			 "%zu: err %d cause %d, want %d / %d", i, gort_ctx_err(x_ones[i]),
			 gort_ctx_cause(x_ones[i]), GORT_CANCELED, CAUSE_X);
	CO_CHECK(gort_ctx_cause(a) == CAUSE_A && gort_ctx_cause(a1) == CAUSE_A,
		 "the root's cancel rewrote an earlier cause: %d %d", gort_ctx_cause(a), gort_ctx_cause(a1));
	/* a second cancel changes nothing */
	gort_ctx_cancel_cause(root, 7);
	gort_ctx_cancel(b);
	CO_CHECK(gort_ctx_cause(root) == CAUSE_X && gort_ctx_cause(b) == CAUSE_X, "a second cancel: %d %d",
		 gort_ctx_cause(root), gort_ctx_cause(b));
	/* a child of a context cancelled with a cause inherits it */
	gort_ctx *late = MUST(gort_ctx_with_cancel(g));
	CO_CHECK(gort_ctx_err(late) == GORT_CANCELED && gort_ctx_cause(late) == CAUSE_X, "born done: %d %d",
		 gort_ctx_err(late), gort_ctx_cause(late));
	/* a plain cancel: the cause is GORT_CANCELED */
	gort_ctx *p = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *pk = MUST(gort_ctx_with_cancel(p));
	gort_ctx_cancel(p);
	CO_CHECK(gort_ctx_cause(p) == GORT_CANCELED && gort_ctx_cause(pk) == GORT_CANCELED, "cause %d %d",
		 gort_ctx_cause(p), gort_ctx_cause(pk));
	/* a cancel of a value context or of background does nothing */
	gort_ctx *q = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *qv = MUST(gort_ctx_with_value(q, &key_b, NULL));
	gort_ctx_cancel_cause(qv, 3);
	gort_ctx_cancel(gort_ctx_background());
	gort_ctx_cancel(NULL);
	CO_CHECK(gort_ctx_err(q) == 0 && gort_ctx_err(qv) == 0, "cancel of a value context cancelled its parent");
	CO_CHECK(gort_ctx_err(gort_ctx_background()) == 0 && gort_ctx_cause(gort_ctx_background()) == 0,
		 "background done");
	gort_ctx_cancel(q);
	CO_CHECK(gort_ctx_err(qv) == GORT_CANCELED && gort_ctx_cause(qv) == GORT_CANCELED, "qv: %d %d",
		 gort_ctx_err(qv), gort_ctx_cause(qv));

	gort_ctx *rel[] = {a1, a, b, g, v, d1, d, root, late, pk, p, qv, q};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		gort_ctx_cancel(rel[i]);
		gort_ctx_release(rel[i]);
	}
}

Test(context, cancel_cause, .timeout = 30)
{
	rt_start(2);
	run_both(cause_cases);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* After-funcs                                                               */
/* ------------------------------------------------------------------------ */

struct af {
	gort_ctx *ctx;
	gort_chan *block; /* fn waits for a receive here once started, if set */
	atomic_int started, runs, err_seen;
	atomic_llong self;
};

static void af_fn(void *p)
{
	struct af *a = p;
	atomic_store(&a->self, (long long)gort_self());
	atomic_store(&a->err_seen, gort_ctx_err(a->ctx));
	atomic_fetch_add(&a->started, 1);
	if (a->block != NULL)
		gort_chan_recv(a->block, NULL, NULL);
	atomic_fetch_add(&a->runs, 1);
}

static void after_func_cases(void *arg)
{
	(void)arg;
	long long me = (long long)gort_self();

	/* once, in a coroutine of its own, after the cancel */
	struct af a = {.ctx = MUST(gort_ctx_with_cancel(NULL))};
	gort_ctx_after *h = MUST(gort_ctx_after_func(a.ctx, af_fn, &a));
	nap_ms(10);
	CO_CHECK(atomic_load(&a.runs) == 0, "the after-func ran before the cancel");
	gort_ctx_cancel(a.ctx);
	CO_CHECK(await_ge(&a.runs, 1, 10000), "the after-func did not run after the cancel");
	CO_CHECK(atomic_load(&a.self) > 0 && atomic_load(&a.self) != me,
		 "the after-func ran in %lld (the canceller is %lld)", atomic_load(&a.self), me);
	CO_CHECK(atomic_load(&a.err_seen) == GORT_CANCELED, "the after-func saw err %d", atomic_load(&a.err_seen));
	gort_ctx_cancel(a.ctx);
	nap_ms(10);
	CO_CHECK(atomic_load(&a.runs) == 1, "the after-func ran %d times", atomic_load(&a.runs));
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop after it ran returned true");
	gort_ctx_release(a.ctx);

	/* through the tree: registered on a value context under a child, the
	 * grandparent's cancel runs it */
	gort_ctx *gp = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *kid = MUST(gort_ctx_with_cancel(gp));
	struct af t = {.ctx = MUST(gort_ctx_with_value(kid, &key_a, NULL))};
	h = MUST(gort_ctx_after_func(t.ctx, af_fn, &t));
	gort_ctx_cancel_cause(gp, 31);
	CO_CHECK(await_ge(&t.runs, 1, 10000), "the after-func did not run after an ancestor's cancel");
	CO_CHECK(atomic_load(&t.err_seen) == GORT_CANCELED, "err %d", atomic_load(&t.err_seen));
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop after it ran returned true");
	gort_ctx_release(t.ctx);
	gort_ctx_release(kid);
	gort_ctx_release(gp);

	/* stopped first: never runs */
	struct af s = {.ctx = MUST(gort_ctx_with_cancel(NULL))};
	h = MUST(gort_ctx_after_func(s.ctx, af_fn, &s));
	CO_CHECK(gort_ctx_after_func_stop(h), "stop before the cancel returned false");
	gort_ctx_cancel(s.ctx);
	nap_ms(20);
	CO_CHECK(atomic_load(&s.started) == 0, "a stopped after-func ran");
	gort_ctx_release(s.ctx);

	/* stop once it has started: false; it runs to its end */
	struct af b = {.ctx = MUST(gort_ctx_with_cancel(NULL)), .block = MUST(gort_chan_make(0, 0))};
	h = MUST(gort_ctx_after_func(b.ctx, af_fn, &b));
	gort_ctx_cancel(b.ctx);
	CO_CHECK(await_ge(&b.started, 1, 10000), "the after-func did not start");
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop of a running after-func returned true");
	CO_CHECK(atomic_load(&b.runs) == 0, "it did not wait");
	gort_chan_send(b.block, NULL);
	CO_CHECK(await_ge(&b.runs, 1, 10000), "the after-func did not finish");
	gort_chan_release(b.block);
	gort_ctx_release(b.ctx);

	/* on a context done already: runs at once */
	struct af d = {.ctx = MUST(gort_ctx_with_cancel(NULL))};
	gort_ctx_cancel(d.ctx);
	h = MUST(gort_ctx_after_func(d.ctx, af_fn, &d));
	CO_CHECK(await_ge(&d.runs, 1, 10000), "the after-func on a done context did not run");
	CO_CHECK(atomic_load(&d.self) > 0 && atomic_load(&d.self) != me, "ran in %lld", atomic_load(&d.self));
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop after it ran returned true");
	gort_ctx_release(d.ctx);
	struct af e = {.ctx = MUST(gort_ctx_with_deadline(NULL, gort_now() - 1))};
	h = MUST(gort_ctx_after_func(e.ctx, af_fn, &e));
	CO_CHECK(await_ge(&e.runs, 1, 10000), "the after-func on an expired context did not run");
	CO_CHECK(atomic_load(&e.err_seen) == GORT_DEADLINE_EXCEEDED, "err %d", atomic_load(&e.err_seen));
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop after it ran returned true");
	gort_ctx_release(e.ctx);

	/* on a context that can never be done: never runs; stop says so */
	struct af n = {.ctx = MUST(gort_ctx_with_value(NULL, &key_a, NULL))};
	gort_ctx_after *h1 = MUST(gort_ctx_after_func(n.ctx, af_fn, &n));
	gort_ctx_after *h2 = MUST(gort_ctx_after_func(gort_ctx_background(), af_fn, &n));
	nap_ms(10);
	CO_CHECK(gort_ctx_after_func_stop(h1) && gort_ctx_after_func_stop(h2), "stop returned false");
	CO_CHECK(atomic_load(&n.started) == 0, "an after-func on background ran");
	gort_ctx_release(n.ctx);
}

Test(context, after_func_once_after_cancel_and_stop, .timeout = 30)
{
	rt_start(2);
	run_both(after_func_cases);
	rt_stop();
	leak_check();
}

struct af_many {
	long n;
	atomic_int *runs;
};

static atomic_int af_many_total;

static void af_many_fn(void *p)
{
	atomic_int *slot = p;
	atomic_fetch_add(slot, 1);
	atomic_fetch_add(&af_many_total, 1);
}

static void after_func_many_body(void *p)
{
	struct af_many *m = p;
	gort_ctx *c = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx_after **h = MUST(calloc((size_t)m->n, sizeof *h));
	for (long i = 0; i < m->n; i++)
		h[i] = MUST(gort_ctx_after_func(c, af_many_fn, &m->runs[i]));
	int stopped = 0;
	for (long i = 0; i < m->n; i += 3) {
		CO_CHECK(gort_ctx_after_func_stop(h[i]), "stop %ld before the cancel returned false", i);
		h[i] = NULL;
		stopped++;
	}
	gort_ctx_cancel(c);
	int want = (int)m->n - stopped;
	CO_CHECK(await_ge(&af_many_total, want, 10000), "%d of %d after-funcs ran", atomic_load(&af_many_total),
		 want);
	nap_ms(10);
	CO_CHECK(atomic_load(&af_many_total) == want, "%d runs for %d after-funcs", atomic_load(&af_many_total),
		 want);
	for (long i = 0; i < m->n; i++) {
		int r = atomic_load(&m->runs[i]);
		CO_CHECK(r == (i % 3 == 0 ? 0 : 1), "after-func %ld ran %d times", i, r);
		if (h[i] != NULL)
			CO_CHECK(!gort_ctx_after_func_stop(h[i]), "stop %ld after it ran returned true", i);
	}
	free(h);
	gort_ctx_release(c);
}

Test(context, after_func_many_on_one_context, .timeout = 30)
{
	static struct af_many m;
	m.n = scaled_min(1000, 100);
	m.runs = calloc((size_t)m.n, sizeof *m.runs);
	cr_assert_not_null(m.runs);
	rt_start(2);
	co_run(after_func_many_body, &m);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
	free(m.runs);
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

enum { VAL_LEVELS_MAX = 1000 };
static char vkeys[VAL_LEVELS_MAX + 1];
static char shadow_key;
static int twin_a = 5, twin_b = 5;

static void value_cases(void *arg)
{
	(void)arg;
	long L = scaled_min(VAL_LEVELS_MAX, 100);
	long s1 = 3, s2 = L / 2 + (L / 2 % 10 == 0), s3 = L - 1; /* the shadow key's levels */
	gort_ctx **c = MUST(calloc((size_t)L + 1, sizeof *c));
	c[0] = MUST(gort_ctx_with_cancel(NULL));
	for (long i = 1; i <= L; i++) {
		if (i % 10 == 0)
			c[i] = MUST(gort_ctx_with_cancel(c[i - 1]));
		else if (i == s1 || i == s2 || i == s3)
			c[i] = MUST(gort_ctx_with_value(c[i - 1], &shadow_key, (void *)(intptr_t)i));
		else
			c[i] = MUST(gort_ctx_with_value(c[i - 1], &vkeys[i], (void *)(intptr_t)(i * 7 + 1)));
	}
	long bad = 0, first = -1;
	for (long i = 1; i <= L; i++) {
		if (i % 10 == 0 || i == s1 || i == s2 || i == s3)
			continue;
		if (gort_ctx_value(c[L], &vkeys[i]) != (void *)(intptr_t)(i * 7 + 1) && bad++ == 0)
			first = i;
		/* from halfway up, the deeper values are not visible */
		void *want = i <= L / 2 ? (void *)(intptr_t)(i * 7 + 1) : NULL;
		if (gort_ctx_value(c[L / 2], &vkeys[i]) != want && bad++ == 0)
			first = i;
	}
	CO_CHECK(bad == 0, "%ld lookups wrong; first for level %ld", bad, first);
	CO_CHECK(gort_ctx_value(c[L], &shadow_key) == (void *)(intptr_t)s3, "the nearest shadow is %p",
		 gort_ctx_value(c[L], &shadow_key));
	CO_CHECK(gort_ctx_value(c[s3 - 1], &shadow_key) == (void *)(intptr_t)s2, "from below s2: %p",
		 gort_ctx_value(c[s3 - 1], &shadow_key));
	CO_CHECK(gort_ctx_value(c[s2 - 1], &shadow_key) == (void *)(intptr_t)s1, "from below s1: %p",
		 gort_ctx_value(c[s2 - 1], &shadow_key));
	CO_CHECK(gort_ctx_value(c[s1 - 1], &shadow_key) == NULL, "above every shadow: %p",
		 gort_ctx_value(c[s1 - 1], &shadow_key));
	CO_CHECK(gort_ctx_value(c[L], &missing_key) == NULL, "a missing key found");
	CO_CHECK(gort_ctx_value(gort_ctx_background(), &missing_key) == NULL, "background has values");

	/* keys are compared by address, not content */
	gort_ctx *tw = MUST(gort_ctx_with_value(NULL, &twin_a, &twin_a));
	CO_CHECK(gort_ctx_value(tw, &twin_a) == &twin_a && gort_ctx_value(tw, &twin_b) == NULL,
		 "keys compared by content");

	/* values over background are never done */
	gort_ctx *bv = MUST(gort_ctx_with_value(NULL, &key_a, &key_b));
	gort_ctx *bvv = MUST(gort_ctx_with_value(bv, &key_b, &key_a));
	gort_ctx *bg_vals[] = {bv, bvv, gort_ctx_background(), tw};
	for (size_t i = 0; i < sizeof bg_vals / sizeof bg_vals[0]; i++) {
		CO_CHECK(gort_ctx_done(bg_vals[i]) == NULL, "%zu: a done channel for a context never done", i);
		CO_CHECK(gort_ctx_err(bg_vals[i]) == 0 && gort_ctx_cause(bg_vals[i]) == 0, "%zu: done", i);
		CO_CHECK(!gort_ctx_deadline(bg_vals[i], NULL), "%zu: a deadline", i);
	}
	CO_CHECK(gort_ctx_value(bvv, &key_a) == &key_b && gort_ctx_value(bvv, &key_b) == &key_a, "bvv values");

	/* a value over a cancel node: the node's done channel, err, cause */
	CO_CHECK(gort_ctx_done(c[L - 1]) == gort_ctx_done(c[(L - 1) / 10 * 10]), "a value's done is not its node's");
	gort_ctx_cancel_cause(c[0], 12);
	CO_CHECK(gort_ctx_err(c[L]) == GORT_CANCELED && gort_ctx_cause(c[L]) == 12, "leaf: %d %d",
		 gort_ctx_err(c[L]), gort_ctx_cause(c[L]));
	CO_CHECK(done_closed(c[L]), "the leaf's done channel not closed");
	CO_CHECK(gort_ctx_value(c[L], &shadow_key) == (void *)(intptr_t)s3, "values gone after the cancel");
	for (long i = L; i >= 0; i--)
		gort_ctx_release(c[i]);
	free(c);
	gort_ctx_release(bvv);
	gort_ctx_release(bv);
	gort_ctx_release(tw);
}

Test(context, values_lookup_and_shadowing, .timeout = 30)
{
	rt_start(2);
	run_both(value_cases);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* Children of done parents; cancelled children detached                     */
/* ------------------------------------------------------------------------ */

static void born_done_cases(void *arg)
{
	(void)arg;
	gort_ctx *p = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx_cancel_cause(p, 42);
	gort_ctx *pv = MUST(gort_ctx_with_value(p, &key_a, NULL));
	gort_ctx *kids[] = {
		MUST(gort_ctx_with_cancel(p)),
		MUST(gort_ctx_with_timeout(p, FOREVER_NS)),
		MUST(gort_ctx_with_deadline(p, gort_now() - 1)),
		MUST(gort_ctx_with_cancel(pv)),
		MUST(gort_ctx_with_value(p, &key_b, NULL)),
	};
	struct dead d = dead_make();
	for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
		CO_CHECK(gort_ctx_err(kids[i]) == GORT_CANCELED && gort_ctx_cause(kids[i]) == 42,
			 "kid %zu: err %d cause %d", i, gort_ctx_err(kids[i]), gort_ctx_cause(kids[i]));
		CO_CHECK(done_closed(kids[i]), "kid %zu: done channel not closed", i);
		CO_CHECK(wait_on(kids[i], (int)i % W_KINDS, &d) == GORT_CANCELED, "kid %zu: a wait", i);
		gort_ctx *gk = MUST(gort_ctx_with_cancel(kids[i]));
		CO_CHECK(gort_ctx_err(gk) == GORT_CANCELED && gort_ctx_cause(gk) == 42, "grandkid %zu: %d %d", i,
			 gort_ctx_err(gk), gort_ctx_cause(gk));
		gort_ctx_cancel(gk);
		gort_ctx_release(gk);
	}
	/* a parent past its deadline */
	gort_ctx *q = MUST(gort_ctx_with_deadline(NULL, gort_now() - 1));
	gort_ctx *qk = MUST(gort_ctx_with_cancel(q));
	gort_ctx *qt = MUST(gort_ctx_with_timeout(q, FOREVER_NS));
	CO_CHECK(gort_ctx_err(qk) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(qk) == GORT_DEADLINE_EXCEEDED,
		 "qk: %d %d", gort_ctx_err(qk), gort_ctx_cause(qk));
	CO_CHECK(gort_ctx_err(qt) == GORT_DEADLINE_EXCEEDED && gort_ctx_cause(qt) == GORT_DEADLINE_EXCEEDED,
		 "qt: %d %d", gort_ctx_err(qt), gort_ctx_cause(qt));
	gort_ctx *rest[] = {qt, qk, q, pv, p};
	for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
		gort_ctx_cancel(kids[i]);
		gort_ctx_release(kids[i]);
	}
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		gort_ctx_cancel(rest[i]);
		gort_ctx_release(rest[i]);
	}
	dead_free(&d);
}

Test(context, child_of_done_parent_is_born_done, .timeout = 30)
{
	rt_start(2);
	run_both(born_done_cases);
	rt_stop();
	leak_check();
}

static void detach_cases(void *arg)
{
	(void)arg;
	gort_ctx *p = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *c = MUST(gort_ctx_with_cancel(p));
	gort_ctx *g = MUST(gort_ctx_with_cancel(c));
	gort_ctx *cv = MUST(gort_ctx_with_value(c, &key_a, NULL));
	gort_ctx *gv = MUST(gort_ctx_with_cancel(cv));
	struct af a = {.ctx = c};
	gort_ctx_after *h = MUST(gort_ctx_after_func(c, af_fn, &a));
	gort_ctx_cancel(c);
	CO_CHECK(gort_ctx_err(c) == GORT_CANCELED && gort_ctx_err(g) == GORT_CANCELED &&
			 gort_ctx_err(gv) == GORT_CANCELED,
		 "the child's subtree not cancelled");
	CO_CHECK(gort_ctx_err(p) == 0, "a child's cancel reached its parent");
	gort_ctx_cancel_cause(p, 42);
	CO_CHECK(gort_ctx_cause(c) == GORT_CANCELED && gort_ctx_cause(g) == GORT_CANCELED &&
			 gort_ctx_cause(gv) == GORT_CANCELED,
		 "the parent's later cancel touched the detached child: %d %d %d", gort_ctx_cause(c),
		 gort_ctx_cause(g), gort_ctx_cause(gv));
	CO_CHECK(await_ge(&a.runs, 1, 10000), "the child's after-func did not run");
	nap_ms(10);
	CO_CHECK(atomic_load(&a.runs) == 1, "the child's after-func ran %d times", atomic_load(&a.runs));
	CO_CHECK(!gort_ctx_after_func_stop(h), "stop after it ran");
	gort_ctx *rel[] = {gv, cv, g, c, p};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
		gort_ctx_release(rel[i]);

	/* a child released without a cancel stays in its parent until the
	 * parent's cancel, which closes its done channel (and frees it) */
	gort_ctx *p2 = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *k = MUST(gort_ctx_with_cancel(p2));
	gort_chan *kd = gort_chan_retain(MUST(gort_ctx_done(k)));
	gort_ctx_release(k);
	nap_ms(5);
	CO_CHECK(!chan_closed(kd), "done with nobody cancelling");
	gort_ctx_cancel(p2);
	CO_CHECK(chan_closed(kd), "the parent's cancel did not reach a child released uncancelled");
	gort_chan_release(kd);
	gort_ctx_release(p2);
}

Test(context, cancelled_child_is_detached, .timeout = 30)
{
	rt_start(2);
	run_both(detach_cases);
	rt_stop();
	leak_check();
}

/* A million children of one long-lived parent, each made and cancelled
 * (some with a deadline, some with a child, some with a done channel):
 * the allocator's bytes in use must not grow with them.  A child left in
 * its parent's list after its cancel would cost its whole size. */
struct churn {
	long n;
	long long per_child, growth;
};

static void churn_body(void *p)
{
	struct churn *s = p;
	gort_ctx *parent = MUST(gort_ctx_with_cancel(NULL));
	enum { PROBE = 1000 };
	gort_ctx **probe = MUST(calloc(PROBE, sizeof *probe));
	long long b0 = heap_in_use();
	for (int i = 0; i < PROBE; i++)
		probe[i] = MUST(gort_ctx_with_cancel(parent));
	s->per_child = (heap_in_use() - b0) / PROBE;
	for (int i = 0; i < PROBE; i++) {
		gort_ctx_cancel(probe[i]);
		gort_ctx_release(probe[i]);
	}
	free(probe);
	long long m0 = heap_in_use();
	for (long i = 0; i < s->n; i++) {
		gort_ctx *c = MUST(i % 4 == 3 ? gort_ctx_with_timeout(parent, FOREVER_NS) : gort_ctx_with_cancel(parent));
		if (i % 16 == 0) {
			gort_ctx *g = MUST(gort_ctx_with_cancel(c));
			gort_ctx_cancel(c); /* cancels g */
			CO_CHECK(gort_ctx_err(g) == GORT_CANCELED, "grandchild not cancelled");
			gort_ctx_release(g);
		}
		if (i % 64 == 0)
			(void)gort_ctx_done(c);
		gort_ctx_cancel(c);
		gort_ctx_release(c);
	}
	s->growth = heap_in_use() - m0;
	CO_CHECK(gort_ctx_err(parent) == 0, "the parent is done");
	gort_ctx_cancel(parent);
	gort_ctx_release(parent);
}

Test(context, million_cancelled_children_cost_no_memory, .timeout = 60)
{
	if (running_under_valgrind())
		cr_skip_test("Valgrind's malloc does not report the heap in use (mallinfo2)");
	static struct churn s;
	s.n = scaled_min(1000000, 20000);
	rt_start(2);
	co_run(churn_body, &s);
	CO_ASSERT_NO_FAILURES();
	cr_assert_geq(s.per_child, 64, "a child costs %lld bytes? (the measure does not work)", s.per_child);
	long long limit = s.n * s.per_child / 8 + (1 << 20);
	cr_assert_lt(s.growth, limit,
		     "%ld children made and cancelled: %lld bytes still in use (a child costs %lld; limit %lld): "
		     "cancelled children stay in their parent",
		     s.n, s.growth, s.per_child, limit);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* sleep_ctx                                                                 */
/* ------------------------------------------------------------------------ */

static void sleep_cases(void *arg)
{
	(void)arg;
	gort_ctx *live = MUST(gort_ctx_with_cancel(NULL));
	gort_ctx *far = MUST(gort_ctx_with_timeout(NULL, FOREVER_NS));
	gort_ctx *soon = MUST(gort_ctx_with_timeout(NULL, 2000 * MS));
	gort_ctx *vals = MUST(gort_ctx_with_value(NULL, &key_a, NULL));
	gort_ctx *full[] = {live, far, soon, vals, NULL};
	for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
		int64_t t0 = gort_now();
		int r = gort_sleep_ctx(full[i], 20 * MS);
		int64_t el = gort_now() - t0;
		CO_CHECK(r == 0, "%zu: a full sleep returned %d", i, r);
		CO_CHECK(el >= 20 * MS, "%zu: a 20 ms sleep took %lld ns", i, (long long)el);
	}
	CO_CHECK(gort_sleep_ctx(live, 0) == 0 && gort_sleep_ctx(live, -1) == 0, "sleep_ctx(<= 0)");

	/* cancelled mid-sleep: early, with the error */
	struct later l = {.wg = GORT_WG_INIT};
	gort_ctx *c = MUST(gort_ctx_with_cancel(NULL));
	cancel_later(&l, c, 20 * MS);
	int64_t t0 = gort_now();
	int r = gort_sleep_ctx(c, 10000 * MS);
	int64_t el = gort_now() - t0;
	CO_CHECK(r == GORT_CANCELED, "cancelled sleep_ctx = %d", r);
	CO_CHECK(el < 5000 * MS, "a cancelled 10 s sleep took %lld ns", (long long)el);
	gort_wg_wait(&l.wg);
	/* a deadline mid-sleep: at the deadline, not before */
	gort_ctx *d = MUST(gort_ctx_with_timeout(NULL, 20 * MS));
	int64_t dl = 0;
	CO_CHECK(gort_ctx_deadline(d, &dl), "no deadline");
	t0 = gort_now();
	r = gort_sleep_ctx(d, 10000 * MS);
	int64_t woke = gort_now();
	CO_CHECK(r == GORT_DEADLINE_EXCEEDED, "sleep_ctx past the deadline = %d", r);
	CO_CHECK(woke >= dl, "woke %lld ns before the deadline", (long long)(dl - woke));
	CO_CHECK(woke - t0 < 5000 * MS, "a 10 s sleep with a 20 ms deadline took %lld ns", (long long)(woke - t0));
	/* done already: at once */
	t0 = gort_now();
	CO_CHECK(gort_sleep_ctx(c, 10000 * MS) == GORT_CANCELED, "sleep_ctx on a done context");
	CO_CHECK(gort_now() - t0 < 5000 * MS, "sleep_ctx on a done context slept");
	gort_ctx *rel[] = {live, far, soon, vals, c, d};
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		gort_ctx_cancel(rel[i]);
		gort_ctx_release(rel[i]);
	}
}

Test(context, sleep_ctx_full_or_cancelled, .timeout = 30)
{
	rt_start(2);
	run_both(sleep_cases);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* Concurrency                                                               */
/* ------------------------------------------------------------------------ */

enum { CC_COROS = 16, CC_THREADS = 2 };

struct cc {
	gort_ctx *root;
	struct dead dead;
	long rounds;
	atomic_int finished;
};

struct cc_worker {
	struct cc *s;
	uint64_t rng;
	int id;
	long af_false, af_true; /* stops that said "ran" / "stopped" */
	atomic_int af_ran;
};

/* One round's cast, on the worker's stack (the worker waits for all). */
struct cc_round {
	gort_ctx *target, *cancel_what;
	int yields;
	gort_chan *helper_done;
	int helper_res;
	gort_wg wg;
};

struct cc_af {
	struct cc_worker *w;
	gort_ctx *ctx; /* referenced */
};

static void cc_after(void *p)
{
	struct cc_af *a = p;
	CO_CHECK(gort_ctx_err(a->ctx) != 0, "an after-func ran on a context not done");
	gort_ctx_release(a->ctx);
	atomic_fetch_add(&a->w->af_ran, 1);
	free(a);
}

static void cc_canceller(void *p)
{
	struct cc_round *r = p;
	for (int i = 0; i < r->yields; i++)
		gort_yield();
	gort_ctx_cancel(r->cancel_what);
	gort_wg_done(&r->wg);
}

static void cc_helper(void *p)
{
	struct cc_round *r = p;
	r->helper_done = gort_ctx_done(r->target);
	bool ok = true;
	if (r->helper_done != NULL)
		gort_chan_recv(r->helper_done, NULL, &ok);
	CO_CHECK(!ok, "a done channel gave a value");
	r->helper_res = gort_ctx_err(r->target);
	gort_wg_done(&r->wg);
}

static void cc_round(struct cc_worker *w, long i)
{
	struct cc *s = w->s;
	uint64_t x = rng_next(&w->rng);
	bool timed = x % 8 == 0;
	gort_ctx *mid = MUST(gort_ctx_with_cancel(s->root));
	gort_ctx *leaf = MUST(timed ? gort_ctx_with_timeout(mid, (int64_t)((x >> 3) % 200) * 1000)
				    : gort_ctx_with_cancel(mid));
	struct cc_round r = {.yields = (int)((x >> 12) % 4), .wg = GORT_WG_INIT};
	r.target = (x >> 16) % 2 ? MUST(gort_ctx_with_value(leaf, &key_a, NULL)) : gort_ctx_retain(leaf);
	r.cancel_what = (x >> 17) % 3 == 0 ? mid : leaf;
	struct cc_af *a = MUST(malloc(sizeof *a));
	*a = (struct cc_af){.w = w, .ctx = gort_ctx_retain(r.target)};
	gort_ctx_after *h = MUST(gort_ctx_after_func(r.target, cc_after, a));
	gort_wg_add(&r.wg, 2);
	if ((x >> 20) % 2) {
		CO_CHECK(gort_go(cc_helper, &r) > 0, "gort_go");
		CO_CHECK(gort_go(cc_canceller, &r) > 0, "gort_go");
	} else {
		CO_CHECK(gort_go(cc_canceller, &r) > 0, "gort_go");
		CO_CHECK(gort_go(cc_helper, &r) > 0, "gort_go");
	}
	/* the after-func's stop races the cancel, or comes after it */
	int stop = -1;
	if ((x >> 21) % 2)
		stop = gort_ctx_after_func_stop(h);
	int res = wait_on(r.target, (int)(i % W_KINDS), &s->dead);
	int err = gort_ctx_err(r.target);
	CO_CHECK(res == err, "worker %d round %ld: %s returned %d, err is %d", w->id, i,
		 wait_name[i % W_KINDS], res, err);
	CO_CHECK(err == GORT_CANCELED || (timed && err == GORT_DEADLINE_EXCEEDED),
		 "worker %d round %ld: err %d", w->id, i, err);
	CO_CHECK(gort_ctx_cause(r.target) == err, "worker %d round %ld: cause %d, err %d", w->id, i,
		 gort_ctx_cause(r.target), err);
	gort_wg_wait(&r.wg);
	CO_CHECK(r.helper_res == err, "worker %d round %ld: the helper saw %d", w->id, i, r.helper_res);
	CO_CHECK(r.helper_done == gort_ctx_done(r.target), "two done channels for one context");
	if (stop < 0)
		stop = gort_ctx_after_func_stop(h);
	if (stop) {
		w->af_true++;
		gort_ctx_release(a->ctx);
		free(a);
	} else {
		w->af_false++;
	}
	gort_ctx_release(r.target);
	gort_ctx_release(leaf);
	gort_ctx_cancel(mid);
	gort_ctx_release(mid);
}

static void cc_work(struct cc_worker *w)
{
	for (long i = 0; i < w->s->rounds; i++)
		cc_round(w, i);
	/* every stop that said "too late" has its run, and no other ran */
	CO_CHECK(await_ge(&w->af_ran, (int)w->af_false, 10000),
		 "worker %d: %d after-funcs ran, %ld stops said they had", w->id, atomic_load(&w->af_ran),
		 w->af_false);
	nap_ms(5);
	CO_CHECK(atomic_load(&w->af_ran) == w->af_false, "worker %d: %d after-funcs ran, %ld stops said they had",
		 w->id, atomic_load(&w->af_ran), w->af_false);
	atomic_fetch_add(&w->s->finished, 1);
}

static void cc_co(void *p)
{
	cc_work(p);
}

static void *cc_th(void *p)
{
	cc_work(p);
	return NULL;
}

static void cc_setup(void *p)
{
	struct cc *s = p;
	s->root = MUST(gort_ctx_with_cancel(NULL));
	s->dead = dead_make();
}

static void cc_teardown(void *p)
{
	struct cc *s = p;
	gort_ctx_cancel(s->root);
	gort_ctx_release(s->root);
	dead_free(&s->dead);
}

PROCS_TEST(context, concurrent_create_cancel_wait, 60)
{
	static struct cc s;
	static struct cc_worker w[CC_COROS + CC_THREADS];
	s.rounds = scaled_min(300, 40);
	rt_start(procs);
	co_run(cc_setup, &s);
	for (int k = 0; k < CC_COROS + CC_THREADS; k++)
		w[k] = (struct cc_worker){.s = &s, .rng = 0x2545F4914F6CDD1Dull * (uint64_t)(k + 1) + (uint64_t)procs,
					  .id = k};
	for (int k = 0; k < CC_COROS; k++)
		cr_assert_gt(gort_go(cc_co, &w[k]), 0);
	pthread_t th[CC_THREADS];
	for (int k = 0; k < CC_THREADS; k++)
		cr_assert_eq(pthread_create(&th[k], NULL, cc_th, &w[CC_COROS + k]), 0);
	cr_assert(wait_ge(&s.finished, CC_COROS + CC_THREADS, 40000),
		  "%d of %d workers finished (a wait missed its cancel?)", atomic_load(&s.finished),
		  CC_COROS + CC_THREADS);
	for (int k = 0; k < CC_THREADS; k++)
		pthread_join(th[k], NULL);
	CO_ASSERT_NO_FAILURES();
	long af_true = 0, af_false = 0;
	for (int k = 0; k < CC_COROS + CC_THREADS; k++) {
		af_true += w[k].af_true;
		af_false += w[k].af_false;
	}
	cr_assert(af_false > 0, "no after-func ever ran (%ld stopped)", af_true);
	co_run(cc_teardown, &s);
	rt_stop();
	leak_check();
}

/* A context's first use races its cancel: a coroutine and a plain thread
 * meet at a spin barrier each round, then at once the coroutine starts a
 * wait on the new context (making its done channel or arming an
 * after-func) while the thread cancels it.  Every wait must end; every
 * after-func must run once.  A watchdog on the main thread reports a wait
 * that never ends. */
enum { FU_KINDS = W_KINDS + 1 }; /* the last: an after-func */

struct fu {
	long rounds;
	_Atomic(gort_ctx *) ctx;
	struct dead dead;
	atomic_int arrive, stop, af_runs;
	atomic_long progress;
};

static void fu_barrier(struct fu *f, int *phase)
{
	int target = 2 * ++*phase;
	atomic_fetch_add(&f->arrive, 1);
	for (int spins = 0; atomic_load(&f->arrive) < target && !atomic_load(&f->stop); spins++) {
		if (spins > 200)
			sched_yield(); /* machines with fewer cores than spinners */
	}
}

static void fu_after(void *p)
{
	struct fu *f = p;
	atomic_fetch_add(&f->af_runs, 1);
}

static void fu_waiter(void *p)
{
	struct fu *f = p;
	int phase = 0;
	f->dead = dead_make();
	for (long i = 0; i < f->rounds && !atomic_load(&f->stop); i++) {
		gort_ctx *c = MUST(gort_ctx_with_cancel(NULL));
		atomic_store(&f->ctx, c);
		int kind = (int)(i % FU_KINDS);
		fu_barrier(f, &phase);
		if (kind < W_KINDS) {
			int r = wait_on(c, kind, &f->dead);
			CO_CHECK(r == GORT_CANCELED, "round %ld: %s = %d", i, wait_name[kind], r);
		} else {
			int want = atomic_load(&f->af_runs) + 1;
			gort_ctx_after *a = MUST(gort_ctx_after_func(c, fu_after, f));
			bool ran = await_ge(&f->af_runs, want, 10000);
			CO_CHECK(ran, "round %ld: an after-func armed as the context was cancelled never ran", i);
			CO_CHECK(!gort_ctx_after_func_stop(a), "round %ld: stop after it ran returned true", i);
			if (!ran) {
				atomic_store(&f->stop, 1); /* the test has failed: stop the rounds */
				break;
			}
		}
		atomic_store(&f->progress, i + 1);
		fu_barrier(f, &phase); /* the cancel has returned */
		gort_ctx_release(c);
	}
	dead_free(&f->dead);
}

static void *fu_canceller(void *p)
{
	struct fu *f = p;
	int phase = 0;
	for (long i = 0; i < f->rounds && !atomic_load(&f->stop); i++) {
		fu_barrier(f, &phase);
		if (atomic_load(&f->stop))
			break;
		gort_ctx_cancel(atomic_load(&f->ctx));
		fu_barrier(f, &phase);
	}
	return NULL;
}

PROCS_TEST(context, first_use_races_cancel, 60)
{
	static struct fu f;
	f.rounds = scaled_min(20000, 2000);
	rt_start(procs);
	cr_assert_gt(gort_go(fu_waiter, &f), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, fu_canceller, &f), 0);
	long last = -1;
	int64_t last_change = now_ns();
	while (atomic_load(&f.progress) < f.rounds) {
		long p = atomic_load(&f.progress);
		if (p != last) {
			last = p;
			last_change = now_ns();
		} else if (now_ns() - last_change > 10000 * MS) {
			atomic_store(&f.stop, 1);
			cr_assert_fail("round %ld (%s) never ended: a wait missed the cancel that raced its "
				       "first use", p, p % FU_KINDS < W_KINDS ? wait_name[p % FU_KINDS] : "after-func");
		}
		usleep(1000);
	}
	pthread_join(th, NULL);
	CO_ASSERT_NO_FAILURES();
	cr_assert(wait_num_coroutines(0, 10000) == 0, "the waiter did not return");
	rt_stop();
	leak_check();
}

/* A child with a deadline made while its parent is being cancelled: the
 * cancel must stop the child's timer whichever comes first (the timer is
 * armed after the child joins its parent).  Two plain threads meet at a
 * spin barrier each round; one makes the child (30 ms deadline), the
 * other cancels the parent.  A timer that survives the cancel fires 30 ms
 * later: the runtime's timers_fired counter tells (nothing else here uses
 * a timer). */
struct dt {
	long rounds;
	_Atomic(gort_ctx *) parent;
	atomic_int arrive;
	atomic_llong cancelled_at; /* gort_now() once the round's cancel returned */
	atomic_long born_done, attached, late;
};

static void dt_barrier(struct dt *d, int *phase)
{
	int target = 2 * ++*phase;
	atomic_fetch_add(&d->arrive, 1);
	for (int spins = 0; atomic_load(&d->arrive) < target; spins++) {
		if (spins > 200)
			sched_yield();
	}
}

static void *dt_maker(void *p)
{
	struct dt *d = p;
	int phase = 0;
	uint64_t rng = 0x1234567ull;
	for (long i = 0; i < d->rounds; i++) {
		dt_barrier(d, &phase);
		for (int k = 0; k < (int)(rng_next(&rng) % 64); k++)
			__asm__ volatile("" ::: "memory");
		gort_ctx *c = gort_ctx_with_timeout(atomic_load(&d->parent), 30 * MS);
		CO_CHECK(c != NULL, "with_timeout = NULL");
		if (c == NULL)
			abort();
		bool born_done = gort_ctx_err(c) != 0;
		int64_t dl = 0;
		(void)gort_ctx_deadline(c, &dl);
		atomic_fetch_add(born_done ? &d->born_done : &d->attached, 1);
		dt_barrier(d, &phase); /* the parent's cancel has returned */
		/* a machine so loaded that the cancel came after the deadline:
		 * that timer may fire, rightly */
		if (!born_done && atomic_load(&d->cancelled_at) >= dl)
			atomic_fetch_add(&d->late, 1);
		CO_CHECK(gort_ctx_err(c) == GORT_CANCELED || gort_ctx_err(c) == GORT_DEADLINE_EXCEEDED,
			 "round %ld: the child's err %d", i, gort_ctx_err(c));
		gort_ctx_cancel(c);
		gort_ctx_release(c);
		dt_barrier(d, &phase);
	}
	return NULL;
}

static void *dt_canceller(void *p)
{
	struct dt *d = p;
	int phase = 0;
	uint64_t rng = 0x7654321ull;
	for (long i = 0; i < d->rounds; i++) {
		atomic_store(&d->parent, MUST(gort_ctx_with_cancel(NULL)));
		dt_barrier(d, &phase);
		for (int k = 0; k < (int)(rng_next(&rng) % 64); k++)
			__asm__ volatile("" ::: "memory");
		gort_ctx_cancel(atomic_load(&d->parent));
		atomic_store(&d->cancelled_at, gort_now());
		dt_barrier(d, &phase);
		dt_barrier(d, &phase); /* the child is released */
		gort_ctx_release(atomic_load(&d->parent));
	}
	return NULL;
}

Test(context, deadline_child_made_while_parent_cancels, .timeout = 60)
{
	static struct dt d;
	d.rounds = scaled_min(20000, 2000);
	rt_start(2);
	gort_stats st0, st1;
	cr_assert_eq(gort_stats_read(&st0), 0);
	pthread_t a, b;
	cr_assert_eq(pthread_create(&a, NULL, dt_maker, &d), 0);
	cr_assert_eq(pthread_create(&b, NULL, dt_canceller, &d), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CO_ASSERT_NO_FAILURES();
	sleep_ms(100); /* past every 30 ms deadline */
	cr_assert_eq(gort_stats_read(&st1), 0);
	cr_assert_leq(st1.timers_fired - st0.timers_fired, (uint64_t)atomic_load(&d.late),
		      "%llu deadline timer(s) of children made during their parent's cancel fired after "
		      "the cancel (%ld children attached first, %ld born done, %ld cancelled late)",
		      (unsigned long long)(st1.timers_fired - st0.timers_fired), atomic_load(&d.attached),
		      atomic_load(&d.born_done), atomic_load(&d.late));
	rt_stop();
	leak_check();
}

/* The root's cancel races workers that keep making children of it and
 * waiting on some of them: every wait ends, and a child made after the
 * worker saw the root done is born done. */
enum { RC_COROS = 8, RC_THREADS = 2 };

struct rc {
	gort_ctx *root;
	struct dead dead;
	atomic_int finished, waits_ended;
};

struct rc_worker {
	struct rc *s;
	uint64_t rng;
	long made;
};

static void rc_work(struct rc_worker *w)
{
	struct rc *s = w->s;
	for (;;) {
		uint64_t x = rng_next(&w->rng);
		bool root_done = gort_ctx_err(s->root) != 0;
		gort_ctx *c;
		switch (x % 3) {
		case 0:
			c = MUST(gort_ctx_with_cancel(s->root));
			break;
		case 1:
			c = MUST(gort_ctx_with_timeout(s->root, FOREVER_NS));
			break;
		default: {
			gort_ctx *v = MUST(gort_ctx_with_value(s->root, &key_a, NULL));
			c = MUST(gort_ctx_with_cancel(v));
			gort_ctx_release(v);
			break;
		}
		}
		w->made++;
		if (root_done) {
			CO_CHECK(gort_ctx_err(c) == GORT_CANCELED, "a child made after the root's cancel: err %d",
				 gort_ctx_err(c));
			gort_ctx_cancel(c);
			gort_ctx_release(c);
			break;
		}
		if ((x >> 8) % 4 == 0) {
			/* only the root's cancel ends this */
			int r = wait_on(c, (int)((x >> 10) % W_KINDS), &s->dead);
			CO_CHECK(r == GORT_CANCELED, "a wait under the root ended with %d", r);
			atomic_fetch_add(&s->waits_ended, 1);
			gort_ctx_cancel(c);
			gort_ctx_release(c);
			break;
		}
		for (int i = 0; i < (int)((x >> 12) % 3); i++)
			gort_yield();
		gort_ctx_cancel(c);
		gort_ctx_release(c);
	}
	atomic_fetch_add(&s->finished, 1);
}

static void rc_co(void *p)
{
	rc_work(p);
}

static void *rc_th(void *p)
{
	rc_work(p);
	return NULL;
}

static void rc_setup(void *p)
{
	struct rc *s = p;
	s->root = MUST(gort_ctx_with_cancel(NULL));
	s->dead = dead_make();
}

static void rc_teardown(void *p)
{
	struct rc *s = p;
	gort_ctx_release(s->root);
	dead_free(&s->dead);
}

PROCS_TEST(context, root_cancel_races_new_children, 60)
{
	static struct rc s;
	static struct rc_worker w[RC_COROS + RC_THREADS];
	long reps = scaled_min(30, 5);
	uint64_t seed = 0xC0FFEEull + (uint64_t)procs;
	rt_start(procs);
	for (long rep = 0; rep < reps; rep++) {
		memset(&s, 0, sizeof s);
		co_run(rc_setup, &s);
		for (int k = 0; k < RC_COROS + RC_THREADS; k++)
			w[k] = (struct rc_worker){.s = &s, .rng = rng_next(&seed) | 1};
		for (int k = 0; k < RC_COROS; k++)
			cr_assert_gt(gort_go(rc_co, &w[k]), 0);
		pthread_t th[RC_THREADS];
		for (int k = 0; k < RC_THREADS; k++)
			cr_assert_eq(pthread_create(&th[k], NULL, rc_th, &w[RC_COROS + k]), 0);
		usleep((useconds_t)(rng_next(&seed) % 2000));
		gort_ctx_cancel(s.root);
		cr_assert(wait_ge(&s.finished, RC_COROS + RC_THREADS, 20000),
			  "rep %ld: %d of %d workers finished after the root's cancel (lost wakeup)", rep,
			  atomic_load(&s.finished), RC_COROS + RC_THREADS);
		for (int k = 0; k < RC_THREADS; k++)
			pthread_join(th[k], NULL);
		CO_ASSERT_NO_FAILURES();
		co_run(rc_teardown, &s);
	}
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* Edges                                                                     */
/* ------------------------------------------------------------------------ */

/* Deadline 0 is a time like any other (long past): the context is done
 * and reports that deadline, as Go's WithDeadline(ctx, time.Time{}). */
Test(context, deadline_zero_is_a_deadline, .timeout = 30)
{
	rt_start(2);
	gort_ctx *c = gort_ctx_with_deadline(NULL, 0);
	cr_assert_not_null(c);
	cr_assert_eq(gort_ctx_err(c), GORT_DEADLINE_EXCEEDED);
	int64_t d = -1;
	cr_assert(gort_ctx_deadline(c, &d), "a context with deadline 0 says it has no deadline");
	cr_assert_eq(d, 0);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	rt_stop();
}

/* A timeout too long to add to the clock (Go's WithTimeout(ctx,
 * math.MaxInt64)) is a deadline far away, not one in the past. */
Test(context, huge_timeout_is_far_away, .timeout = 30)
{
	rt_start(2);
	int64_t ns[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2 + INT64_MAX / 4};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		int64_t now = gort_now(), d = 0;
		gort_ctx *c = gort_ctx_with_timeout(NULL, ns[i]);
		cr_assert_not_null(c);
		cr_assert_eq(gort_ctx_err(c), 0, "with_timeout(%lld) is done at once: %d", (long long)ns[i],
			     gort_ctx_err(c));
		cr_assert(gort_ctx_deadline(c, &d) && d > now, "with_timeout(%lld): deadline %lld, now %lld",
			  (long long)ns[i], (long long)d, (long long)now);
		gort_ctx_cancel(c);
		gort_ctx_release(c);
	}
	rt_stop();
}

/* A deadline context outliving the runtime it was armed in: cancelling
 * and releasing it afterwards must not touch the runtime's freed timer
 * heaps. */
Test(context, deadline_context_cancelled_after_runtime_stop, .timeout = 30)
{
	rt_start(2);
	gort_ctx *c = gort_ctx_with_timeout(NULL, FOREVER_NS);
	cr_assert_not_null(c);
	rt_stop();
	gort_ctx_cancel(c);
	cr_assert_eq(gort_ctx_err(c), GORT_CANCELED);
	gort_ctx_release(c);
	/* and in a runtime started again */
	rt_start(2);
	c = gort_ctx_with_timeout(NULL, FOREVER_NS);
	cr_assert_not_null(c);
	rt_stop();
	rt_start(2);
	gort_ctx_cancel(c);
	gort_ctx_release(c);
	rt_stop();
}
