/*
 * chan.c — the soak's channel groups.
 *
 * A group is 1..3 channels of random capacities (0, 1, 2, 3, 16, 64) with
 * 1..8 senders and 1..8 receivers, and an owner that spawns them, waits
 * for the senders, closes the channels and checks the accounting.
 *
 * Every value is 16 bytes: a tag (group, sender, sequence number) and a
 * check word derived from the tag (a torn or corrupted copy shows).  Each
 * attempt to send uses the sender's next sequence number, whatever its
 * outcome: an attempt that returned an error (-EAGAIN, -ETIMEDOUT,
 * GORT_CANCELED, GORT_DEADLINE_EXCEEDED) sets the number's bit in the
 * sender's `withdrawn` bitmap.  A receiver that gets a value sets its bit
 * in the group's `seen` bitmap with an atomic or: a bit already set is a
 * duplicate, reported at once.  At the end, for every number below the
 * sender's last: seen and withdrawn must differ.  Seen and withdrawn: a
 * send that said it did nothing delivered its value (a cancelled or timed
 * out operation happened).  Neither: a value sent was lost (a receive that
 * failed took it, or a close dropped it).
 *
 * Senders mix plain, try, _until, _ctx (own timeout, the round's context,
 * or a context another coroutine cancels at a random moment), selects
 * over the group's channels (blocking, default, _until, _ctx), and a send
 * inside gort_protect followed by a panic (the value counts as sent).
 * Receivers mix the same forms on the receive side, selects with a
 * gort_after case, and stop when every channel reported closed.  In a
 * group where the owner drains (40%), receivers instead quit when the
 * owner says so (a context of their own, cancelled once the senders are
 * done), and the owner closes the channels and drains what is left in
 * the buffers itself.  Last, the owner checks that a send on a closed
 * channel and a second close panic (recovered) and deliver nothing.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CG_CHANS_MAX = 3, CG_SIDE_MAX = 8, SEQ_BITS = 1 << 18, SEQ_WORDS = SEQ_BITS / 64 };

struct value {
	uint64_t tag; /* group << 48 | sender << 32 | seq */
	uint64_t check;
};

struct cgroup {
	struct soak_round *r;
	int id;
	int nchan, nsend, nrecv;
	bool owner_drains;
	gort_chan *ch[CG_CHANS_MAX];
	size_t cap[CG_CHANS_MAX];
	gort_ctx *quit; /* owner_drains: receivers stop when it is cancelled */
	_Atomic uint64_t *seen[CG_SIDE_MAX];
	uint64_t *withdrawn[CG_SIDE_MAX]; /* sender s's alone until the join */
	uint32_t next[CG_SIDE_MAX];       /* sender s's last sequence number + 1 */
	gort_wg senders, receivers;
	atomic_long received, drained;
	soak_rng rng;
};

struct side {
	struct cgroup *g;
	int idx;
	soak_rng rng;
};

static uint64_t value_check(uint64_t tag)
{
	return soak_mix64(tag ^ 0x736f616b76616cULL);
}

static struct value value_make(int group, int sender, uint32_t seq)
{
	uint64_t tag = (uint64_t)group << 48 | (uint64_t)sender << 32 | seq;
	return (struct value){tag, value_check(tag)};
}

/* A value arrived (by a receiver, or by the owner's drain). */
static void mark(struct cgroup *g, const struct value *v, bool drained)
{
	if (v->check != value_check(v->tag)) {
		SOAK_FAIL("chan group %d: corrupted value %016llx/%016llx", g->id,
			  (unsigned long long)v->tag, (unsigned long long)v->check);
		return;
	}
	unsigned gid = (unsigned)(v->tag >> 48), s = (unsigned)(v->tag >> 32) & 0xffff;
	uint32_t seq = (uint32_t)v->tag;
	if ((int)gid != g->id || (int)s >= g->nsend || seq >= SEQ_BITS) {
		SOAK_FAIL("chan group %d: a value never sent arrived (group %u, sender %u, seq %u)",
			  g->id, gid, s, seq);
		return;
	}
	uint64_t bit = 1ULL << (seq & 63);
	uint64_t old = atomic_fetch_or(&g->seen[s][seq >> 6], bit);
	if (old & bit)
		SOAK_FAIL("chan group %d: value (sender %u, seq %u) %s twice", g->id, s, seq,
			  drained ? "drained after it was received" : "received");
	atomic_fetch_add(drained ? &g->drained : &g->received, 1);
	atomic_fetch_add_explicit(drained ? &soak_t.drained : &soak_t.received, 1,
				  memory_order_relaxed);
}

