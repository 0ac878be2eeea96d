/*
 * rwmutex.c — gort_rwmutex, Go's sync.RWMutex: writer preference, no
 * writer starvation, cancellable waits on both sides.
 *
 * Owns: w (a gort_mutex that writers take first, so at most one writer is
 * ever pending or holding), rc (the reader word), and under lk the queue
 * of blocked readers, the parked writer and reader_wait.
 *
 * rc (atomic, 64 bits) is the number epoch * 2^32 + readers, readers a
 * signed 32-bit count (decoded by rc_readers/rc_epoch):
 *   readers >= 0   no writer: that many readers hold the lock;
 *   readers < 0    a writer is pending or holds it: readers + MAX readers
 *                  are registered (active ones from before the writer, and
 *                  blocked ones since);
 *   epoch          bumped each time a writer leaves: by unlock (with the
 *                  same add that lets readers back; it then takes lk to
 *                  release the queued readers), or by a cancelled lock_ctx
 *                  (under lk).  A writer that could count down readers
 *                  (reader_wait) is only ever cancelled under lk.
 * RLock adds 1 (one fetch_add); if the result is negative a writer is
 * there: the reader is registered and blocks.  RUnlock subtracts 1; a
 * negative result means a writer waits for active readers: the reader
 * counts down reader_wait (under lk) and wakes the writer at zero.  Lock
 * takes w, subtracts MAX (blocking new readers: writer preference) and
 * waits until the readers that were active (the count it saw) have left.
 * Unlock adds MAX + 2^32 (readers come back, epoch moves) and lets the
 * blocked readers in.
 *
 * Why the epoch: a blocked reader learns atomically, from the value its
 * fetch_add returned, which writer it registered under.  Under lk it
 * queues only if that writer is still there (same epoch); otherwise the
 * writer has gone and counted it as a reader, so it just proceeds.  When
 * its context cancels the wait before it queued, the same test says
 * whether it may take its registration back (same epoch: the writer never
 * counted it) or is a reader already (then rlock_ctx returns 0).  A queued
 * reader that is cancelled always takes it back: the writer that is
 * leaving still holds w until it has released the queue, so no later
 * writer can have counted it.  A reader's count-down of reader_wait counts only if the epoch is
 * still the one its fetch_add saw: a writer that gave up (cancelled)
 * resets reader_wait, and late count-downs of its readers are ignored.
 *
 * A cancelled writer (lock_ctx) leaves as unlock does: under lk it adds
 * MAX + 2^32, resets reader_wait and releases the blocked readers, then
 * unlocks w.  The decision is made under lk, where readers count down, so
 * the writer is either granted (reader_wait reached zero first) or
 * cancelled, never both.
 *
 * Costs: RLock/RUnlock one atomic each without a writer; Lock/Unlock two
 * atomics each (w and rc) without readers.  Misuse panics, leaving rc as
 * it was (runlock undoes its add; unlock checks first): "sync: RUnlock of
 * unlocked RWMutex", "sync: Unlock of unlocked RWMutex".
 */
#include <assert.h>

#include "sema.h"

#define RW_MAX (1 << 30)                  /* at most this many readers */
#define RW_EPOCH ((uint64_t)1 << 32)

struct rw_impl {
	gort_mutex w;               /* writers' mutex */
	_Atomic uint64_t rc;        /* (a) see above; acquire/release pairs as a lock */
	gort__lock lk;
	int32_t reader_wait;        /* (lk) active readers the pending writer waits for */
	struct gort__waitq readers; /* (lk) blocked readers */
	struct gort__waitq writer;  /* (lk) the parked writer (at most one: w) */
};

static_assert(sizeof(struct rw_impl) <= sizeof(gort_rwmutex), "gort_rwmutex too small");
static_assert(_Alignof(struct rw_impl) <= _Alignof(gort_rwmutex), "gort_rwmutex under-aligned");

#define RW(p) ((struct rw_impl *)(void *)(p))

static inline int32_t rc_readers(uint64_t v)
{
	return (int32_t)(uint32_t)v;
}

static inline uint32_t rc_epoch(uint64_t v)
{
	return (uint32_t)((v - (uint64_t)(int64_t)rc_readers(v)) >> 32);
}

static inline uint64_t rc_add(struct rw_impl *rw, int64_t d, memory_order mo)
{
	return atomic_fetch_add_explicit(&rw->rc, (uint64_t)d, mo) + (uint64_t)d;
}

