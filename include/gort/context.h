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
 *
 * Contexts outlive the runtime: gort_stop drops the deadline timers armed
 * in its run, and the next use of a context whose deadline was pending
 * (gort_ctx_err, gort_ctx_done, any _ctx call, on it or a descendant)
 * settles it: a deadline that has passed ends it with
 * GORT_DEADLINE_EXCEEDED, one still to come is armed again if the runtime
 * runs (again).  While the runtime is not running such a deadline cannot
 * fire: a _ctx call on it returns -ESRCH at once (and -ENOMEM if, running,
 * its timer could not be armed again).  Contexts without a deadline need
 * no runtime.
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

/*
 * The root: never done, no deadline, no values.  Static: retain and
 * release do nothing to it.
 * Returns: the background context (never NULL).
 * Blocks: no
 * Threads: any coroutine or thread; the runtime need not run.
 */
GORT_API gort_ctx *gort_ctx_background(void);

/*
 * A child of parent (NULL: background) that is done when cancelled or
 * when its parent is done (at once if the parent is done already).  The
 * call site is recorded for the leak check.
 * Returns: the new context (one reference; cancel it, then release it),
 *   or NULL if memory is short.
 * Blocks: no
 * Threads: any coroutine or thread; the runtime need not run.
 */
GORT_API gort_ctx *gort_ctx_with_cancel_at(gort_ctx *parent, const char *file, int line);
#define gort_ctx_with_cancel(parent) gort_ctx_with_cancel_at((parent), __FILE__, __LINE__)

/*
 * A child that is also done at deadline (absolute gort_now() ns), with
 * GORT_DEADLINE_EXCEEDED; a parent's earlier deadline wins (the child then
 * has no deadline of its own).  A deadline in the past gives a context
 * that is done already.  gort_ctx_with_timeout(parent, ns) is
 * gort_ctx_with_deadline(parent, gort_now() + ns) (saturating).  The
 * deadline's timer cancels the context on the thread that runs it; it
 * needs no coroutine.
 * Returns: the new context (one reference; cancel it, then release it),
 *   or NULL if memory is short or, for a deadline in the future, if the
 *   runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_ctx *gort_ctx_with_deadline_at(gort_ctx *parent, int64_t deadline, const char *file,
					     int line);
#define gort_ctx_with_deadline(parent, deadline)                                                   \
	gort_ctx_with_deadline_at((parent), (deadline), __FILE__, __LINE__)
GORT_API gort_ctx *gort_ctx_with_timeout_at(gort_ctx *parent, int64_t ns, const char *file, int line);
#define gort_ctx_with_timeout(parent, ns) gort_ctx_with_timeout_at((parent), (ns), __FILE__, __LINE__)

/*
 * A child of parent (NULL: background) carrying key -> value (key compared
 * by address).  It has no cancel of its own; done, err and deadline are
 * its parent's.
 * Returns: the new context (one reference; release it), or NULL if
 *   memory is short.
 * Blocks: no
 * Threads: any coroutine or thread; the runtime need not run.
 * Panics: "context: nil key" if key is NULL (as Go's WithValue).
 */
GORT_API gort_ctx *gort_ctx_with_value(gort_ctx *parent, const void *key, void *value);
/*
 * Looks key up: the value of the nearest context from ctx up the tree
 * that carries key.
 * Returns: that value, or NULL if none carries key (or ctx is NULL).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API void *gort_ctx_value(gort_ctx *ctx, const void *key);

/*
 * Cancels ctx and its descendants with GORT_CANCELED (the cause is
 * GORT_CANCELED too): every _ctx call waiting on them returns, their done
 * channels close, their deadline timers stop.  Does nothing to a context
 * that is done already, to NULL, or to one without a cancel (background,
 * value contexts).  gort_ctx_cancel_cause does the same recording cause
 * (any nonzero code: an errno-style negative number, or the program's
 * own; 0 means GORT_CANCELED) as the cause of ctx and its descendants.
 * Blocks: no (beyond the locks of the waits it ends)
 * Threads: any coroutine or thread.
 */
GORT_API void gort_ctx_cancel(gort_ctx *ctx);
GORT_API void gort_ctx_cancel_cause(gort_ctx *ctx, int cause);