/* An operation failed: was the code one this form may return? */
static void check_fail_code(struct cgroup *g, const char *side, const char *form, int rc, int a,
			    int b)
{
	if (rc != a && rc != b)
		SOAK_FAIL("chan group %d: %s %s returned %d (%s)", g->id, side, form, rc,
			  gort_strerror(rc));
}

/* ----------------------------------------------------------------- send */

struct psend {
	gort_chan *ch;
	const struct value *v;
	soak_rng *rng;
	unsigned pct;
};

static void psend_body(void *arg)
{
	struct psend *p = arg;
	gort_chan_send(p->ch, p->v);
	soak_maybe_panic(p->rng, p->pct, "after a send");
}

/* One attempt: 0 (sent) or the failure code, checked against the form's. */
static int send_once(struct side *sd, const struct value *v)
{
	struct cgroup *g = sd->g;
	struct soak_round *r = g->r;
	soak_rng *rng = &sd->rng;
	int64_t tmax = r->mix.timeout_max;
	gort_chan *ch = g->ch[rng_below(rng, (uint32_t)g->nchan)];
	gort_ctx *ctx;
	int rc;
	switch (rng_below(rng, 12)) {
	case 0:
	case 1:
		return gort_chan_send(ch, v);
	case 2:
		rc = gort_chan_try_send(ch, v);
		check_fail_code(g, "send", "try_send", rc, 0, -EAGAIN);
		return rc;
	case 3:
		rc = gort_chan_send_until(ch, v, gort_now() + rng_range(rng, 0, tmax));
		check_fail_code(g, "send", "send_until", rc, 0, -ETIMEDOUT);
		return rc;
	case 4:
		ctx = soak_ctx_timeout(r->ctx, rng, tmax);
		rc = gort_chan_send_ctx(ctx, ch, v);
		check_fail_code(g, "send", "send_ctx (timeout)", rc, 0,
				rc == GORT_CANCELED ? GORT_CANCELED : GORT_DEADLINE_EXCEEDED);
		soak_ctx_done(ctx);
		return rc;
	case 5: {
		struct soak_canceller c;
		ctx = soak_ctx_cancel(r->ctx);
		soak_cancel_later(r, &c, ctx, rng_range(rng, 0, tmax / 4));
		rc = gort_chan_send_ctx(ctx, ch, v);
		soak_cancel_join(&c);
		check_fail_code(g, "send", "send_ctx (cancelled by another)", rc, 0, GORT_CANCELED);
		soak_ctx_done(ctx);
		return rc;
	}
	case 6:
		rc = gort_chan_send_ctx(r->ctx, ch, v);
		check_fail_code(g, "send", "send_ctx (round)", rc, 0, GORT_CANCELED);
		return rc;
	case 7:
	case 8:
	case 9: {
		gort_case cs[CG_CHANS_MAX];
		for (int i = 0; i < g->nchan; i++)
			cs[i] = (gort_case){.chan = g->ch[i], .dir = GORT_SEND, .elem = (void *)v};
		size_t n = (size_t)g->nchan;
		switch (rng_below(rng, 4)) {
		case 0:
			rc = gort_select(cs, n, false);
			break;
		case 1:
			rc = gort_select(cs, n, true);
			check_fail_code(g, "send", "select (default)", rc, rc >= 0 ? rc : 0, -EAGAIN);
			break;
		case 2:
			rc = gort_select_until(cs, n, gort_now() + rng_range(rng, 0, tmax));
			check_fail_code(g, "send", "select_until", rc, rc >= 0 ? rc : 0, -ETIMEDOUT);
			break;
		default:
			ctx = soak_ctx_timeout(r->ctx, rng, tmax);
			rc = gort_select_ctx(ctx, cs, n);
			check_fail_code(g, "send", "select_ctx", rc, rc >= 0 ? rc : GORT_CANCELED,
					rc == GORT_CANCELED ? GORT_CANCELED : GORT_DEADLINE_EXCEEDED);
			soak_ctx_done(ctx);
			break;
		}
		if (rc >= g->nchan)
			SOAK_FAIL("chan group %d: select of %d cases returned %d", g->id, g->nchan, rc);
		return rc < 0 ? rc : 0;
	}
	default: {
		struct psend p = {ch, v, rng, (unsigned)r->mix.panic_pct};
		soak_protect(psend_body, &p);
		return 0;
	}
	}
}

