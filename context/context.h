/*
 * context.h — the context tree's internals (see context.c for the design)
 * and the one hook every context-aware wait uses: a watch.
 *
 * A watch is armed on a context by a waiter before it queues on whatever
 * it waits for (a semaphore, a mutex, a condition).  When the context is
 * done, the context's canceller calls the watch's fn once, with the
 * context's lock held (lock order: context -> the primitive's lock ->
 * scheduler).  fn typically takes the primitive's lock, takes the waiter
 * off its queue if it is still there (else the primitive already granted
 * it), marks it cancelled, unlocks, and wakes it.  The waiter, once it
 * runs again (woken either way), disarms the watch: gort__ctx_unwatch
 * returns only when fn is not running and never will, so the watch may
 * live on the waiter's stack.
 *
 * Rules for a waiter:
 *   1. arm the watch (gort__ctx_watch) before taking the primitive's lock
 *      (the canceller takes them in the other order);
 *   2. under the primitive's lock, check whether fn already ran (fn marks
 *      the waiter even when it was not queued yet) before queueing;
 *   3. after waking, gort__ctx_unwatch without holding the primitive's
 *      lock.
 */
#ifndef GORT_CONTEXT_CONTEXT_H
#define GORT_CONTEXT_CONTEXT_H

#include <gort.h>

#include "../runtime/rt.h"
#include "../runtime/timer.h"

struct gort__ctx_watch;
typedef void (*gort__ctx_watch_fn)(struct gort__ctx_watch *w, int err);

struct gort__ctx_watch {
	struct gort__ctx_watch *next, *prev; /* (the watched node's lock) */
	gort__ctx_watch_fn fn;               /* set by the waiter before arming */
	struct gort_ctx *node;               /* (node lock) on its list; NULL once fired */
	struct gort_ctx *armed_on;           /* (the waiter's own) the node it armed on */
};

/* Arm w (w->fn set) on ctx.  0, or the context's error if it is done
 * already (then w is not armed and fn will not run).  A context that can
 * never be done (NULL, background, values over it) arms nothing and
 * returns 0. */
int gort__ctx_watch(gort_ctx *ctx, struct gort__ctx_watch *w);
/* Disarm w: afterwards its fn is not running and will never run. */
void gort__ctx_unwatch(struct gort__ctx_watch *w);

/* The check at the start of every wait with a context: gort_ctx_err's
 * answer (a deadline from before a gort_stop settled: expired, or armed
 * again), or, for a context whose deadline is still to come but has no
 * timer of this run to end it, -ESRCH when the runtime is not running and
 * -ENOMEM when it is (the timer could not be armed again). */
int gort__ctx_wait_err(gort_ctx *ctx);

/* ctx's done channel for a wait: 0 and *done (NULL for a context that can
 * never be done), or -ENOMEM when it could be done but its channel could
 * not be made (the wait must not go on without it: it could not be
 * cancelled). */
int gort__ctx_done_for_wait(gort_ctx *ctx, gort_chan **done);

/* ctx, or background for NULL. */
gort_ctx *gort__ctx_or_background(gort_ctx *ctx);

#endif
