/*
 * waitgroup.c — Go's sync.WaitGroup on the parking primitive (park.h).
 *
 * count is atomic: Add is one fetch_add unless the counter reaches zero.
 * Waiters queue under lock.  Why no wakeup is lost: a waiter re-reads count
 * under lock before it queues; the Add that brings count to zero does its
 * fetch_add (acq_rel) before it takes lock to wake.  So either the waiter's
 * re-read (after that Add released lock) sees zero, or the Add takes lock
 * after the waiter queued and finds it.
 */
#include <assert.h>

#include "../park.h"

struct wg_impl {
	_Atomic int64_t count;     /* (a) acq_rel */
	gort__lock lock;
	struct gort__waitq waiters; /* (l) */
};

static_assert(sizeof(struct wg_impl) <= sizeof(gort_wg), "gort_wg too small");
static_assert(_Alignof(struct wg_impl) <= _Alignof(gort_wg), "gort_wg under-aligned");

void gort_wg_add(gort_wg *wg, int64_t delta)
{
	struct wg_impl *w = (struct wg_impl *)(void *)wg;
	int64_t v = atomic_fetch_add_explicit(&w->count, delta, memory_order_acq_rel) + delta;
	if (v < 0)
		gort__panic_msg("sync: negative WaitGroup counter");
	if (v > 0)
		return;
	gort__lock_acquire(&w->lock);
	struct gort__waiter *list = gort__waitq_take_all(&w->waiters);
	gort__lock_release(&w->lock);
	gort__waiter_wake_list(list);
}

void gort_wg_done(gort_wg *wg)
{
	gort_wg_add(wg, -1);
}

void gort_wg_wait_at(gort_wg *wg, const char *file, int line)
{
	struct wg_impl *w = (struct wg_impl *)(void *)wg;
	if (atomic_load_explicit(&w->count, memory_order_acquire) == 0)
		return;
	struct gort__waiter me;
	gort__waiter_init(&me);
	gort__lock_acquire(&w->lock);
	if (atomic_load_explicit(&w->count, memory_order_acquire) == 0) {
		gort__lock_release(&w->lock);
		return;
	}
	gort__waitq_push(&w->waiters, &me);
	gort__waiter_block(&me, &w->lock, GORT__WR_WAITGROUP, file, line);
}
