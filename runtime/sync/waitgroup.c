/*
 * waitgroup.c — Go's sync.WaitGroup.
 *
 * state packs the counter (high 32 bits, signed) and the number of waiters
 * (low 32 bits) in one atomic word, as Go does, so that:
 *   - Add that leaves the counter above zero, or brings it to zero with no
 *     waiters, is one fetch_add and never touches the group again (a Wait
 *     that saw zero may already have returned and freed it);
 *   - Wait counts itself in with a CAS that only succeeds while the counter
 *     is non-zero, then sleeps on the semaphore;
 *   - the Add that brings the counter to zero with w waiters resets the
 *     word to 0 and releases w tokens on the semaphore in one locked step
 *     (sema.h), after which it touches nothing.  A waiter that has counted
 *     itself in but not queued yet finds its token waiting.
 * Misuse panics as in Go: a negative counter; Add racing a Wait when the
 * counter starts from zero.
 *
 * wait_ctx: the waiter counts itself in as Wait does and sleeps on the
 * semaphore with the context (sema.h: a cancelled sleep takes no token).
 * Cancelled, it takes its count back with a CAS while the counter is not
 * zero.  If the counter is zero, the Add that brought it there has reset
 * the word and released (or is releasing) a token for every waiter it
 * counted, this one included: it takes that token (a plain acquire, which
 * returns at once or as soon as the release lands) and the wait has
 * succeeded (0), so no token is left behind for a later Wait to take by
 * mistake.  As in Go, a group must not be reused (Add from zero) before
 * every earlier Wait, this one included, has returned.
 */
#include <assert.h>
#include <limits.h>

#include "../../context/context.h"
#include "sema.h"

struct wg_impl {
	_Atomic uint64_t state; /* (a) counter << 32 | waiters; acq_rel */
	struct gort__sema sema;
};

static_assert(sizeof(struct wg_impl) <= sizeof(gort_wg), "gort_wg too small");

int64_t gort__wg_counter(const void *wg)
{
	const struct wg_impl *w = wg;
	return (int32_t)(atomic_load_explicit(&((struct wg_impl *)(uintptr_t)w)->state, memory_order_acquire) >> 32);
}
static_assert(_Alignof(struct wg_impl) <= _Alignof(gort_wg), "gort_wg under-aligned");

void gort_wg_add(gort_wg *wg, int64_t delta)
{
	struct wg_impl *w = (struct wg_impl *)(void *)wg;
	if (gort__unlikely(!wg))
		gort__panic_msg("gort_wg_add: wg is NULL");
	if (delta > INT32_MAX || delta < -(int64_t)INT32_MAX)
		gort__panic_msg("sync: WaitGroup delta out of range");
	uint64_t state = atomic_fetch_add_explicit(&w->state, (uint64_t)delta << 32,
						   memory_order_acq_rel) +
			 ((uint64_t)delta << 32);
	int32_t v = (int32_t)(state >> 32);
	uint32_t waiters = (uint32_t)state;
	if (v < 0)
		gort__panic_msg("sync: negative WaitGroup counter");
	if (waiters != 0 && delta > 0 && v == (int32_t)delta)
		gort__panic_msg("sync: WaitGroup misuse: Add called concurrently with Wait");
	if (v > 0 || waiters == 0)
		return;
	/* Counter reached zero with waiters: nobody may change the state now
	 * but us (Adds must not race a Wait that is releasing). */
	if (atomic_load_explicit(&w->state, memory_order_relaxed) != state)
		gort__panic_msg("sync: WaitGroup misuse: Add called concurrently with Wait");
	atomic_store_explicit(&w->state, 0, memory_order_relaxed);
	gort__sema_release(&w->sema, waiters);
}

void gort_wg_done(gort_wg *wg)
{
	gort_wg_add(wg, -1);
}

void gort_wg_wait_at(gort_wg *wg, const char *file, int line)
{
	struct wg_impl *w = (struct wg_impl *)(void *)wg;
	if (gort__unlikely(!wg))
		gort__panic_msg("gort_wg_wait: wg is NULL");
	uint64_t state = atomic_load_explicit(&w->state, memory_order_acquire);
	for (;;) {
		if ((state >> 32) == 0)
			return;
		if (atomic_compare_exchange_weak_explicit(&w->state, &state, state + 1,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	gort__set_wait_obj(wg);
	gort__sema_acquire(&w->sema, GORT__WR_WAITGROUP, file, line);
	GORT__KEEP_FRAME();
}

int gort_wg_wait_ctx_at(gort_ctx *ctx, gort_wg *wg, const char *file, int line)
{
	struct wg_impl *w = (struct wg_impl *)(void *)wg;
	if (!wg)
		return -EINVAL;
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err;
	uint64_t state = atomic_load_explicit(&w->state, memory_order_acquire);
	for (;;) {
		if ((state >> 32) == 0)
			return 0;
		if (atomic_compare_exchange_weak_explicit(&w->state, &state, state + 1,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	gort__set_wait_obj(wg);
	err = gort__sema_acquire_ctx(&w->sema, ctx, GORT__WR_WAITGROUP, file, line);
	if (!err)
		return 0;
	state = atomic_load_explicit(&w->state, memory_order_acquire);
	while ((state >> 32) != 0) {
		if (atomic_compare_exchange_weak_explicit(&w->state, &state, state - 1,
							  memory_order_acq_rel, memory_order_acquire))
			return err;
	}
	gort__sema_acquire(&w->sema, GORT__WR_WAITGROUP, file, line);
	return 0;
}
