/*
 * cwait.c — the cancellable wait shared by the sync primitives (protocol
 * in sema.h; the watch rules in context/context.h).
 */
#include "sema.h"

/* The watch's function: runs once, under the context's lock. */
void gort__cwait_cancel(struct gort__ctx_watch *watch, int err)
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
