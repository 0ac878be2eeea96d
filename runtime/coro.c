/*
 * coro.c — the G: descriptors, ids, spawning.
 *
 * Owns: every G descriptor ever allocated (allgs), the free lists, the id
 * counter.
 *
 * Descriptors are allocated in chunks of GCHUNK and never freed while the
 * runtime runs: a dead G goes to its P's free list (no lock; the P's owner
 * only), which spills half to the global free list (gort__sched.gflock)
 * past GFREE_MAX, as one batch, and adopts a whole batch from it when
 * empty: O(1) under the lock, since the Gs were last written by another
 * P and walking them would take a cache miss each.  The chunk list is
 * append-only with a release CAS on its head, so a dump can walk every
 * descriptor at any time with an acquire load (reading racy fields).
 *
 * Ids are 64-bit and never reused, not even across a stop and start: a P
 * reserves them from the global counter in batches of IDBATCH (one atomic
 * add per batch), so ids are unique but not dense in spawn order across Ps.
 *
 * Stacks are bound lazily, when a G first runs (sched.c): a G that was
 * spawned but has not run costs only its descriptor, and a burst of
 * spawns reuses a handful of hot stacks.
 */
#include <errno.h>
#include <string.h>

#include "rt.h"

#define GCHUNK 64
#define GFREE_MAX 64
#define IDBATCH 16

struct gchunk {
	struct gort__g g[GCHUNK]; /* first: cache-line aligned (see struct gort__g) */
	struct gchunk *next;
};

static _Atomic(struct gchunk *) allgs;  /* (a) release CAS push, acquire walk */
static _Atomic int64_t next_id = 1;     /* (a) relaxed: only uniqueness matters */

int64_t gort__new_id(struct gort__p *p)
{
	if (!p)
		return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
	if (p->idnext == p->idend) {
		p->idnext = atomic_fetch_add_explicit(&next_id, IDBATCH, memory_order_relaxed);
		p->idend = p->idnext + IDBATCH;
	}
	return p->idnext++;
}

/* Push a batch (n Gs linked by schedlink, NULL-terminated) on the global
 * free list: O(1) under gflock. */
static void gfree_push_batch(struct gort__g *first, int n)
{
	first->batchn = n;
	gort__lock_acquire(&gort__sched.gflock);
	first->batchnext = gort__sched.gfree;
	gort__sched.gfree = first;
	gort__sched.ngfree += n;
	gort__lock_release(&gort__sched.gflock);
}

/* Pop one batch from the global free list, or NULL. */
static struct gort__g *gfree_pop_batch(int *n)
{
	gort__lock_acquire(&gort__sched.gflock);
	struct gort__g *b = gort__sched.gfree;
	if (b) {
		gort__sched.gfree = b->batchnext;
		gort__sched.ngfree -= b->batchn;
		*n = b->batchn;
	}
	gort__lock_release(&gort__sched.gflock);
	return b;
}

/* Allocate a chunk; keep one G for the caller and put the rest on the
 * caller's P's free list (or, as one batch, the global one). */
static struct gort__g *gchunk_alloc(struct gort__p *p)
{
	struct gchunk *c = gort__sys_aligned_alloc(GORT__CACHELINE, sizeof *c);
	if (!c)
		return NULL;
	struct gchunk *h = atomic_load_explicit(&allgs, memory_order_relaxed);
	do
		c->next = h;
	while (!atomic_compare_exchange_weak_explicit(&allgs, &h, c, memory_order_release,
						      memory_order_relaxed));
	for (int i = 1; i < GCHUNK - 1; i++)
		c->g[i].schedlink = &c->g[i + 1];
	if (p) {
		c->g[GCHUNK - 1].schedlink = p->gfree;
		p->gfree = &c->g[1];
		p->ngfree += GCHUNK - 1;
	} else {
		c->g[GCHUNK - 1].schedlink = NULL;
		gfree_push_batch(&c->g[1], GCHUNK - 1);
	}
	return &c->g[0];
}

struct gort__g *gort__gfget(struct gort__p *p)
{
	struct gort__g *g;
	int n = 0;
	if (p) {
		if (!p->gfree) {
			/* adopt a whole batch as the local list: no walk */
			p->gfree = gfree_pop_batch(&n);
			p->ngfree = p->gfree ? n : 0;
		}
		if (p->gfree) {
			g = p->gfree;
			p->gfree = g->schedlink;
			p->ngfree--;
			return g;
		}
		return gchunk_alloc(p);
	}
	g = gfree_pop_batch(&n);
	if (!g)
		return gchunk_alloc(NULL);
	if (n > 1)
		gfree_push_batch(g->schedlink, n - 1);
	return g;
}

