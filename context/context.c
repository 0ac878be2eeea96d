/*
 * context.c — Go's context tree.
 *
 * Owns: every gort_ctx but the static background; the tree's links; the
 * done channels; the deadline timers; the watches (context.h) and
 * after-funcs armed on them.
 *
 * Kinds.  A *cancel node* (with_cancel, with_deadline, with_timeout) has a
 * lock, an error, children, watches and maybe a deadline.  A *value*
 * context carries one key/value and has no state of its own: its done,
 * err and deadline are those of its nearest cancel node above ("node").
 * Background is a static value-less root; a context whose chain holds no
 * cancel node can never be done (node == NULL).
 *
 * Tree links.  Every context holds a reference on its parent (so value
 * lookups can walk up, iteratively).  A cancel node that is not done is
 * attached to the nearest cancel node above it (its kids list), which holds
 * a reference on it: a child whose handle was released without a cancel
 * stays alive in its parent, as in Go (the leak check reports it).  A
 * cancel detaches the node from its parent and drops that reference, so
 * long-lived parents do not collect dead children.
 *
 * Cancellation is iterative: the canceller takes a node's lock, sets its
 * error and cause, takes its whole kids list (they are detached by that),
 * fires its watches (under the lock: context -> primitive lock order), and
 * unlocks; then it closes the node's done channel, stops its timer, and
 * goes on with the kids from a work list linked through the nodes
 * themselves.  Time is proportional to the number of descendants; no
 * recursion, whatever the depth.
 *
 * Deadlines.  A timer on the runtime's per-P heaps, armed "unlocked": its
 * callback runs just after the heap's lock is released (cancelling stops
 * the tree's timers, which may sit in that heap) and cancels with
 * GORT_DEADLINE_EXCEEDED on the M that ran the heap; nothing is spawned,
 * so a deadline cannot fail to fire.  A deadline later than the parent's
 * effective one is not armed (Go's rule).
 *
 * Locks: each node's lock guards its err/cause (err is also read lock-free:
 * atomic, set once), done, kids and watches, the arming of its deadline
 * timer, and the sibling links and attached_to of its kids.  Order: a
 * node's lock before any primitive's lock (watches) and before a timer
 * heap's (arming); never two node locks at once.
 */
#include "context.h"
#include "../runtime/debug/debug.h"

#include <stdlib.h>
#include <string.h>

enum { CTX_ROOT, CTX_CANCEL, CTX_VALUE };

struct gort_ctx {
	uint8_t kind;                /* (i) */
	struct gort_ctx *parent;     /* (i) referenced; NULL for the root */
	struct gort_ctx *node;       /* (i) nearest cancel node at or above, or NULL */
	struct gort_ctx *dl;         /* (i) nearest context at or above with a deadline
				      * of its own (the one that ends this one), or NULL */
	const void *key;             /* (i) CTX_VALUE */
	void *val;                   /* (i) CTX_VALUE */
	const char *file;            /* (i) creation site */
	int line;                    /* (i) */
	/* (a) acq_rel; freed at zero (not the root).  Past the first 32 bytes,
	 * which free(3) reuses for its lists: a release after the last one,
	 * before the memory is reused, still reads 0 here (a fatal error) */
	_Atomic int32_t refs;
	/* cancel nodes only: */
	gort__lock lock;
	_Atomic int err;             /* (lock) set once; read lock-free (acquire) */
	int cause;                   /* (lock) */
	gort_chan *done;             /* (lock) made on first use; once set, read
				      * lock-free (__atomic acquire/release) */
	struct gort_ctx *kids;       /* (lock) attached children */
	struct gort_ctx *sib_next, *sib_prev; /* (attached_to's lock) */
	struct gort_ctx *attached_to; /* (attached_to's lock) NULL once detached */
	struct gort__ctx_watch *watches; /* (lock) */
	struct gort_ctx *work_next;  /* (o) the canceller's work list */
	int64_t deadline;            /* (i) if has_deadline */
	bool has_deadline;           /* (i) a deadline of its own */
	struct gort__timer timer;    /* the deadline's; holds a reference while armed */
	_Atomic uint64_t armed_run;  /* (a, set under lock) gort__sched.run_id the timer
				      * was armed in: another run's is gone (dl_stale) */
	_Atomic int32_t handles;     /* (a) the owners' share of refs (public retain and
				      * release, cancel nodes only); acq_rel */
	bool lost_listed;            /* (lock) in the lost-cancel registry */
	struct gort__lost_ctx lost;  /* (lock, then lost_lock) its registry entry */
};

