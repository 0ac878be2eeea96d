/*
 * chan.c — channels with Go's semantics (protocol in chan.h).
 *
 * Send: if a receiver waits, the value goes straight into the receiver's
 * elem (one copy, no buffer); else into the buffer if there is room; else
 * the sender queues a sudog pointing at its value and parks.  Receive is
 * the mirror; with a full buffer and a waiting sender, the receiver takes
 * the buffer's head and the sender's value goes to the tail, so FIFO order
 * holds.  Close marks the channel, takes every waiter off both queues
 * under the lock (receivers get the zero value, senders learn they must
 * panic), and wakes them after unlocking.  Waiters are served first come,
 * first served.
 *
 * Lifetime (chan.h): the last release frees the channel, unless a
 * coroutine still waits on it: then it is marked orphaned, and stays while
 * anything is queued on it (plain waiters left there can never be woken:
 * the memory stays valid under them).  A plain send or receive touches the
 * channel only while queued or under its lock, so it needs no reference of
 * its own (two atomics saved per blocking operation); a select, which locks
 * its channels again after it wakes, counts itself in selrefs, under the
 * lock it holds anyway.
 *
 * Switches: a send to a waiting receiver readies it (runnext of the
 * sender's P) and does not switch; a receive that must wait parks (1
 * switch), so a ping-pong round trip is two parks and two readies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

void gort__sudogq_push(struct gort__sudogq *q, struct gort__sudog *s)
{
	GORT__FIFO_PUSH(q, s);
	s->queued = true;
}

void gort__sudogq_remove(struct gort__sudogq *q, struct gort__sudog *s)
{
	if (!s->queued)
		return;
	GORT__FIFO_REMOVE(q, s);
	s->queued = false;
}

struct gort__sudog *gort__sudogq_take(struct gort__sudogq *q)
{
	struct gort__sudog *s;
	while ((s = q->head)) {
		gort__sudogq_remove(q, s);
		if (!s->sel)
			return s;
		uint32_t z = 0;
		if (atomic_compare_exchange_strong_explicit(&s->sel->done, &z, 1, memory_order_acq_rel,
							    memory_order_relaxed)) {
			s->sel->winner = s->caseidx;
			return s;
		}
		/* that select was already woken through another channel */
	}
	return NULL;
}

static inline char *slot(struct gort_chan *c, size_t i)
{
	return c->buf + i * c->elemsize;
}

void gort__chan_do_send(struct gort_chan *c, struct gort__sudog *r, const void *elem)
{
	gort__chan_copy(c, r->elem, elem);
	r->success = true;
}

void gort__chan_do_recv(struct gort_chan *c, struct gort__sudog *s, void *elem)
{
	if (c->cap == 0) {
		gort__chan_copy(c, elem, s->elem);
	} else {
		/* buffer full: take the head, the sender's value goes to the tail */
		gort__chan_copy(c, elem, slot(c, c->recvx));
		if (c->elemsize)
			memcpy(slot(c, c->recvx), s->elem, c->elemsize);
		c->recvx = (c->recvx + 1) % c->cap;
		c->sendx = c->recvx;
	}
	s->success = true;
}

gort_chan *gort_chan_make(size_t elem_size, size_t cap)
{
	/* Go's makechan: a size that is negative as a signed number ((size_t)-1
	 * from a negative int) or whose buffer overflows is out of range, never
	 * a giant allocation; the rest is up to the allocator (2^60 bytes is
	 * refused there) */
	if (elem_size > PTRDIFF_MAX || cap > PTRDIFF_MAX ||
	    (elem_size && cap > (PTRDIFF_MAX - sizeof(struct gort_chan)) / elem_size))
		return NULL;
	struct gort_chan *c = gort__sys_calloc(1, sizeof *c + elem_size * cap);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->elemsize = elem_size;
	c->cap = cap;
	c->buf = (char *)(c + 1);
	return c;
}

