/*
 * ctx.c — the soak's context workers (each iteration one of these):
 *   duel     a sender (send_ctx) and a receiver (recv_ctx) on a channel of
 *            capacity 0 or 1, each with its own context (timeout or
 *            cancel); one of them is cancelled at a random moment, then
 *            both.  The send succeeded iff its value was received (the same
 *            value) or is still in the buffer; a failed receive took
 *            nothing.
 *   tree     cancel -> timeout -> value -> cancel; waiters on its nodes
 *            block in sleep_ctx, recv_ctx, wg_wait_ctx, sem_acquire_ctx,
 *            mutex_lock_ctx, rwmutex_rlock_ctx and cond_wait_ctx on things
 *            that never come; the root is cancelled with a cause (or the
 *            leaf, or the timeout fires), then the root.  Each waiter
 *            returns its node's error; causes, values, deadlines and the
 *            done channel agree; the held mutex and rwmutex were never
 *            taken by a cancelled waiter.
 *   after    gort_ctx_after_func, cancelled and stopped in a random order:
 *            the function runs exactly when the stop said it would
 *            (checked at the end of the round).
 *   timers   a timer's value is never earlier than its deadline; after
 *            gort_timer_stop its channel holds nothing; a reset timer
 *            fires again; a ticker's ticks increase.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct duel {
	gort_chan *ch;
	gort_ctx *cs, *cr;
	uint64_t v, got;
	bool ok;
	int send_rc, recv_rc;
	gort_wg wg;
};

static void duel_send(void *arg)
{
	struct duel *d = arg;
	d->send_rc = gort_chan_send_ctx(d->cs, d->ch, &d->v);
	gort_wg_done(&d->wg);
}

static void duel_recv(void *arg)
{
	struct duel *d = arg;
	d->recv_rc = gort_chan_recv_ctx(d->cr, d->ch, &d->got, &d->ok);
	gort_wg_done(&d->wg);
}

static gort_ctx *duel_ctx(struct soak_warg *w)
{
	return rng_pct(&w->rng, 50) ? soak_ctx_timeout(w->r->ctx, &w->rng, w->r->mix.timeout_max)
				    : soak_ctx_cancel(w->r->ctx);
}

static void pause_a_little(soak_rng *rng, int64_t max)
{
	if (rng_pct(rng, 50))
		gort_yield();
	else
		gort_sleep(rng_range(rng, 0, max));
}

static void ctx_duel(struct soak_warg *w)
{
	struct duel d = {.v = rng_next(&w->rng) | 1};
	d.ch = gort_chan_make(sizeof(uint64_t), rng_below(&w->rng, 2));
	SOAK_CHECK(d.ch != NULL, "gort_chan_make failed");
	soak_obj(1);
	d.cs = duel_ctx(w);
	d.cr = duel_ctx(w);
	gort_wg_add(&d.wg, 2);
	bool recv_first = rng_pct(&w->rng, 50);
	soak_go(w->r, recv_first ? duel_recv : duel_send, &d, "duel", 0);
	soak_go(w->r, recv_first ? duel_send : duel_recv, &d, "duel", 0);
	int64_t tmax = w->r->mix.timeout_max;
	pause_a_little(&w->rng, tmax / 2);
	switch (rng_below(&w->rng, 3)) {
	case 0:
		gort_ctx_cancel(d.cs);
		break;
	case 1:
		gort_ctx_cancel(d.cr);
		break;
	default:
		break;
	}
	pause_a_little(&w->rng, tmax / 2);
	gort_ctx_cancel(d.cs);
	gort_ctx_cancel(d.cr);
	gort_wg_wait(&d.wg);
	uint64_t left = 0;
	bool lok = false;
	bool leftover = gort_chan_try_recv(d.ch, &left, &lok) == 0;
	bool sent = d.send_rc == 0, got = d.recv_rc == 0;
	SOAK_CHECK(d.send_rc == 0 || d.send_rc == GORT_CANCELED || d.send_rc == GORT_DEADLINE_EXCEEDED,
		   "duel: send_ctx returned %d", d.send_rc);
	SOAK_CHECK(d.recv_rc == 0 || d.recv_rc == GORT_CANCELED || d.recv_rc == GORT_DEADLINE_EXCEEDED,
		   "duel: recv_ctx returned %d", d.recv_rc);
	SOAK_CHECK(!got || (d.ok && d.got == d.v), "duel: received %llx (ok %d), sent %llx",
		   (unsigned long long)d.got, d.ok, (unsigned long long)d.v);
	SOAK_CHECK(!leftover || (lok && left == d.v), "duel: the buffer held %llx, sent %llx",
		   (unsigned long long)left, (unsigned long long)d.v);
	SOAK_CHECK(sent ? got != leftover : !got && !leftover,
		   "duel (capacity %zu): send returned %d, receive returned %d, %s left in the buffer: "
		   "a cancelled operation happened or a value was lost",
		   gort_chan_cap(d.ch), d.send_rc, d.recv_rc, leftover ? "a value" : "nothing");
	atomic_fetch_add_explicit(&soak_t.ctx_cancels, (unsigned)(!sent + !got), memory_order_relaxed);
	soak_ctx_done(d.cs);
	soak_ctx_done(d.cr);
	gort_chan_release(d.ch);
	soak_obj(-1);
}

/* The tree's things that never come. */
struct tree {
	gort_ctx *node[3]; /* root, mid (timeout), leaf (under a value node) */
	gort_ctx *val;
	gort_chan *never;
	gort_wg stuck; /* counter 1, nobody calls done */
	gort_sem *empty; /* weight 0 */
	gort_mutex held, cmu;
	gort_rwmutex wheld;
	gort_cond cond;
	gort_wg waiters;
};