static void sender(void *arg)
{
	struct side *sd = arg;
	struct cgroup *g = sd->g;
	uint32_t seq = 0;
	while (!soak_stopping(g->r) && seq < SEQ_BITS) {
		struct value v = value_make(g->id, sd->idx, seq);
		int rc = send_once(sd, &v);
		if (rc == 0) {
			atomic_fetch_add_explicit(&soak_t.sent, 1, memory_order_relaxed);
		} else {
			g->withdrawn[sd->idx][seq >> 6] |= 1ULL << (seq & 63);
			atomic_fetch_add_explicit(&soak_t.withdrawn, 1, memory_order_relaxed);
			soak_yield(); /* a failure may return at once: never hog the P */
		}
		seq++;
		soak_ops(1);
	}
	g->next[sd->idx] = seq;
	gort_wg_done(&g->senders);
}

/* -------------------------------------------------------------- receive */

/* One attempt on the channels still open: the index of the channel that
 * answered (the value in *v, *ok as recv sets it), or a failure code;
 * CG_CHANS_MAX when the owner told the receiver to quit. */
static int recv_once(struct side *sd, const bool *open, struct value *v, bool *ok)
{
	struct cgroup *g = sd->g;
	struct soak_round *r = g->r;
	soak_rng *rng = &sd->rng;
	int64_t tmax = r->mix.timeout_max;
	int idx[CG_CHANS_MAX], nopen = 0;
	for (int i = 0; i < g->nchan; i++)
		if (open[i])
			idx[nopen++] = i;
	int c = idx[rng_below(rng, (uint32_t)nopen)];
	gort_chan *ch = g->ch[c];
	/* (receivers outlive the round's context: not its children) */
	gort_ctx *ctx, *parent = g->owner_drains ? g->quit : NULL;
	int rc;
	*ok = false;
	unsigned op = rng_below(rng, 11);
	/* A receive that blocks on one channel while a sender blocks on
	 * another deadlocks: with several channels open, it is a select over
	 * all of them. */
	if (op <= 1 && nopen > 1)
		op = 10;
	switch (op) {
	case 0:
	case 1:
		if (g->owner_drains) { /* must hear the owner's quit */
			rc = gort_chan_recv_ctx(g->quit, ch, v, ok);
			check_fail_code(g, "recv", "recv_ctx (quit)", rc, 0, GORT_CANCELED);
			return rc == 0 ? c : rc == GORT_CANCELED ? CG_CHANS_MAX : rc;
		}
		gort_chan_recv(ch, v, ok);
		return c;
	case 2:
		rc = gort_chan_try_recv(ch, v, ok);
		check_fail_code(g, "recv", "try_recv", rc, 0, -EAGAIN);
		return rc == 0 ? c : rc;
	case 3:
		rc = gort_chan_recv_until(ch, v, ok, gort_now() + rng_range(rng, 0, tmax));
		check_fail_code(g, "recv", "recv_until", rc, 0, -ETIMEDOUT);
		return rc == 0 ? c : rc;
	case 4:
		ctx = soak_ctx_timeout(parent, rng, tmax);
		rc = gort_chan_recv_ctx(ctx, ch, v, ok);
		check_fail_code(g, "recv", "recv_ctx (timeout)", rc, 0,
				rc == GORT_CANCELED ? GORT_CANCELED : GORT_DEADLINE_EXCEEDED);
		soak_ctx_done(ctx);
		return rc == 0 ? c : rc;
	case 5: {
		struct soak_canceller k;
		ctx = soak_ctx_cancel(parent);
		soak_cancel_later(r, &k, ctx, rng_range(rng, 0, tmax / 4));
		rc = gort_chan_recv_ctx(ctx, ch, v, ok);
		soak_cancel_join(&k);
		check_fail_code(g, "recv", "recv_ctx (cancelled by another)", rc, 0, GORT_CANCELED);
		soak_ctx_done(ctx);
		return rc == 0 ? c : rc;
	}
	default: {
		/* a select over the open channels, + the quit channel, + a timer */
		gort_case cs[CG_CHANS_MAX + 2];
		int n = 0, quit_at = -1, after_at = -1;
		for (int i = 0; i < nopen; i++)
			cs[n++] = (gort_case){.chan = g->ch[idx[i]], .dir = GORT_RECV, .elem = v};
		if (g->owner_drains) {
			quit_at = n;
			cs[n++] = (gort_case){.chan = gort_ctx_done(g->quit), .dir = GORT_RECV};
		}
		gort_chan *after = NULL;
		unsigned form = op == 10 && nopen > 1 ? 0 : rng_below(rng, 5);
		if (form == 4) {
			after = gort_after(rng_range(rng, 0, tmax));
			SOAK_CHECK(after != NULL, "gort_after returned NULL");
			soak_obj(1);
			after_at = n;
			cs[n++] = (gort_case){.chan = after, .dir = GORT_RECV};
		}
		switch (form) {
		case 0:
		case 4:
			rc = gort_select(cs, (size_t)n, false);
			break;
		case 1:
			rc = gort_select(cs, (size_t)n, true);
			check_fail_code(g, "recv", "select (default)", rc, rc >= 0 ? rc : 0, -EAGAIN);
			break;
		case 2:
			rc = gort_select_until(cs, (size_t)n, gort_now() + rng_range(rng, 0, tmax));
			check_fail_code(g, "recv", "select_until", rc, rc >= 0 ? rc : 0, -ETIMEDOUT);
			break;
		default:
			ctx = soak_ctx_timeout(parent, rng, tmax);
			rc = gort_select_ctx(ctx, cs, (size_t)n);
			check_fail_code(g, "recv", "select_ctx", rc, rc >= 0 ? rc : GORT_CANCELED,
					rc == GORT_CANCELED ? GORT_CANCELED : GORT_DEADLINE_EXCEEDED);
			soak_ctx_done(ctx);
			break;
		}
		if (after != NULL) {
			gort_chan_release(after);
			soak_obj(-1);
		}
		if (rc < 0)
			return rc;
		if (rc >= n) {
			SOAK_FAIL("chan group %d: select of %d cases returned %d", g->id, n, rc);
			return -EINVAL;
		}
		if (rc == quit_at)
			return CG_CHANS_MAX;
		if (rc == after_at)
			return -ETIMEDOUT;
		*ok = cs[rc].ok;
		return idx[rc];
	}
	}
}