/* A waiting reader or writer, on its stack (sema.h: a cancellable wait). */
struct rw_wait {
	struct gort__cwait cw;
	struct rw_impl *rw;
};

/* Under lk: the writer leaves (unlock, or cancelled lock).  Returns the
 * blocked readers to wake after unlocking lk. */
static struct gort__waiter *writer_leave_locked(struct rw_impl *rw)
{
	(void)rc_add(rw, RW_MAX + (int64_t)RW_EPOCH, memory_order_release);
	rw->reader_wait = 0;
	struct gort__waiter *head = gort__waitq_take_all(&rw->readers);
	for (struct gort__waiter *w = head; w; w = w->next)
		w->state = GORT__WS_GRANTED;
	return head;
}

/* ---------------------------------------------------------------- readers */

/* The context took a queued reader away: still the same writer's epoch,
 * so take its registration back. */
static struct gort__waiter *reader_unqueue(struct gort__cwait *cw)
{
	struct rw_impl *rw = GORT__CONTAINER_OF(cw, struct rw_wait, cw)->rw;
	gort__waitq_remove(&rw->readers, &cw->w);
	(void)rc_add(rw, -1, memory_order_relaxed);
	return NULL;
}

static int rlock_slow(struct rw_impl *rw, gort_ctx *ctx, uint32_t epoch, const char *file, int line)
{
	struct rw_wait rwt = {.rw = rw};
	int err = gort__cwait_begin(&rwt.cw, ctx, &rw->lk, &rw->readers, reader_unqueue);
	gort__lock_acquire(&rw->lk);
	uint64_t v = atomic_load_explicit(&rw->rc, memory_order_acquire);
	if (rc_epoch(v) != epoch) {
		/* the writer left after we registered: we are a reader */
		gort__lock_release(&rw->lk);
		gort__cwait_end(&rwt.cw);
		return 0;
	}
	if (err || gort__cwait_cancelled(&rwt.cw)) {
		(void)rc_add(rw, -1, memory_order_relaxed);
		gort__lock_release(&rw->lk);
		gort__cwait_end(&rwt.cw);
		return err ? err : rwt.cw.err;
	}
	return gort__cwait_wait(&rwt.cw, false, GORT__SYNC_WR_RLOCK, file, line);
}

void gort_rwmutex_rlock_at(gort_rwmutex *p, const char *file, int line)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_rlock: rw is NULL");
	uint64_t v = rc_add(rw, 1, memory_order_acquire);
	if (gort__unlikely(rc_readers(v) < 0))
		(void)rlock_slow(rw, NULL, rc_epoch(v), file, line);
}

int gort_rwmutex_rlock_ctx_at(gort_ctx *ctx, gort_rwmutex *p, const char *file, int line)
{
	struct rw_impl *rw = RW(p);
	if (!p)
		return -EINVAL;
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err;
	uint64_t v = rc_add(rw, 1, memory_order_acquire);
	if (gort__likely(rc_readers(v) >= 0))
		return 0;
	return rlock_slow(rw, ctx, rc_epoch(v), file, line);
}

