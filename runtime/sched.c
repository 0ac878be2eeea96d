/*
 * sched.c — the scheduler: Ps, Ms, run queues, stealing, parking.
 *
 * Glossary
 *   G  a coroutine (struct gort__g, coro.c): a function, a stack, a saved
 *      context.
 *   M  an OS thread (struct gort__m).  Each M runs a scheduler loop on its
 *      own thread stack ("g0") and, from it, coroutines.
 *   P  a logical processor (struct gort__p): what an M must hold to run
 *      coroutines.  There are exactly nprocs of them; each owns a run
 *      queue, free lists and counters that only its holder touches.
 *
 * Why this shape (and what was rejected)
 *   - One global run queue with a lock: every spawn and wakeup would
 *     contend on it.  Per-P queues make the common case lock-free; the
 *     global queue only takes overflow, plain-thread spawns and wakeups.
 *   - Per-M queues without Ps: an M blocked in a system call would strand
 *     its queue.  Ps can be handed to another M (the I/O issue builds on
 *     this).
 *   - Switching through the scheduler context on every park or yield: two
 *     switches where one will do.  A coroutine that parks or yields picks
 *     the next one from its P's queue itself and jumps straight to it; the
 *     bookkeeping for the coroutine that left (put it back on a queue, mark
 *     it waiting and release its wait queue's lock, or free its stack) runs
 *     in the resumed context, right after the jump (sw_finish).  Only when
 *     the P's queue is empty does it jump to g0, which steals or sleeps.
 *     Switches per operation: yield 1; park with local work 1, without 2
 *     (to g0, later from g0 back to a coroutine); exit 1; a wakeup that
 *     lands in runnext costs the waker nothing until it parks.
 *   - Asynchronous preemption: C code may be interrupted inside malloc or
 *     while holding a lock, so gort never switches a coroutine out from a
 *     signal.  A coroutine runs until it blocks, yields or returns.
 *
 * Run queues (Go's design, our code).  Each P has a 256-slot ring that only
 * its owner pushes to (tail) and that anyone pops from (head, CAS), plus a
 * runnext slot: a G readied or spawned by the running G goes to runnext and
 * runs next, so a ping-pong pair stays on one P and hot in its cache; the
 * G it displaces goes to the ring.  A full ring moves half of itself to the
 * global queue.  Every 61st schedule a P takes one G from the global queue
 * first, so nothing there starves behind a busy local queue.  An idle M
 * steals half of a random victim's ring (four passes over all Ps; in the
 * last pass it may also take the victim's runnext, after a 3 µs sleep
 * (some 50 µs with timer slack) if the victim is running, since that G is
 * probably about to run there).
 *
 * Spinning and wakeups: the protocol that loses no wakeup
 *   An M "spins" while it looks for work without holding any (counted in
 *   nmspinning).  At most one M is started to spin per readied G, and only
 *   when no M spins already, so wakeups are neither lost nor stormy.
 *   1. A readier makes a G runnable (stores it on a run queue), then issues
 *      a seq_cst fence, then reads npidle and nmspinning (wakep).  (When
 *      the store is the seq_cst exchange on runnext, that exchange is the
 *      fence: wakep_nofence.)  If a P is
 *      idle and no M spins, it CASes nmspinning 0 -> 1 and starts (or
 *      wakes) an M with an idle P; that M begins spinning.
 *   2. A spinning M that finds work stops spinning (nmspinning--) and then
 *      calls wakep itself, so that while work keeps coming one M keeps
 *      looking for it.
 *   3. A spinning M that finds nothing releases its P (under sched.lock,
 *      after one more look at the global queue), decrements nmspinning
 *      (seq_cst RMW + fence), and only then looks at every P's queue and
 *      the global queue once more; if it sees work it takes an idle P back
 *      and spins again, else it sleeps on its note.
 *   Why nothing is lost: the readier's "store work; fence; load
 *   nmspinning" and the spinner's "decrement nmspinning; fence; load work"
 *   are the two halves of Dekker's pattern.  Either the readier sees
 *   nmspinning == 0 (and wakes an M), or the spinner's final look sees the
 *   work.  Ms that were not spinning may sleep without the final look:
 *   they made no promise, and while any M spins, readiers rely on it.
 *   Spinning is bounded (one stealing round), so an idle runtime sleeps.
 *
 * Parking: gort__park(unlock, arg).  The coroutine records why it waits,
 * picks the next G (or g0) and jumps; the resumed context marks it WAITING
 * and then calls unlock(arg), typically releasing the lock of the wait
 * queue the G sits on.  A waker must take that lock to find the G, so it
 * can only ready a G whose context is saved: no M ever runs a coroutine
 * that is still on its own stack, and no wakeup is lost.  gort__ready works
 * from any thread: from an M it puts the G in runnext, from a plain thread
 * on the global queue; then wakep.
 *
 * Locks: sched.lock guards the global queue, the idle P and M lists and
 * the M list; it is a leaf except that stack and G free-list locks may be
 * taken with it free.  Order: sched.lock -> (none).  Never held across a
 * switch.  Wait-queue locks are released by sw_finish after the switch.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "netpoll.h"
#include "rt.h"
#include "timer.h"

struct gort__sched gort__sched;
__thread struct gort__m *gort__tls_m __attribute__((tls_model("initial-exec")));

static pthread_mutex_t lifecycle = PTHREAD_MUTEX_INITIALIZER; /* start/stop */

#define RUNQ_MASK (GORT__RUNQ_SIZE - 1)
#define GLOBAL_POLL 61
#define SCAVENGE_EVERY 4096 /* schedules between paced trims (a power of 2) */
#define SCAVENGE_PACED 32   /* stacks trimmed then */

static inline bool stopping(void)
{
	return atomic_load_explicit(&gort__sched.stopping, memory_order_acquire);
}

static inline uint32_t fastrand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return (uint32_t)(x >> 32);
}

/* ------------------------------------------------------------------ */
/* Global run queue (sched.lock)                                       */
/* ------------------------------------------------------------------ */

/* Append a batch of n Gs linked by schedlink.  sched.lock held. */
static void globrunq_put_batch(struct gort__g *head, struct gort__g *tail, int32_t n)
{
	tail->schedlink = NULL;
	head->batchtail = tail;
	head->batchn = n;
	head->batchnext = NULL;
	if (gort__sched.runqtail)
		gort__sched.runqtail->batchnext = head;
	else
		gort__sched.runqhead = head;
	gort__sched.runqtail = head;
	atomic_fetch_add_explicit(&gort__sched.runqsize, n, memory_order_relaxed);
}

/* Detach Gs from the global queue: one G if max == 1, else whole batches
 * up to a fair share (size/nprocs + 1, at most half a ring plus one, at
 * least one batch).  Returns a chain linked by schedlink and its length in
 * *np.  sched.lock held; O(batches taken). */
static struct gort__g *globrunq_take(int32_t max, int32_t *np)
{
	int32_t size = atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed);
	struct gort__g *b = gort__sched.runqhead;
	*np = 0;
	if (size == 0 || !b)
		return NULL;
	if (max == 1) {
		if (b->batchn > 1) {
			struct gort__g *nb = b->schedlink;
			nb->batchn = b->batchn - 1;
			nb->batchtail = b->batchtail;
			nb->batchnext = b->batchnext;
			gort__sched.runqhead = nb;
			if (gort__sched.runqtail == b)
				gort__sched.runqtail = nb;
		} else {
			gort__sched.runqhead = b->batchnext;
			if (!gort__sched.runqhead)
				gort__sched.runqtail = NULL;
		}
		b->schedlink = NULL;
		atomic_fetch_sub_explicit(&gort__sched.runqsize, 1, memory_order_relaxed);
		*np = 1;
		return b;
	}
	int32_t want = size / gort__sched.nprocs + 1;
	if (want > GORT__RUNQ_SIZE / 2 + 1)
		want = GORT__RUNQ_SIZE / 2 + 1;
	struct gort__g *head = NULL, *last = NULL;
	int32_t taken = 0;
	while ((b = gort__sched.runqhead) && (taken == 0 || taken + b->batchn <= want)) {
		gort__sched.runqhead = b->batchnext;
		if (last)
			last->schedlink = b;
		else
			head = b;
		last = b->batchtail;
		taken += b->batchn;
	}
	if (!gort__sched.runqhead)
		gort__sched.runqtail = NULL;
	atomic_fetch_sub_explicit(&gort__sched.runqsize, taken, memory_order_relaxed);
	*np = taken;
	return head;
}

