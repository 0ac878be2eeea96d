/*
 * select.c — Go's select over any number of send and receive cases.
 *
 * 1. Poll order: a uniformly random permutation of the cases
 *    (Fisher-Yates), so that among ready cases each is chosen with equal
 *    probability (a random start followed by a scan would favour the case
 *    after a run of unready ones).
 * 2. Lock order: the distinct channels sorted by address; every select
 *    locks in that order, so two selects over the same channels cannot
 *    deadlock.
 * 3. With every channel locked, take the first ready case in poll order.
 *    Nothing ready and a default: unlock, -EAGAIN.
 * 4. Else queue one sudog per case, all pointing at one struct gort__sel,
 *    and park; the unlock callback releases every channel once the
 *    coroutine is off its stack.  The first waker to CAS sel.done wins,
 *    completes its transfer, records the case, and wakes the select.
 * 5. Woken: lock all again, dequeue the losing sudogs, drop the select's
 *    counts (selrefs, which kept each channel alive for this step: chan.h),
 *    unlock, and free any orphan this select was the last to leave.
 * No coroutine is readied while a channel lock is held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

#define SMALL 16

static __thread uint64_t sel_rand;

static uint32_t rand32(void)
{
	uint64_t x = sel_rand;
	if (!x)
		x = (uint64_t)gort__nanotime() ^ (uint64_t)(uintptr_t)&sel_rand ^ 0x9E3779B97F4A7C15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sel_rand = x;
	return (uint32_t)(x >> 32);
}

struct selock {
	gort_case *cases;
	size_t *order; /* case indices with a channel, sorted by channel address */
	size_t n;
};

static void sel_lock(const struct selock *l)
{
	for (size_t k = 0; k < l->n; k++) {
		gort_chan *c = l->cases[l->order[k]].chan;
		if (k == 0 || c != l->cases[l->order[k - 1]].chan)
			gort__lock_acquire(&c->lock);
	}
}

static void sel_unlock(const struct selock *l)
{
	for (size_t k = l->n; k-- > 0;) {
		gort_chan *c = l->cases[l->order[k]].chan;
		if (k == 0 || c != l->cases[l->order[k - 1]].chan)
			gort__lock_release(&c->lock);
	}
}

static bool sel_unlock_cb(void *arg)
{
	sel_unlock(arg);
	return true;
}

/* Try case i with every channel locked: 1 if it proceeded (then the locks
 * are released and any counterpart woken), 0 if not ready, -1 for a send on
 * a closed channel (locks released; the caller panics after cleaning up). */
static int try_case(const struct selock *l, gort_case *cs, size_t i)
{
	gort_chan *c = cs[i].chan;
	struct gort__sudog *peer;
	if (cs[i].dir == GORT_SEND) {
		if (c->closed) {
			sel_unlock(l);
			return -1;
		}
		if ((peer = gort__sudogq_take(&c->recvq))) {
			gort__chan_do_send(c, peer, cs[i].elem);
			sel_unlock(l);
			gort__sudog_wake(peer);
			return 1;
		}
		if (c->count < c->cap) {
			gort__chan_buf_put(c, cs[i].elem);
			sel_unlock(l);
			return 1;
		}
		return 0;
	}
	if ((peer = gort__sudogq_take(&c->sendq))) {
		gort__chan_do_recv(c, peer, cs[i].elem);
		sel_unlock(l);
		gort__sudog_wake(peer);
		cs[i].ok = true;
		return 1;
	}
	if (c->count > 0) {
		gort__chan_buf_get(c, cs[i].elem);
		sel_unlock(l);
		cs[i].ok = true;
		return 1;
	}
	if (c->closed) {
		sel_unlock(l);
		gort__chan_zero(c, cs[i].elem);
		cs[i].ok = false;
		return 1;
	}
	return 0;
}

