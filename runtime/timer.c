/*
 * timer.c — per-P timer heaps.
 *
 * Owns: every armed timer, in the binary min-heap of the P it was armed on
 * (the caller's P, or P 0 from a plain thread).  Each heap has its own lock
 * (leaf except for what callbacks take: timer lock -> channel lock ->
 * sched.lock; nothing takes a timer lock while holding one of those).
 *
 * Who runs a heap: any M, under its lock, and never while holding another
 * lock.  The P's own M checks it after every switch (sw_finish, once the
 * leaving context's lock is released: a callback may send on the channel a
 * coroutine just parked on) and in findrunnable, when when0 says something
 * may be due — a relaxed load, and a clock read only then, so a
 * runtime without timers pays nothing; an M looking for work also runs the
 * due timers of every other P, so the timers of a P whose M is busy or idle
 * still fire.  One idle M, the one on timer duty, sleeps on its futex
 * until the earliest deadline of all heaps (an absolute CLOCK_MONOTONIC
 * futex wait: precise, no polling); arming a timer that becomes its heap's
 * earliest kicks that M so it re-computes its sleep (sched.c, stopm).
 *
 * Coroutines readied by callbacks join the run queue in firing order
 * (FIFO), not runnext, so timers that fire in one batch wake their
 * coroutines in deadline order; a run fires no more timers than the
 * runner's ring has room for, so that the heap, not the global queue,
 * holds a backlog (it stays in deadline order there, and any M can take
 * it).
 *
 * Callbacks run under the heap's lock, so gort__timer_stop, which takes the
 * lock, returns only after a running callback finished: a timer can be
 * stopped and its memory reused at once.  The runner is done with the
 * timer struct before it calls the callback (a one-shot timer is off the
 * heap first; a periodic one is re-armed first).  A callback that must
 * stop or arm timers itself (a context's deadline cancels a whole tree,
 * whose nodes' timers may sit in this heap) is armed "unlocked": the
 * runner takes it off the heap with the others, links it on a list of its
 * own, and calls it after releasing the lock.  Its owner keeps it alive
 * until it has run (stop cannot wait for it).
 *
 * At gort_stop the timers still armed never fire; a timer that owns
 * itself (gort_after's, an after-func's retry) has a drop function that
 * frees it then.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"

/* The heap is 4-ary: half the depth of a binary one, and a node's four
 * children share one cache line of entries. */
#define HEAP_ARITY 4

static inline void heap_set(struct gort__theap *h, int i, struct gort__tentry e)
{
	h->e[i] = e;
	e.t->idx = i;
}

static void sift_up(struct gort__theap *h, int i)
{
	struct gort__tentry e = h->e[i];
	while (i > 0) {
		int parent = (i - 1) / HEAP_ARITY;
		if (h->e[parent].when <= e.when)
			break;
		heap_set(h, i, h->e[parent]);
		i = parent;
	}
	heap_set(h, i, e);
}

static void sift_down(struct gort__theap *h, int i)
{
	struct gort__tentry e = h->e[i];
	for (;;) {
		int c = HEAP_ARITY * i + 1;
		if (c >= h->n)
			break;
		int last = c + HEAP_ARITY < h->n ? c + HEAP_ARITY : h->n;
		for (int k = c + 1; k < last; k++)
			if (h->e[k].when < h->e[c].when)
				c = k;
		if (e.when <= h->e[c].when)
			break;
		heap_set(h, i, h->e[c]);
		i = c;
	}
	heap_set(h, i, e);
}

static void update_when0(struct gort__theap *h)
{
	atomic_store_explicit(&h->when0, h->n ? h->e[0].when : 0, memory_order_release);
}

static void heap_remove(struct gort__theap *h, struct gort__timer *t)
{
	int i = t->idx;
	h->n--;
	if (i != h->n) {
		struct gort__timer *moved = h->e[h->n].t;
		h->e[i] = h->e[h->n];
		sift_down(h, i);
		sift_up(h, moved->idx); /* a no-op if it went down */
	}
	__atomic_store_n(&t->heap, NULL, __ATOMIC_RELEASE);
	t->idx = -1;
}