static struct gort_ctx background = {.kind = CTX_ROOT, .line = 0};

gort_ctx *gort_ctx_background(void)
{
	return &background;
}

gort_ctx *gort__ctx_or_background(gort_ctx *ctx)
{
	return ctx ? ctx : &background;
}

static gort_ctx *ctx_ref(gort_ctx *ctx)
{
	if (ctx && ctx != &background)
		atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	return ctx;
}

static void ctx_unref(gort_ctx *ctx)
{
	/* iterative: dropping the last reference to a deep chain frees it
	 * link by link */
	while (ctx && ctx != &background) {
		int32_t r = atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel);
		if (r > 1)
			return;
		if (r <= 0)
			gort__fatal("gort_ctx_release: context %p released more times than retained",
				    (void *)ctx);
		struct gort_ctx *parent = ctx->parent;
		if (ctx->lost_listed)
			gort__lost_ctx_remove(&ctx->lost);
		if (ctx->done)
			gort_chan_release(ctx->done);
		gort__sys_free(ctx);
		ctx = parent;
	}
}

/* The handles of a cancel node count its owners, apart from the internal
 * references (parent's list, timer, kids, after-funcs): when the last one
 * goes while the node is neither done nor cancelled, its cancel function
 * is lost (Go's lostcancel) and it joins the leak check's registry, until
 * a cancel from above or its deadline ends it. */
gort_ctx *gort_ctx_retain(gort_ctx *ctx)
{
	if (ctx && ctx->kind == CTX_CANCEL)
		atomic_fetch_add_explicit(&ctx->handles, 1, memory_order_relaxed);
	return ctx_ref(ctx);
}

void gort_ctx_release(gort_ctx *ctx)
{
	if (ctx && ctx->kind == CTX_CANCEL &&
	    atomic_fetch_sub_explicit(&ctx->handles, 1, memory_order_acq_rel) == 1 &&
	    atomic_load_explicit(&ctx->refs, memory_order_acquire) > 1) {
		/* someone else keeps it alive: is it lost? */
		gort__lock_acquire(&ctx->lock);
		if (!atomic_load_explicit(&ctx->err, memory_order_relaxed) && !ctx->lost_listed) {
			ctx->lost = (struct gort__lost_ctx){.file = ctx->file,
							    .line = ctx->line,
							    .has_deadline = ctx->has_deadline,
							    .deadline = ctx->deadline};
			gort__lost_ctx_add(&ctx->lost);
			ctx->lost_listed = true;
		}
		gort__lock_release(&ctx->lock);
	}
	ctx_unref(ctx);
}

static struct gort_ctx *ctx_new(gort_ctx *parent, uint8_t kind, const char *file, int line)
{
	struct gort_ctx *c = gort__sys_calloc(1, sizeof *c);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	atomic_init(&c->handles, 1);
	c->kind = kind;
	c->parent = ctx_ref(parent);
	c->node = kind == CTX_CANCEL ? c : parent->node;
	c->dl = parent->dl; /* with_deadline makes it c itself */
	c->file = file;
	c->line = line;
	return c;
}

/* ------------------------------------------------------------------ */
/* Cancellation                                                        */
/* ------------------------------------------------------------------ */

/* Stop n's deadline timer; drop the timer's reference if it was armed. */
static void stop_timer(struct gort_ctx *n)
{
	if (n->has_deadline && gort__timer_stop(&n->timer))
		ctx_unref(n);
}

/* Cancel the subtree under n (n included).  The caller holds a reference
 * on n; references on the kids come from their old parents' lists. */
