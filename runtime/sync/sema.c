/*
 * sema.c — internal counting semaphore (protocol in sema.h).
 */
#include "sema.h"

#include "../../context/context.h"

void gort__sema_acquire(struct gort__sema *s, int reason, const char *file, int line)
{
	gort__lock_acquire(&s->lock);
	if (s->count > 0) {
		s->count--;
		gort__lock_release(&s->lock);
		return;
	}
	struct gort__waiter me;
	gort__waiter_init(&me);
	gort__waitq_push(&s->waiters, &me);
	/* The releaser took our token for us when it popped us. */
	gort__waiter_block(&me, &s->lock, reason, file, line);
}

void gort__sema_release(struct gort__sema *s, uint32_t n)
{
	struct gort__waiter *head = NULL, *tail = NULL;
	gort__lock_acquire(&s->lock);
	s->count += n;
	while (s->count > 0) {
		struct gort__waiter *w = gort__waitq_pop(&s->waiters);
		if (!w)
			break;
		s->count--;
		w->state = GORT__WS_GRANTED;
		if (tail)
			tail->next = w;
		else
			head = w;
		tail = w;
	}
	gort__lock_release(&s->lock);
	gort__waiter_wake_list(head);
}

/* A context-aware waiter, on the acquirer's stack. */
struct sema_wait {
	struct gort__waiter w;
	struct gort__ctx_watch watch;
	struct gort__sema *s;
	int err; /* (s->lock) the context's error, once cancelled */
};

/* The watch's function: runs once, under the context's lock. */
static void sema_cancel(struct gort__ctx_watch *watch, int err)
{
	struct sema_wait *sw = GORT__CONTAINER_OF(watch, struct sema_wait, watch);
	struct gort__sema *s = sw->s;
	gort__lock_acquire(&s->lock);
	uint32_t st = sw->w.state;
	if (st == GORT__WS_GRANTED) {
		gort__lock_release(&s->lock);
		return;
	}
	if (st == GORT__WS_QUEUED)
		gort__waitq_remove(&s->waiters, &sw->w);
	sw->w.state = GORT__WS_CANCELLED;
	sw->err = err;
	gort__lock_release(&s->lock);
	if (st == GORT__WS_QUEUED)
		gort__waiter_wake(&sw->w);
}

int gort__sema_acquire_opt(struct gort__sema *s, gort_ctx *ctx, bool lifo, int reason,
			   const char *file, int line)
{
	struct sema_wait sw;
	gort__waiter_init(&sw.w);
	sw.w.state = GORT__WS_NEW;
	sw.s = s;
	sw.err = 0;
	sw.watch.fn = sema_cancel;
	int err = gort__ctx_watch(ctx, &sw.watch);
	if (err)
		return err;
	gort__lock_acquire(&s->lock);
	if (sw.w.state == GORT__WS_CANCELLED) {
		gort__lock_release(&s->lock);
		gort__ctx_unwatch(&sw.watch);
		return sw.err;
	}
	if (s->count > 0) {
		s->count--;
		sw.w.state = GORT__WS_GRANTED;
		gort__lock_release(&s->lock);
		gort__ctx_unwatch(&sw.watch);
		return 0;
	}
	sw.w.state = GORT__WS_QUEUED;
	if (lifo)
		gort__waitq_push_front(&s->waiters, &sw.w);
	else
		gort__waitq_push(&s->waiters, &sw.w);
	gort__waiter_block(&sw.w, &s->lock, reason, file, line);
	/* Woken by a release (GRANTED) or by the watch (CANCELLED); both wrote
	 * the state under the lock before waking us. */
	gort__ctx_unwatch(&sw.watch);
	return sw.w.state == GORT__WS_GRANTED ? 0 : sw.err;
}

int gort__sema_acquire_ctx(struct gort__sema *s, gort_ctx *ctx, int reason, const char *file,
			   int line)
{
	return gort__sema_acquire_opt(s, ctx, false, reason, file, line);
}