static void receiver(void *arg)
{
	struct side *sd = arg;
	struct cgroup *g = sd->g;
	bool open[CG_CHANS_MAX] = {false};
	int nopen = g->nchan;
	for (int i = 0; i < g->nchan; i++)
		open[i] = true;
	while (nopen > 0) {
		if (g->owner_drains && gort_ctx_err(g->quit) != 0)
			break;
		struct value v;
		bool ok;
		int rc = recv_once(sd, open, &v, &ok);
		soak_ops(1);
		if (rc == CG_CHANS_MAX)
			break;
		if (rc < 0) {
			soak_yield(); /* a failure may return at once: never hog the P */
			continue;
		}
		if (ok) {
			mark(g, &v, false);
		} else if (g->owner_drains) {
			SOAK_FAIL("chan group %d: channel %d reported closed before the owner closed it",
				  g->id, rc);
			break;
		} else {
			open[rc] = false;
			nopen--;
		}
	}
	gort_wg_done(&g->receivers);
}

/* ---------------------------------------------------------------- owner */

struct closed_probe {
	gort_chan *ch;
	bool second_close;
	char msg[GORT_PANIC_MSG_MAX];
	bool runtime_error;
};

static void closed_probe_recover(void *arg)
{
	struct closed_probe *p = arg;
	const gort_panic_info *i = gort_recover();
	if (i != NULL) {
		snprintf(p->msg, sizeof p->msg, "%s", i->message);
		p->runtime_error = i->runtime_error;
	}
}