static void runq_put(struct gort__p *p, struct gort__g *g, bool next);
static struct gort__g *runq_put_chain(struct gort__p *p, struct gort__g *head, int32_t n);

/* Take from the global queue (see globrunq_take) into p: the first G is
 * returned, the rest go to p's ring, walked outside the lock. */
static struct gort__g *globrunq_get(struct gort__p *p, int32_t max)
{
	if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) == 0)
		return NULL;
	int32_t n;
	gort__lock_acquire(&gort__sched.lock);
	struct gort__g *g = globrunq_take(max, &n);
	gort__lock_release(&gort__sched.lock);
	return g ? runq_put_chain(p, g, n) : NULL;
}

/* ------------------------------------------------------------------ */
/* Local run queues (protocol in rt.h, struct gort__p)                 */
/* ------------------------------------------------------------------ */

/* Move half of a full ring plus g to the global queue.  Owner only. */
static bool runq_put_slow(struct gort__p *p, struct gort__g *g, uint32_t h, uint32_t t)
{
	struct gort__g *batch[GORT__RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&p->runq[(h + i) & RUNQ_MASK], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n, memory_order_release,
						     memory_order_relaxed))
		return false; /* thieves took some: there is room now */
	batch[n] = g;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	gort__lock_acquire(&gort__sched.lock);
	globrunq_put_batch(batch[0], batch[n], (int32_t)n + 1);
	gort__lock_release(&gort__sched.lock);
	GORT__ADD(p->st.global_puts, n + 1);
	return true;
}

static void runq_put(struct gort__p *p, struct gort__g *g, bool next)
{
	if (next) {
		if (gort__sched.nprocs == 1) {
			/* One P: no thief and no spinner exists, so no atomic
			 * exchange and no barrier is needed. */
			struct gort__g *old = atomic_load_explicit(&p->runnext, memory_order_relaxed);
			atomic_store_explicit(&p->runnext, g, memory_order_relaxed);
			g = old;
		} else {
			/* seq_cst: this exchange is the StoreLoad barrier of the
			 * spinning protocol's step 1 for Gs put here (see
			 * wakep_nofence). */
			g = atomic_exchange_explicit(&p->runnext, g, memory_order_seq_cst);
		}
		if (!g)
			return;
	}
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t - h < GORT__RUNQ_SIZE) {
			atomic_store_explicit(&p->runq[t & RUNQ_MASK], g, memory_order_relaxed);
			atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
			return;
		}
		if (runq_put_slow(p, g, h, t))
			return;
	}
}

/* Put a chain of n Gs taken from the global queue: the first is returned
 * (to run), the rest go to the ring.  Owner only; no lock held. */
static struct gort__g *runq_put_chain(struct gort__p *p, struct gort__g *head, int32_t n)
{
	GORT__ADD(p->st.global_takes, (uint64_t)n);
	struct gort__g *g = head->schedlink;
	for (int32_t i = 1; i < n; i++) {
		struct gort__g *next = g->schedlink;
		runq_put(p, g, false);
		g = next;
	}
	return head;
}

/* runnext served this many times in a row hands over to the ring, with
 * one P: a ping-pong pair that keeps readying each other into runnext
 * must not starve what waits in the ring (Go gets this from its time
 * slice, which runnext inherits, and sysmon's preemption; gort cannot
 * preempt). */
#define RUNNEXT_STREAK 61

/* Owner only: runnext first, then the ring's head. */
static struct gort__g *runq_get(struct gort__p *p)
{
	struct gort__g *g = atomic_load_explicit(&p->runnext, memory_order_relaxed);
	if (gort__sched.nprocs == 1) {
		/* One P: nobody else takes from its queues (thieves exist only
		 * with two Ps or more), so plain loads and stores do. */
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
		bool ring = atomic_load_explicit(&p->runqtail, memory_order_relaxed) != h;
		if (g && (!ring || gort__likely(++p->runnext_streak < RUNNEXT_STREAK))) {
			atomic_store_explicit(&p->runnext, NULL, memory_order_relaxed);
			return g;
		}
		if (!ring)
			return NULL;
		p->runnext_streak = 0;
		g = atomic_load_explicit(&p->runq[h & RUNQ_MASK], memory_order_relaxed);
		atomic_store_explicit(&p->runqhead, h + 1, memory_order_release);
		return g;
	}
	/* several Ps: the streak matters too when every other P is busy (a
	 * hog) and nobody steals from this ring */
	bool ring_first = g && gort__unlikely(++p->runnext_streak >= RUNNEXT_STREAK);
	if (ring_first)
		p->runnext_streak = 0;
	else if (g && atomic_compare_exchange_strong_explicit(&p->runnext, &g, NULL,
								memory_order_acq_rel, memory_order_relaxed))
		return g;
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t == h)
			break;
		struct gort__g *r = atomic_load_explicit(&p->runq[h & RUNQ_MASK], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h, h + 1, memory_order_release,
							  memory_order_relaxed))
			return r;
	}
	/* the ring is empty: runnext after all (if the streak sent us here) */
	g = ring_first ? atomic_load_explicit(&p->runnext, memory_order_relaxed) : NULL;
	if (g && atomic_compare_exchange_strong_explicit(&p->runnext, &g, NULL, memory_order_acq_rel,
							 memory_order_relaxed))
		return g;
	return NULL;
}

static bool runq_empty(struct gort__p *p)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_seq_cst);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_seq_cst);
		struct gort__g *n = atomic_load_explicit(&p->runnext, memory_order_seq_cst);
		if (t == atomic_load_explicit(&p->runqtail, memory_order_seq_cst))
			return h == t && n == NULL;
	}
}

/* The pause before taking a running P's runnext: a real sleep of 3 µs,
 * which the kernel's timer slack stretches to about 50 µs.  Long on
 * purpose: this M still counts as spinning meanwhile, so the victim's
 * readies do not wake another M each time (a futex wake on the readier's
 * path); with a 3 µs busy wait, a cross-P ping-pong paid one every few
 * round trips (Go sleeps here too: usleep(3)). */
static void steal_pause(void)
{
	struct timespec ts = {0, 3000};
	nanosleep(&ts, NULL);
}

/* Grab half of v's ring into p's ring starting at slot index pos (not yet
 * published).  Returns how many. */
static uint32_t runq_grab(struct gort__p *p, uint32_t pos, struct gort__p *v, bool stealnext)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&v->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&v->runqtail, memory_order_acquire);
		uint32_t n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (!stealnext)
				return 0;
			struct gort__g *g = atomic_load_explicit(&v->runnext, memory_order_acquire);
			if (!g)
				return 0;
			/* v's M readied g and is probably about to park and run it:
			 * give it a moment rather than bounce g between Ps. */
			if (atomic_load_explicit(&v->status, memory_order_relaxed) == GORT__P_RUNNING)
				steal_pause();
			if (!atomic_compare_exchange_strong_explicit(&v->runnext, &g, NULL,
								     memory_order_acq_rel,
								     memory_order_relaxed))
				continue;
			atomic_store_explicit(&p->runq[pos & RUNQ_MASK], g, memory_order_relaxed);
			return 1;
		}
		if (n > GORT__RUNQ_SIZE / 2)
			continue; /* h and t read at different times; retry */
		for (uint32_t i = 0; i < n; i++) {
			struct gort__g *g =
				atomic_load_explicit(&v->runq[(h + i) & RUNQ_MASK], memory_order_relaxed);
			atomic_store_explicit(&p->runq[(pos + i) & RUNQ_MASK], g, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(&v->runqhead, &h, h + n, memory_order_release,
							    memory_order_relaxed))
			return n;
	}
}

