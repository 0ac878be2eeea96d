/*
 * park.h — the one way anything waits in gort: a waiter on a wait queue.
 *
 * A waiter is either the running coroutine (it parks: gort__park, its P
 * runs something else) or a plain thread (it sleeps on a futex note), so
 * every blocking primitive works from both.  Protocol, for every primitive:
 *   1. gort__waiter_init(&w) on the blocking side's stack;
 *   2. take the primitive's lock, re-check the condition, push &w on the
 *      primitive's wait queue;
 *   3. gort__waiter_block(&w, &lock, ...): releases the lock only once the
 *      coroutine is off its stack (or, for a thread, before it sleeps) and
 *      returns once woken;
 *   4. a waker takes the lock, pops waiters, releases the lock, and only
 *      then calls gort__waiter_wake on each (never wake under a lock).  It
 *      must read everything it needs from a waiter before waking it: the
 *      waiter's memory may be gone the moment it is woken.
 * No wakeup is lost: the waker can only find the waiter after step 2, and a
 * wake that comes before the coroutine is off its stack is impossible
 * because the lock is still held until then.
 */
#ifndef GORT_RUNTIME_PARK_H
#define GORT_RUNTIME_PARK_H

#include "list.h"
#include "rt.h"

struct gort__waiter {
	struct gort__g *g;   /* the waiting coroutine, NULL for a plain thread */
	gort__note note;     /* a plain thread sleeps here */
	struct gort__waiter *next, *prev; /* (l) the wait queue's lock */
	/* (l) for primitives whose waits can end two ways (granted, or
	 * cancelled by a context; runtime/sync/): one of GORT__WS_* in
	 * runtime/sync/sema.h, set and read under the primitive's lock.
	 * Other users leave it alone. */
	uint32_t state;
};

/* A FIFO of waiters, guarded by its owner's lock (list.h). */
struct gort__waitq {
	struct gort__waiter *head, *tail;
};

static inline void gort__waiter_init(struct gort__waiter *w)
{
	w->g = gort__getg();
	gort__note_clear(&w->note);
	w->next = w->prev = NULL;
}

static inline void gort__waitq_push(struct gort__waitq *q, struct gort__waiter *w)
{
	GORT__FIFO_PUSH(q, w);
}

/* At the head: a woken waiter that lost its race goes first next time. */
static inline void gort__waitq_push_front(struct gort__waitq *q, struct gort__waiter *w)
{
	GORT__FIFO_PUSH_FRONT(q, w);
}

static inline struct gort__waiter *gort__waitq_pop(struct gort__waitq *q)
{
	struct gort__waiter *w = q->head;
	if (w)
		GORT__FIFO_REMOVE(q, w);
	return w;
}

static inline void gort__waitq_remove(struct gort__waitq *q, struct gort__waiter *w)
{
	GORT__FIFO_REMOVE(q, w);
}

/* Take the whole queue (to wake every waiter after unlocking). */
static inline struct gort__waiter *gort__waitq_take_all(struct gort__waitq *q)
{
	struct gort__waiter *h = q->head;
	q->head = q->tail = NULL;
	return h;
}

/* Step 3 for waits guarded by any number of locks (select): unlock(arg)
 * releases them; for a coroutine it runs after it is off its stack.
 * Inline, like the rest of the protocol: these are on the path of every
 * blocking operation. */
static inline void gort__waiter_block_fn(struct gort__waiter *w, gort__unlock_fn unlock, void *arg,
					 int reason, const char *file, int line)
{
	if (w->g) {
		gort__park(unlock, arg, reason, file, line);
		return;
	}
	unlock(arg);
	gort__note_sleep(&w->note);
}

/* gort__lock_release as an unlock callback. */
bool gort__unlock_lock(void *lock);

/* Step 3 for a wait guarded by one lock. */
static inline void gort__waiter_block(struct gort__waiter *w, gort__lock *lk, int reason,
				      const char *file, int line)
{
	gort__waiter_block_fn(w, gort__unlock_lock, lk, reason, file, line);
}

static inline void gort__waiter_wake(struct gort__waiter *w)
{
	struct gort__g *g = w->g;
	if (g)
		gort__ready(g);
	else
		gort__note_wake(&w->note);
}

/* Wake every waiter of a list taken with gort__waitq_take_all. */
void gort__waiter_wake_list(struct gort__waiter *w);

#endif
