/*
 * park.c — blocking a waiter and waking it (protocol in park.h).
 */
#include "park.h"

bool gort__unlock_lock(void *lock)
{
	gort__lock_release(lock);
	return true;
}

void gort__waiter_wake_list(struct gort__waiter *w)
{
	while (w) {
		struct gort__waiter *next = w->next; /* read before w may vanish */
		gort__waiter_wake(w);
		w = next;
	}
}
