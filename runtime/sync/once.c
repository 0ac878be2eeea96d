/*
 * once.c — gort_once, Go's sync.Once.
 *
 * done (atomic) turns 1 once fn has finished, by return or by panic; the
 * fast path is one acquire load of it.  The slow path takes mu, so that
 * concurrent callers wait until the one that runs fn is finished, and
 * checks done again under it.  fn runs inside a gort_protect region whose
 * deferred call stores done (release) and unlocks mu: it runs when fn
 * returns and also when fn panics, before the panic goes on up (the
 * region recovers nothing), so a panicking fn counts as done and leaves
 * mu unlocked.  The store of done pairs with the fast path's load: a
 * caller that sees done sees everything fn wrote.
 */
#include <assert.h>

#include "sema.h"

struct once_impl {
	_Atomic uint32_t done; /* (a) 0, then 1 (release) once fn finished */
	gort_mutex mu;         /* serialises the slow path */
};

static_assert(sizeof(struct once_impl) <= sizeof(gort_once), "gort_once too small");
static_assert(_Alignof(struct once_impl) <= _Alignof(gort_once), "gort_once under-aligned");

struct once_call {
	struct once_impl *o;
	void (*fn)(void *);
	void *arg;
};

static void once_finish(void *p)
{
	struct once_impl *o = p;
	atomic_store_explicit(&o->done, 1, memory_order_release);
	gort_mutex_unlock(&o->mu);
}

static void once_region(void *p)
{
	struct once_call *c = p;
	if (gort_defer(once_finish, c->o) != 0) {
		/* no memory for the defer: no panic safety, the rest holds */
		c->fn(c->arg);
		once_finish(c->o);
		return;
	}
	c->fn(c->arg);
}

static void once_slow(struct once_impl *o, void (*fn)(void *), void *arg, const char *file, int line)
{
	gort_mutex_lock_at(&o->mu, file, line);
	if (atomic_load_explicit(&o->done, memory_order_relaxed)) {
		gort_mutex_unlock(&o->mu);
		return;
	}
	struct once_call c = {o, fn, arg};
	if (gort_protect(once_region, &c, NULL) < 0) {
		/* no memory for a region (fn has not run): without panic safety */
		fn(arg);
		once_finish(o);
	}
}

void gort_once_do_at(gort_once *once, void (*fn)(void *), void *arg, const char *file, int line)
{
	struct once_impl *o = (struct once_impl *)(void *)once;
	if (gort__unlikely(!once || !fn))
		gort__panic_msg(!once ? "gort_once_do: o is NULL" : "gort_once_do: fn is NULL");
	if (gort__likely(atomic_load_explicit(&o->done, memory_order_acquire)))
		return;
	once_slow(o, fn, arg, file, line);
}