struct twaiter {
	struct tree *t;
	int node, op, rc;
};

static const int tree_key = 0;

static void tree_wait(void *arg)
{
	struct twaiter *w = arg;
	struct tree *t = w->t;
	gort_ctx *ctx = t->node[w->node];
	uint64_t v;
	bool ok;
	switch (w->op) {
	case 0:
		w->rc = gort_sleep_ctx(ctx, 60 * GORT_SEC);
		break;
	case 1:
		w->rc = gort_chan_recv_ctx(ctx, t->never, &v, &ok);
		break;
	case 2:
		w->rc = gort_wg_wait_ctx(ctx, &t->stuck);
		break;
	case 3:
		w->rc = gort_sem_acquire_ctx(ctx, t->empty, 1);
		break;
	case 4:
		w->rc = gort_mutex_lock_ctx(ctx, &t->held);
		break;
	case 5:
		w->rc = gort_rwmutex_rlock_ctx(ctx, &t->wheld);
		break;
	default:
		gort_mutex_lock(&t->cmu);
		w->rc = gort_cond_wait_ctx(ctx, &t->cond, &t->cmu);
		gort_mutex_unlock(&t->cmu);
		break;
	}
	gort_wg_done(&t->waiters);
}

static void ctx_tree(struct soak_warg *w)
{
	enum { WAITERS_MAX = 6 };
	struct soak_round *r = w->r;
	int64_t tmax = r->mix.timeout_max;
	struct tree t = {0};
	t.node[0] = soak_ctx_cancel(r->ctx);
	t.node[1] = soak_ctx_timeout(t.node[0], &w->rng, 2 * tmax);
	t.val = gort_ctx_with_value(t.node[1], &tree_key, &t);
	SOAK_CHECK(t.val != NULL, "gort_ctx_with_value failed");
	soak_obj(1);
	t.node[2] = soak_ctx_cancel(t.val);
	t.never = gort_chan_make(sizeof(uint64_t), rng_below(&w->rng, 2));
	t.empty = gort_sem_new(0);
	SOAK_CHECK(t.never != NULL && t.empty != NULL, "out of memory");
	gort_wg_add(&t.stuck, 1);
	gort_mutex_lock(&t.held);
	gort_rwmutex_lock(&t.wheld);

	struct twaiter ws[WAITERS_MAX];
	int n = 1 + (int)rng_below(&w->rng, WAITERS_MAX);
	gort_wg_add(&t.waiters, n);
	for (int i = 0; i < n; i++) {
		ws[i] = (struct twaiter){&t, (int)rng_below(&w->rng, 3), (int)rng_below(&w->rng, 7), 1};
		soak_go(r, tree_wait, &ws[i], "ctx-tree-waiter", 0);
	}
	pause_a_little(&w->rng, tmax / 2);
	int cause = -(2000 + (int)rng_below(&w->rng, 100));
	unsigned action = rng_below(&w->rng, 3);
	if (action == 0)
		gort_ctx_cancel_cause(t.node[0], cause);
	else if (action == 1)
		gort_ctx_cancel(t.node[2]);
	else
		gort_sleep(rng_range(&w->rng, 0, tmax)); /* the timeout may fire */
	pause_a_little(&w->rng, tmax / 4);
	gort_ctx_cancel(t.node[0]);
	gort_wg_wait(&t.waiters);

	for (int i = 0; i < n; i++) {
		int err = gort_ctx_err(t.node[ws[i].node]);
		SOAK_CHECK(err != 0 && ws[i].rc == err,
			   "ctx tree: a waiter (op %d) on node %d returned %d, the node's error is %d",
			   ws[i].op, ws[i].node, ws[i].rc, err);
	}
	int e1 = gort_ctx_err(t.node[1]);
	SOAK_CHECK(e1 != GORT_DEADLINE_EXCEEDED || gort_ctx_cause(t.node[1]) == GORT_DEADLINE_EXCEEDED,
		   "ctx tree: timed out, cause %d", gort_ctx_cause(t.node[1]));
	if (action == 0 && gort_ctx_err(r->ctx) == 0) { /* (the round's cancel would come first) */
		SOAK_CHECK(gort_ctx_cause(t.node[0]) == cause, "ctx tree: root cause %d, given %d",
			   gort_ctx_cause(t.node[0]), cause);
		SOAK_CHECK(e1 != GORT_CANCELED ||
				   (gort_ctx_cause(t.node[1]) == cause && gort_ctx_cause(t.node[2]) == cause),
			   "ctx tree: causes below the root %d, %d, given %d", gort_ctx_cause(t.node[1]),
			   gort_ctx_cause(t.node[2]), cause);
	}
	SOAK_CHECK(gort_ctx_value(t.node[2], &tree_key) == &t &&
			   gort_ctx_value(t.node[1], &tree_key) == NULL,
		   "ctx tree: value lookup");
	int64_t d1 = 0, d2 = 0;
	SOAK_CHECK(gort_ctx_deadline(t.node[1], &d1) && gort_ctx_deadline(t.node[2], &d2) && d1 == d2,
		   "ctx tree: deadlines %lld, %lld", (long long)d1, (long long)d2);
	/* The root's cancel may find the mid node done already by its timer,
	 * whose cancel of the nodes below is still on its way (as in Go): the
	 * leaf must be done soon, not at once. */
	uint64_t v;
	bool ok = true;
	gort_chan *done = gort_ctx_done(t.node[2]);
	int rc = done == NULL ? -1 : gort_chan_recv_until(done, &v, &ok, gort_now() + 10 * GORT_SEC);
	SOAK_CHECK(rc == 0 && !ok, "ctx tree: the leaf's done channel is not closed 10 s after the "
				   "root was cancelled (recv_until %d, ok %d, err %d)",
		   rc, ok, gort_ctx_err(t.node[2]));
	gort_ctx *late = soak_ctx_cancel(t.node[2]);
	SOAK_CHECK(gort_ctx_err(late) != 0, "ctx tree: a child of a done context is not done");
	soak_ctx_done(late);

	gort_mutex_unlock(&t.held);
	SOAK_CHECK(gort_mutex_trylock(&t.held), "ctx tree: a cancelled mutex waiter holds the lock");
	gort_mutex_unlock(&t.held);
	gort_rwmutex_unlock(&t.wheld);
	SOAK_CHECK(gort_rwmutex_trylock(&t.wheld), "ctx tree: a cancelled reader holds the rwmutex");
	gort_rwmutex_unlock(&t.wheld);
	gort_wg_done(&t.stuck);
	SOAK_CHECK(!gort_sem_try_acquire(t.empty, 1), "ctx tree: an empty semaphore gave a unit");
	gort_sem_free(t.empty);
	gort_chan_release(t.never);
	soak_ctx_done(t.node[2]);
	gort_ctx_release(t.val);
	soak_obj(-1);
	soak_ctx_done(t.node[1]);
	soak_ctx_done(t.node[0]);
	atomic_fetch_add_explicit(&soak_t.ctx_cancels, (unsigned)n, memory_order_relaxed);
}