bool gort_rwmutex_tryrlock(gort_rwmutex *p)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_tryrlock: rw is NULL");
	uint64_t v = atomic_load_explicit(&rw->rc, memory_order_relaxed);
	while (rc_readers(v) >= 0) {
		if (atomic_compare_exchange_weak_explicit(&rw->rc, &v, v + 1, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

static void runlock_slow(struct rw_impl *rw, uint64_t v)
{
	int32_t r = rc_readers(v);
	if (r + 1 == 0 || r + 1 == -RW_MAX) {
		(void)rc_add(rw, 1, memory_order_relaxed);
		gort__panic_msg("sync: RUnlock of unlocked RWMutex");
	}
	struct gort__waiter *w = NULL;
	gort__lock_acquire(&rw->lk);
	uint64_t now = atomic_load_explicit(&rw->rc, memory_order_relaxed);
	if (rc_epoch(now) == rc_epoch(v) && --rw->reader_wait == 0 &&
	    (w = gort__waitq_pop(&rw->writer)) != NULL)
		w->state = GORT__WS_GRANTED;
	gort__lock_release(&rw->lk);
	if (w)
		gort__waiter_wake(w);
}

void gort_rwmutex_runlock(gort_rwmutex *p)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_runlock: rw is NULL");
	uint64_t v = rc_add(rw, -1, memory_order_release);
	if (gort__unlikely(rc_readers(v) < 0))
		runlock_slow(rw, v);
}

/* ---------------------------------------------------------------- writers */

/* The context took the waiting writer away: it leaves, and lets the
 * readers it held back in. */
static struct gort__waiter *writer_unqueue(struct gort__cwait *cw)
{
	struct rw_impl *rw = GORT__CONTAINER_OF(cw, struct rw_wait, cw)->rw;
	gort__waitq_remove(&rw->writer, &cw->w);
	return writer_leave_locked(rw);
}

/* We hold w and have blocked new readers; r readers were active. */
static int wait_readers(struct rw_impl *rw, gort_ctx *ctx, int32_t r, const char *file, int line)
{
	struct rw_wait rwt = {.rw = rw};
	int err = gort__cwait_begin(&rwt.cw, ctx, &rw->lk, &rw->writer, writer_unqueue);
	gort__lock_acquire(&rw->lk);
	rw->reader_wait += r;
	if (rw->reader_wait == 0) {
		gort__lock_release(&rw->lk);
		gort__cwait_end(&rwt.cw);
		return 0;
	}
	if (err || gort__cwait_cancelled(&rwt.cw)) {
		struct gort__waiter *readers = writer_leave_locked(rw);
		gort__lock_release(&rw->lk);
		gort__waiter_wake_list(readers);
		gort__cwait_end(&rwt.cw);
		return err ? err : rwt.cw.err;
	}
	return gort__cwait_wait(&rwt.cw, false, GORT__SYNC_WR_WLOCK, file, line);
}

static int lock_common(struct rw_impl *rw, gort_ctx *ctx, const char *file, int line)
{
	uint64_t v = rc_add(rw, -RW_MAX, memory_order_acq_rel);
	int32_t r = rc_readers(v) + RW_MAX;
	if (r == 0)
		return 0;
	int err = wait_readers(rw, ctx, r, file, line);
	if (err)
		gort_mutex_unlock(&rw->w);
	return err;
}

void gort_rwmutex_lock_at(gort_rwmutex *p, const char *file, int line)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_lock: rw is NULL");
	gort_mutex_lock_at(&rw->w, file, line);
	(void)lock_common(rw, NULL, file, line);
}

int gort_rwmutex_lock_ctx_at(gort_ctx *ctx, gort_rwmutex *p, const char *file, int line)
{
	struct rw_impl *rw = RW(p);
	if (!p)
		return -EINVAL;
	int err = gort_mutex_lock_ctx_at(ctx, &rw->w, file, line);
	if (err)
		return err;
	return lock_common(rw, ctx, file, line);
}

bool gort_rwmutex_trylock(gort_rwmutex *p)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_trylock: rw is NULL");
	if (!gort_mutex_trylock(&rw->w))
		return false;
	uint64_t v = atomic_load_explicit(&rw->rc, memory_order_relaxed);
	while (rc_readers(v) == 0) {
		if (atomic_compare_exchange_weak_explicit(&rw->rc, &v, v - RW_MAX, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	gort_mutex_unlock(&rw->w);
	return false;
}

void gort_rwmutex_unlock(gort_rwmutex *p)
{
	struct rw_impl *rw = RW(p);
	if (gort__unlikely(!p))
		gort__panic_msg("gort_rwmutex_unlock: rw is NULL");
	if (rc_readers(atomic_load_explicit(&rw->rc, memory_order_relaxed)) >= 0)
		gort__panic_msg("sync: Unlock of unlocked RWMutex");
	/* The epoch moves outside lk: a blocked reader that saw the old one
	 * under lk queued before we take lk below, one that looks later sees
	 * the new one and goes in.  With no reader registered, none is queued
	 * and none will queue: lk is not needed. */
	uint64_t v = rc_add(rw, RW_MAX + (int64_t)RW_EPOCH, memory_order_release);
	if (rc_readers(v) > 0) {
		gort__lock_acquire(&rw->lk);
		struct gort__waiter *head = gort__waitq_take_all(&rw->readers);
		for (struct gort__waiter *w = head; w; w = w->next)
			w->state = GORT__WS_GRANTED;
		gort__lock_release(&rw->lk);
		gort__waiter_wake_list(head);
	}
	gort_mutex_unlock(&rw->w);
}