/* Steal from v into p (whose ring is empty); returns one G to run. */
static struct gort__g *runq_steal(struct gort__p *p, struct gort__p *v, bool stealnext)
{
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	uint32_t n = runq_grab(p, t, v, stealnext);
	if (n == 0)
		return NULL;
	GORT__BUMP(p->st.steals);
	GORT__ADD(p->st.stolen, n);
	n--;
	struct gort__g *g = atomic_load_explicit(&p->runq[(t + n) & RUNQ_MASK], memory_order_relaxed);
	if (n == 0)
		return g;
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	if (t - h + n >= GORT__RUNQ_SIZE)
		gort__fatal("runq_steal: run queue overflow");
	atomic_store_explicit(&p->runqtail, t + n, memory_order_release);
	return g;
}

/* ------------------------------------------------------------------ */
/* Ps and Ms (sched.lock)                                              */
/* ------------------------------------------------------------------ */

static void acquirep(struct gort__m *m, struct gort__p *p)
{
	m->p = p;
	p->m = m;
	atomic_store_explicit(&p->status, GORT__P_RUNNING, memory_order_relaxed);
}

/* sched.lock held. */
static void pidleput(struct gort__p *p)
{
	if (p->m)
		p->m->p = NULL;
	p->m = NULL;
	atomic_store_explicit(&p->status, GORT__P_IDLE, memory_order_relaxed);
	p->link = gort__sched.pidle;
	gort__sched.pidle = p;
	atomic_fetch_add_explicit(&gort__sched.npidle, 1, memory_order_seq_cst);
}

/* sched.lock held. */
static struct gort__p *pidleget(void)
{
	struct gort__p *p = gort__sched.pidle;
	if (p) {
		gort__sched.pidle = p->link;
		atomic_fetch_sub_explicit(&gort__sched.npidle, 1, memory_order_seq_cst);
	}
	return p;
}

static void *m_main(void *arg);
static _Atomic bool warned_newm;

/* Create an M thread that will run p.  0 or a positive errno (ESHUTDOWN
 * once the runtime is stopping, EMLINK at the pool's limit, else why the
 * thread or its memory could not be had: EAGAIN, ENOMEM).  The thread is created and linked into allm
 * under sched.lock, after checking stopping, so gort_stop (which sets
 * stopping, then takes the lock to read allm) joins every M there is. */
static int newm(struct gort__p *p, bool spinning)
{
	struct gort__m *m = gort__sys_calloc(1, sizeof *m);
	if (!m)
		return ENOMEM;
	m->nextp = p;
	m->spinning = spinning;
	gort__lock_acquire(&gort__sched.lock);
	if (stopping()) {
		gort__lock_release(&gort__sched.lock);
		gort__sys_free(m);
		return ESHUTDOWN;
	}
	if (atomic_load(&gort__sched.mcount) >= gort__sched.maxm) {
		gort__lock_release(&gort__sched.lock);
		gort__sys_free(m);
		if (atomic_fetch_add_explicit(&gort__sched.mlimit_hits, 1, memory_order_relaxed) == 0)
			fprintf(stderr,
				"gort: the M pool is at its limit of %d threads (GORT_MAX_THREADS): "
				"blocking calls beyond it hold their P, the rest wait\n",
				gort__sched.maxm);
		return EMLINK;
	}
	m->id = atomic_fetch_add(&gort__sched.mcount, 1);
	m->rand = 0x9E3779B97F4A7C15ull * (uint64_t)(m->id + 1) | 1;
	int rc = gort__sys_thread_create(&m->thread, m_main, m);
	if (rc == 0) {
		m->alllink = gort__sched.allm;
		gort__sched.allm = m;
	} else {
		atomic_fetch_sub(&gort__sched.mcount, 1);
	}
	gort__lock_release(&gort__sched.lock);
	if (rc)
		gort__sys_free(m);
	return rc;
}

/* sched.lock held: take m off the idle list (it may be anywhere in it);
 * it no longer holds the timer duty. */
static void midle_unlink(struct gort__m *m)
{
	struct gort__m **pp = &gort__sched.midle;
	while (*pp != m)
		pp = &(*pp)->link;
	*pp = m->link;
	gort__sched.nmidle--;
	m->idle = false;
	if (gort__sched.mtimed == m)
		gort__sched.mtimed = NULL;
}

/* sched.lock held: an idle M to hand a P to, NULL if none.  The one on
 * timer duty goes last, so that the duty does not move for nothing. */
static struct gort__m *midle_get(void)
{
	struct gort__m *m = gort__sched.midle;
	if (m && m == gort__sched.mtimed && m->link)
		m = m->link;
	if (m)
		midle_unlink(m);
	return m;
}

/* Run p (an idle P if NULL) on an idle or new M.  If spinning, the caller
 * has already counted the new M in nmspinning. */
static void startm(struct gort__p *p, bool spinning)
{
	gort__lock_acquire(&gort__sched.lock);
	if (!p) {
		p = pidleget();
		if (!p) {
			gort__lock_release(&gort__sched.lock);
			if (spinning)
				atomic_fetch_sub(&gort__sched.nmspinning, 1);
			return;
		}
	}
	if (stopping()) {
		pidleput(p);
		gort__lock_release(&gort__sched.lock);
		if (spinning)
			atomic_fetch_sub(&gort__sched.nmspinning, 1);
		return;
	}
	struct gort__m *nm = midle_get();
	if (nm) {
		nm->spinning = spinning;
		nm->nextp = p;
		gort__lock_release(&gort__sched.lock);
		atomic_fetch_add_explicit(&gort__sched.wakeups, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&gort__sched.handoffs, 1, memory_order_relaxed);
		gort__note_wake(&nm->park);
		if (atomic_load_explicit(&gort__sysmon_deep, memory_order_relaxed))
			gort__sysmon_wake('w');
		return;
	}
	gort__lock_release(&gort__sched.lock);
	atomic_fetch_add_explicit(&gort__sched.handoffs, 1, memory_order_relaxed);
	int rc = newm(p, spinning);
	if (rc) {
		/* Keep going on the Ms we have; the work stays queued for them. */
		gort__lock_acquire(&gort__sched.lock);
		pidleput(p);
		gort__lock_release(&gort__sched.lock);
		if (spinning)
			atomic_fetch_sub(&gort__sched.nmspinning, 1);
		if (rc != ESHUTDOWN && rc != EMLINK) {
			/* sysmon tries again, so that queued work is not
			 * stranded on an idle P once threads can be made */
			atomic_store_explicit(&gort__sched.mstarve, true, memory_order_relaxed);
			if (atomic_load_explicit(&gort__sysmon_deep, memory_order_relaxed))
				gort__sysmon_wake('w');
			if (!atomic_exchange(&warned_newm, true))
				fprintf(stderr, "gort: cannot create an OS thread (%s); running on fewer\n",
					gort_strerror(-rc));
		}
	}
}

/* Step 1 of the protocol, for a caller whose store of the new work was a
 * seq_cst read-modify-write (the runnext exchange): that already orders
 * the store before the seq_cst loads below. */
static void wakep_nofence(void)
{
	if (atomic_load_explicit(&gort__sched.npidle, memory_order_seq_cst) == 0)
		return;
	int32_t z = 0;
	if (atomic_load_explicit(&gort__sched.nmspinning, memory_order_seq_cst) != 0 ||
	    !atomic_compare_exchange_strong(&gort__sched.nmspinning, &z, 1))
		return;
	startm(NULL, true);
}

/* Step 1 of the protocol: called after making a G runnable. */
static void wakep(void)
{
	gort__fence_sc();
	wakep_nofence();
}

void gort__wakep(void)
{
	wakep();
}

/* Step 2. */
static void reset_spinning(struct gort__m *m)
{
	m->spinning = false;
	if (atomic_fetch_sub(&gort__sched.nmspinning, 1) <= 0)
		gort__fatal("reset_spinning: negative nmspinning");
	wakep();
}

/* Idle time: give freed stacks' pages back, a chunk at a time, while no
 * work is queued and no timer is due within the next millisecond (each
 * chunk costs about 0.1 ms; work readied meanwhile wakes another M). */
static void scavenge(void)
{
	enum { CHUNK = 256 };
	const int64_t horizon = 1000000;
	while (gort__stack_scavenge(CHUNK)) {
		if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) > 0 || stopping())
			return;
		int64_t next = gort__timers_earliest();
		if (next && next < gort__nanotime() + horizon)
			return;
	}
}