static void closed_probe_body(void *arg)
{
	struct closed_probe *p = arg;
	GORT_DEFER(closed_probe_recover, p);
	if (p->second_close) {
		gort_chan_close(p->ch);
	} else {
		struct value v = value_make(0, 0, 0);
		gort_chan_send(p->ch, &v);
	}
}

/* A send on a closed channel and a second close must panic (recovered
 * here) and leave nothing in it. */
static void closed_probe(struct cgroup *g)
{
	for (int second = 0; second < 2; second++) {
		struct closed_probe p = {.ch = g->ch[0], .second_close = second};
		int rc = gort_protect(closed_probe_body, &p, NULL);
		const char *want = second ? "close of closed channel" : "send on closed channel";
		SOAK_CHECK(rc == GORT_PANICKED && strstr(p.msg, want) != NULL && p.runtime_error,
			   "chan group %d: %s: gort_protect returned %d, panic \"%s\"", g->id, want, rc,
			   p.msg);
	}
	struct value v;
	bool ok = true;
	int rc = gort_chan_try_recv(g->ch[0], &v, &ok);
	SOAK_CHECK(rc == 0 && !ok, "chan group %d: closed, drained channel: try_recv %d ok %d", g->id,
		   rc, ok);
}

static void verify(struct cgroup *g)
{
	long sent = 0, lost = 0, phantom = 0, seen_total = 0;
	for (int s = 0; s < g->nsend; s++) {
		for (uint32_t w = 0; w < SEQ_WORDS; w++) {
			uint64_t seen = atomic_load(&g->seen[s][w]), wd = g->withdrawn[s][w];
			uint64_t valid = g->next[s] >= (w + 1) * 64 ? ~0ULL
					 : g->next[s] <= w * 64 ? 0
								: (1ULL << (g->next[s] - w * 64)) - 1;
			seen_total += __builtin_popcountll(seen);
			sent += __builtin_popcountll(~wd & valid);
			uint64_t bad_lost = ~seen & ~wd & valid, bad_phantom = seen & (wd | ~valid);
			lost += __builtin_popcountll(bad_lost);
			phantom += __builtin_popcountll(bad_phantom);
			if (bad_lost)
				SOAK_FAIL("chan group %d: value (sender %d, seq %u) was sent (the send "
					  "returned success) but never received nor drained",
					  g->id, s, w * 64 + (uint32_t)__builtin_ctzll(bad_lost));
			if (bad_phantom)
				SOAK_FAIL("chan group %d: value (sender %d, seq %u) arrived although its "
					  "send %s",
					  g->id, s, w * 64 + (uint32_t)__builtin_ctzll(bad_phantom),
					  (wd & bad_phantom) ? "returned an error (a failed operation happened)"
							     : "never happened");
		}
	}
	long got = atomic_load(&g->received) + atomic_load(&g->drained);
	SOAK_CHECK(got == seen_total && sent == got,
		   "chan group %d: %ld values sent, %ld received + %ld drained (%ld lost, %ld "
		   "phantom)",
		   g->id, sent, atomic_load(&g->received), atomic_load(&g->drained), lost, phantom);
}

