/*
 * sema.h — the runtime's internal counting semaphore, on the parking
 * primitive (park.h).  The building block of the sync primitives (Go's
 * sema.go plays this role): a release that comes before the matching
 * acquire is remembered in count, so a waker never has to find a waiter
 * that has not queued yet.
 *
 * Protocol: count and waiters are guarded by lock.  release(n) adds n
 * tokens, pops up to n waiters (each takes one token and is marked
 * GORT__WS_GRANTED), unlocks, then wakes them, and touches the semaphore
 * no more after its unlock: whoever acquires may free the memory as soon
 * as it returns.
 *
 * A context-aware acquire (gort__sema_acquire_ctx/_opt) follows the watch
 * rules of context/context.h: the watch is armed before the lock is
 * taken; under the lock the waiter checks whether the watch already fired
 * (state CANCELLED) before it queues; the watch's function takes the lock,
 * unqueues the waiter if it is still queued (else a release granted it
 * first: the wait succeeded), marks it CANCELLED, unlocks and wakes it.  So
 * under the lock a waiter is granted or cancelled, never both, and a
 * cancelled acquire takes no token.
 */
#ifndef GORT_RUNTIME_SYNC_SEMA_H
#define GORT_RUNTIME_SYNC_SEMA_H

#include <stddef.h>

#include "../park.h"

/* Values of gort__waiter.state (park.h), under the primitive's lock. */
enum {
	GORT__WS_NEW = 0,   /* not queued yet */
	GORT__WS_QUEUED,    /* on the primitive's wait queue */
	GORT__WS_GRANTED,   /* taken off the queue by a waker: it has what it waited for */
	GORT__WS_CANCELLED, /* its context ended the wait: it has nothing */
	GORT__WS_PARKED,    /* queued and parked (cond.c: a waker must wake it) */
};

/* Wait reasons of the sync primitives, for dumps (rt.h, errors.c). */
#define GORT__SYNC_WR_MUTEX GORT__WR_MUTEX
#define GORT__SYNC_WR_RLOCK GORT__WR_RWMUTEX_R
#define GORT__SYNC_WR_WLOCK GORT__WR_RWMUTEX_W
#define GORT__SYNC_WR_COND GORT__WR_COND
#define GORT__SYNC_WR_SEMAPHORE GORT__WR_SEMAPHORE

/* The structure that holds member m at address p. */
#define GORT__CONTAINER_OF(p, type, m) ((type *)(void *)((char *)(p) - offsetof(type, m)))

struct gort__sema {
	gort__lock lock;
	uint32_t count;            /* (l) tokens not yet taken */
	struct gort__waitq waiters; /* (l) */
};

void gort__sema_acquire(struct gort__sema *s, int reason, const char *file, int line);
void gort__sema_release(struct gort__sema *s, uint32_t n);

/* Take a token, or give up when ctx is done: 0, or the context's error
 * (then no token was taken).  ctx NULL (or one that can never be done):
 * as gort__sema_acquire. */
int gort__sema_acquire_ctx(struct gort__sema *s, gort_ctx *ctx, int reason, const char *file,
			   int line);
/* The same; lifo queues the waiter at the head (a mutex waiter that was
 * woken and lost the race goes back first, as Go's semacquire with lifo). */
int gort__sema_acquire_opt(struct gort__sema *s, gort_ctx *ctx, bool lifo, int reason,
			   const char *file, int line);

#endif