/* The M about to sleep polls instead, blocking until the earliest timer,
 * if coroutines wait on descriptors and no other M blocks in epoll.
 * POLL_NONE: it did not; POLL_AGAIN: it polled, nothing to run (poll or
 * sleep again); POLL_RUN: m now holds a P with work (or the runtime is
 * stopping); POLL_BUSY: there is work (ready descriptors went to the
 * global queue, or a timer is due) but no P is free: the Ms that hold the
 * Ps will see it, so sleep without a deadline. */
enum { POLL_NONE, POLL_AGAIN, POLL_RUN, POLL_BUSY };
#define POLL_SPINS 4 /* non-blocking polls, steal_pause apart, before blocking */
static int poll_instead_of_sleeping(struct gort__m *m)
{
	if (!atomic_load_explicit(&gort__netpoll_waiters, memory_order_seq_cst) ||
	    !gort__netpoll_try_block())
		return POLL_NONE;
	if (stopping()) {
		gort__netpoll_unblock();
		return POLL_RUN;
	}
	int64_t deadline;
	/* Look a few times before blocking: a busy server's next packet is
	 * often microseconds away, and an M blocked in epoll is woken by each
	 * one (a wake-up in the sender's system call, then a thread switch). */
	struct gort__waiter *list = NULL;
	for (int i = 0; i < POLL_SPINS && !list; i++) {
		if (i)
			steal_pause();
		list = gort__netpoll(0);
		if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed))
			break; /* global work: take it rather than block */
	}
	if (!list && !atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) && !stopping()) {
		deadline = gort__timers_earliest(); /* a timer may have come meanwhile */
		list = gort__netpoll(deadline ? deadline : -1);
	}
	gort__netpoll_unblock();
	if (stopping())
		return POLL_RUN;
	deadline = gort__timers_earliest();
	bool due = deadline && deadline <= gort__nanotime();
	if (!list && !due)
		return POLL_AGAIN;
	gort__lock_acquire(&gort__sched.lock);
	struct gort__p *p = pidleget();
	gort__lock_release(&gort__sched.lock);
	if (p)
		acquirep(m, p);
	gort__waiter_wake_list(list); /* onto p's queue, or the global one */
	return p ? POLL_RUN : POLL_BUSY;
}

/* stopm: sleep until startm hands this M a P, or the runtime stops.
 *
 * Timer duty: one idle M at a time (sched.mtimed) sleeps only until the
 * earliest timer of all heaps; every other idle M sleeps until it is
 * handed a P (or, when it sees every P idle and no timer armed, for the
 * deadlock detector's confirmation window).  (When every idle M slept until the same deadline, they all woke at
 * once, and while they were off the idle list startm found none and made
 * new threads: the pool grew without bound under many short sleeps.)
 * Arming a timer that becomes its heap's earliest wakes the M on duty
 * where it sleeps, to re-compute its deadline (gort__timer_kick).  At its
 * deadline the M on duty leaves the list and the duty, takes a free P and
 * returns, so findrunnable runs the due timers; if it then has work, it
 * hands the duty to another idle M (timer_duty_refill), else it comes back
 * here and takes the duty again.  startm hands a P to the M on duty last. */

/* m was just put on the idle list; sched.lock is held, and released.
 * Sleep until taken off the list (handed a P, a poller wanted, the runtime
 * stopping): true; or, while on timer duty, until the earliest timer is
 * due: false, and m has left the list and the duty.  A kick wakes the M
 * on duty where it is, to re-compute its deadline.  With no timer armed,
 * an M that may (timed) and sees every P idle sleeps the deadlock
 * detector's confirmation window instead (then false as well). */
static bool idle_sleep(struct gort__m *m, bool timed)
{
	for (;;) {
		bool duty = gort__sched.mtimed == m;
		gort__lock_release(&gort__sched.lock);
		gort__fence_sc(); /* on the idle list, then read when0 (gort__timer_kick) */
		int64_t deadline = duty ? gort__timers_earliest() : 0;
		bool confirm = false; /* sleeping to confirm a deadlock */
		if (!deadline && timed) {
			deadline = gort__deadlock_idle_deadline();
			confirm = deadline != 0;
		}
		bool woken = deadline ? gort__note_sleep_until(&m->park, deadline)
				      : (gort__note_sleep(&m->park), true);
		if (!woken && confirm)
			gort__deadlock_check();
		gort__lock_acquire(&gort__sched.lock);
		if (!m->idle) {
			/* taken off the list: if we timed out meanwhile, the
			 * taker's wake is on its way */
			gort__lock_release(&gort__sched.lock);
			if (!woken)
				gort__note_sleep(&m->park);
			gort__note_clear(&m->park);
			return true;
		}
		if (!woken) {
			midle_unlink(m);
			gort__lock_release(&gort__sched.lock);
			return false;
		}
		gort__note_clear(&m->park); /* a kick (or a stale wake): again */
	}
}

static void stopm(struct gort__m *m)
{
	scavenge();
	bool timed = true; /* may poll, may take the timer duty */
	for (;;) {
		int pr = timed ? poll_instead_of_sleeping(m) : POLL_NONE;
		if (pr == POLL_RUN)
			return;
		if (pr == POLL_AGAIN)
			continue;
		if (pr == POLL_BUSY)
			timed = false;
		gort__lock_acquire(&gort__sched.lock);
		if (stopping()) {
			gort__lock_release(&gort__sched.lock);
			return;
		}
		m->link = gort__sched.midle;
		gort__sched.midle = m;
		gort__sched.nmidle++;
		m->idle = true;
		if (timed && !gort__sched.mtimed)
			gort__sched.mtimed = m;
		bool taken = idle_sleep(m, timed);
		if (m->nextp) {
			acquirep(m, m->nextp);
			m->nextp = NULL;
			return;
		}
		if (stopping())
			return;
		/* a timer is due, or a poller is wanted: take a free P and
		 * return (findrunnable runs the due timers and polls); with
		 * none, the busy Ps run the due timers at their next schedule */
		gort__lock_acquire(&gort__sched.lock);
		struct gort__p *p = pidleget();
		gort__lock_release(&gort__sched.lock);
		if (p) {
			acquirep(m, p);
			m->timer_refill = true;
			return;
		}
		/* Every P has an M, which runs the due timers (sw_finish): sleep
		 * until woken, not on a deadline that may already be past. */
		timed = taken;
	}
}

/* Wake the idle M on timer duty where it sleeps, so that it re-computes
 * its deadline; if none holds the duty, give it to an idle M and wake
 * that one.  If only_vacant, nothing when an M holds the duty.  At most
 * one M is ever woken for timers at a time: a kick does not take it off
 * the idle list (when every kick took an idle M off it, a burst of kicks
 * drained the list faster than an oversubscribed machine ran the woken
 * threads, and startm made new ones). */
static void timer_duty_wake(bool only_vacant)
{
	gort__lock_acquire(&gort__sched.lock);
	struct gort__m *m = gort__sched.mtimed;
	if (m && only_vacant)
		m = NULL;
	else if (!m && (m = gort__sched.midle))
		gort__sched.mtimed = m;
	gort__lock_release(&gort__sched.lock);
	if (m)
		gort__note_wake(&m->park);
}

/* A timer became its heap's earliest (its when0 is stored).  Dekker with
 * idle_sleep: either an M going idle reads the new when0 after this, or
 * this sees it on the idle list.  (Not "no idle P, no wake": an M may
 * take the duty while its P is taken by another, reading when0 before
 * this timer's store.) */
void gort__timer_kick(void)
{
	gort__netpoll_break();
	gort__fence_sc();
	if (atomic_load_explicit(&gort__sched.nmidle, memory_order_seq_cst) == 0)
		return;
	timer_duty_wake(false);
}

/* m left the timer duty holding a P (its deadline came, or a kick) and
 * found work: while it runs that, another idle M takes the duty, if
 * timers are armed and no M holds it. */
static void timer_duty_refill(struct gort__m *m)
{
	m->timer_refill = false;
	if (atomic_load_explicit(&gort__sched.nmidle, memory_order_relaxed) == 0 ||
	    !gort__timers_earliest())
		return;
	timer_duty_wake(true);
}