int gort__select(gort_case *cs, size_t n, bool nonblocking, bool *closed_sendp, int reason,
		 const char *file, int line)
{
	size_t pollbuf[SMALL], orderbuf[SMALL];
	struct gort__sudog sgbuf[SMALL];
	size_t *poll = pollbuf, *order = orderbuf;
	struct gort__sudog *sg = sgbuf;
	*closed_sendp = false;
	if (n > SMALL) {
		/* one block: the sudogs, then the two index arrays */
		sg = gort__sys_malloc(n * (sizeof *sg + sizeof *poll + sizeof *order));
		if (!sg)
			return -ENOMEM; /* nothing done */
		poll = (size_t *)(sg + n);
		order = poll + n;
	}
	int ret = -EAGAIN;
	bool closed_send = false;
	/* 1. random permutation */
	for (size_t i = 0; i < n; i++)
		poll[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = rand32() % i;
		size_t t = poll[i - 1];
		poll[i - 1] = poll[j];
		poll[j] = t;
	}
	/* 2. lock order: insertion sort by channel address (n is small) */
	size_t nl = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cs[i].chan)
			continue;
		size_t k = nl++;
		while (k > 0 && (uintptr_t)cs[order[k - 1]].chan > (uintptr_t)cs[i].chan) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	struct selock l = {.cases = cs, .order = order, .n = nl};
	if (nl == 0) {
		if (!nonblocking)
			gort__block_forever(GORT__WR_SELECT_EMPTY, file, line);
		goto out;
	}
	/* 3. a ready case */
	sel_lock(&l);
	for (size_t k = 0; k < n; k++) {
		size_t i = poll[k];
		int r = cs[i].chan ? try_case(&l, cs, i) : 0;
		if (r) {
			closed_send = r < 0;
			ret = (int)i;
			goto out;
		}
	}
	if (nonblocking) {
		sel_unlock(&l);
		goto out;
	}
	/* 4. queue on every case and park */
	struct gort__sel sel;
	atomic_init(&sel.done, 0);
	sel.winner = -1;
	gort__waiter_init(&sel.waiter);
	for (size_t k = 0; k < nl; k++) {
		size_t i = order[k];
		struct gort__sudog *s = &sg[i];
		memset(s, 0, sizeof *s);
		s->wake = &sel.waiter;
		s->sel = &sel;
		s->caseidx = (int)i;
		s->elem = cs[i].elem;
		cs[i].chan->selrefs++; /* keeps it for step 5 (chan.h) */
		gort__sudogq_push(cs[i].dir == GORT_SEND ? &cs[i].chan->sendq : &cs[i].chan->recvq, s);
	}
	/* a one-channel wait with a deadline or a context shows as that
	 * channel's send or receive (the first case: the extra one is last) */
	if (GORT__DEBUG_INFO && reason != GORT__WR_SELECT && sel.waiter.g)
		sel.waiter.g->wait_obj = cs[0].chan;
	gort__waiter_block_fn(&sel.waiter, sel_unlock_cb, &l, reason, file, line);
	/* 5. woken: drop the losers, and our references */
	sel_lock(&l);
	size_t nfree = 0;
	for (size_t k = 0; k < nl; k++) {
		size_t i = order[k];
		gort_chan *c = cs[i].chan;
		gort__sudogq_remove(cs[i].dir == GORT_SEND ? &c->sendq : &c->recvq, &sg[i]);
		c->selrefs--;
		/* the last case of this channel (sorted): an orphan we leave? */
		if ((k + 1 == nl || cs[order[k + 1]].chan != c) && gort__chan_orphan_done(c))
			poll[nfree++] = i; /* poll[] is free for reuse now */
	}
	sel_unlock(&l);
	for (size_t k = 0; k < nfree; k++)
		gort__chan_orphan_free(cs[poll[k]].chan);
	int w = sel.winner;
	bool success = sg[w].success;
	if (cs[w].dir == GORT_SEND)
		closed_send = !success;
	else
		cs[w].ok = success;
	ret = w;
out:
	if (n > SMALL)
		gort__sys_free(sg);
	*closed_sendp = closed_send;
	return ret;
}

int gort__select_extra(gort_case *cases, size_t n, gort_chan *extra, void *extra_elem,
		       bool *closed_send, int reason, const char *file, int line)
{
	gort_case buf[SMALL + 1];
	gort_case *cs = n < SMALL ? buf : gort__sys_malloc((n + 1) * sizeof *cs);
	*closed_send = false;
	if (!cs)
		return -ENOMEM;
	if (n) /* cases may be NULL with n == 0 */
		memcpy(cs, cases, n * sizeof *cs);
	cs[n] = (gort_case){.chan = extra, .dir = GORT_RECV, .elem = extra_elem};
	int r = gort__select(cs, n + 1, false, closed_send, reason, file, line);
	if (r >= 0 && (size_t)r < n)
		cases[r].ok = cs[r].ok;
	if (cs != buf)
		gort__sys_free(cs);
	return r;
}

int gort__select_check(const gort_case *cs, size_t n)
{
	if (n > GORT__SELECT_MAX || (!cs && n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (cs[i].dir != GORT_RECV && cs[i].dir != GORT_SEND)
			return -EINVAL;
		if (cs[i].dir == GORT_SEND && !cs[i].elem && cs[i].chan && cs[i].chan->elemsize)
			return -EINVAL;
	}
	return 0;
}

int gort_select_at(gort_case *cs, size_t n, bool nonblocking, const char *file, int line)
{
	int bad = gort__select_check(cs, n);
	if (gort__unlikely(bad))
		return bad;
	bool closed_send;
	int r = gort__select(cs, n, nonblocking, &closed_send, GORT__WR_SELECT, file, line);
	if (closed_send)
		gort__panic_msg("send on closed channel");
	return r;
}
