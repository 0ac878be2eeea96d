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
#include "../../context/context.h"

/* Values of gort__waiter.state (park.h), under the primitive's lock. */
enum {
	GORT__WS_NEW = 0,   /* not queued yet */
	GORT__WS_QUEUED,    /* on the wait queue, not parked yet (cond.c) */
	GORT__WS_GRANTED,   /* taken off the queue by a waker: it has what it waited for */
	GORT__WS_CANCELLED, /* its context ended the wait: it has nothing */
	GORT__WS_PARKED,    /* queued and parked: a waker must wake it */
};

/*
 * A cancellable wait (cwait.c): the one implementation of the watch rules
 * of context/context.h for every primitive that queues waiters on a
 * gort__waitq under its own lock.
 *   1. gort__cwait_begin(&cw, ctx, &lock, &queue, unqueue): arms the watch
 *      (before the lock is taken); nonzero: the context is done already.
 *   2. under the lock: gort__cwait_cancelled(&cw) says whether the watch
 *      fired meanwhile (then cw.err); else the primitive may grant at once
 *      (state GRANTED, unlock, gort__cwait_end), or
 *   3. gort__cwait_wait(&cw, front, ...): queue, park (the lock is
 *      released once off the stack), disarm; 0 if granted, else cw.err.
 *      (cond.c splits it: gort__cwait_queue, unlock, ..., lock,
 *      gort__cwait_park.)
 * A waker pops the waiter under the lock, sets GRANTED, and after
 * unlocking wakes it if it was PARKED.  The watch, under the lock: nothing
 * if GRANTED; else takes a queued waiter off the queue (unqueue(cw) when
 * set: it removes it and undoes what queueing promised, and returns other
 * waiters to wake after the unlock), marks it CANCELLED and wakes it if
 * it was parked.  q NULL: the waiter parks without queueing (nothing but
 * its context can end the wait).
 */
struct gort__cwait;
typedef struct gort__waiter *(*gort__cwait_unqueue_fn)(struct gort__cwait *cw);

struct gort__cwait {
	struct gort__waiter w;          /* its state under *lock */
	struct gort__ctx_watch watch;
	gort__lock *lock;               /* (i) the primitive's lock */
	struct gort__waitq *q;          /* (i) where it queues, or NULL */
	gort__cwait_unqueue_fn unqueue; /* (i) optional */
	int err;                        /* (*lock) the context's error, once cancelled */
};

/* The watch's function (cwait.c). */
void gort__cwait_cancel(struct gort__ctx_watch *watch, int err);

/* Inline, all of them: they are on the path of every contended wait. */
static inline int gort__cwait_begin(struct gort__cwait *cw, gort_ctx *ctx, gort__lock *lock,
				    struct gort__waitq *q, gort__cwait_unqueue_fn unqueue)
{
	gort__waiter_init(&cw->w);
	cw->w.state = GORT__WS_NEW;
	cw->lock = lock;
	cw->q = q;
	cw->unqueue = unqueue;
	cw->err = 0;
	cw->watch.fn = gort__cwait_cancel;
	return gort__ctx_watch(ctx, &cw->watch);
}

static inline bool gort__cwait_cancelled(const struct gort__cwait *cw)
{
	return cw->w.state == GORT__WS_CANCELLED;
}

/* Lock held: queue (at the head if front); state QUEUED. */
static inline void gort__cwait_queue(struct gort__cwait *cw, bool front)
{
	cw->w.state = GORT__WS_QUEUED;
	if (!cw->q)
		return;
	if (front)
		gort__waitq_push_front(cw->q, &cw->w);
	else
		gort__waitq_push(cw->q, &cw->w);
}

/* The wait ended without parking (lock released): disarm. */
static inline void gort__cwait_end(struct gort__cwait *cw)
{
	gort__ctx_unwatch(&cw->watch);
}
static inline int gort__cwait_result(const struct gort__cwait *cw)
{
	return cw->w.state == GORT__WS_GRANTED ? 0 : cw->err;
}

/* Lock held, state QUEUED: park (the lock is released once off the
 * stack), disarm; the result.  Woken by a waker (GRANTED) or by the watch
 * (CANCELLED); both wrote the state under the lock before waking. */
static inline int gort__cwait_park(struct gort__cwait *cw, int reason, const char *file, int line)
{
	cw->w.state = GORT__WS_PARKED;
	gort__waiter_block(&cw->w, cw->lock, reason, file, line);
	gort__cwait_end(cw);
	return gort__cwait_result(cw);
}

/* Lock held: queue and park. */
static inline int gort__cwait_wait(struct gort__cwait *cw, bool front, int reason, const char *file,
				   int line)
{
	gort__cwait_queue(cw, front);
	return gort__cwait_park(cw, reason, file, line);
}

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
