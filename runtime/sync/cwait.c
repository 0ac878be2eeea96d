/*
 * cwait.c — the cancellable wait shared by the sync primitives (protocol
 * in sema.h; the watch rules in context/context.h).
 */
#include "sema.h"

/* The watch's function: runs once, under the context's lock. */
static void cwait_cancel(struct gort__ctx_watch *watch, int err)
{
	struct gort__cwait *cw = GORT__CONTAINER_OF(watch, struct gort__cwait, watch);
	struct gort__waiter *others = NULL;
	gort__lock_acquire(cw->lock);
	uint32_t st = cw->w.state;
	if (st == GORT__WS_GRANTED) {
		gort__lock_release(cw->lock);
		return; /* the primitive came first: the wait succeeded */
	}
	if (st == GORT__WS_QUEUED || st == GORT__WS_PARKED) {
		if (cw->unqueue)
			others = cw->unqueue(cw);
		else if (cw->q)
			gort__waitq_remove(cw->q, &cw->w);
	}
	cw->w.state = GORT__WS_CANCELLED;
	cw->err = err;
	gort__lock_release(cw->lock);
	gort__waiter_wake_list(others);
	if (st == GORT__WS_PARKED)
		gort__waiter_wake(&cw->w);
}

int gort__cwait_begin(struct gort__cwait *cw, gort_ctx *ctx, gort__lock *lock,
		      struct gort__waitq *q, gort__cwait_unqueue_fn unqueue)
{
	gort__waiter_init(&cw->w);
	cw->w.state = GORT__WS_NEW;
	cw->lock = lock;
	cw->q = q;
	cw->unqueue = unqueue;
	cw->err = 0;
	cw->watch.fn = cwait_cancel;
	return gort__ctx_watch(ctx, &cw->watch);
}

void gort__cwait_queue(struct gort__cwait *cw, bool front)
{
	cw->w.state = GORT__WS_QUEUED;
	if (!cw->q)
		return;
	if (front)
		gort__waitq_push_front(cw->q, &cw->w);
	else
		gort__waitq_push(cw->q, &cw->w);
}

int gort__cwait_park(struct gort__cwait *cw, int reason, const char *file, int line)
{
	cw->w.state = GORT__WS_PARKED;
	gort__waiter_block(&cw->w, cw->lock, reason, file, line);
	/* Woken by a waker (GRANTED) or by the watch (CANCELLED); both wrote
	 * the state under the lock before waking us. */
	gort__cwait_end(cw);
	return gort__cwait_result(cw);
}

int gort__cwait_wait(struct gort__cwait *cw, bool front, int reason, const char *file, int line)
{
	gort__cwait_queue(cw, front);
	return gort__cwait_park(cw, reason, file, line);
}
