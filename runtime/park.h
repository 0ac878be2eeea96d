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

#include "rt.h"

struct gort__waiter {
	struct gort__g *g;   /* the waiting coroutine, NULL for a plain thread */
	gort__note note;     /* a plain thread sleeps here */
	struct gort__waiter *next, *prev; /* (l) the wait queue's lock */
};

/* A FIFO of waiters, guarded by its owner's lock. */
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
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
}

static inline struct gort__waiter *gort__waitq_pop(struct gort__waitq *q)
{
	struct gort__waiter *w = q->head;
	if (w) {
		q->head = w->next;
		if (q->head)
			q->head->prev = NULL;
		else
			q->tail = NULL;
		w->next = w->prev = NULL;
	}
	return w;
}

static inline void gort__waitq_remove(struct gort__waitq *q, struct gort__waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
}

/* Take the whole queue (to wake every waiter after unlocking). */
static inline struct gort__waiter *gort__waitq_take_all(struct gort__waitq *q)
{
	struct gort__waiter *h = q->head;
	q->head = q->tail = NULL;
	return h;
}

void gort__waiter_block(struct gort__waiter *w, gort__lock *lk, int reason, const char *file,
			int line);
/* The same, for waits guarded by more than one lock (select): unlock(arg)
 * releases them; it runs after the coroutine is off its stack. */
void gort__waiter_block_fn(struct gort__waiter *w, gort__unlock_fn unlock, void *arg, int reason,
			   const char *file, int line);
void gort__waiter_wake(struct gort__waiter *w);

/* Wake every waiter of a list taken with gort__waitq_take_all. */
void gort__waiter_wake_list(struct gort__waiter *w);

#endif
