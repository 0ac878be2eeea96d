/*
 * cond.c — gort_cond, Go's sync.Cond over a gort_mutex.
 *
 * Owns a FIFO of waiters under lk.  A waiter's state (under lk) goes
 *   NEW -> QUEUED       queued, under lk, while it still holds mu: a
 *                       signaller (who must take mu to change the
 *                       condition) therefore cannot miss it;
 *   QUEUED -> PARKED    after it unlocked mu, again under lk, just before
 *                       it parks (lk is released once it is off its stack);
 *   QUEUED|PARKED -> GRANTED    popped by signal/broadcast;
 *   NEW|QUEUED|PARKED -> CANCELLED   by its context's watch.
 * A waker wakes only PARKED waiters; one still QUEUED finds GRANTED (or
 * CANCELLED) when it takes lk to park, and does not park.  So no wake
 * reaches a coroutine that is still running, and a signal always goes to
 * a waiter that is really waiting: a cancelled waiter leaves the queue
 * under lk before any signal can choose it (unlike Go's ticket list, which
 * has no cancellation).  Wakers read nothing from a waiter once lk is
 * released, except the PARKED ones they wake (gort__waiter_wake_list).
 *
 * Costs: wait takes lk twice plus mu's unlock and lock; signal and
 * broadcast take lk once.
 */
#include <assert.h>

#include "sema.h"

struct cond_impl {
	gort__lock lk;
	struct gort__waitq q; /* (lk) */
};

static_assert(sizeof(struct cond_impl) <= sizeof(gort_cond), "gort_cond too small");
static_assert(_Alignof(struct cond_impl) <= _Alignof(gort_cond), "gort_cond under-aligned");

#define CV(p) ((struct cond_impl *)(void *)(p))

static int cond_wait(struct cond_impl *c, gort_mutex *mu, gort_ctx *ctx, const char *file, int line)
{
	struct gort__cwait cw; /* sema.h: a cancellable wait */
	int err = gort__cwait_begin(&cw, ctx, &c->lk, &c->q, NULL);
	if (err)
		return err; /* mu still held */
	gort__lock_acquire(&c->lk);
	if (gort__cwait_cancelled(&cw)) {
		gort__lock_release(&c->lk);
		gort__cwait_end(&cw);
		return cw.err; /* mu still held */
	}
	gort__cwait_queue(&cw, false);
	gort__lock_release(&c->lk);

	gort_mutex_unlock(mu);

	gort__lock_acquire(&c->lk);
	if (cw.w.state == GORT__WS_QUEUED) {
		err = gort__cwait_park(&cw, GORT__SYNC_WR_COND, file, line);
	} else { /* granted or cancelled while we unlocked mu */
		gort__lock_release(&c->lk);
		gort__cwait_end(&cw);
		err = gort__cwait_result(&cw);
	}
	gort_mutex_lock_at(mu, file, line);
	return err;
}

void gort_cond_wait_at(gort_cond *c, gort_mutex *mu, const char *file, int line)
{
	if (gort__unlikely(!c || !mu))
		gort__panic_msg(!c ? "gort_cond_wait: c is NULL" : "gort_cond_wait: mu is NULL");
	(void)cond_wait(CV(c), mu, NULL, file, line);
}

int gort_cond_wait_ctx_at(gort_ctx *ctx, gort_cond *c, gort_mutex *mu, const char *file, int line)
{
	if (!c || !mu)
		return -EINVAL;
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err; /* mu still held */
	return cond_wait(CV(c), mu, ctx, file, line);
}

void gort_cond_signal(gort_cond *p)
{
	struct cond_impl *c = CV(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_cond_signal: c is NULL");
	gort__lock_acquire(&c->lk);
	struct gort__waiter *w = gort__waitq_pop(&c->q);
	bool wake = false;
	if (w) {
		wake = w->state == GORT__WS_PARKED;
		w->state = GORT__WS_GRANTED;
	}
	gort__lock_release(&c->lk);
	if (wake)
		gort__waiter_wake(w);
}

void gort_cond_broadcast(gort_cond *p)
{
	struct cond_impl *c = CV(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_cond_broadcast: c is NULL");
	struct gort__waiter *wake = NULL, **tail = &wake;
	gort__lock_acquire(&c->lk);
	struct gort__waiter *w = gort__waitq_take_all(&c->q);
	while (w) {
		struct gort__waiter *next = w->next;
		bool parked = w->state == GORT__WS_PARKED;
		w->state = GORT__WS_GRANTED;
		if (parked) {
			w->next = NULL;
			*tail = w;
			tail = &w->next;
		}
		w = next;
	}
	gort__lock_release(&c->lk);
	gort__waiter_wake_list(wake);
}
