/*
 * park.c — blocking a waiter and waking it (protocol in park.h).
 */
#include "park.h"

static bool unlock_lock(void *arg)
{
	gort__lock_release(arg);
	return true;
}

void gort__waiter_block_fn(struct gort__waiter *w, gort__unlock_fn unlock, void *arg, int reason,
			   const char *file, int line)
{
	if (w->g) {
		gort__park(unlock, arg, reason, file, line);
		return;
	}
	unlock(arg);
	gort__note_sleep(&w->note);
}

void gort__waiter_block(struct gort__waiter *w, gort__lock *lk, int reason, const char *file,
			int line)
{
	gort__waiter_block_fn(w, unlock_lock, lk, reason, file, line);
}

void gort__waiter_wake(struct gort__waiter *w)
{
	struct gort__g *g = w->g;
	if (g)
		gort__ready(g);
	else
		gort__note_wake(&w->note);
}

void gort__waiter_wake_list(struct gort__waiter *w)
{
	while (w) {
		struct gort__waiter *next = w->next; /* read before w may vanish */
		gort__waiter_wake(w);
		w = next;
	}
}