/* A plain thread started waiting on a descriptor: some M must poll.  An
 * idle M taken off the list goes round stopm's loop, which polls. */
void gort__netpoll_kick(void)
{
	gort__netpoll_break();
	if (atomic_load_explicit(&gort__sched.npidle, memory_order_relaxed) == 0)
		return;
	gort__lock_acquire(&gort__sched.lock);
	struct gort__m *m = gort__sched.midle;
	if (m) {
		midle_unlink(m);
		m->nextp = NULL;
	}
	gort__lock_release(&gort__sched.lock);
	if (m)
		gort__note_wake(&m->park);
}

/* ------------------------------------------------------------------ */
/* Switching                                                          */
/* ------------------------------------------------------------------ */

/* errno is per coroutine: saved when one switches out, restored when it
 * resumes.  errno is thread-local and __errno_location() is a const
 * function, so a compiler may keep its address across a switch: each M
 * caches its own errno's address (m->errnop), and the resumed side uses
 * the M that sw_finish returns, which is the one it runs on. */

static void release_dead(struct gort__m *m, struct gort__g *g)
{
	struct gort__p *p = m->p;
	gort__stack_put(&p->stacks, g->stack);
	g->stack = NULL;
	g->ctx = NULL;
	GORT__BUMP(p->st.exits);
	gort__gfput(p, g);
}

/* Runs in the resumed context right after every switch, on the same M as
 * the context that left: finish what that one could not do on its own
 * stack. */
static void run_all_timers(void);

/* Returns the M the resumed context runs on. */
static struct gort__m *sw_finish(gort__xfer t)
{
	struct gort__swrec *r = t.data;
	struct gort__m *m = r->m;
	struct gort__g *prev = r->prev;
	if (!prev) {
		m->g0ctx = t.from;
		return m;
	}
	prev->ctx = t.from;
	switch (r->action) {
	case GORT__SW_YIELD:
		atomic_store_explicit(&prev->state, GORT__G_RUNNABLE, memory_order_release);
		runq_put(m->p, prev, false);
		break;
	case GORT__SW_PARK:
		atomic_store_explicit(&prev->state, GORT__G_WAITING, memory_order_release);
		if (r->unlock && !r->unlock(r->unlock_arg)) {
			/* The park was called off: nobody else can have readied
			 * it, so it is ours to run again. */
			atomic_store_explicit(&prev->state, GORT__G_RUNNABLE, memory_order_release);
			runq_put(m->p, prev, true);
		}
		break;
	case GORT__SW_EXIT:
		release_dead(m, prev);
		break;
	case GORT__SW_GLOBAL:
		/* back from a syscall without a P (gort_syscall_exit) */
		atomic_store_explicit(&prev->state, GORT__G_RUNNABLE, memory_order_release);
		gort__lock_acquire(&gort__sched.lock);
		globrunq_put_batch(prev, prev, 1);
		gort__lock_release(&gort__sched.lock);
		atomic_fetch_add_explicit(&gort__sched.plain_global_puts, 1, memory_order_relaxed);
		wakep();
		return m;
	default:
		gort__fatal("sw_finish: bad action %d", r->action);
	}
	/* Due timers of this P run here, after the switch: the leaving
	 * context's lock is released by now (a timer's callback may send on
	 * the very channel a coroutine just parked on).  A relaxed load when
	 * no timer is armed. */
	if (gort__unlikely(atomic_load_explicit(&m->p->timers.when0, memory_order_relaxed)))
		gort__timers_run(m->p, gort__nanotime());
	/* Now and then every P's: one whose M is stuck in a long call (or
	 * whose idle M has not woken yet) still gets its timers run. */
	if (gort__unlikely(m->p->schedtick % GLOBAL_POLL == 0)) {
		m->p->clock = gort__ticks();
		if (gort__sched.nprocs > 1)
			run_all_timers();
		/* descriptors nobody polled for a millisecond (every M busy) */
		if (atomic_load_explicit(&gort__netpoll_waiters, memory_order_relaxed) &&
		    gort__nanotime() - gort__netpoll_last() > 1000000)
			gort__waiter_wake_list(gort__netpoll(0));
	}
	/* A busy runtime gives freed stacks' pages back too, paced (stack.c). */
	if (gort__unlikely((m->p->schedtick & (SCAVENGE_EVERY - 1)) == 0))
		gort__stack_scavenge(SCAVENGE_PACED);
	return m;
}

/* Make g the running G of m; bind a stack on its first run. */
GORT__INLINE void run_prepare(struct gort__m *m, struct gort__g *g)
{
	m->curg = g;
	g->m = m;
	atomic_store_explicit(&g->state, GORT__G_RUNNING, memory_order_relaxed);
	GORT__BUMP(m->p->st.runs);
	if (gort__unlikely(!g->ctx)) {
		struct gort__stack *s = gort__stack_get(&m->p->stacks, g->stack_req);
		if (!s)
			gort__fatal("out of memory: cannot map a %zu KiB stack for coroutine %lld",
				    (g->stack_req ? g->stack_req : gort__stack_default_size()) / 1024,
				    (long long)g->id);
		g->stack = s;
		g->ctx = gort__switch_make(&g->fiber, s->lo, s->size, gort__g_entry, &s->san);
	}
}

/* From the running G self on m: switch to next (or to g0 if NULL). */
/* Always inlined (out of line it costs a ping-pong round trip 20 ns),
 * except under ASan: forced inlining there made the canary check (a
 * no_sanitize read, stack.h) stop seeing an overwritten canary
 * (stack::overflow_is_reported_guard_canary), for reasons not yet
 * understood; plain static keeps it right. */
#ifdef GORT__ASAN
#define SWITCH_INLINE static
#else
#define SWITCH_INLINE GORT__INLINE
#endif
SWITCH_INLINE void switch_from_g(struct gort__m *m, struct gort__g *self, struct gort__g *next, int action,
			  gort__unlock_fn unlock, void *arg)
{
	self->saved_errno = *m->errnop;
	if (gort__unlikely(!gort__stack_canary_ok(self->stack)))
		gort__fatal_overflow(self, 1);
	m->sw.m = m;
	m->sw.prev = self;
	m->sw.action = action;
	m->sw.unlock = unlock;
	m->sw.unlock_arg = arg;
	if (gort__likely(m->p)) /* none: back from a syscall (gort_syscall_exit) */
		GORT__BUMP(m->p->st.switches);
	gort__xfer t;
	if (next) {
		run_prepare(m, next);
		t = gort__switch_jump(&self->fiber, &next->fiber, next->ctx, &m->sw);
	} else {
		m->curg = NULL;
		t = gort__switch_jump(&self->fiber, &m->g0fiber, m->g0ctx, &m->sw);
	}
	/* Resumed, possibly on another M: sw_finish says which. */
	m = sw_finish(t);
	*m->errnop = self->saved_errno;
}

/* The next G from local work only (a G context must not block or steal). */
GORT__INLINE struct gort__g *next_local(struct gort__p *p)
{
	if (stopping())
		return NULL;
	p->schedtick++;
	if (p->schedtick % GLOBAL_POLL == 0) {
		struct gort__g *g = globrunq_get(p, 1);
		if (g)
			return g;
	}
	return runq_get(p);
}

/* g_entry and exit_current never return (the context is abandoned), so
 * under TSan they must not push shadow frames: the TSan fiber is reused
 * with the stack, and its shadow stack would grow by two frames per
 * coroutine. */
GORT__NO_TSAN void gort__g_entry(gort__xfer t)
{
	gort__switch_landed_new();
	struct gort__swrec *r = t.data;
	struct gort__g *self = r->m->curg;
	*sw_finish(t)->errnop = 0;
	gort__recover_run_body(self); /* fn(arg) inside its panic boundary */
	gort__exit_current(self);
}