static void owner(void *arg)
{
	struct cgroup *g = arg;
	struct side sides[2 * CG_SIDE_MAX];
	int n = 0;
	for (int i = 0; i < g->nrecv; i++, n++) {
		uint64_t stream = (uint64_t)g->id << 8 | 0x80 | (unsigned)i;
		sides[n] = (struct side){g, i, soak_stream(g->r->number, K_CHAN, stream)};
		gort_wg_add(&g->receivers, 1);
		soak_go(g->r, receiver, &sides[n], "chan-recv", 0);
	}
	for (int i = 0; i < g->nsend; i++, n++) {
		uint64_t stream = (uint64_t)g->id << 8 | (unsigned)i;
		sides[n] = (struct side){g, i, soak_stream(g->r->number, K_CHAN, stream)};
		gort_wg_add(&g->senders, 1);
		soak_go(g->r, sender, &sides[n], "chan-send", 0);
	}
	gort_wg_wait(&g->senders);
	if (g->owner_drains) {
		gort_ctx_cancel(g->quit);
		gort_wg_wait(&g->receivers);
		for (int i = 0; i < g->nchan; i++)
			gort_chan_close(g->ch[i]);
		for (int i = 0; i < g->nchan; i++) {
			size_t left = gort_chan_len(g->ch[i]);
			SOAK_CHECK(left <= g->cap[i], "chan group %d: channel %d holds %zu > cap %zu",
				   g->id, i, left, g->cap[i]);
			struct value v;
			bool ok = true;
			size_t drained = 0;
			while (gort_chan_try_recv(g->ch[i], &v, &ok) == 0 && ok) {
				mark(g, &v, true);
				drained++;
			}
			SOAK_CHECK(!ok && drained == left,
				   "chan group %d: channel %d: drained %zu of the %zu buffered at close",
				   g->id, i, drained, left);
		}
	} else {
		for (int i = 0; i < g->nchan; i++)
			gort_chan_close(g->ch[i]);
		gort_wg_wait(&g->receivers);
	}
	for (int i = 0; i < g->nchan; i++)
		SOAK_CHECK(gort_chan_len(g->ch[i]) == 0, "chan group %d: channel %d not empty at the end",
			   g->id, i);
	closed_probe(g);
	verify(g);

	for (int i = 0; i < g->nchan; i++) {
		gort_chan_release(g->ch[i]);
		soak_obj(-1);
	}
	if (g->quit != NULL)
		soak_ctx_done(g->quit);
	for (int s = 0; s < g->nsend; s++) {
		free((void *)g->seen[s]);
		free(g->withdrawn[s]);
	}
	free(g);
}

void chan_start(struct soak_round *r)
{
	static const size_t caps[] = {0, 0, 1, 2, 3, 16, 64};
	for (int i = 0; i < r->mix.count[K_CHAN]; i++) {
		struct cgroup *g = calloc(1, sizeof *g);
		if (g == NULL) {
			SOAK_FAIL("out of memory");
			return;
		}
		g->r = r;
		g->id = i + 1;
		g->rng = soak_stream(r->number, K_CHAN, (uint64_t)i << 8 | 0xff);
		g->nchan = 1 + (int)rng_below(&g->rng, CG_CHANS_MAX);
		int smax = r->mix.senders_max, rmax = r->mix.receivers_max;
		g->nsend = r->warmup ? smax : 1 + (int)rng_below(&g->rng, (uint32_t)smax);
		g->nrecv = r->warmup ? rmax : 1 + (int)rng_below(&g->rng, (uint32_t)rmax);
		g->owner_drains = rng_pct(&g->rng, 40);
		for (int c = 0; c < g->nchan; c++) {
			g->cap[c] = caps[rng_below(&g->rng, sizeof caps / sizeof caps[0])];
			g->ch[c] = gort_chan_make(sizeof(struct value), g->cap[c]);
			SOAK_CHECK(g->ch[c] != NULL, "gort_chan_make failed");
			soak_obj(1);
		}
		if (g->owner_drains)
			g->quit = soak_ctx_cancel(NULL);
		for (int s = 0; s < g->nsend; s++) {
			g->seen[s] = calloc(SEQ_WORDS, sizeof(uint64_t));
			g->withdrawn[s] = calloc(SEQ_WORDS, sizeof(uint64_t));
			SOAK_CHECK(g->seen[s] != NULL && g->withdrawn[s] != NULL, "out of memory");
		}
		soak_spawn_worker(r, owner, g, "chan-owner");
	}
}
