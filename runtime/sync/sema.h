/*
 * sema.h — the runtime's internal counting semaphore, on the parking
 * primitive (park.h).  The building block of the sync primitives (Go's
 * sema.go plays this role): a release that comes before the matching
 * acquire is remembered in count, so a waker never has to find a waiter
 * that has not queued yet.
 *
 * Protocol: count and waiters are guarded by lock.  release(n) adds n
 * tokens, pops up to n waiters (each takes one token), unlocks, then wakes
 * them, and touches the semaphore no more after its unlock: whoever
 * acquires may free the memory as soon as it returns.
 */
#ifndef GORT_RUNTIME_SYNC_SEMA_H
#define GORT_RUNTIME_SYNC_SEMA_H

#include "../park.h"

struct gort__sema {
	gort__lock lock;
	uint32_t count;            /* (l) tokens not yet taken */
	struct gort__waitq waiters; /* (l) */
};

void gort__sema_acquire(struct gort__sema *s, int reason, const char *file, int line);
void gort__sema_release(struct gort__sema *s, uint32_t n);

#endif
