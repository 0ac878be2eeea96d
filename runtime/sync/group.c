/*
 * group.c — gort_group, golang.org/x/sync/errgroup.Group.
 *
 * Owns: the group's context (a with_cancel child of the parent), a wait
 * group counting members, the first error, and an optional limit (a
 * gort_sem of n units, one per running member).  A member runs fn(ctx,
 * arg) inside gort_protect with a deferred call that recovers, so a panic
 * ends only that member: it is printed (gort_panic_print to stderr, as the
 * log policy prints) and becomes GORT_PANICKED.  A member that cannot set
 * that up (no memory for the region or the deferred call) does not run fn
 * and ends with -ENOMEM.  The first nonzero result
 * is stored by a CAS from 0 (err: atomic) and cancels the context with
 * that cause; later ones are dropped.  A member gives its limit unit back,
 * then counts itself out of the wait group, then touches the group no
 * more: gort_group_wait may return and the group be freed right after.
 * wait waits for the wait group, cancels the context (cause: the first
 * error, else GORT_CANCELED) and returns the first error.
 */
#include <stdio.h>

#include "sema.h"

struct gort_group {
	gort_ctx *ctx;    /* (i) the group's context, cancelled at the latest by wait */
	gort_wg wg;       /* members running */
	_Atomic int err;  /* (a) first nonzero result; CAS from 0, acq_rel */
	_Atomic int live; /* (a) members spawned and not finished (set_limit's check) */
	gort_sem *limit;  /* set before members run; NULL: no limit */
};

struct member {
	gort_group *g;
	int (*fn)(gort_ctx *ctx, void *arg);
	void *arg;
	int rc;
};

gort_group *gort_group_new(gort_ctx *parent)
{
	gort_group *g = gort__sys_calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->ctx = gort_ctx_with_cancel(parent);
	if (!g->ctx) {
		gort__sys_free(g);
		return NULL;
	}
	return g;
}

gort_ctx *gort_group_ctx(gort_group *g)
{
	return g ? g->ctx : NULL;
}

int gort_group_set_limit(gort_group *g, int n)
{
	if (!g)
		return -EINVAL;
	if (atomic_load_explicit(&g->live, memory_order_acquire) != 0)
		gort__panic_msg("errgroup: modify limit while members are still active");
	gort_sem *s = NULL;
	if (n > 0 && !(s = gort_sem_new(n)))
		return -ENOMEM; /* the old limit stays */
	gort_sem_free(g->limit);
	g->limit = s;
	return 0;
}

static void member_recover(void *p)
{
	(void)p;
	(void)gort_recover();
}

static void member_body(void *p)
{
	struct member *m = p;
	if (gort_defer(member_recover, NULL) != 0) {
		m->rc = -ENOMEM; /* no recover in place: fn must not run */
		return;
	}
	m->rc = m->fn(m->g->ctx, m->arg);
}

static void record(gort_group *g, int err)
{
	int zero = 0;
	if (atomic_compare_exchange_strong_explicit(&g->err, &zero, err, memory_order_acq_rel,
						    memory_order_acquire))
		gort_ctx_cancel_cause(g->ctx, err);
}

static void member_main(void *p)
{
	struct member *m = p;
	gort_group *g = m->g;
	gort_panic_info info;
	m->rc = 0;
	int prc = gort_protect(member_body, m, &info);
	if (prc == GORT_PANICKED) {
		gort_panic_print(2, &info);
		m->rc = GORT_PANICKED;
	} else if (prc < 0) {
		m->rc = prc; /* -ENOMEM: fn did not run */
	}
	int rc = m->rc;
	gort__sys_free(m);
	if (rc != 0)
		record(g, rc);
	if (g->limit)
		gort_sem_release(g->limit, 1);
	atomic_fetch_sub_explicit(&g->live, 1, memory_order_release);
	gort_wg_done(&g->wg);
}

static int spawn(gort_group *g, int (*fn)(gort_ctx *, void *), void *arg, const char *file, int line)
{
	struct member *m = gort__sys_malloc(sizeof *m);
	if (!m) {
		if (g->limit)
			gort_sem_release(g->limit, 1);
		return -ENOMEM;
	}
	m->g = g;
	m->fn = fn;
	m->arg = arg;
	atomic_fetch_add_explicit(&g->live, 1, memory_order_relaxed);
	gort_wg_add(&g->wg, 1);
	gort_id id = gort_go_opts(member_main, m, NULL, file, line);
	if (id < 0) {
		gort__sys_free(m);
		if (g->limit)
			gort_sem_release(g->limit, 1);
		atomic_fetch_sub_explicit(&g->live, 1, memory_order_relaxed);
		gort_wg_done(&g->wg);
		return id == -ENOMEM || id == -ESRCH ? (int)id : -EAGAIN;
	}
	return 0;
}

int gort_group_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
		     const char *file, int line)
{
	if (!g || !fn)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH; /* before waiting for a place */
	if (g->limit) {
		int err = gort_sem_acquire_ctx_at(NULL, g->limit, 1, file, line);
		if (err)
			return err;
	}
	return spawn(g, fn, arg, file, line);
}

int gort_group_try_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
			 const char *file, int line)
{
	if (!g || !fn)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	if (g->limit && !gort_sem_try_acquire(g->limit, 1))
		return -EBUSY;
	return spawn(g, fn, arg, file, line);
}

int gort_group_wait_at(gort_group *g, const char *file, int line)
{
	if (!g)
		return -EINVAL;
	gort_wg_wait_at(&g->wg, file, line);
	int err = atomic_load_explicit(&g->err, memory_order_acquire);
	if (err)
		gort_ctx_cancel_cause(g->ctx, err);
	else
		gort_ctx_cancel(g->ctx);
	return err;
}

void gort_group_free(gort_group *g)
{
	if (!g)
		return;
	gort_ctx_cancel(g->ctx);
	gort_ctx_release(g->ctx);
	gort_sem_free(g->limit);
	gort__sys_free(g);
}