/*
 * Whether ctx is done, and why (Go's ctx.Err()).
 * Returns: 0 while ctx is not done (always for NULL and background);
 *   GORT_CANCELED or GORT_DEADLINE_EXCEEDED once it is.
 * Blocks: no (one atomic load; the first use of a context whose deadline
 *   was pending at a gort_stop settles it: see the top of this file)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_ctx_err(gort_ctx *ctx);
/*
 * The cause given to the cancel that ended ctx (Go's context.Cause).
 * Returns: 0 while ctx is not done; else the gort_ctx_cancel_cause code,
 *   or the error (GORT_CANCELED, GORT_DEADLINE_EXCEEDED) when none was
 *   given.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_ctx_cause(gort_ctx *ctx);
/*
 * ctx's deadline: the earliest one up the tree.  deadline may be NULL.
 * Returns: true if ctx has a deadline (then *deadline gets it, absolute
 *   gort_now() ns); false if not.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API bool gort_ctx_deadline(gort_ctx *ctx, int64_t *deadline);
/*
 * A channel that is closed when ctx is done, for a select case (Go's
 * ctx.Done()); made on first use.
 * Returns: a borrowed reference, valid while ctx is; NULL for a context
 *   that can never be done (NULL, background, values over it: a nil
 *   channel, whose case is never chosen), and NULL if memory is short.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_chan *gort_ctx_done(gort_ctx *ctx);

/*
 * Takes (retain) and drops (release) a reference to ctx; the context is
 * freed when the last one goes (its parent and its deadline timer hold
 * their own).  Both accept NULL and background and do nothing with them.
 * Releasing the last handle of a context with a cancel that is neither
 * done nor cancelled records a lost cancel for the leak check (Go's
 * lostcancel).  A release after the last one uses freed memory, as
 * free(3) twice does: it is a fatal error ("released more times than
 * retained") while that memory has not been reused, undefined after.
 * Returns: retain: ctx.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_ctx *gort_ctx_retain(gort_ctx *ctx);
GORT_API void gort_ctx_release(gort_ctx *ctx);

/*
 * Runs fn(arg) in a new coroutine ("context after-func") once ctx is done
 * (at once if it is; never if it cannot be): Go's context.AfterFunc.  The
 * handle is freed by gort_ctx_after_func_stop, which must be called once,
 * before or after fn ran.  When no coroutine can be made as ctx ends (out
 * of memory), the start is tried again on a timer (after 1 ms, doubling
 * up to 100 ms), so fn runs late rather than never; if ctx ends while the
 * runtime is not running, or the runtime stops first, fn never runs.
 * Returns: the handle, or NULL if fn is NULL, if ctx is done already
 *   while the runtime is not running (fn could not start), or if memory
 *   is short.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
typedef struct gort_ctx_after gort_ctx_after;
GORT_API gort_ctx_after *gort_ctx_after_func(gort_ctx *ctx, void (*fn)(void *arg), void *arg);
/*
 * Stops an after-func and frees its handle (a NULL a: false).  A second
 * stop of a handle uses freed memory (undefined, as free(3) twice).
 * Returns: true if fn will now never run; false if it was started
 *   already.
 * Blocks: no (it does not wait for fn)
 * Threads: any coroutine or thread; once per handle.
 */
GORT_API bool gort_ctx_after_func_stop(gort_ctx_after *a);

/* ------------------------------------------------------------------------ */
/* Blocking calls with a context (see the top of this file)                  */
/* ------------------------------------------------------------------------ */

/*
 * gort_chan_send and gort_chan_recv that also end when ctx is done; recv
 * sets *ok as gort_chan_recv does.  Built as a select with one more case
 * (the context's done channel).  Should the done channel not be made
 * (memory short), they wait as the plain forms do, without the context.
 * Returns: 0 when the value was sent or received; GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (nothing sent or received); -EINVAL for send's
 *   elem NULL as gort_chan_send; -ESRCH or -ENOMEM for a deadline from
 *   before a gort_stop (see the top of this file).
 * Blocks: yes: parks the coroutine (a plain thread sleeps) until done or
 *   ctx is done
 * Context: takes ctx (NULL: background, as the plain forms)
 * Threads: any coroutine or thread.
 * Panics: send: "send on closed channel", as gort_chan_send.
 */
GORT_API int gort_chan_send_ctx_at(gort_ctx *ctx, gort_chan *c, const void *elem, const char *file,
				   int line);
#define gort_chan_send_ctx(ctx, c, elem) gort_chan_send_ctx_at((ctx), (c), (elem), __FILE__, __LINE__)
GORT_API int gort_chan_recv_ctx_at(gort_ctx *ctx, gort_chan *c, void *elem, bool *ok,
				   const char *file, int line);
#define gort_chan_recv_ctx(ctx, c, elem, ok)                                                       \
	gort_chan_recv_ctx_at((ctx), (c), (elem), (ok), __FILE__, __LINE__)
/*
 * A blocking gort_select that also ends when ctx is done.
 * Returns: the index of the case done; GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (no case done); -ENOMEM if a select of 16
 *   cases or more could not copy them; -EINVAL for bad cases, as
 *   gort_select; -ESRCH or -ENOMEM for a deadline from before a gort_stop
 *   (see the top of this file).
 * Blocks: yes: until a case is ready or ctx is done
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread.
 * Panics: "send on closed channel", as gort_select.
 */
GORT_API int gort_select_ctx_at(gort_ctx *ctx, gort_case *cases, size_t n, const char *file,
				int line);
#define gort_select_ctx(ctx, cases, n) gort_select_ctx_at((ctx), (cases), (n), __FILE__, __LINE__)
/*
 * Sleeps ns, or less if ctx is done first.
 * Returns: 0 after the whole sleep; GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED if ctx ended it (or was done at the start);
 *   -ESRCH if the runtime is not running and ctx can be cancelled (the
 *   sleep needs a timer; with a ctx that can never be done it is
 *   gort_sleep, which needs none); -ENOMEM if no timer could be made; as
 *   every _ctx call, -ESRCH or -ENOMEM for a deadline from before a
 *   gort_stop (see the top of this file).
 * Blocks: yes: for ns, or until ctx is done
 * Context: takes ctx (NULL: background, as gort_sleep)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_sleep_ctx_at(gort_ctx *ctx, int64_t ns, const char *file, int line);
#define gort_sleep_ctx(ctx, ns) gort_sleep_ctx_at((ctx), (ns), __FILE__, __LINE__)
/*
 * gort_wg_wait that also ends when ctx is done.
 * Returns: 0 once the counter is zero; GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (the waiter is counted out again); -EINVAL if
 *   wg is NULL; -ESRCH or -ENOMEM for a deadline from before a gort_stop
 *   (see the top of this file).
 * Blocks: yes: until the counter is zero or ctx is done
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_wg_wait_ctx_at(gort_ctx *ctx, gort_wg *wg, const char *file, int line);
#define gort_wg_wait_ctx(ctx, wg) gort_wg_wait_ctx_at((ctx), (wg), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
#endif /* GORT_CONTEXT_H */
