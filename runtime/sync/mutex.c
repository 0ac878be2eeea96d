/*
 * mutex.c — gort_mutex, Go's sync.Mutex: one state word and a semaphore.
 *
 * state (atomic): LOCKED | WOKEN | STARVING | waiters << 3.
 *   LOCKED    someone holds it;
 *   WOKEN     one entity is awake and about to compete: a waiter the
 *             semaphore released, or a spinner that announced itself so
 *             unlock wakes nobody (at most one at a time: only whoever
 *             sets WOKEN clears it);
 *   STARVING  starvation mode (below).  Invariant: STARVING implies
 *             LOCKED (the bit is set only while locked and cleared only by
 *             the holder, and a hand-off never drops LOCKED);
 *   waiters   waiters counted in with a CAS that will (or did) go to sleep
 *             on sema.  Each count is taken back exactly once: by an
 *             unlock that releases a token for it, or by the waiter when
 *             its context cancels the sleep.
 *
 * Normal mode: unlock drops LOCKED and, when there are waiters and nobody
 * is awake, takes one count back, sets WOKEN and releases one token; the
 * woken waiter competes with newcomers (which may win: they are running)
 * and, if it loses, queues again at the head of the semaphore (LIFO).
 * Fast, unfair.  Starvation mode: a woken waiter that has waited more
 * than 1 ms sets STARVING; from then on unlock keeps LOCKED, takes one
 * count back and hands the lock straight to the semaphore's head waiter;
 * newcomers queue at the tail without trying.  The receiver leaves
 * starvation mode when it waited less than 1 ms or no waiter is left.  A
 * woken waiter tells a hand-off (it owns the lock) from a wake (it must
 * compete) by STARVING: it is only set and cleared while some holder owns
 * the lock, and during a hand-off the receiver is that holder.
 *
 * Unlock decides everything in one CAS (release the lock, and whether to
 * release a token), and afterwards touches only the semaphore, whose
 * release touches nothing after its own unlock: a mutex may be freed by
 * whoever locks it next, once that one has unlocked it.
 *
 * lock_ctx: a waiter whose semaphore sleep is cancelled holds no token.  It
 * takes its count back if the count is not zero.  If it is zero, every
 * counted waiter has had its count taken back by an unlock, which owes it
 * a token (waiters = counts + tokens owed, and it is one of the waiters):
 * it takes that token (released or about to be) and continues as a woken
 * waiter: with a hand-off it owns the lock and returns 0; after a wake it
 * takes the lock if it is free (0), else clears WOKEN and returns the
 * context's error (the holder's unlock wakes the next one).
 *
 * Costs: uncontended lock and unlock one CAS each.  Contended: a spinner
 * (procs > 1) tries 4 times with 30 pauses between before it queues.
 */
#include <assert.h>

#include "sema.h"

enum {
	M_LOCKED = 1u,
	M_WOKEN = 2u,
	M_STARVING = 4u,
	M_SHIFT = 3,
	M_ONE = 1u << M_SHIFT,
};

#define STARVE_NS 1000000 /* a waiter that waited longer starves */
#define SPIN_TRIES 4
#define SPIN_PAUSES 30

struct mutex_impl {
	_Atomic uint32_t state; /* (a) see above; CAS acquire to lock, release to unlock */
	struct gort__sema sema;
};

static_assert(sizeof(struct mutex_impl) <= sizeof(gort_mutex), "gort_mutex too small");
static_assert(_Alignof(struct mutex_impl) <= _Alignof(gort_mutex), "gort_mutex under-aligned");

#define MU(mu) ((struct mutex_impl *)(void *)(mu))

static inline uint32_t nwaiters(uint32_t s)
{
	return s >> M_SHIFT;
}

static bool can_spin(int iter)
{
	return iter < SPIN_TRIES && gort__sched.nprocs > 1;
}

/* We own the lock by hand-off (starvation mode, LOCKED kept for us). */
static void took_handoff(struct mutex_impl *m, bool starving)
{
	uint32_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
	/* Only the holder clears STARVING, so no CAS is needed. */
	if (!starving || nwaiters(s) == 0)
		atomic_fetch_and_explicit(&m->state, ~(uint32_t)M_STARVING, memory_order_relaxed);
}

/* Our semaphore sleep was cancelled with err (see the top). */
static int lock_cancelled(struct mutex_impl *m, int err, bool starving, const char *file, int line)
{
	uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
	while (nwaiters(old) != 0) {
		if (atomic_compare_exchange_weak_explicit(&m->state, &old, old - M_ONE,
							  memory_order_relaxed, memory_order_relaxed))
			return err;
	}
	gort__sema_acquire(&m->sema, GORT__SYNC_WR_MUTEX, file, line);
	old = atomic_load_explicit(&m->state, memory_order_acquire);
	if (old & M_STARVING) {
		took_handoff(m, starving);
		return 0;
	}
	for (;;) {
		if (!(old & M_LOCKED)) {
			if (atomic_compare_exchange_weak_explicit(&m->state, &old,
								  (old | M_LOCKED) & ~(uint32_t)M_WOKEN,
								  memory_order_acquire, memory_order_relaxed))
				return 0;
		} else if (atomic_compare_exchange_weak_explicit(&m->state, &old, old & ~(uint32_t)M_WOKEN,
								 memory_order_relaxed, memory_order_relaxed)) {
			return err;
		}
	}
}

