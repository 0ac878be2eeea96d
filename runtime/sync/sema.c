/*
 * sema.c — internal counting semaphore (protocol in sema.h).
 */
#include "sema.h"

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

int gort__sema_acquire_opt(struct gort__sema *s, gort_ctx *ctx, bool lifo, int reason,
			   const char *file, int line)
{
	struct gort__cwait cw;
	int err = gort__cwait_begin(&cw, ctx, &s->lock, &s->waiters, NULL);
	if (err)
		return err;
	gort__lock_acquire(&s->lock);
	if (gort__cwait_cancelled(&cw) || s->count > 0) {
		if (!gort__cwait_cancelled(&cw)) {
			s->count--;
			cw.w.state = GORT__WS_GRANTED;
		}
		gort__lock_release(&s->lock);
		gort__cwait_end(&cw);
		return gort__cwait_result(&cw);
	}
	return gort__cwait_wait(&cw, lifo, reason, file, line);
}

int gort__sema_acquire_ctx(struct gort__sema *s, gort_ctx *ctx, int reason, const char *file,
			   int line)
{
	return gort__sema_acquire_opt(s, ctx, false, reason, file, line);
}