void gort__gfput(struct gort__p *p, struct gort__g *g)
{
	atomic_store_explicit(&g->state, GORT__G_FREE, memory_order_relaxed);
	if (!p) {
		g->schedlink = NULL;
		gfree_push_batch(g, 1);
		return;
	}
	g->schedlink = p->gfree;
	p->gfree = g;
	if (++p->ngfree < GFREE_MAX)
		return;
	/* spill the most recently freed half as one batch (walk our own, cached
	 * Gs outside the lock) */
	struct gort__g *first = p->gfree, *last = first;
	for (int i = 1; i < GFREE_MAX / 2; i++)
		last = last->schedlink;
	p->gfree = last->schedlink;
	p->ngfree -= GFREE_MAX / 2;
	last->schedlink = NULL;
	gfree_push_batch(first, GFREE_MAX / 2);
}

void gort__allg_each(void (*fn)(struct gort__g *g, void *arg), void *arg)
{
	for (struct gchunk *c = atomic_load_explicit(&allgs, memory_order_acquire); c; c = c->next)
		for (int i = 0; i < GCHUNK; i++)
			fn(&c->g[i], arg);
}

/* After every M is joined: drop every descriptor (stacks are unmapped by
 * gort__stack_fini). */
static void free_g_state(struct gort__g *g, void *arg)
{
	(void)arg;
	gort__recover_free(g);
}

void gort__coro_fini(void)
{
	gort__allg_each(free_g_state, NULL);
	struct gchunk *c = atomic_exchange(&allgs, NULL);
	while (c) {
		struct gchunk *n = c->next;
		gort__sys_free(c);
		c = n;
	}
	gort__sched.gfree = NULL;
	gort__sched.ngfree = 0;
}

gort_id gort_go_opts(void (*fn)(void *), void *arg, const gort_spawn_opts *opts, const char *file,
		     int line)
{
	if (!atomic_load_explicit(&gort__sched.running, memory_order_acquire) ||
	    atomic_load_explicit(&gort__sched.stopping, memory_order_relaxed))
		return -ESRCH;
	if (!fn)
		return -EINVAL;
	size_t ss = 0;
	if (opts && opts->stack_size) {
		ss = gort__stack_round(opts->stack_size);
		if (!ss)
			return -EINVAL;
		if (ss == gort__stack_default_size())
			ss = 0;
	}
	struct gort__m *m = gort__tls_m;
	struct gort__g *self = m ? m->curg : NULL;
	struct gort__p *p = self ? m->p : NULL;
	if (!p && !gort__plain_enter()) {
		gort__plain_exit();
		return -ESRCH;
	}
	struct gort__g *g = gort__gfget(p);
	if (!g) {
		if (!p)
			gort__plain_exit();
		return -ENOMEM;
	}
	g->id = gort__new_id(p);
	g->parent_id = self ? self->id : 0;
	g->fn = fn;
	g->arg = arg;
#if GORT__DEBUG_INFO
	g->spawn_file = file;
	g->spawn_line = line;
#else
	(void)file, (void)line;
#endif
	g->stack_req = ss;
	if (opts && opts->name) {
		strncpy(g->name, opts->name, GORT_NAME_MAX - 1);
		g->name[GORT_NAME_MAX - 1] = 0;
	} else {
		g->name[0] = 0;
	}
	g->ctx = NULL;
	g->stack = NULL;
	g->m = NULL;
	g->saved_errno = 0;
	atomic_store_explicit(&g->wait_reason, GORT__WR_NONE, memory_order_relaxed);
	if (gort__recover_spawn(g, opts) != 0) {
		gort__gfput(p, g);
		if (!p)
			gort__plain_exit();
		return -ENOMEM;
	}
	atomic_store_explicit(&g->state, GORT__G_RUNNABLE, memory_order_relaxed);
	int64_t id = g->id;
	if (p)
		GORT__BUMP(p->st.spawns);
	else
		atomic_fetch_add_explicit(&gort__sched.plain_spawns, 1, memory_order_relaxed);
	gort__sched_put_new(g); /* publishes g (release) */
	if (!p)
		gort__plain_exit();
	return id;
}