/* The heap of the caller's P, or P 0's from a plain thread. */
static struct gort__theap *my_heap(void)
{
	struct gort__m *m = gort__tls_m;
	struct gort__p *p = m && m->p ? m->p : gort__sched.allp[0];
	return &p->timers;
}

void gort__timer_kick(void); /* sched.c: an idle M re-computes its sleep */

#define HEAP_FIRST 64 /* entries of a heap from the start; it doubles when full */

static int heap_grow(struct gort__theap *h)
{
	int cap = h->cap ? 2 * h->cap : HEAP_FIRST;
	struct gort__tentry *ne = gort__sys_realloc(h->e, (size_t)cap * sizeof(struct gort__tentry));
	if (!ne)
		return -ENOMEM;
	h->e = ne;
	h->cap = cap;
	return 0;
}

int gort__timers_init(struct gort__p *p)
{
	return heap_grow(&p->timers);
}

static int timer_arm(struct gort__timer *t, int64_t when, int64_t period, gort__timer_fn fn,
		     void *arg, bool unlocked)
{
	struct gort__theap *h = my_heap();
	gort__lock_acquire(&h->lock);
	if (h->n == h->cap && heap_grow(h) != 0) {
		gort__lock_release(&h->lock);
		return -ENOMEM;
	}
	t->when = when;
	t->period = period;
	t->fn = fn;
	t->arg = arg;
	t->unlocked = unlocked;
	t->home = h;
	t->dropped = false;
	t->run_id = atomic_load_explicit(&gort__sched.run_id, memory_order_relaxed);
	__atomic_store_n(&t->heap, h, __ATOMIC_RELEASE);
	h->e[h->n] = (struct gort__tentry){when, t};
	sift_up(h, h->n++);
	bool earliest = t->idx == 0;
	update_when0(h);
	gort__lock_release(&h->lock);
	if (earliest)
		gort__timer_kick();
	return 0;
}

int gort__timer_start(struct gort__timer *t, int64_t when, int64_t period, gort__timer_fn fn,
		      void *arg)
{
	return timer_arm(t, when, period, fn, arg, false);
}

int gort__timer_start_unlocked(struct gort__timer *t, int64_t when, gort__timer_fn fn, void *arg)
{
	return timer_arm(t, when, 0, fn, arg, true);
}

bool gort__timer_stop(struct gort__timer *t)
{
	/* Lock the heap it was last armed on even if it is no longer queued:
	 * its callback may be running right now (a one-shot timer leaves the
	 * heap before its callback runs), and callbacks run under that lock. */
	struct gort__theap *h = t->home;
	/* Armed in an earlier run (or this run is over): its heap is gone. */
	if (h && (t->run_id != atomic_load(&gort__sched.run_id) ||
		  !atomic_load(&gort__sched.running)))
		h = t->home = NULL;
	if (!h) {
		bool was = t->dropped; /* armed when the runtime stopped */
		t->dropped = false;
		return was;
	}
	gort__lock_acquire(&h->lock);
	bool was = __atomic_load_n(&t->heap, __ATOMIC_RELAXED) == h;
	if (was) {
		heap_remove(h, t);
		update_when0(h);
	}
	gort__lock_release(&h->lock);
	return was;
}