static void cancel_tree(struct gort_ctx *n, int err, int cause)
{
	struct gort_ctx *work = NULL;
	bool first = true;
	while (n) {
		gort__lock_acquire(&n->lock);
		bool was_done = atomic_load_explicit(&n->err, memory_order_relaxed) != 0;
		struct gort_ctx *kids = NULL;
		gort_chan *done = NULL;
		if (!was_done) {
			n->cause = cause;
			atomic_store_explicit(&n->err, err, memory_order_release);
			if (n->lost_listed) {
				gort__lost_ctx_remove(&n->lost);
				n->lost_listed = false;
			}
			kids = n->kids;
			n->kids = NULL;
			for (struct gort_ctx *k = kids; k; k = k->sib_next)
				k->attached_to = NULL;
			struct gort__ctx_watch *w = n->watches;
			n->watches = NULL;
			while (w) {
				struct gort__ctx_watch *next = w->next; /* w may vanish in fn */
				w->node = NULL;
				w->fn(w, err);
				w = next;
			}
			done = n->done;
		}
		gort__lock_release(&n->lock);
		if (!was_done) {
			if (done)
				gort_chan_close(done);
			stop_timer(n);
			/* the kids join the work list with their parent's reference */
			while (kids) {
				struct gort_ctx *k = kids;
				kids = k->sib_next;
				k->sib_next = k->sib_prev = NULL;
				k->work_next = work;
				work = k;
			}
		}
		if (!first)
			ctx_unref(n); /* the reference its parent's list held */
		first = false;
		n = work;
		if (n)
			work = n->work_next;
	}
}

/* Take n off its parent's kids list (if it is still there). */
static void detach(struct gort_ctx *n)
{
	struct gort_ctx *p = n->parent ? n->parent->node : NULL;
	if (!p)
		return;
	bool was = false;
	gort__lock_acquire(&p->lock);
	if (n->attached_to == p) {
		if (n->sib_prev)
			n->sib_prev->sib_next = n->sib_next;
		else
			p->kids = n->sib_next;
		if (n->sib_next)
			n->sib_next->sib_prev = n->sib_prev;
		n->sib_next = n->sib_prev = NULL;
		n->attached_to = NULL;
		was = true;
	}
	gort__lock_release(&p->lock);
	if (was)
		ctx_unref(n); /* the parent's reference */
}

static void cancel_node(struct gort_ctx *n, int err, int cause)
{
	ctx_ref(n); /* the kids' release may not free n under us */
	cancel_tree(n, err, cause);
	detach(n);
	ctx_unref(n);
}

void gort_ctx_cancel_cause(gort_ctx *ctx, int cause)
{
	if (!ctx || ctx->kind != CTX_CANCEL)
		return;
	cancel_node(ctx, GORT_CANCELED, cause ? cause : GORT_CANCELED);
}

void gort_ctx_cancel(gort_ctx *ctx)
{
	gort_ctx_cancel_cause(ctx, 0);
}

/* ------------------------------------------------------------------ */
/* Making contexts                                                     */
/* ------------------------------------------------------------------ */

/* Attach a new cancel node under its parent's node, or make it done at
 * once if that node is done. */
static void attach(struct gort_ctx *c)
{
	struct gort_ctx *p = c->parent->node;
	if (!p)
		return; /* nothing above can ever be done */
	gort__lock_acquire(&p->lock);
	int err = atomic_load_explicit(&p->err, memory_order_relaxed);
	if (err) {
		c->cause = p->cause;
		atomic_store_explicit(&c->err, err, memory_order_release);
	} else {
		c->attached_to = p;
		c->sib_next = p->kids;
		if (p->kids)
			p->kids->sib_prev = c;
		p->kids = c;
		ctx_ref(c); /* the parent's reference */
	}
	gort__lock_release(&p->lock);
}

gort_ctx *gort_ctx_with_cancel_at(gort_ctx *parent, const char *file, int line)
{
	struct gort_ctx *c = ctx_new(gort__ctx_or_background(parent), CTX_CANCEL, file, line);
	if (c)
		attach(c);
	return c;
}

gort_ctx *gort_ctx_with_value(gort_ctx *parent, const void *key, void *value)
{
	if (!key)
		gort__panic_msg("context: nil key"); /* Go's WithValue */
	struct gort_ctx *c = ctx_new(gort__ctx_or_background(parent), CTX_VALUE, NULL, 0);
	if (c) {
		c->key = key;
		c->val = value;
	}
	return c;
}