static void after_fn(void *arg)
{
	struct soak_round *r = arg;
	atomic_fetch_add(&r->after_ran, 1);
}

static void ctx_after(struct soak_warg *w)
{
	gort_ctx *c = soak_ctx_cancel(NULL); /* only this worker cancels it */
	gort_ctx_after *a = gort_ctx_after_func(c, after_fn, w->r);
	SOAK_CHECK(a != NULL, "gort_ctx_after_func failed");
	unsigned order = rng_below(&w->rng, 3);
	bool stopped = true;
	if (order == 0) {
		stopped = gort_ctx_after_func_stop(a);
		gort_ctx_cancel(c);
	} else {
		gort_ctx_cancel(c);
		if (order == 2)
			gort_yield();
		stopped = gort_ctx_after_func_stop(a);
	}
	SOAK_CHECK(order != 0 || stopped, "after_func_stop before the cancel returned false");
	if (!stopped)
		atomic_fetch_add(&w->r->after_expected, 1);
	soak_ctx_done(c);
}

static void ctx_timers(struct soak_warg *w)
{
	int64_t tmax = w->r->mix.timeout_max, ns = rng_range(&w->rng, 0, tmax);
	int64_t start = gort_now(), v = 0;
	bool ok;
	gort_timer *t = gort_timer_new(ns);
	SOAK_CHECK(t != NULL, "gort_timer_new failed");
	gort_chan *tc = gort_timer_chan(t);
	if (rng_pct(&w->rng, 50)) {
		if (gort_chan_recv_ctx(w->r->ctx, tc, &v, &ok) == 0)
			SOAK_CHECK(ok && v >= start + ns, "timer: fired at %lld, %lld ns early",
				   (long long)v, (long long)(start + ns - v));
	} else {
		pause_a_little(&w->rng, tmax / 2);
		gort_timer_stop(t);
		SOAK_CHECK(gort_chan_try_recv(tc, &v, &ok) == -EAGAIN,
			   "timer: its channel holds a value after gort_timer_stop");
		if (rng_pct(&w->rng, 50)) {
			start = gort_now();
			ns = rng_range(&w->rng, 0, tmax / 2);
			gort_timer_reset(t, ns);
			if (gort_chan_recv_ctx(w->r->ctx, tc, &v, &ok) == 0)
				SOAK_CHECK(ok && v >= start + ns, "timer: after a reset fired %lld ns early",
					   (long long)(start + ns - v));
		}
	}
	gort_timer_free(t);
	if (rng_pct(&w->rng, 30)) {
		gort_timer *tk = gort_ticker_new(rng_range(&w->rng, 20 * GORT_US, 200 * GORT_US));
		SOAK_CHECK(tk != NULL, "gort_ticker_new failed");
		int64_t last = 0;
		for (int i = 0; i < 3; i++) {
			if (gort_chan_recv_ctx(w->r->ctx, gort_timer_chan(tk), &v, &ok) != 0)
				break;
			SOAK_CHECK(v > last, "ticker: tick %lld after %lld", (long long)v, (long long)last);
			last = v;
		}
		gort_timer_free(tk);
	}
}

static void ctx_worker(void *arg)
{
	struct soak_warg *w = arg;
	while (!soak_stopping(w->r)) {
		unsigned x = rng_below(&w->rng, 20);
		if (x < 10)
			ctx_duel(w);
		else if (x < 14)
			ctx_tree(w);
		else if (x < 17)
			ctx_after(w);
		else
			ctx_timers(w);
		soak_ops(1);
	}
	free(w);
}

void ctx_start(struct soak_round *r)
{
	soak_spawn_kind(r, K_CTX, ctx_worker, "ctx");
}

/* After the join and the leak check (every coroutine has ended). */
void ctx_check(struct soak_round *r)
{
	SOAK_CHECK(atomic_load(&r->after_ran) == atomic_load(&r->after_expected),
		   "after-func: %ld ran, %ld expected (stop said so)", atomic_load(&r->after_ran),
		   atomic_load(&r->after_expected));
}