GORT__NO_TSAN void gort__exit_current(struct gort__g *self)
{
	struct gort__m *m = self->m;
	if (gort__unlikely(!gort__stack_canary_ok(self->stack)))
		gort__fatal_overflow(self, 1);
	struct gort__g *next = next_local(m->p);
	atomic_store_explicit(&self->state, GORT__G_DEAD, memory_order_relaxed);
	m->sw.m = m;
	m->sw.prev = self;
	m->sw.action = GORT__SW_EXIT;
	m->sw.unlock = NULL;
	GORT__BUMP(m->p->st.switches);
	if (next) {
		run_prepare(m, next);
		gort__switch_exit(&self->fiber, &next->fiber, next->ctx, &m->sw);
	}
	m->curg = NULL;
	gort__switch_exit(&self->fiber, &m->g0fiber, m->g0ctx, &m->sw);
}

void gort_yield(void)
{
	struct gort__m *m = gort__tls_m;
	struct gort__g *self = m ? m->curg : NULL;
	if (!self) {
		sched_yield();
		return;
	}
	struct gort__p *p = m->p;
	struct gort__g *next = next_local(p);
	if (!next && !stopping()) {
		/* Nothing queued: this P's due timers may ready someone (Go's
		 * Gosched goes through the scheduler, which runs them); a
		 * loop of yields must not keep this P's sleepers asleep. */
		if (atomic_load_explicit(&p->timers.when0, memory_order_relaxed)) {
			gort__timers_run(p, gort__nanotime());
			next = next_local(p);
		}
		if (!next)
			next = globrunq_get(p, 0);
		if (!next)
			return; /* nothing else to run here */
	}
	GORT__BUMP(p->st.yields);
	switch_from_g(m, self, next, GORT__SW_YIELD, NULL, NULL);
}


void gort__park(gort__unlock_fn unlock, void *arg, int reason, const char *file, int line)
{
	struct gort__m *m = gort__tls_m;
	struct gort__g *self = m ? m->curg : NULL;
	if (!self)
		gort__fatal("gort__park outside a coroutine");
#if GORT__DEBUG_INFO
	self->wait_file = file;
	self->wait_line = line;
	self->wait_since = m->p->clock; /* not gort__ticks(): 4% of a ping-pong */
	self->park_fp = __builtin_frame_address(0);
	self->parkseq++;
#else
	(void)file, (void)line;
#endif
	atomic_store_explicit(&self->wait_reason, (uint8_t)reason, memory_order_relaxed);
	GORT__BUMP(m->p->st.parks);
	struct gort__g *next = next_local(m->p);
	if (next && !next->ctx && unlock) {
		/* A first run binds a stack and faults its top page in: not
		 * while the wait queue's lock is held (every other coroutine
		 * parking there would wait for it).  g0 runs next instead,
		 * after the unlock. */
		m->handoff = next;
		next = NULL;
	}
	switch_from_g(m, self, next, GORT__SW_PARK, unlock, arg);
	atomic_store_explicit(&self->wait_reason, GORT__WR_NONE, memory_order_relaxed);
}

void gort__ready(struct gort__g *g)
{
	/* Only the one waker that took g off its wait queue (under that
	 * queue's lock, which ordered the WAITING store before this) gets
	 * here: a check and a store, no read-modify-write. */
	uint32_t w = atomic_load_explicit(&g->state, memory_order_relaxed);
	if (gort__unlikely(w != GORT__G_WAITING))
		gort__fatal("ready: coroutine %lld is not waiting (state %u)", (long long)g->id, w);
	atomic_store_explicit(&g->state, GORT__G_RUNNABLE, memory_order_relaxed);
	gort__sched_put_new(g);
}

void gort__sched_put_new(struct gort__g *g)
{
	struct gort__m *m = gort__tls_m;
	if (m && m->p) {
		if (gort__unlikely(m->in_timers)) {
			runq_put(m->p, g, false); /* timers: keep firing order */
			if (gort__sched.nprocs > 1)
				wakep();
			return;
		}
		runq_put(m->p, g, true); /* the seq_cst runnext exchange */
		if (gort__sched.nprocs > 1)
			wakep_nofence();
		return;
	}
	if (!gort__plain_enter()) {
		gort__plain_exit();
		return; /* stopping: the G is discarded with the rest */
	}
	gort__lock_acquire(&gort__sched.lock);
	globrunq_put_batch(g, g, 1);
	gort__lock_release(&gort__sched.lock);
	atomic_fetch_add_explicit(&gort__sched.plain_global_puts, 1, memory_order_relaxed);
	wakep();
	gort__plain_exit();
}

bool gort__plain_enter(void)
{
	atomic_fetch_add_explicit(&gort__sched.plain_inflight, 1, memory_order_seq_cst);
	return !atomic_load_explicit(&gort__sched.stopping, memory_order_seq_cst) &&
	       atomic_load_explicit(&gort__sched.running, memory_order_seq_cst);
}

void gort__plain_exit(void)
{
	atomic_fetch_sub_explicit(&gort__sched.plain_inflight, 1, memory_order_release);
}

/* ------------------------------------------------------------------ */
/* The scheduler loop (g0)                                             */
/* ------------------------------------------------------------------ */

static struct gort__g *steal_work(struct gort__m *m)
{
	struct gort__p *p = m->p;
	int n = gort__sched.nprocs;
	for (int pass = 0; pass < 4; pass++) {
		bool stealnext = pass == 3;
		int start = (int)(fastrand(&m->rand) % (uint32_t)n);
		for (int k = 0; k < n; k++) {
			if (stopping())
				return NULL;
			struct gort__p *v = gort__sched.allp[(start + k) % n];
			if (v == p || atomic_load_explicit(&v->status, memory_order_relaxed) == GORT__P_IDLE)
				continue;
			struct gort__g *g = runq_steal(p, v, stealnext);
			if (g)
				return g;
		}
	}
	return NULL;
}

/* Is there work anywhere?  (Step 3's final look; no P held.) */
static bool work_anywhere(void)
{
	if (atomic_load_explicit(&gort__sched.runqsize, memory_order_seq_cst) > 0)
		return true;
	for (int i = 0; i < gort__sched.nprocs; i++)
		if (!runq_empty(gort__sched.allp[i]))
			return true;
	return false;
}

/* Run the due timers of every P (their Ms may be busy or idle); the Gs
 * they ready land on this M's P. */
static void run_all_timers(void)
{
	int64_t now = 0;
	for (int i = 0; i < gort__sched.nprocs; i++) {
		struct gort__p *v = gort__sched.allp[i];
		int64_t w = atomic_load_explicit(&v->timers.when0, memory_order_relaxed);
		if (!w)
			continue;
		if (!now)
			now = gort__nanotime();
		if (w <= now)
			gort__timers_run(v, now);
	}
}

/* Find a G to run; blocks (the M sleeps) while there is none.  NULL once
 * the runtime stops. */
static struct gort__g *findrunnable(struct gort__m *m)
{
	struct gort__g *g;
top:
	if (stopping())
		return NULL;
	struct gort__p *p = m->p;
	p->schedtick++;
	p->clock = gort__ticks();
	run_all_timers();
	if (p->schedtick % GLOBAL_POLL == 0 && (g = globrunq_get(p, 1)))
		return g;
	if ((g = runq_get(p)))
		return g;
	if ((g = globrunq_get(p, 0)))
		return g;
	if (atomic_load_explicit(&gort__netpoll_waiters, memory_order_relaxed)) {
		gort__waiter_wake_list(gort__netpoll(0));
		if ((g = runq_get(p)))
			return g;
	}
	int32_t busy = gort__sched.nprocs - atomic_load(&gort__sched.npidle);
	if (gort__sched.nprocs > 1 &&
	    (m->spinning || 2 * atomic_load(&gort__sched.nmspinning) < busy)) {
		if (!m->spinning) {
			m->spinning = true;
			atomic_fetch_add(&gort__sched.nmspinning, 1);
		}
		if ((g = steal_work(m)))
			return g;
	}