gort_chan *gort_chan_retain(gort_chan *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

/* Orphans still waited on, for the leak check.  Lock order: a channel's
 * lock, then orphans_lock (an orphan joins under its lock, so that the
 * select that later frees it finds it there). */
static gort__lock orphans_lock = GORT__LOCK_INIT;
static struct gort_chan *orphans; /* (orphans_lock) */

static void orphan_link(struct gort_chan *c)
{
	gort__lock_acquire(&orphans_lock);
	c->orph_prev = NULL;
	c->orph_next = orphans;
	if (orphans)
		orphans->orph_prev = c;
	orphans = c;
	gort__lock_release(&orphans_lock);
}

void gort__chan_orphan_free(struct gort_chan *c)
{
	gort__lock_acquire(&orphans_lock);
	if (c->orph_prev)
		c->orph_prev->orph_next = c->orph_next;
	else if (orphans == c)
		orphans = c->orph_next;
	if (c->orph_next)
		c->orph_next->orph_prev = c->orph_prev;
	gort__lock_release(&orphans_lock);
	gort__sys_free(c);
}

void gort__chan_orphans_each(void (*fn)(const struct gort_chan *c, void *arg), void *arg)
{
	gort__lock_acquire(&orphans_lock);
	for (struct gort_chan *c = orphans; c; c = c->orph_next)
		fn(c, arg);
	gort__lock_release(&orphans_lock);
}

void gort_chan_release(gort_chan *c)
{
	if (!c)
		return;
	int32_t r = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
	if (r == 1) {
		/* The lock also waits out a park still releasing it. */
		gort__lock_acquire(&c->lock);
		c->orphaned = true;
		bool done = gort__chan_orphan_done(c);
		if (!done)
			orphan_link(c);
		gort__lock_release(&c->lock);
		if (done)
			gort__sys_free(c);
	} else if (r <= 0)
		gort__fatal("gort_chan_release: channel %p released more times than retained", (void *)c);
}

size_t gort_chan_len(gort_chan *c)
{
	if (!c)
		return 0;
	gort__lock_acquire(&c->lock);
	size_t n = c->count;
	gort__lock_release(&c->lock);
	return n;
}

size_t gort_chan_cap(gort_chan *c)
{
	return c ? c->cap : 0;
}

_Noreturn void gort__block_forever(int reason, const char *file, int line)
{
	if (gort__getg()) {
		for (;;)
			gort__park(NULL, NULL, reason, file, line);
	}
	gort__note n;
	gort__note_clear(&n);
	for (;;)
		gort__note_sleep(&n);
}

static void sudog_init(struct gort__sudog *s, void *elem)
{
	memset(s, 0, sizeof *s);
	gort__waiter_init(&s->own);
	s->wake = &s->own;
	s->elem = elem;
}

/* One send; block: may it wait.  0, or -EAGAIN when it would block. */
GORT__INLINE int chan_send(struct gort_chan *c, const void *elem, bool block, const char *file, int line)
{
	if (!c) {
		if (!block)
			return -EAGAIN;
		gort__block_forever(GORT__WR_CHAN_SEND_NIL, file, line);
	}
	if (gort__unlikely(!elem && c->elemsize))
		return -EINVAL; /* nothing to copy the value from */
	gort__lock_acquire(&c->lock);
	if (c->closed) {
		gort__lock_release(&c->lock);
		gort__panic_msg("send on closed channel");
	}
	struct gort__sudog *r = gort__sudogq_take(&c->recvq);
	if (r) {
		gort__chan_do_send(c, r, elem);
		gort__lock_release(&c->lock);
		gort__sudog_wake(r);
		return 0;
	}
	if (c->count < c->cap) {
		gort__chan_buf_put(c, elem);
		gort__lock_release(&c->lock);
		return 0;
	}
	if (!block) {
		gort__lock_release(&c->lock);
		return -EAGAIN;
	}
	struct gort__sudog me;
	sudog_init(&me, (void *)elem);
	gort__sudogq_push(&c->sendq, &me);
	if (GORT__DEBUG_INFO && me.own.g)
		me.own.g->wait_obj = c;
	gort__waiter_block(&me.own, &c->lock, GORT__WR_CHAN_SEND, file, line);
	bool ok = me.success; /* c may be gone by now: not touched again */
	if (!ok)
		gort__panic_msg("send on closed channel");
	return 0;
}

GORT__INLINE int chan_recv(struct gort_chan *c, void *elem, bool *okp, bool block, const char *file,
		     int line)
{
	if (!c) {
		if (!block)
			return -EAGAIN;
		gort__block_forever(GORT__WR_CHAN_RECV_NIL, file, line);
	}
	gort__lock_acquire(&c->lock);
	struct gort__sudog *s = gort__sudogq_take(&c->sendq);
	if (s) {
		gort__chan_do_recv(c, s, elem);
		gort__lock_release(&c->lock);
		gort__sudog_wake(s);
		if (okp)
			*okp = true;
		return 0;
	}
	if (c->count > 0) {
		gort__chan_buf_get(c, elem);
		gort__lock_release(&c->lock);
		if (okp)
			*okp = true;
		return 0;
	}
	if (c->closed) {
		gort__chan_zero(c, elem); /* under the lock: c may go once it is released */
		gort__lock_release(&c->lock);
		if (okp)
			*okp = false;
		return 0;
	}
	if (!block) {
		gort__lock_release(&c->lock);
		return -EAGAIN;
	}
	struct gort__sudog me;
	sudog_init(&me, elem);
	gort__sudogq_push(&c->recvq, &me);
	if (GORT__DEBUG_INFO && me.own.g)
		me.own.g->wait_obj = c;
	gort__waiter_block(&me.own, &c->lock, GORT__WR_CHAN_RECV, file, line);
	if (okp)
		*okp = me.success; /* c may be gone by now: not touched again */
	return 0;
}

int gort_chan_send_at(gort_chan *c, const void *elem, const char *file, int line)
{
	return chan_send(c, elem, true, file, line);
}

int gort_chan_recv_at(gort_chan *c, void *elem, bool *ok, const char *file, int line)
{
	return chan_recv(c, elem, ok, true, file, line);
}

int gort_chan_try_send(gort_chan *c, const void *elem)
{
	return chan_send(c, elem, false, NULL, 0);
}

int gort_chan_try_recv(gort_chan *c, void *elem, bool *ok)
{
	return chan_recv(c, elem, ok, false, NULL, 0);
}

void gort_chan_close(gort_chan *c)
{
	if (!c)
		gort__panic_msg("close of nil channel");
	gort__lock_acquire(&c->lock);
	if (c->closed) {
		gort__lock_release(&c->lock);
		gort__panic_msg("close of closed channel");
	}
	c->closed = true;
	/* collect every waiter, then wake them unlocked */
	struct gort__sudog *list = NULL, *s;
	while ((s = gort__sudogq_take(&c->recvq))) {
		gort__chan_zero(c, s->elem);
		s->success = false;
		s->next = list;
		list = s;
	}
	while ((s = gort__sudogq_take(&c->sendq))) {
		s->success = false;
		s->next = list;
		list = s;
	}
	gort__lock_release(&c->lock);
	while (list) {
		s = list;
		list = s->next; /* read before the wake: s may vanish */
		gort__sudog_wake(s);
	}
}