/* Timer callback, run unlocked (gort__timer_start_unlocked): cancelling
 * stops the timers of the tree, which may sit in the heap just run. */
static void deadline_fire(struct gort__timer *t, void *arg, int64_t now)
{
	(void)t;
	(void)now;
	struct gort_ctx *c = arg;
	cancel_node(c, GORT_DEADLINE_EXCEEDED, GORT_DEADLINE_EXCEEDED);
	ctx_unref(c); /* the timer's reference */
}

gort_ctx *gort_ctx_with_deadline_at(gort_ctx *parent, int64_t deadline, const char *file, int line)
{
	parent = gort__ctx_or_background(parent);
	int64_t cur;
	if (gort_ctx_deadline(parent, &cur) && cur <= deadline)
		return gort_ctx_with_cancel_at(parent, file, line); /* the parent's comes first */
	struct gort_ctx *c = ctx_new(parent, CTX_CANCEL, file, line);
	if (!c)
		return NULL;
	c->deadline = deadline;
	c->has_deadline = true;
	attach(c);
	if (gort_ctx_err(c))
		return c;
	if (deadline <= gort__nanotime()) {
		cancel_node(c, GORT_DEADLINE_EXCEEDED, GORT_DEADLINE_EXCEEDED);
		return c;
	}
	if (!gort_running()) {
		cancel_node(c, GORT_CANCELED, GORT_CANCELED); /* detach it again */
		ctx_unref(c);
		return NULL;
	}
	/* Arm under c's lock: a canceller that took c from its parent's list
	 * meanwhile either set err first (then no timer) or finds the timer
	 * armed when it stops it (it takes this lock before). */
	gort__lock_acquire(&c->lock);
	int rc = 0;
	if (!atomic_load_explicit(&c->err, memory_order_relaxed)) {
		ctx_ref(c); /* the timer's */
		rc = gort__timer_start_unlocked(&c->timer, deadline, deadline_fire, c);
		if (rc) {
			atomic_fetch_sub(&c->refs, 1); /* not the last: the caller's is left */
		} else {
			/* only now: a deadline of its own that is not armed
			 * would look like one from an earlier run (dl_stale) */
			atomic_store_explicit(&c->armed_run, c->timer.run_id, memory_order_release);
			c->dl = c;
		}
	}
	gort__lock_release(&c->lock);
	if (rc) {
		cancel_node(c, GORT_CANCELED, GORT_CANCELED);
		ctx_unref(c);
		return NULL;
	}
	return c;
}