void gort__timers_run(struct gort__p *p, int64_t now)
{
	struct gort__theap *h = &p->timers;
	int64_t w = atomic_load_explicit(&h->when0, memory_order_acquire);
	if (!w || w > now)
		return;
	struct gort__m *m = gort__tls_m;
	/* A callback readies at most one coroutine, into m's ring: fire no
	 * more than the ring has room for.  The rest stay in the heap, in
	 * deadline order, for the next switch or another M; a batch that
	 * overflowed to the global queue would wait behind everything there,
	 * which a busy P drains one G in 61 schedules. */
	int budget = m && m->p ? gort__runq_room(m->p) : GORT__RUNQ_SIZE;
	if (budget <= 0)
		return;
	struct gort__timer *later = NULL, **tail = &later; /* unlocked ones */
	gort__lock_acquire(&h->lock);
	if (m)
		m->in_timers++;
	while (h->n && h->e[0].when <= now && budget-- > 0) {
		struct gort__timer *t = h->e[0].t;
		if (t->period > 0) {
			t->when += t->period;
			if (t->when <= now) /* fell behind: skip the missed ticks */
				t->when = now + t->period - (now - t->when) % t->period;
			h->e[0].when = t->when;
			sift_down(h, 0);
		} else {
			heap_remove(h, t);
		}
		GORT__BUMP(p->st.timers_fired);
		if (t->unlocked) {
			t->later = NULL;
			*tail = t;
			tail = &t->later;
			continue;
		}
		t->fn(t, t->arg, now); /* t may be freed by its owner after this */
	}
	update_when0(h);
	gort__lock_release(&h->lock);
	while (later) {
		struct gort__timer *t = later;
		later = t->later;
		t->fn(t, t->arg, now); /* t may be freed by its owner after this */
	}
	if (m)
		m->in_timers--;
}

int64_t gort__timers_earliest(void)
{
	int64_t best = 0;
	for (int i = 0; i < gort__sched.nprocs; i++) {
		int64_t w = atomic_load_explicit(&gort__sched.allp[i]->timers.when0, memory_order_acquire);
		if (w && (!best || w < best))
			best = w;
	}
	return best;
}

void gort__timers_fini(struct gort__p *p)
{
	/* Timers still armed will never fire: detach them from the heap,
	 * which is about to be freed, so that stopping one later touches
	 * nothing of it (their owners may outlive the runtime: a context
	 * with a deadline, a gort_timer). */
	for (int i = 0; i < p->timers.n; i++) {
		struct gort__timer *t = p->timers.e[i].t;
		__atomic_store_n(&t->heap, NULL, __ATOMIC_RELAXED);
		t->idx = -1;
		t->home = NULL;
		t->dropped = true;
		if (t->drop)
			t->drop(t, t->arg); /* t may be freed by its owner after this */
	}
	p->timers.n = 0;
	gort__sys_free(p->timers.e);
	p->timers.e = NULL;
	p->timers.n = p->timers.cap = 0;
}

/* ------------------------------------------------------------------ */
/* Sleep                                                               */
/* ------------------------------------------------------------------ */

int64_t gort_now(void)
{
	return gort__nanotime();
}

/* A sleeping coroutine's record, on its stack.  state: 0 armed, 1 parked,
 * 2 fired before the park completed.  The park's unlock callback and the
 * timer race on it with CAS: whoever moves it from 0 decides. */
struct sleeper {
	struct gort__timer t;
	struct gort__g *g;
	_Atomic int state;
};

static void sleep_fire(struct gort__timer *t, void *arg, int64_t now)
{
	(void)t;
	(void)now;
	struct sleeper *s = arg;
	int expect = 0;
	if (atomic_compare_exchange_strong(&s->state, &expect, 2))
		return; /* not parked yet: its unlock callback will see 2 */
	gort__ready(s->g); /* s may vanish from here on */
}

static bool sleep_unlock(void *arg)
{
	struct sleeper *s = arg;
	int expect = 0;
	/* false: the timer already fired; the park is called off */
	return atomic_compare_exchange_strong(&s->state, &expect, 1);
}

int gort_sleep_at(int64_t ns, const char *file, int line)
{
	struct gort__g *g = gort__getg();
	if (ns <= 0) {
		gort_yield();
		return 0;
	}
	if (!g) {
		struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
		while (nanosleep(&ts, &ts) != 0)
			;
		return 0;
	}
	struct sleeper s = {.g = g};
	atomic_init(&s.state, 0);
	int rc = gort__timer_start(&s.t, gort__deadline_after(ns), 0, sleep_fire, &s);
	if (rc)
		return rc;
	gort__park(sleep_unlock, &s, GORT__WR_SLEEP, file, line);
	return 0;
}