static int lock_slow(struct mutex_impl *m, gort_ctx *ctx, const char *file, int line)
{
	int64_t wait_start = 0;
	bool starving = false, awoke = false;
	int iter = 0;
	uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
	for (;;) {
		/* Spin while it is held in normal mode; announce ourselves
		 * (WOKEN) so that unlock does not wake a sleeper for nothing. */
		if ((old & (M_LOCKED | M_STARVING)) == M_LOCKED && can_spin(iter)) {
			if (!awoke && !(old & M_WOKEN) && nwaiters(old) != 0 &&
			    atomic_compare_exchange_weak_explicit(&m->state, &old, old | M_WOKEN,
								  memory_order_relaxed, memory_order_relaxed))
				awoke = true;
			for (int i = 0; i < SPIN_PAUSES; i++)
				gort__cpu_relax();
			iter++;
			old = atomic_load_explicit(&m->state, memory_order_relaxed);
			continue;
		}
		uint32_t new = old;
		if (!(old & M_STARVING))
			new |= M_LOCKED; /* newcomers never take a starving mutex */
		if (old & (M_LOCKED | M_STARVING))
			new += M_ONE;
		if (starving && (old & M_LOCKED))
			new |= M_STARVING;
		if (awoke) {
			if (!(new & M_WOKEN))
				gort__fatal("sync: inconsistent mutex state");
			new &= ~(uint32_t)M_WOKEN;
		}
		if (!atomic_compare_exchange_weak_explicit(&m->state, &old, new, memory_order_acquire,
							   memory_order_relaxed))
			continue;
		if (!(old & (M_LOCKED | M_STARVING)))
			return 0; /* took it */
		bool lifo = wait_start != 0;
		if (!wait_start)
			wait_start = gort__nanotime();
		int err = gort__sema_acquire_opt(&m->sema, ctx, lifo, GORT__SYNC_WR_MUTEX, file, line);
		starving = starving || gort__nanotime() - wait_start > STARVE_NS;
		if (err)
			return lock_cancelled(m, err, starving, file, line);
		old = atomic_load_explicit(&m->state, memory_order_acquire);
		if (old & M_STARVING) {
			took_handoff(m, starving);
			return 0;
		}
		awoke = true;
		iter = 0;
	}
}

static inline bool lock_fast(struct mutex_impl *m)
{
	uint32_t z = 0;
	return atomic_compare_exchange_strong_explicit(&m->state, &z, M_LOCKED, memory_order_acquire,
						       memory_order_relaxed);
}

void gort_mutex_lock_at(gort_mutex *mu, const char *file, int line)
{
	struct mutex_impl *m = MU(mu);
	if (gort__unlikely(!mu))
		gort__panic_msg("gort_mutex_lock: mu is NULL");
	if (!lock_fast(m)) {
		(void)lock_slow(m, NULL, file, line);
		GORT__KEEP_FRAME();
	}
}

int gort_mutex_lock_ctx_at(gort_ctx *ctx, gort_mutex *mu, const char *file, int line)
{
	struct mutex_impl *m = MU(mu);
	if (!mu)
		return -EINVAL;
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err;
	if (lock_fast(m))
		return 0;
	return lock_slow(m, ctx, file, line);
}

bool gort_mutex_trylock(gort_mutex *mu)
{
	struct mutex_impl *m = MU(mu);
	if (gort__unlikely(!mu))
		gort__panic_msg("gort_mutex_trylock: mu is NULL");
	uint32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
	while (!(old & (M_LOCKED | M_STARVING))) {
		if (atomic_compare_exchange_weak_explicit(&m->state, &old, old | M_LOCKED,
							  memory_order_acquire, memory_order_relaxed))
			return true;
	}
	return false;
}

static void unlock_slow(struct mutex_impl *m, uint32_t old)
{
	for (;;) {
		if (!(old & M_LOCKED))
			gort__panic_msg("sync: unlock of unlocked mutex");
		uint32_t new;
		bool release = false;
		if (old & M_STARVING) {
			if (nwaiters(old) == 0) {
				new = old & ~(uint32_t)(M_LOCKED | M_STARVING);
			} else {
				new = old - M_ONE; /* hand-off: LOCKED stays, for the receiver */
				release = true;
			}
		} else {
			new = old & ~(uint32_t)M_LOCKED;
			if (nwaiters(old) != 0 && !(old & M_WOKEN)) {
				new = (new - M_ONE) | M_WOKEN;
				release = true;
			}
		}
		if (atomic_compare_exchange_weak_explicit(&m->state, &old, new, memory_order_release,
							  memory_order_relaxed)) {
			if (release)
				gort__sema_release(&m->sema, 1);
			return;
		}
	}
}

void gort_mutex_unlock(gort_mutex *mu)
{
	struct mutex_impl *m = MU(mu);
	if (gort__unlikely(!mu))
		gort__panic_msg("gort_mutex_unlock: mu is NULL");
	uint32_t old = M_LOCKED;
	if (!atomic_compare_exchange_strong_explicit(&m->state, &old, 0, memory_order_release,
						     memory_order_relaxed))
		unlock_slow(m, old);
}
