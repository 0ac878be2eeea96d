/*
 * time.c — channel timers and tickers (gort_timer, gort_after) and the
 * deadline variants of send, receive and select.
 *
 * A gort_timer is a runtime timer (runtime/timer.h) plus a channel of
 * int64_t with room for one value; firing does a non-blocking send of the
 * time (a full channel drops the value: a ticker's missed tick).  The
 * callback runs under the timer heap's lock and takes only the channel's
 * lock (lock order: timer heap -> channel).  Stop and reset first disarm the
 * timer (which waits out a running callback), then drain the channel, so no
 * value from before them is ever received (Go 1.23's guarantee).
 *
 * Deadlines are one mechanism: a select with one more receive case, on an
 * internal timer's channel.  gort_chan_recv_until(c, ...) is a select over
 * {recv c, timer}.  The timer is armed before any channel lock is taken and
 * stopped after all are released.
 */
#include <errno.h>
#include <stdlib.h>

#include "../runtime/timer.h"
#include "chan.h"

struct gort_timer {
	struct gort__timer t;
	gort_chan *c;
	bool self_free; /* gort_after: frees itself once fired */
};

/* A gort_after timer is done (fired, or dropped by gort_stop before it
 * could): its own channel reference goes, and so does it. */
static void self_free_drop(struct gort__timer *t, void *arg)
{
	(void)t;
	struct gort_timer *gt = arg;
	gort_chan_release(gt->c);
	gort__sys_free(gt);
}

static void fire(struct gort__timer *t, void *arg, int64_t now)
{
	struct gort_timer *gt = arg;
	gort_chan_try_send(gt->c, &now);
	if (gt->self_free)
		self_free_drop(t, gt);
}

static gort_timer *timer_new_full(int64_t ns, int64_t period, bool self_free, gort_chan **cout)
{
	if (!gort_running())
		return NULL;
	struct gort_timer *gt = gort__sys_calloc(1, sizeof *gt);
	if (!gt)
		return NULL;
	gt->c = gort_chan_make(sizeof(int64_t), 1);
	gt->self_free = self_free;
	if (self_free)
		gt->t.drop = self_free_drop;
	if (!gt->c) {
		gort__sys_free(gt);
		return NULL;
	}
	/* gort_after: the caller's reference, taken before the timer is armed
	 * (it may fire and drop its own reference at once, on another M) */
	if (self_free)
		gort_chan_retain(gt->c);
	if (ns < 0)
		ns = 0;
	gort_chan *c = gt->c;
	if (cout)
		*cout = c;
	if (gort__timer_start(&gt->t, gort__deadline_after(ns), period, fire, gt) != 0) {
		if (self_free)
			gort_chan_release(c);
		gort_chan_release(c);
		gort__sys_free(gt);
		return NULL;
	}
	return gt; /* for self_free timers, gt may already be gone: use only c */
}

static gort_timer *timer_new(int64_t ns, int64_t period, bool self_free)
{
	return timer_new_full(ns, period, self_free, NULL);
}

static gort_timer *timer_new_c(int64_t ns, gort_chan **c)
{
	return timer_new_full(ns, 0, true, c);
}

gort_timer *gort_timer_new(int64_t ns)
{
	return timer_new(ns, 0, false);
}

gort_timer *gort_ticker_new(int64_t period_ns)
{
	if (period_ns <= 0)
		return NULL;
	return timer_new(period_ns, period_ns, false);
}

gort_chan *gort_timer_chan(gort_timer *t)
{
	return t ? t->c : NULL;
}

static void drain(gort_chan *c)
{
	int64_t v;
	while (gort_chan_try_recv(c, &v, NULL) == 0)
		;
}

bool gort_timer_stop(gort_timer *t)
{
	if (!t)
		return false;
	bool was = gort__timer_stop(&t->t);
	drain(t->c);
	return was;
}

int gort_timer_reset(gort_timer *t, int64_t ns)
{
	if (!t)
		return 0;
	bool was = gort__timer_stop(&t->t);
	drain(t->c);
	/* no heap to arm it on (gort_stop freed them): it stays stopped */
	if (!gort_running())
		return -ESRCH;
	if (ns < 0)
		ns = 0;
	int64_t period = t->t.period > 0 ? (ns > 0 ? ns : t->t.period) : 0;
	if (gort__timer_start(&t->t, gort__deadline_after(ns), period, fire, t) != 0)
		return -ENOMEM; /* stopped, and said so */
	return was;
}

void gort_timer_free(gort_timer *t)
{
	if (!t)
		return;
	gort__timer_stop(&t->t);
	gort_chan_release(t->c);
	gort__sys_free(t);
}

gort_chan *gort_after(int64_t ns)
{
	/* two references: the caller's (taken in timer_new before arming) and
	 * the timer's, dropped when it fires; the timer frees itself then */
	if (!gort_running())
		return NULL;
	gort_chan *c = NULL;
	struct gort_timer *gt = timer_new_c(ns, &c);
	return gt ? c : NULL;
}

int gort_select_until_at(gort_case *cases, size_t n, int64_t deadline, const char *file, int line)
{
	int bad = gort__select_check(cases, n); /* before the reason reads cases[0] */
	if (gort__unlikely(bad))
		return bad;
	return gort__select_until(cases, n, deadline, gort__select_reason(cases, n), file, line);
}

int gort__select_until(gort_case *cases, size_t n, int64_t deadline, int reason, const char *file,
		       int line)
{
	if (deadline <= gort__nanotime()) {
		int r = gort_select_at(cases, n, true, file, line);
		return r == -EAGAIN ? -ETIMEDOUT : r;
	}
	if (!gort_running()) { /* no timer could end a wait: only what is ready now */
		int r = gort_select_at(cases, n, true, file, line);
		return r == -EAGAIN ? -ESRCH : r;
	}
	struct gort_timer *gt = timer_new(deadline - gort__nanotime(), 0, false);
	if (!gt)
		return gort_running() ? -ENOMEM : -ESRCH;
	int64_t fired;
	bool closed_send;
	int r = gort__select_extra(cases, n, gt->c, &fired, &closed_send, reason, file, line);
	gort_timer_free(gt);
	if (closed_send) /* now that nothing is left to free */
		gort__panic_msg("send on closed channel");
	return (size_t)r == n ? -ETIMEDOUT : r;
}

int gort_chan_send_until_at(gort_chan *c, const void *elem, int64_t deadline, const char *file,
			    int line)
{
	gort_case cs = {.chan = c, .dir = GORT_SEND, .elem = (void *)elem};
	int r = gort_select_until_at(&cs, 1, deadline, file, line);
	return r < 0 ? r : 0;
}

int gort_chan_recv_until_at(gort_chan *c, void *elem, bool *ok, int64_t deadline,
			    const char *file, int line)
{
	gort_case cs = {.chan = c, .dir = GORT_RECV, .elem = elem};
	int r = gort_select_until_at(&cs, 1, deadline, file, line);
	if (r < 0)
		return r;
	if (ok)
		*ok = cs.ok;
	return 0;
}
