/*
 * semaphore.c — gort_sem, golang.org/x/sync/semaphore.Weighted.
 *
 * Owns size, cur (units held) and a FIFO of waiters, each with the n it
 * wants, all under lk.  Grants go strictly in queue order: a waiter is
 * served only when the ones before it have been, so a big request at the
 * head holds back the small ones behind it (no starvation of big
 * requests), and try_acquire and a new acquire succeed only when nobody
 * waits.  Waiter states (under lk): NEW, QUEUED, then GRANTED by a release
 * (its units already counted in cur) or CANCELLED by its context's watch.
 * A cancelled waiter that was at the head lets the next ones try (x/sync's
 * rule), in the watch, under lk.  A request larger than size can never be
 * granted: it parks without queueing (it would block everyone behind it)
 * until its context is done, forever when the context can never be.
 */
#include <stdlib.h>

#include "sema.h"

struct gort_sem {
	gort__lock lk;
	int64_t size;         /* (i) */
	int64_t cur;          /* (lk) units held */
	struct gort__waitq q; /* (lk) */
};

struct sem_wait {
	struct gort__cwait cw; /* q NULL when n > size: parked, not queued */
	gort_sem *s;
	int64_t n; /* (i) */
};

gort_sem *gort_sem_new(int64_t size)
{
	if (size < 0)
		return NULL;
	gort_sem *s = gort__sys_calloc(1, sizeof *s);
	if (s)
		s->size = size;
	return s;
}

void gort_sem_free(gort_sem *s)
{
	gort__sys_free(s);
}

/* Under lk: grant waiters from the head while they fit; return them as a
 * list to wake after unlocking. */
static struct gort__waiter *grant_locked(gort_sem *s)
{
	struct gort__waiter *head = NULL, **tail = &head;
	while (s->q.head) {
		struct sem_wait *sw = GORT__CONTAINER_OF(s->q.head, struct sem_wait, cw.w);
		if (s->size - s->cur < sw->n)
			break; /* FIFO: nobody overtakes the head */
		s->cur += sw->n;
		struct gort__waiter *w = gort__waitq_pop(&s->q);
		w->state = GORT__WS_GRANTED;
		*tail = w;
		tail = &w->next;
	}
	return head;
}

/* The context took a queued waiter away: if it was the head, the ones
 * behind it may fit now. */
static struct gort__waiter *sem_unqueue(struct gort__cwait *cw)
{
	struct sem_wait *sw = GORT__CONTAINER_OF(cw, struct sem_wait, cw);
	gort_sem *s = sw->s;
	bool front = s->q.head == &cw->w;
	gort__waitq_remove(&s->q, &cw->w);
	return front ? grant_locked(s) : NULL;
}

int gort_sem_acquire_ctx_at(gort_ctx *ctx, gort_sem *s, int64_t n, const char *file, int line)
{
	if (!s || n < 0)
		return -EINVAL;
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err;
	gort__lock_acquire(&s->lk);
	if (s->size - s->cur >= n && !s->q.head) {
		s->cur += n;
		gort__lock_release(&s->lk);
		return 0;
	}
	gort__lock_release(&s->lk);

	/* Wait (sema.h: a cancellable wait). */
	struct sem_wait sw;
	sw.s = s;
	sw.n = n;
	bool doomed = n > s->size; /* nothing can grant it: parks unqueued */
	err = gort__cwait_begin(&sw.cw, ctx, &s->lk, doomed ? NULL : &s->q,
				doomed ? NULL : sem_unqueue);
	if (err)
		return err;
	gort__lock_acquire(&s->lk);
	if (gort__cwait_cancelled(&sw.cw) || (s->size - s->cur >= n && !s->q.head)) {
		if (!gort__cwait_cancelled(&sw.cw)) {
			s->cur += n;
			sw.cw.w.state = GORT__WS_GRANTED;
		}
		gort__lock_release(&s->lk);
		gort__cwait_end(&sw.cw);
		return gort__cwait_result(&sw.cw);
	}
	return gort__cwait_wait(&sw.cw, false, GORT__SYNC_WR_SEMAPHORE, file, line);
}

bool gort_sem_try_acquire(gort_sem *s, int64_t n)
{
	if (gort__unlikely(!s))
		gort__panic_msg("gort_sem_try_acquire: s is NULL");
	if (n < 0)
		return false;
	gort__lock_acquire(&s->lk);
	bool ok = s->size - s->cur >= n && !s->q.head;
	if (ok)
		s->cur += n;
	gort__lock_release(&s->lk);
	return ok;
}

void gort_sem_release(gort_sem *s, int64_t n)
{
	if (gort__unlikely(!s))
		gort__panic_msg("gort_sem_release: s is NULL");
	gort__lock_acquire(&s->lk);
	if (n < 0 || n > s->cur) {
		gort__lock_release(&s->lk);
		gort__panic_msg("semaphore: released more than held");
	}
	s->cur -= n;
	struct gort__waiter *granted = grant_locked(s);
	gort__lock_release(&s->lk);
	gort__waiter_wake_list(granted);
}
