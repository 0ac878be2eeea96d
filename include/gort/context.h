/*
 * gort/context.h — Go's context tree and the coroutine-aware sync toolbox.
 * Included by <gort.h>; do not include it on its own.
 *
 * Shape of context-aware calls: every blocking call has a `_ctx` sibling
 * that takes the context first (as Go's functions do).  It returns 0 when
 * the operation happened, or the context's error once the context is done:
 * GORT_CANCELED or GORT_DEADLINE_EXCEEDED; then the operation has not
 * happened (no value taken or given, no lock held, nothing acquired).  A
 * context that is already done when the call starts fails it at once.  A
 * NULL context is gort_ctx_background().
 */
#ifndef GORT_CONTEXT_H
#define GORT_CONTEXT_H

#ifndef GORT_H
#error "include <gort.h>, not <gort/context.h>"
#endif

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Contexts (context/)                                                       */
/* ------------------------------------------------------------------------ */

/* The errors of a done context (and of every _ctx call it ends). */
#define GORT_CANCELED (-ECANCELED)
#define GORT_DEADLINE_EXCEEDED (-ETIMEDOUT)

/*
 * A node of the context tree.  Reference-counted and thread-safe: the
 * gort_ctx_with_* calls return one reference, which the caller drops with
 * gort_ctx_release.  A context made with a cancel (with_cancel,
 * with_deadline, with_timeout) must also be cancelled with gort_ctx_cancel
 * when its work is done, as Go's cancel function: until then its parent
 * keeps it (and the leak check reports one released without a cancel).
 * Cancelling a context cancels all its descendants, in time proportional
 * to their number, and detaches it from its parent.
 */
typedef struct gort_ctx gort_ctx;

/* The root: never done, no deadline, no values.  Static: retain and
 * release do nothing to it.  Never blocks. */
GORT_API gort_ctx *gort_ctx_background(void);

/* A child that is done when cancelled or when its parent is done (parent
 * NULL: background).  NULL if memory is short.  The call site is recorded
 * for the leak check.  Never blocks. */
GORT_API gort_ctx *gort_ctx_with_cancel_at(gort_ctx *parent, const char *file, int line);
#define gort_ctx_with_cancel(parent) gort_ctx_with_cancel_at((parent), __FILE__, __LINE__)

/* A child that is also done at deadline (absolute gort_now() ns), with
 * GORT_DEADLINE_EXCEEDED; a parent's earlier deadline wins.  A deadline in
 * the past gives a context that is done already.  NULL if memory is short
 * or (for a deadline in the future) the runtime is not running. */
GORT_API gort_ctx *gort_ctx_with_deadline_at(gort_ctx *parent, int64_t deadline, const char *file,
					     int line);
#define gort_ctx_with_deadline(parent, deadline)                                                   \
	gort_ctx_with_deadline_at((parent), (deadline), __FILE__, __LINE__)
/* gort_ctx_with_deadline(parent, gort_now() + ns). */
GORT_API gort_ctx *gort_ctx_with_timeout_at(gort_ctx *parent, int64_t ns, const char *file, int line);
#define gort_ctx_with_timeout(parent, ns) gort_ctx_with_timeout_at((parent), (ns), __FILE__, __LINE__)

/* A child carrying key -> value (compared by address).  It has no cancel
 * of its own; done, err and deadline are its parent's.  NULL if memory is
 * short.  Never blocks. */
GORT_API gort_ctx *gort_ctx_with_value(gort_ctx *parent, const void *key, void *value);
/* The value of the nearest context up the tree that carries key, or NULL. */
GORT_API void *gort_ctx_value(gort_ctx *ctx, const void *key);

/* Cancel ctx and its descendants (GORT_CANCELED; the cause is
 * GORT_CANCELED too).  Does nothing to a context that is done already, or
 * to one without a cancel (background, value contexts).  Never blocks
 * (beyond the locks of the waits it ends).  Thread-safe. */
GORT_API void gort_ctx_cancel(gort_ctx *ctx);
/* The same, recording cause (any nonzero code: an errno-style negative
 * number, or the program's own) as the cause of ctx and its descendants. */
GORT_API void gort_ctx_cancel_cause(gort_ctx *ctx, int cause);

/* 0 while ctx is not done, else GORT_CANCELED or GORT_DEADLINE_EXCEEDED.
 * Never blocks. */
GORT_API int gort_ctx_err(gort_ctx *ctx);
/* The cause given to the cancel that ended ctx (Go's context.Cause): the
 * cancel_cause code, else the error.  0 while not done. */
GORT_API int gort_ctx_cause(gort_ctx *ctx);
/* Whether ctx has a deadline; if so, *deadline gets it (may be NULL). */
GORT_API bool gort_ctx_deadline(gort_ctx *ctx, int64_t *deadline);
/* A channel that is closed when ctx is done, for select (a borrowed
 * reference, valid while ctx is); made on first use.  NULL for a context
 * that can never be done (background, values over it): a nil channel,
 * whose case is never chosen.  NULL also if memory is short. */
GORT_API gort_chan *gort_ctx_done(gort_ctx *ctx);

GORT_API gort_ctx *gort_ctx_retain(gort_ctx *ctx);
GORT_API void gort_ctx_release(gort_ctx *ctx);

/* Run fn(arg) in a new coroutine once ctx is done (at once if it is).
 * Returns a handle for gort_ctx_after_func_stop, or NULL if memory is
 * short.  The handle is freed by gort_ctx_after_func_stop, which must be
 * called once, before or after fn ran. */
typedef struct gort_ctx_after gort_ctx_after;
GORT_API gort_ctx_after *gort_ctx_after_func(gort_ctx *ctx, void (*fn)(void *arg), void *arg);
/* Stop it: true if fn will now never run, false if it was started already.
 * Frees the handle. */
GORT_API bool gort_ctx_after_func_stop(gort_ctx_after *a);

/* ------------------------------------------------------------------------ */
/* Blocking calls with a context (see the top of this file)                  */
/* ------------------------------------------------------------------------ */

GORT_API int gort_chan_send_ctx_at(gort_ctx *ctx, gort_chan *c, const void *elem, const char *file,
				   int line);
#define gort_chan_send_ctx(ctx, c, elem) gort_chan_send_ctx_at((ctx), (c), (elem), __FILE__, __LINE__)
GORT_API int gort_chan_recv_ctx_at(gort_ctx *ctx, gort_chan *c, void *elem, bool *ok,
				   const char *file, int line);
#define gort_chan_recv_ctx(ctx, c, elem, ok)                                                       \
	gort_chan_recv_ctx_at((ctx), (c), (elem), (ok), __FILE__, __LINE__)
/* A select that also ends when ctx is done: the chosen index, or the
 * context's error. */
GORT_API int gort_select_ctx_at(gort_ctx *ctx, gort_case *cases, size_t n, const char *file,
				int line);
#define gort_select_ctx(ctx, cases, n) gort_select_ctx_at((ctx), (cases), (n), __FILE__, __LINE__)
/* Sleep ns, or less if ctx is done first (then its error). */
GORT_API int gort_sleep_ctx_at(gort_ctx *ctx, int64_t ns, const char *file, int line);
#define gort_sleep_ctx(ctx, ns) gort_sleep_ctx_at((ctx), (ns), __FILE__, __LINE__)
GORT_API int gort_wg_wait_ctx_at(gort_ctx *ctx, gort_wg *wg, const char *file, int line);
#define gort_wg_wait_ctx(ctx, wg) gort_wg_wait_ctx_at((ctx), (wg), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
#endif /* GORT_CONTEXT_H */