	/* Nothing: give the P back and sleep. */
	gort__lock_acquire(&gort__sched.lock);
	if (stopping()) {
		gort__lock_release(&gort__sched.lock);
		return NULL;
	}
	if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) > 0) {
		int32_t n;
		g = globrunq_take(0, &n);
		gort__lock_release(&gort__sched.lock);
		return runq_put_chain(p, g, n);
	}
	pidleput(p);
	gort__lock_release(&gort__sched.lock);

	if (m->spinning) {
		m->spinning = false;
		if (atomic_fetch_sub(&gort__sched.nmspinning, 1) <= 0)
			gort__fatal("findrunnable: negative nmspinning");
		gort__fence_sc();
		if (work_anywhere()) {
			gort__lock_acquire(&gort__sched.lock);
			p = pidleget();
			gort__lock_release(&gort__sched.lock);
			if (p) {
				acquirep(m, p);
				m->spinning = true;
				atomic_fetch_add(&gort__sched.nmspinning, 1);
				goto top;
			}
		}
	}
	stopm(m);
	goto top;
}

static void execute(struct gort__m *m, struct gort__g *g)
{
	GORT__BUMP(m->p->st.switches);
	m->p->clock = gort__ticks(); /* not the hot path: g0 to a coroutine */
	run_prepare(m, g);
	m->sw.m = m;
	m->sw.prev = NULL;
	m->sw.action = GORT__SW_NONE;
	gort__xfer t = gort__switch_jump(&m->g0fiber, &g->fiber, g->ctx, &m->sw);
	sw_finish(t);
}