gort_ctx *gort_ctx_with_timeout_at(gort_ctx *parent, int64_t ns, const char *file, int line)
{
	int64_t now = gort__nanotime();
	int64_t deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns; /* saturate */
	return gort_ctx_with_deadline_at(parent, deadline, file, line);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* A deadline whose timer cannot fire: armed in a run of the runtime that
 * has stopped since (gort_stop drops every armed timer), or the runtime is
 * not running now. */
static inline bool dl_stale(struct gort_ctx *d)
{
	return atomic_load_explicit(&d->armed_run, memory_order_acquire) !=
		       atomic_load_explicit(&gort__sched.run_id, memory_order_acquire) ||
	       !atomic_load_explicit(&gort__sched.running, memory_order_acquire);
}

/* d's deadline timer was dropped by a gort_stop: settle it now.  A deadline
 * that has passed cancels d with GORT_DEADLINE_EXCEEDED (as its timer
 * would have); one still to come is armed again in this run when the
 * runtime runs (the dropped timer's reference goes on with it), else it is
 * left for the waits to refuse (gort__ctx_wait_err: -ESRCH). */
static void dl_revive(struct gort_ctx *d)
{
	bool expired = false;
	gort__lock_acquire(&d->lock);
	if (!atomic_load_explicit(&d->err, memory_order_relaxed) && dl_stale(d)) {
		if (d->deadline <= gort__nanotime())
			expired = true;
		else if (gort_running() &&
			 gort__timer_start_unlocked(&d->timer, d->deadline, deadline_fire, d) == 0)
			atomic_store_explicit(&d->armed_run, d->timer.run_id, memory_order_release);
	}
	gort__lock_release(&d->lock);
	if (expired)
		cancel_node(d, GORT_DEADLINE_EXCEEDED, GORT_DEADLINE_EXCEEDED);
}

int gort_ctx_err(gort_ctx *ctx)
{
	struct gort_ctx *n = ctx ? ctx->node : NULL;
	if (!n)
		return 0;
	int err = atomic_load_explicit(&n->err, memory_order_acquire);
	if (!err && ctx->dl && gort__unlikely(dl_stale(ctx->dl))) {
		dl_revive(ctx->dl); /* a context from before a gort_stop */
		err = atomic_load_explicit(&n->err, memory_order_acquire);
	}
	return err;
}

int gort__ctx_wait_err(gort_ctx *ctx)
{
	int err = gort_ctx_err(ctx);
	if (err || !ctx || !ctx->dl || gort__likely(!dl_stale(ctx->dl)))
		return err;
	/* its deadline is to come and no timer of this run can end it */
	return gort_running() ? -ENOMEM : -ESRCH;
}

int gort_ctx_cause(gort_ctx *ctx)
{
	struct gort_ctx *n = ctx ? ctx->node : NULL;
	if (!n || !gort_ctx_err(ctx)) /* gort_ctx_err: a deadline from an earlier run settled */
		return 0;
	gort__lock_acquire(&n->lock);
	int cause = n->cause;
	gort__lock_release(&n->lock);
	return cause;
}

bool gort_ctx_deadline(gort_ctx *ctx, int64_t *deadline)
{
	/* the nearest deadline up the tree is the earliest (see with_deadline) */
	for (struct gort_ctx *c = ctx; c; c = c->parent) {
		if (c->kind == CTX_CANCEL && c->has_deadline) {
			if (deadline)
				*deadline = c->deadline;
			return true;
		}
	}
	return false;
}

void *gort_ctx_value(gort_ctx *ctx, const void *key)
{
	for (struct gort_ctx *c = ctx; c; c = c->parent)
		if (c->kind == CTX_VALUE && c->key == key)
			return c->val;
	return NULL;
}

gort_chan *gort_ctx_done(gort_ctx *ctx)
{
	struct gort_ctx *n = ctx ? ctx->node : NULL;
	if (!n)
		return NULL;
	(void)gort_ctx_err(ctx); /* a deadline from before a gort_stop: settled first */
	/* every _ctx call asks: no lock once the channel exists */
	gort_chan *d = __atomic_load_n(&n->done, __ATOMIC_ACQUIRE);
	if (d)
		return d;
	gort__lock_acquire(&n->lock);
	d = n->done;
	if (!d) {
		d = gort_chan_make(0, 0);
		if (d && atomic_load_explicit(&n->err, memory_order_relaxed))
			gort_chan_close(d); /* nobody can wait on it yet */
		__atomic_store_n(&n->done, d, __ATOMIC_RELEASE);
	}
	gort__lock_release(&n->lock);
	return d;
}

int gort__ctx_done_for_wait(gort_ctx *ctx, gort_chan **done)
{
	*done = gort_ctx_done(ctx);
	return !*done && ctx && ctx->node ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Watches                                                             */
/* ------------------------------------------------------------------ */

int gort__ctx_watch(gort_ctx *ctx, struct gort__ctx_watch *w)
{
	w->node = w->armed_on = NULL;
	struct gort_ctx *n = ctx ? ctx->node : NULL;
	if (!n)
		return 0;
	(void)gort_ctx_err(ctx); /* a deadline from before a gort_stop: settled first */
	gort__lock_acquire(&n->lock);
	int err = atomic_load_explicit(&n->err, memory_order_relaxed);
	if (!err) {
		w->node = w->armed_on = n;
		w->prev = NULL;
		w->next = n->watches;
		if (n->watches)
			n->watches->prev = w;
		n->watches = w;
	}
	gort__lock_release(&n->lock);
	return err;
}

void gort__ctx_unwatch(struct gort__ctx_watch *w)
{
	/* Always through the node's lock: a canceller runs fn under it, so
	 * once we hold it fn is over (it may have fired without waking us,
	 * when the primitive had granted us first).  The node outlives the
	 * watch: the waiter holds the context. */
	struct gort_ctx *n = w->armed_on;
	if (!n)
		return;
	gort__lock_acquire(&n->lock);
	if (w->node == n) {
		if (w->prev)
			w->prev->next = w->next;
		else
			n->watches = w->next;
		if (w->next)
			w->next->prev = w->prev;
		w->node = NULL;
	}
	gort__lock_release(&n->lock);
	w->armed_on = NULL;
}

/* ------------------------------------------------------------------ */
/* After-funcs                                                         */
/* ------------------------------------------------------------------ */

/* state: 0 armed, 1 started (fn's coroutine spawned, or to be), 2
 * stopped.  Whoever moves it from 0 decides.  refs: the handle's, and the
 * coroutine's while it has not read fn and arg (from the start on,
 * including the retries). */
struct gort_ctx_after {
	struct gort__ctx_watch w;
	gort_ctx *ctx;          /* (i) referenced */
	void (*fn)(void *arg);  /* (i) */
	void *arg;              /* (i) */
	_Atomic int state;
	_Atomic int refs;
	struct gort__timer retry; /* (the starter) spawning again after a failure */
	int64_t backoff;        /* (the starter) the last wait before a retry */
};

static void after_put(struct gort_ctx_after *a)
{
	if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1) {
		ctx_unref(a->ctx);
		gort__sys_free(a);
	}
}

static void after_run(void *arg)
{
	struct gort_ctx_after *a = arg;
	void (*fn)(void *) = a->fn;
	void *fa = a->arg;
	after_put(a);
	fn(fa);
}

static void after_spawn(struct gort_ctx_after *a);

static void after_retry_fire(struct gort__timer *t, void *arg, int64_t now)
{
	(void)t;
	(void)now;
	after_spawn(arg);
}

/* gort_stop came first: fn never runs. */
static void after_retry_drop(struct gort__timer *t, void *arg)
{
	(void)t;
	after_put(arg);
}

/* Spawn fn's coroutine (the coroutine's reference is taken).  When none
 * can be had (out of memory), try again on a timer, waiting 1 ms, then
 * twice as long each time up to 100 ms: fn runs late rather than never,
 * and the program goes on. */
static void after_spawn(struct gort_ctx_after *a)
{
	enum { FIRST = 1000000, MOST = 100000000 };
	if (gort_go_with(after_run, a, .name = "context after-func") >= 0)
		return;
	if (!gort_running()) {
		after_put(a); /* no runtime to run fn (cancelled after gort_stop) */
		return;
	}
	a->backoff = a->backoff ? (a->backoff >= MOST / 2 ? MOST : 2 * a->backoff) : FIRST;
	a->retry.drop = after_retry_drop;
	if (gort__timer_start_unlocked(&a->retry, gort__deadline_after(a->backoff), after_retry_fire, a))
		gort__fatal("context: cannot start an after-func: out of memory");
}

/* Start fn's coroutine, unless stopped first. */
static void after_start(struct gort_ctx_after *a)
{
	int z = 0;
	if (!atomic_compare_exchange_strong(&a->state, &z, 1))
		return;
	atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
	after_spawn(a);
}

static void after_fire(struct gort__ctx_watch *w, int err)
{
	(void)err;
	after_start((struct gort_ctx_after *)(void *)w); /* w is the first member */
}

gort_ctx_after *gort_ctx_after_func(gort_ctx *ctx, void (*fn)(void *arg), void *arg)
{
	if (!fn)
		return NULL;
	if (!gort_running() && gort_ctx_err(ctx))
		return NULL; /* fn would have to start now, with no runtime to run it */
	struct gort_ctx_after *a = gort__sys_calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->ctx = ctx_ref(gort__ctx_or_background(ctx));
	a->fn = fn;
	a->arg = arg;
	atomic_init(&a->state, 0);
	atomic_init(&a->refs, 1);
	a->w.fn = after_fire;
	if (gort__ctx_watch(a->ctx, &a->w))
		after_start(a); /* done already */
	return a;
}

bool gort_ctx_after_func_stop(gort_ctx_after *a)
{
	if (!a)
		return false;
	int z = 0;
	bool stopped = atomic_compare_exchange_strong(&a->state, &z, 2);
	gort__ctx_unwatch(&a->w);
	after_put(a);
	return stopped;
}
