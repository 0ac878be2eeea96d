/*
 * lock.c — slow paths of gort__lock and gort__note (see lock.h for the
 * protocol).
 */
#include "lock.h"

#include <errno.h>
#include <sched.h>

#ifdef GORT__TSAN
__thread _Atomic int gort__fence_word;
#endif

static inline bool try_free(gort__lock *l)
{
	uint32_t z = 0;
	return atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
	       atomic_compare_exchange_weak_explicit(&l->state, &z, 1, memory_order_acquire,
						     memory_order_relaxed);
}

/* Contended: try a few times with short pauses (internal critical sections
 * are a few dozen instructions), yield the CPU once, then sleep on the
 * futex.  Sleeping early is what makes a hot lock fast: while the loser
 * sleeps, the winner's CPU runs on alone with the lock's cache line to
 * itself, instead of the two CPUs trading the line on every acquisition
 * (chanmpmc at procs=2: 130 ns an item with 100 spins, 70 with backoff,
 * 30 with this; one CPU alone: 26).  Go's runtime lock does the same. */
void gort__lock_slow(gort__lock *l)
{
	for (int i = 0; i < 4; i++) {
		if (try_free(l))
			return;
		for (int k = 0; k < 30; k++)
			gort__cpu_relax();
	}
	if (try_free(l))
		return;
	sched_yield();
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
