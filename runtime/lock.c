/*
 * lock.c — slow paths of gort__lock and gort__note (see lock.h for the
 * protocol).
 */
#include "lock.h"

#include <errno.h>

#ifdef GORT__TSAN
__thread _Atomic int gort__fence_word;
#endif

void gort__lock_slow(gort__lock *l)
{
	/* Spin a little: internal critical sections are a few dozen
	 * instructions, so the holder is usually about to release. */
	for (int i = 0; i < 100; i++) {
		uint32_t z = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &z, 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
		gort__cpu_relax();
	}
	/* Mark contended; whoever releases a 2 wakes one sleeper. */
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
		gort__futex_wait(&l->state, 2, -1);
}

void gort__lock_wake(gort__lock *l)
{
	gort__futex_wake(&l->state, 1);
}

void gort__note_wake(gort__note *n)
{
	atomic_store_explicit(&n->key, 1, memory_order_release);
	gort__futex_wake(&n->key, 1);
}

void gort__note_sleep(gort__note *n)
{
	while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
		gort__futex_wait(&n->key, 0, -1);
}

bool gort__note_sleep_until(gort__note *n, int64_t deadline_ns)
{
	while (atomic_load_explicit(&n->key, memory_order_acquire) == 0) {
		if (gort__futex_wait(&n->key, 0, deadline_ns) == -ETIMEDOUT)
			return atomic_load_explicit(&n->key, memory_order_acquire) != 0;
	}
	return true;
}