static void *m_main(void *arg)
{
	struct gort__m *m = arg;
	gort__tls_m = m;
	m->errnop = &errno;
	gort__switch_pin_mxcsr();
	gort__switch_thread_fiber(&m->g0fiber);
	gort__fault_thread_init(m);
	acquirep(m, m->nextp);
	m->nextp = NULL;
	for (;;) {
		if (!m->p) {
			/* its coroutine came back from a syscall to find its P
			 * gone, and went to the global queue: sleep till needed */
			stopm(m);
			if (!m->p)
				break;
		}
		struct gort__g *g = m->handoff;
		m->handoff = NULL;
		if (!g) {
			g = findrunnable(m);
			if (!g)
				break;
			if (m->spinning)
				reset_spinning(m);
			if (m->timer_refill)
				timer_duty_refill(m);
		}
		execute(m, g);
	}
	if (m->p) {
		gort__lock_acquire(&gort__sched.lock);
		pidleput(m->p);
		gort__lock_release(&gort__sched.lock);
	}
	gort__fault_thread_fini(m);
	gort__tls_m = NULL;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Blocking system calls, preemption points (sysmon's side: sysmon.c)  */
/* ------------------------------------------------------------------ */

void gort_syscall_enter(void)
{
	struct gort__m *m = gort__tls_m;
	if (!m || !m->curg || !m->p)
		return;
	struct gort__p *p = m->p;
	if (m->syscallp)
		gort__fatal("gort_syscall_enter: already in a syscall (no nesting)");
	m->syscallp = p;
	m->syscallword = (uint64_t)++p->syscalltick << 1 | 1;
	atomic_store_explicit(&p->status, GORT__P_SYSCALL, memory_order_relaxed);
	/* release: the P's state as we leave it is visible to whoever
	 * retakes it (sysmon's CAS acquires) */
	atomic_store_explicit(&p->syscallword, m->syscallword, memory_order_release);
}

void gort_syscall_exit(void)
{
	struct gort__m *m = gort__tls_m;
	if (!m || !m->curg || !m->syscallp)
		return;
	struct gort__p *p = m->syscallp;
	m->syscallp = NULL;
	uint64_t w = m->syscallword;
	if (atomic_compare_exchange_strong_explicit(&p->syscallword, &w, w & ~(uint64_t)1,
						    memory_order_acq_rel, memory_order_relaxed)) {
		atomic_store_explicit(&p->status, GORT__P_RUNNING, memory_order_relaxed);
		return; /* nobody took it */
	}
	/* sysmon handed it to another M: any idle P will do */
	m->p = NULL;
	gort__lock_acquire(&gort__sched.lock);
	struct gort__p *np = pidleget();
	gort__lock_release(&gort__sched.lock);
	if (np) {
		acquirep(m, np);
		return;
	}
	/* none: queue this coroutine globally, and let this M sleep */
	struct gort__g *self = m->curg;
	switch_from_g(m, self, NULL, GORT__SW_GLOBAL, NULL, NULL);
}

void gort_preempt_point(void)
{
	struct gort__m *m = gort__tls_m;
	if (!m || !m->curg || !m->p)
		return;
	if (gort__unlikely(atomic_load_explicit(&m->p->preempt, memory_order_relaxed))) {
		atomic_store_explicit(&m->p->preempt, false, memory_order_relaxed);
		gort_yield();
	}
}

int gort__runq_drain(struct gort__p *v)
{
	if (gort__sched.nprocs < 2)
		return 0;
	struct gort__g *head = NULL, *tail = NULL;
	int n = 0;
	for (;;) {
		uint32_t h = atomic_load_explicit(&v->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&v->runqtail, memory_order_acquire);
		uint32_t k = t - h;
		if (k == 0)
			break;
		if (k > GORT__RUNQ_SIZE)
			continue; /* h and t read at different times */
		struct gort__g *gs[GORT__RUNQ_SIZE];
		for (uint32_t i = 0; i < k; i++)
			gs[i] = atomic_load_explicit(&v->runq[(h + i) & RUNQ_MASK], memory_order_relaxed);
		if (!atomic_compare_exchange_strong_explicit(&v->runqhead, &h, h + k, memory_order_release,
							     memory_order_relaxed))
			continue;
		for (uint32_t i = 0; i < k; i++) {
			gs[i]->schedlink = NULL;
			if (tail)
				tail->schedlink = gs[i];
			else
				head = gs[i];
			tail = gs[i];
		}
		n += (int)k;
	}
	struct gort__g *g = atomic_load_explicit(&v->runnext, memory_order_acquire);
	if (g && atomic_compare_exchange_strong_explicit(&v->runnext, &g, NULL, memory_order_acq_rel,
							 memory_order_relaxed)) {
		g->schedlink = NULL;
		if (tail)
			tail->schedlink = g;
		else
			head = g;
		tail = g;
		n++;
	}
	if (!n)
		return 0;
	gort__lock_acquire(&gort__sched.lock);
	globrunq_put_batch(head, tail, n);
	gort__lock_release(&gort__sched.lock);
	atomic_fetch_add_explicit(&gort__sched.plain_global_puts, (uint64_t)n, memory_order_relaxed);
	wakep();
	return n;
}

void gort__handoffp(struct gort__p *p)
{
	/* work for it?  its own queue, the global one, or its timers */
	if (!runq_empty(p) || atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) > 0 ||
	    atomic_load_explicit(&p->timers.when0, memory_order_relaxed)) {
		startm(p, false);
		return;
	}
	gort__lock_acquire(&gort__sched.lock);
	pidleput(p);
	gort__lock_release(&gort__sched.lock);
	/* a coroutine readied meanwhile may have missed a P: look again */
	if (atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) > 0)
		wakep();
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* Zero the scheduler's state between runs, except the fields that plain
 * threads may read at any time (running, stopping, plain_inflight), which
 * only change through atomics. */
static void sched_reset(void)
{
	gort__sched.runqhead = gort__sched.runqtail = NULL;
	atomic_store(&gort__sched.runqsize, 0);
	gort__sched.pidle = NULL;
	atomic_store(&gort__sched.npidle, 0);
	gort__sched.midle = NULL;
	gort__sched.mtimed = NULL;
	gort__sched.nmidle = 0;
	gort__sched.allm = NULL;
	atomic_store(&gort__sched.mcount, 0);
	atomic_store(&gort__sched.nmspinning, 0);
	atomic_store(&gort__sched.wakeups, 0);
	atomic_store(&gort__sched.handoffs, 0);
	gort__sched.gfree = NULL;
	gort__sched.ngfree = 0;
	gort__sched.nprocs = 0;
	gort__sched.allp = NULL;
	atomic_store(&gort__sched.plain_spawns, 0);
	atomic_store(&gort__sched.plain_global_puts, 0);
}

static void free_ps(int n)
{
	for (int i = 0; i < n; i++) {
		gort__timers_fini(gort__sched.allp[i]);
		gort__sys_free(gort__sched.allp[i]);
	}
	gort__sys_free(gort__sched.allp);
	gort__sched.allp = NULL;
}

static int start(const gort_config *cfg, bool under_main)
{
	struct gort__config c;
	if (gort__getg())
		return -EDEADLK;
	pthread_mutex_lock(&lifecycle);
	int rc = 0;
	if (atomic_load(&gort__sched.running)) {
		rc = -EALREADY;
		goto out;
	}
	if ((rc = gort__config_resolve(cfg, &c)) != 0)
		goto out;
	if ((rc = gort__stack_init(c.stack_size, c.guard)) != 0)
		goto out;
	if ((rc = gort__fault_install()) != 0)
		goto out_stacks;
	atomic_store(&gort__sigpanic_enabled, c.sigpanic);

	if ((rc = gort__netpoll_init()) != 0)
		goto out_stacks;
	sched_reset();
	atomic_store(&gort__sched.stopping, false);
	gort__sched.nprocs = c.procs;
	gort__sched.maxm = c.max_threads;
	atomic_store(&gort__sched.mlimit_hits, 0);
	gort__sched.allp = gort__sys_calloc((size_t)c.procs, sizeof(struct gort__p *));
	if (!gort__sched.allp) {
		rc = -ENOMEM;
		goto out_stacks;
	}
	for (int i = 0; i < c.procs; i++) {
		struct gort__p *p = gort__sys_aligned_alloc(GORT__CACHELINE, sizeof *p);
		if (!p) {
			free_ps(i);
			rc = -ENOMEM;
			goto out_stacks;
		}
		p->id = i;
		p->rand = 0x2545F4914F6CDD1Dull * (uint64_t)(i + 1) | 1;
		gort__sched.allp[i] = p;
		if (gort__timers_init(p) != 0) {
			free_ps(i + 1);
			rc = -ENOMEM;
			goto out_stacks;
		}
	}
	for (int i = c.procs - 1; i >= 0; i--)
		pidleput(gort__sched.allp[i]);
	atomic_fetch_add(&gort__sched.run_id, 1);
	atomic_store(&gort__sched.running, true);
	/* the debug options, before any M reads them */
	gort__debug_start(&c.dbg, under_main);

	/* The first M, created now so that a missing thread is an error here
	 * rather than a hang later.  It finds nothing and goes idle. */
	gort__lock_acquire(&gort__sched.lock);
	struct gort__p *p0 = pidleget();
	gort__lock_release(&gort__sched.lock);
	int trc = newm(p0, false);
	if (trc) {
		atomic_store(&gort__sched.running, false);
		free_ps(c.procs);
		rc = -trc;
		goto out_stacks;
	}
	if ((rc = gort__sysmon_start()) != 0) {
		pthread_mutex_unlock(&lifecycle);
		gort_stop();
		return rc;
	}
	goto out;
out_stacks:
	gort__netpoll_fini();
	gort__stack_fini();
out:
	pthread_mutex_unlock(&lifecycle);
	return rc;
}

int gort_start(const gort_config *cfg)
{
	return start(cfg, false);
}

int gort_stop(void)
{
	if (gort__getg())
		return -EDEADLK;
	pthread_mutex_lock(&lifecycle);
	if (!atomic_load(&gort__sched.running)) {
		pthread_mutex_unlock(&lifecycle);
		return -ESRCH;
	}
	gort__sysmon_stop();
	gort__debug_stop();
	atomic_store(&gort__sched.stopping, true);
	/* Let plain-thread calls that entered before stopping was set finish
	 * (gort__plain_enter; Dekker with its seq_cst pair). */
	while (atomic_load_explicit(&gort__sched.plain_inflight, memory_order_seq_cst) != 0)
		sched_yield();
	gort__lock_acquire(&gort__sched.lock);
	while (gort__sched.midle) {
		struct gort__m *m = gort__sched.midle;
		midle_unlink(m);
		m->nextp = NULL;
		gort__note_wake(&m->park);
	}
	struct gort__m *all = gort__sched.allm;
	gort__lock_release(&gort__sched.lock);
	gort__netpoll_break(); /* the M blocked in epoll, if any */
	/* No M is created once stopping is set (startm checks it under the
	 * lock), so the list is complete. */
	for (struct gort__m *m = all; m; m = m->alllink)
		pthread_join(m->thread, NULL);
	while (all) {
		struct gort__m *n = all->alllink;
		gort__sys_free(all);
		all = n;
	}
	gort__coro_fini();
	gort__netpoll_fini();
	gort__lost_ctx_reset();
	free_ps(gort__sched.nprocs);
	gort__stack_fini();
	gort__traceback_fini();
	sched_reset();
	atomic_store(&gort__sched.running, false);
	pthread_mutex_unlock(&lifecycle);
	return 0;
}

bool gort_running(void)
{
	return atomic_load(&gort__sched.running) && !atomic_load(&gort__sched.stopping);
}

int gort_procs(void)
{
	return gort_running() ? gort__sched.nprocs : 0;
}

struct main_call {
	int (*fn)(void *);
	void *arg;
	int ret;
	gort__note done;
};

static void main_tramp(void *arg)
{
	struct main_call *mc = arg;
	mc->ret = mc->fn(mc->arg);
	atomic_store(&gort__dbg_main_done, true);
	gort__note_wake(&mc->done);
}

int gort_main_cfg(const gort_config *cfg, int (*fn)(void *), void *arg)
{
	if (!fn)
		return -EINVAL;
	int rc = start(cfg, true);
	if (rc)
		return rc;
	struct main_call mc = {.fn = fn, .arg = arg};
	gort__note_clear(&mc.done);
	/* its site: "gort_main" with no line (dumps say "created by gort_main") */
	gort_id id = gort_go_opts(main_tramp, &mc, &(const gort_spawn_opts){.name = "main"}, "gort_main", 0);
	if (id < 0) {
		gort_stop();
		return (int)id;
	}
	gort__note_sleep(&mc.done);
	gort__debug_main_returned();
	gort_stop();
	if (gort__debug_main_exit_status())
		exit(1); /* leakcheck=1 found leaks (it said so) */
	return mc.ret;
}

gort_id gort_self(void)
{
	struct gort__g *g = gort__getg();
	return g ? g->id : 0;
}

int gort_current_proc(void)
{
	struct gort__m *m = gort__tls_m;
	return m && m->curg && m->p ? m->p->id : -1;
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

GORT__NO_TSAN static void add_pstats(gort_stats *o, struct gort__p *p)
{
#define RD(f) o->f += gort__stat_read(p->st.f)
	RD(spawns);
	RD(exits);
	RD(runs);
	RD(switches);
	RD(yields);
	RD(parks);
	RD(steals);
	RD(stolen);
	RD(global_takes);
	RD(global_puts);
	RD(timers_fired);
#undef RD
}

static void global_stats(gort_stats *o)
{
	o->procs = gort__sched.nprocs;
	o->threads = atomic_load(&gort__sched.mcount);
	o->idle_procs = atomic_load(&gort__sched.npidle);
	o->spinning = atomic_load(&gort__sched.nmspinning);
	o->wakeups = atomic_load_explicit(&gort__sched.wakeups, memory_order_relaxed);
	o->handoffs = atomic_load_explicit(&gort__sched.handoffs, memory_order_relaxed);
	o->idle_threads = atomic_load_explicit(&gort__sched.nmidle, memory_order_relaxed);
}

int gort_stats_read(gort_stats *out)
{
	if (!out)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	memset(out, 0, sizeof *out);
	for (int i = 0; i < gort__sched.nprocs; i++)
		add_pstats(out, gort__sched.allp[i]);
	out->spawns += atomic_load_explicit(&gort__sched.plain_spawns, memory_order_relaxed);
	out->global_puts += atomic_load_explicit(&gort__sched.plain_global_puts, memory_order_relaxed);
	global_stats(out);
	return 0;
}

int gort_proc_stats_read(int proc, gort_stats *out)
{
	if (!out)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	if (proc < 0 || proc >= gort__sched.nprocs)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	add_pstats(out, gort__sched.allp[proc]);
	global_stats(out);
	return 0;
}

int64_t gort_num_coroutines(void)
{
	gort_stats s;
	if (gort_stats_read(&s) != 0)
		return 0;
	return (int64_t)(s.spawns - s.exits);
}
