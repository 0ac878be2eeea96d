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
		if (tail)
			tail->next = w;
		else
			head = w;
		tail = w;
	}
	gort__lock_release(&s->lock);
	gort__waiter_wake_list(head);
}
