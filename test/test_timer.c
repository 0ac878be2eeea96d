/*
 * test_timer.c — time (runtime/timer.c, channel/time.c): sleep, timers,
 * tickers, gort_after and the deadline variants of send, receive, select.
 *
 *   - gort_sleep: at least the time asked, in a coroutine and on a plain
 *     thread; 0 and negative durations return;
 *   - many sleepers (random 1..50 ms) all wake, none early, at procs 1/2/8;
 *     the stats count the firings;
 *   - sleepers wake in deadline order (procs 1);
 *   - a timer on a P whose M went idle still fires (procs 2);
 *   - gort_after: one value, a timestamp past the deadline;
 *   - stop / reset (Go 1.23: no stale value after either), tickers (ticks
 *     at least a period apart, dropped rather than queued, stop);
 *   - deadline variants: time out (nothing sent or taken), succeed before
 *     the deadline, a past deadline means "only if ready now";
 *   - churn: many coroutines create, stop, reset and free timers and race
 *     deadlines against sends (ASan/TSan catch what goes wrong);
 *   - nothing is created while the runtime is not running.
 *
 * Durations are asserted from below only ("took at least"), never from
 * above: the machine may be slow.  Checks off the main thread use
 * CO_CHECK.
 */
#include "chan_helpers.h"

#include <pthread.h>
#include <stdint.h>

#define MS (1000000LL)

static int64_t recv_i64(gort_chan *c)
{
	int64_t v = -1;
	bool ok = false;
	int rc = gort_chan_recv(c, &v, &ok);
	CO_CHECK(rc == 0 && ok, "gort_chan_recv = %d ok=%d", rc, ok);
	return v;
}

static uint64_t timers_fired(void)
{
	gort_stats st;
	int rc = gort_stats_read(&st);
	cr_assert_eq(rc, 0, "gort_stats_read = %d", rc);
	return st.timers_fired;
}

/* ------------------------------------------------------------------------ */
/* gort_sleep                                                                */
/* ------------------------------------------------------------------------ */

static void sleep_lower_bounds(void *arg)
{
	(void)arg;
	static const int64_t durs[] = {1 * MS, 5 * MS, 20 * MS, 250000 /* 0.25 ms */};
	for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
		int64_t t0 = gort_now();
		int rc = gort_sleep(durs[i]);
		int64_t el = gort_now() - t0;
		CO_CHECK(rc == 0, "gort_sleep(%lld) = %d", (long long)durs[i], rc);
		CO_CHECK(el >= durs[i], "gort_sleep(%lld) took only %lld ns", (long long)durs[i],
			 (long long)el);
	}
	/* 0 and negative: return at once (just a yield) */
	CO_CHECK(gort_sleep(0) == 0, "gort_sleep(0) != 0");
	CO_CHECK(gort_sleep(-1) == 0, "gort_sleep(-1) != 0");
	CO_CHECK(gort_sleep(INT64_MIN) == 0, "gort_sleep(INT64_MIN) != 0");
}

PROCS_TEST(timer, sleep_coroutine, 10)
{
	rt_start(procs);
	co_run(sleep_lower_bounds, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

Test(timer, sleep_plain_thread, .timeout = 10)
{
	/* without the runtime */
	int64_t t0 = gort_now();
	cr_assert_eq(gort_sleep(20 * MS), 0);
	cr_assert_geq(gort_now() - t0, 20 * MS);
	cr_assert_eq(gort_sleep(0), 0);
	cr_assert_eq(gort_sleep(-5 * MS), 0);

	/* with it running, from the (plain) main thread */
	rt_start(2);
	sleep_lower_bounds(NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* A coroutine in the middle of a long sleep does not keep the others from
 * running (procs 1: the sleeper parks, it does not block the M). */
static atomic_int sleep_parks_flag;
static void sleep_parks_sleeper(void *arg)
{
	(void)arg;
	gort_sleep(40 * MS);
	/* the other coroutine ran while this one slept */
	CO_CHECK(atomic_load(&sleep_parks_flag) == 1, "the other coroutine did not run during sleep");
}
static void sleep_parks_other(void *arg)
{
	(void)arg;
	atomic_store(&sleep_parks_flag, 1);
}

Test(timer, sleep_parks_not_blocks, .timeout = 10)
{
	rt_start(1);
	struct co_run_ctx a = {.fn = sleep_parks_sleeper, .done = GORT_WG_INIT};
	struct co_run_ctx b = {.fn = sleep_parks_other, .done = GORT_WG_INIT};
	gort_wg_add(&a.done, 1);
	gort_wg_add(&b.done, 1);
	cr_assert_gt(gort_go(co_run_tramp, &a), 0);
	gort_sleep(5 * MS); /* let the sleeper park first */
	cr_assert_gt(gort_go(co_run_tramp, &b), 0);
	gort_wg_wait(&b.done);
	gort_wg_wait(&a.done);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* A coroutine that only yields does not keep the sleepers of its P asleep:
 * a yield with nothing queued runs the P's due timers (as Go's Gosched
 * goes through the scheduler).  Before, at procs 1 this hung. */
static _Atomic int yield_spin_stop;

static void yield_spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&yield_spin_stop))
		gort_yield();
}

static void yield_sleeper(void *arg)
{
	(void)arg;
	gort_sleep(10 * MS);
	atomic_store(&yield_spin_stop, 1);
}

PROCS_TEST(timer, yield_loop_runs_timers, 20)
{
	rt_start(procs);
	atomic_store(&yield_spin_stop, 0);
	for (int i = 0; i < procs; i++) /* one spinner on every P */
		cr_assert_gt(gort_go(yield_spinner, NULL), 0);
	co_run(yield_sleeper, NULL);
	cr_assert_eq(atomic_load(&yield_spin_stop), 1);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Many sleepers                                                             */
/* ------------------------------------------------------------------------ */

struct many_sleeper {
	int64_t dur;
	gort_wg *wg;
};

static void many_sleeper_fn(void *arg)
{
	struct many_sleeper *s = arg;
	int64_t t0 = gort_now();
	int rc = gort_sleep(s->dur);
	int64_t el = gort_now() - t0;
	CO_CHECK(rc == 0, "gort_sleep = %d", rc);
	CO_CHECK(el >= s->dur, "slept %lld ns of %lld", (long long)el, (long long)s->dur);
	gort_wg_done(s->wg);
}

PROCS_TEST(timer, many_sleepers, 30)
{
	long n = scaled_min(20000, 500);
	struct many_sleeper *ss = calloc((size_t)n, sizeof *ss);
	cr_assert_not_null(ss);
	gort_wg wg = GORT_WG_INIT;
	uint64_t seed = 0x9E3779B97F4A7C15ULL;
	rt_start(procs);
	uint64_t fired0 = timers_fired();
	gort_wg_add(&wg, n);
	for (long i = 0; i < n; i++) {
		ss[i].dur = (int64_t)(1 + rng_next(&seed) % 50) * MS;
		ss[i].wg = &wg;
		gort_id id = gort_go(many_sleeper_fn, &ss[i]);
		cr_assert_gt(id, 0, "gort_go #%ld = %lld", i, (long long)id);
	}
	gort_wg_wait(&wg);
	CO_ASSERT_NO_FAILURES();
	uint64_t fired = timers_fired() - fired0;
	cr_assert_geq(fired, (uint64_t)n, "timers_fired grew by %llu for %ld sleepers",
		      (unsigned long long)fired, n);
	rt_stop();
	free(ss);
}

/* ------------------------------------------------------------------------ */
/* Deadline order                                                            */
/* ------------------------------------------------------------------------ */

#define ORDER_N 50
struct order_ctx {
	int64_t base;
	atomic_int next;
	int order[ORDER_N];
	gort_wg wg;
};
struct order_arg {
	struct order_ctx *ctx;
	int idx;
};

static void order_fn(void *arg)
{
	struct order_arg *a = arg;
	/* all deadlines relative to one base, so spawn delays do not matter */
	int64_t deadline = a->ctx->base + (int64_t)(a->idx + 1) * 2 * MS;
	gort_sleep(deadline - gort_now());
	CO_CHECK(gort_now() >= deadline, "woke before its deadline");
	int slot = atomic_fetch_add(&a->ctx->next, 1);
	a->ctx->order[slot] = a->idx;
	gort_wg_done(&a->ctx->wg);
}

Test(timer, deadline_order_procs1, .timeout = 10)
{
	static struct order_ctx ctx;
	static struct order_arg args[ORDER_N];
	int perm[ORDER_N];
	uint64_t seed = 12345;
	for (int i = 0; i < ORDER_N; i++)
		perm[i] = i;
	for (int i = ORDER_N - 1; i > 0; i--) { /* spawn in a shuffled order */
		int j = (int)(rng_next(&seed) % (uint64_t)(i + 1));
		int t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	rt_start(1);
	ctx.wg = (gort_wg)GORT_WG_INIT;
	atomic_init(&ctx.next, 0);
	/* head start for spawning them all (sanitizers are much slower) */
	ctx.base = gort_now() + (int64_t)(30 * MS / test_scale_factor());
	gort_wg_add(&ctx.wg, ORDER_N);
	for (int i = 0; i < ORDER_N; i++) {
		args[i] = (struct order_arg){.ctx = &ctx, .idx = perm[i]};
		cr_assert_gt(gort_go(order_fn, &args[i]), 0);
	}
	gort_wg_wait(&ctx.wg);
	CO_ASSERT_NO_FAILURES();
	for (int i = 0; i < ORDER_N; i++)
		cr_assert_eq(ctx.order[i], i, "wake #%d was the sleeper of %d ms (expected %d ms)", i,
			     (ctx.order[i] + 1) * 2, (i + 1) * 2);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Timers on an idle P                                                       */
/* ------------------------------------------------------------------------ */

#define IDLE_N 4
struct idle_ctx {
	gort_timer *t[IDLE_N];
	int64_t armed[IDLE_N];
	int proc[IDLE_N];
};

static void idle_arm(void *arg)
{
	struct idle_ctx *c = arg;
	for (int i = 0; i < IDLE_N; i++) {
		if (i == IDLE_N / 2)
			gort_yield(); /* maybe land on the other P */
		c->proc[i] = gort_current_proc();
		c->armed[i] = gort_now();
		c->t[i] = gort_timer_new(10 * MS);
		CO_CHECK(c->t[i] != NULL, "gort_timer_new = NULL");
	}
}

Test(timer, idle_p_timer_fires_procs2, .timeout = 10)
{
	rt_start(2);
	for (int round = 0; round < 3; round++) {
		struct idle_ctx c = {0};
		/* arm from coroutines, which then exit: the whole runtime idles */
		co_run(idle_arm, &c);
		CO_ASSERT_NO_FAILURES();
		for (int i = 0; i < IDLE_N; i++) {
			int64_t v = -1;
			bool ok = false;
			int rc = gort_chan_recv(gort_timer_chan(c.t[i]), &v, &ok);
			cr_assert_eq(rc, 0);
			cr_assert(ok);
			cr_assert_geq(v, c.armed[i] + 10 * MS, "timer (armed on P %d) fired early",
				      c.proc[i]);
			cr_assert(!gort_timer_stop(c.t[i]), "stop after the value was received");
			gort_timer_free(c.t[i]);
		}
	}
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* gort_after                                                                */
/* ------------------------------------------------------------------------ */

static void after_once(void *arg)
{
	(void)arg;
	int64_t t0 = gort_now();
	gort_chan *c = gort_after(15 * MS);
	CO_CHECK(c != NULL, "gort_after = NULL");
	if (!c)
		return;
	CO_CHECK(gort_chan_cap(c) == 1, "cap %zu", gort_chan_cap(c));
	int64_t v = recv_i64(c);
	CO_CHECK(v >= t0 + 15 * MS, "value %lld before the deadline %lld", (long long)v,
		 (long long)(t0 + 15 * MS));
	CO_CHECK(gort_now() >= t0 + 15 * MS, "received before the deadline");
	int64_t w;
	CO_CHECK(gort_chan_try_recv(c, &w, NULL) == -EAGAIN, "second value at once");
	gort_sleep(20 * MS);
	CO_CHECK(gort_chan_try_recv(c, &w, NULL) == -EAGAIN, "second value later");
	gort_chan_release(c);

	/* gort_after(0) and negative: fire (promptly) */
	c = gort_after(0);
	CO_CHECK(c != NULL, "gort_after(0) = NULL");
	if (c) {
		recv_i64(c);
		gort_chan_release(c);
	}
	c = gort_after(-MS);
	CO_CHECK(c != NULL, "gort_after(-1ms) = NULL");
	if (c) {
		recv_i64(c);
		gort_chan_release(c);
	}
}

PROCS_TEST(timer, after_one_value, 10)
{
	rt_start(procs);
	co_run(after_once, NULL);     /* in a coroutine */
	after_once(NULL);             /* on a plain thread */
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* Releasing gort_after's channel before it fires: the timer still owns its
 * reference, fires into it and frees everything (leaks show under ASan). */
Test(timer, after_released_early, .timeout = 10)
{
	rt_start(2);
	uint64_t f0 = timers_fired();
	for (int i = 0; i < 20; i++) {
		gort_chan *c = gort_after(5 * MS);
		cr_assert_not_null(c);
		gort_chan_release(c);
	}
	gort_sleep(30 * MS);
	for (int i = 0; i < 1000 && timers_fired() - f0 < 20; i++)
		gort_sleep(5 * MS);
	cr_assert_geq(timers_fired() - f0, 20);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Stop                                                                      */
/* ------------------------------------------------------------------------ */

static void stop_cases(void *arg)
{
	(void)arg;
	int64_t v;

	/* stop before firing: true, and nothing ever arrives */
	gort_timer *t = gort_timer_new(20 * MS);
	CO_CHECK(t != NULL, "gort_timer_new = NULL");
	if (!t)
		return;
	CO_CHECK(gort_timer_chan(t) != NULL, "chan NULL");
	CO_CHECK(gort_timer_stop(t), "stop of an armed timer returned false");
	gort_sleep(50 * MS);
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(t), &v, NULL) == -EAGAIN,
		 "a stopped timer delivered a value");
	CO_CHECK(!gort_timer_stop(t), "second stop returned true");
	gort_timer_free(t);

	/* stop after firing, value received: false */
	t = gort_timer_new(MS);
	recv_i64(gort_timer_chan(t));
	CO_CHECK(!gort_timer_stop(t), "stop after it fired returned true");
	gort_timer_free(t);

	/* stop after firing but before receiving: false, and the value is
	 * drained (Go 1.23) */
	int64_t t0 = gort_now();
	t = gort_timer_new(2 * MS);
	gort_sleep(30 * MS);
	/* it has fired: its value waits in the channel */
	for (int i = 0; i < 200 && gort_chan_len(gort_timer_chan(t)) == 0; i++)
		gort_sleep(5 * MS);
	CO_CHECK(gort_chan_len(gort_timer_chan(t)) == 1, "fired timer's channel len %zu",
		 gort_chan_len(gort_timer_chan(t)));
	CO_CHECK(!gort_timer_stop(t), "stop after it fired returned true");
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(t), &v, NULL) == -EAGAIN,
		 "the stale value (%lld, armed at %lld) was received after stop", (long long)v,
		 (long long)t0);
	gort_sleep(10 * MS);
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(t), &v, NULL) == -EAGAIN,
		 "a value arrived after stop");
	gort_timer_free(t);

	/* free of an armed timer: nothing fires into freed memory */
	for (int i = 0; i < 10; i++) {
		t = gort_timer_new(3 * MS);
		CO_CHECK(t != NULL, "gort_timer_new = NULL");
		gort_timer_free(t);
	}
	gort_sleep(10 * MS);

	/* NULL is tolerated */
	CO_CHECK(!gort_timer_stop(NULL), "stop(NULL)");
	CO_CHECK(!gort_timer_reset(NULL, MS), "reset(NULL)");
	CO_CHECK(gort_timer_chan(NULL) == NULL, "chan(NULL)");
	gort_timer_free(NULL);
}

PROCS_TEST(timer, stop, 10)
{
	rt_start(procs);
	co_run(stop_cases, NULL);
	stop_cases(NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Reset                                                                     */
/* ------------------------------------------------------------------------ */

static void reset_cases(void *arg)
{
	(void)arg;
	int64_t v;

	/* a long timer reset to a short one fires once, after the new time */
	gort_timer *t = gort_timer_new(3600LL * 1000 * MS);
	CO_CHECK(t != NULL, "gort_timer_new = NULL");
	if (!t)
		return;
	int64_t t0 = gort_now();
	CO_CHECK(gort_timer_reset(t, 15 * MS), "reset of an armed timer returned false");
	v = recv_i64(gort_timer_chan(t));
	CO_CHECK(v >= t0 + 15 * MS, "fired %lld ns after the reset, asked 15 ms",
		 (long long)(v - t0));
	gort_sleep(40 * MS);
	CO_CHECK(gort_chan_try_recv(gort_timer_chan(t), &v, NULL) == -EAGAIN,
		 "a reset timer fired twice");

	/* reset after firing: false; it fires again */
	t0 = gort_now();
	CO_CHECK(!gort_timer_reset(t, 10 * MS), "reset of a fired timer returned true");
	v = recv_i64(gort_timer_chan(t));
	CO_CHECK(v >= t0 + 10 * MS, "re-fired %lld ns after the reset", (long long)(v - t0));

	/* reset of a fired, unreceived timer drops the old value */
	gort_timer_reset(t, MS);
	gort_sleep(20 * MS);
	for (int i = 0; i < 200 && gort_chan_len(gort_timer_chan(t)) == 0; i++)
		gort_sleep(5 * MS);
	t0 = gort_now();
	CO_CHECK(!gort_timer_reset(t, 10 * MS), "reset of a fired timer returned true");
	v = recv_i64(gort_timer_chan(t));
	CO_CHECK(v >= t0 + 10 * MS, "received a value from before the reset (%lld ns before it)",
		 (long long)(t0 - v));

	/* reset of a stopped timer re-arms it */
	CO_CHECK(!gort_timer_stop(t), "stop of a fired timer");
	t0 = gort_now();
	CO_CHECK(!gort_timer_reset(t, 5 * MS), "reset of a stopped timer returned true");
	v = recv_i64(gort_timer_chan(t));
	CO_CHECK(v >= t0 + 5 * MS, "fired early after reset");
	gort_timer_free(t);

	/* reset of a ticker changes its period: 1 hour -> 5 ms (if it did not,
	 * the receives below would block past the test's timeout) */
	gort_timer *tk = gort_ticker_new(3600LL * 1000 * MS);
	CO_CHECK(tk != NULL, "gort_ticker_new = NULL");
	if (!tk)
		return;
	t0 = gort_now();
	CO_CHECK(gort_timer_reset(tk, 5 * MS), "reset of an armed ticker returned false");
	int64_t prev = 0;
	for (int k = 1; k <= 4; k++) {
		v = recv_i64(gort_timer_chan(tk));
		CO_CHECK(v >= t0 + k * 5 * MS, "tick %d at %lld ns after the reset", k,
			 (long long)(v - t0));
		CO_CHECK(v > prev, "ticks not increasing");
		prev = v;
	}
	/* and 5 ms -> 30 ms: ticks come at least 30 ms apart on its grid */
	t0 = gort_now();
	CO_CHECK(gort_timer_reset(tk, 30 * MS), "reset of a running ticker returned false");
	for (int k = 1; k <= 3; k++) {
		v = recv_i64(gort_timer_chan(tk));
		CO_CHECK(v >= t0 + k * 30 * MS, "tick %d at %lld ns after the reset to 30 ms", k,
			 (long long)(v - t0));
	}
	/* reset with ns <= 0 keeps a ticker's period */
	gort_timer_free(tk);
}

PROCS_TEST(timer, reset, 10)
{
	rt_start(procs);
	co_run(reset_cases, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Tickers                                                                   */
/* ------------------------------------------------------------------------ */

static void ticker_cases(void *arg)
{
	(void)arg;
	const int64_t period = 10 * MS;
	int64_t v;

	CO_CHECK(gort_ticker_new(0) == NULL, "gort_ticker_new(0) != NULL");
	CO_CHECK(gort_ticker_new(-MS) == NULL, "gort_ticker_new(-1ms) != NULL");

	int64_t t0 = gort_now();
	gort_timer *tk = gort_ticker_new(period);
	CO_CHECK(tk != NULL, "gort_ticker_new = NULL");
	if (!tk)
		return;
	gort_chan *c = gort_timer_chan(tk);
	CO_CHECK(gort_chan_cap(c) == 1, "ticker cap %zu", gort_chan_cap(c));

	/* ticks in a row, increasing, on the period's grid (lower bounds) */
	int64_t prev = t0;
	for (int k = 1; k <= 5; k++) {
		v = recv_i64(c);
		CO_CHECK(v >= t0 + k * period, "tick %d came %lld ns after the start", k,
			 (long long)(v - t0));
		CO_CHECK(v > prev, "tick %d not after the previous one", k);
		prev = v;
	}

	/* a slow consumer: ticks are dropped, not queued */
	gort_sleep(12 * period);
	int64_t l0 = gort_now();
	int got = 0;
	int64_t first = 0;
	for (int i = 0; i < 100; i++)
		if (gort_chan_try_recv(c, &v, NULL) == 0) {
			if (!got)
				first = v;
			got++;
		}
	int64_t loop = gort_now() - l0;
	CO_CHECK(got >= 1, "no tick waiting after 12 periods");
	/* more than one only if a new tick fired while we looped */
	CO_CHECK(got <= 2 + (int)(loop / period), "%d ticks queued (backlog) in %lld ns", got,
		 (long long)loop);
	CO_CHECK(first > prev, "the kept tick is older than the last received");
	/* the next tick is a fresh one */
	v = recv_i64(c);
	CO_CHECK(v > first, "next tick %lld not after the kept one %lld", (long long)v,
		 (long long)first);

	/* stop stops it */
	CO_CHECK(gort_timer_stop(tk), "stop of a running ticker returned false");
	CO_CHECK(gort_chan_try_recv(c, &v, NULL) == -EAGAIN, "value after stop");
	gort_sleep(5 * period);
	CO_CHECK(gort_chan_try_recv(c, &v, NULL) == -EAGAIN, "a stopped ticker ticked");
	CO_CHECK(!gort_timer_stop(tk), "second stop of a ticker returned true");

	/* reset re-starts it with the same period when ns is 0 is not asked:
	 * reset with a period re-starts it */
	t0 = gort_now();
	CO_CHECK(!gort_timer_reset(tk, period), "reset of a stopped ticker returned true");
	for (int k = 1; k <= 3; k++) {
		v = recv_i64(c);
		CO_CHECK(v >= t0 + k * period, "restarted tick %d early", k);
	}
	gort_timer_free(tk);

	/* free of a running ticker, with a value waiting */
	tk = gort_ticker_new(MS);
	gort_sleep(5 * MS);
	gort_timer_free(tk);
}

PROCS_TEST(timer, ticker, 10)
{
	rt_start(procs);
	co_run(ticker_cases, NULL);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Deadline variants                                                         */
/* ------------------------------------------------------------------------ */

struct late_send {
	gort_chan *c;
	int64_t delay;
	int value;
};

static void late_send_fn(void *arg)
{
	struct late_send *ls = arg;
	gort_sleep(ls->delay);
	int rc = gort_chan_send(ls->c, &ls->value);
	CO_CHECK(rc == 0, "late send = %d", rc);
}

static void deadline_cases(void *arg)
{
	(void)arg;
	int x = -1;
	bool ok = true;

	/* recv_until on an empty channel: times out, after the deadline, and
	 * leaves no waiter behind */
	for (int cap = 0; cap <= 1; cap++) {
		gort_chan *c = gort_chan_make(sizeof(int), (size_t)cap);
		int64_t dl = gort_now() + 20 * MS;
		x = 77;
		int rc = gort_chan_recv_until(c, &x, &ok, dl);
		CO_CHECK(rc == -ETIMEDOUT, "recv_until (cap %d) = %d", cap, rc);
		CO_CHECK(gort_now() >= dl, "recv_until returned before the deadline");
		CO_CHECK(x == 77, "recv_until wrote the element on timeout (%d)", x);
		if (cap == 0) {
			int y = 5;
			CO_CHECK(gort_chan_try_send(c, &y) == -EAGAIN,
				 "a receiver still waits after recv_until timed out");
		}
		gort_chan_release(c);
	}

	/* recv_until with a value arriving before the deadline */
	{
		gort_chan *c = gort_chan_make(sizeof(int), 0);
		struct late_send ls = {.c = c, .delay = 10 * MS, .value = 42};
		struct co_run_ctx cc = {.fn = late_send_fn, .arg = &ls, .done = GORT_WG_INIT};
		gort_wg_add(&cc.done, 1);
		CO_CHECK(gort_go(co_run_tramp, &cc) > 0, "gort_go");
		x = 0;
		ok = false;
		int rc = gort_chan_recv_until(c, &x, &ok, gort_now() + 3600LL * 1000 * MS);
		CO_CHECK(rc == 0, "recv_until = %d", rc);
		CO_CHECK(ok && x == 42, "recv_until got %d ok=%d", x, ok);
		gort_wg_wait(&cc.done);
		gort_chan_release(c);
	}

	/* send_until to a waiting receiver succeeds */
	{
		gort_chan *c = gort_chan_make(sizeof(int), 1);
		int v = 9;
		int rc = gort_chan_send_until(c, &v, gort_now() + 3600LL * 1000 * MS);
		CO_CHECK(rc == 0, "send_until with room = %d", rc);
		CO_CHECK(gort_chan_len(c) == 1, "len %zu", gort_chan_len(c));
		gort_chan_release(c);
	}

	/* recv_until on a closed channel: 0, ok false */
	{
		gort_chan *c = gort_chan_make(sizeof(int), 0);
		gort_chan_close(c);
		x = 3;
		ok = true;
		int rc = gort_chan_recv_until(c, &x, &ok, gort_now() + 3600LL * 1000 * MS);
		CO_CHECK(rc == 0 && !ok && x == 0, "recv_until on closed = %d ok=%d x=%d", rc, ok,
			 x);
		gort_chan_release(c);
	}

	/* send_until on a full buffered channel: times out, nothing sent */
	{
		gort_chan *c = gort_chan_make(sizeof(int), 2);
		int a = 1, b = 2, z = 99;
		gort_chan_send(c, &a);
		gort_chan_send(c, &b);
		int64_t dl = gort_now() + 20 * MS;
		int rc = gort_chan_send_until(c, &z, dl);
		CO_CHECK(rc == -ETIMEDOUT, "send_until on full = %d", rc);
		CO_CHECK(gort_now() >= dl, "send_until returned before the deadline");
		CO_CHECK(gort_chan_len(c) == 2, "len %zu after a timed-out send", gort_chan_len(c));
		int r1 = 0, r2 = 0, r3 = 0;
		gort_chan_try_recv(c, &r1, NULL);
		gort_chan_try_recv(c, &r2, NULL);
		CO_CHECK(r1 == 1 && r2 == 2, "buffer holds %d %d", r1, r2);
		CO_CHECK(gort_chan_try_recv(c, &r3, NULL) == -EAGAIN,
			 "the timed-out value %d was sent after all", r3);
		gort_chan_release(c);
	}

	/* select_until with no ready case */
	{
		gort_chan *r1 = gort_chan_make(sizeof(int), 0);
		gort_chan *r2 = gort_chan_make(sizeof(int), 1);
		gort_chan *s1 = gort_chan_make(sizeof(int), 1);
		int full = 5, out = 6, in1 = 0, in2 = 0;
		gort_chan_send(s1, &full);
		gort_case cs[4] = {
			{.chan = r1, .dir = GORT_RECV, .elem = &in1},
			{.chan = r2, .dir = GORT_RECV, .elem = &in2},
			{.chan = s1, .dir = GORT_SEND, .elem = &out},
			{.chan = NULL, .dir = GORT_RECV, .elem = &in1},
		};
		int64_t dl = gort_now() + 20 * MS;
		int rc = gort_select_until(cs, 4, dl);
		CO_CHECK(rc == -ETIMEDOUT, "select_until = %d", rc);
		CO_CHECK(gort_now() >= dl, "select_until returned before the deadline");
		CO_CHECK(gort_chan_len(s1) == 1, "len %zu", gort_chan_len(s1));
		int y = 0;
		gort_chan_try_recv(s1, &y, NULL);
		CO_CHECK(y == 5, "s1 held %d", y);
		CO_CHECK(gort_chan_try_send(r1, &y) == -EAGAIN, "a receiver left behind on r1");
		gort_chan_release(r1);
		gort_chan_release(r2);
		gort_chan_release(s1);
	}

	/* select_until with more cases than fit on its stack; one becomes ready */
	{
		enum { NC = 40 };
		gort_chan *cs_ch[NC];
		gort_case cs[NC];
		int vals[NC];
		for (int i = 0; i < NC; i++) {
			cs_ch[i] = gort_chan_make(sizeof(int), 1);
			vals[i] = -1;
			cs[i] = (gort_case){.chan = cs_ch[i], .dir = GORT_RECV, .elem = &vals[i]};
		}
		int64_t dl = gort_now() + 15 * MS;
		int rc = gort_select_until(cs, NC, dl);
		CO_CHECK(rc == -ETIMEDOUT, "select_until(%d cases) = %d", NC, rc);
		CO_CHECK(gort_now() >= dl, "select_until(%d) returned early", NC);
		int v = 1234;
		gort_chan_send(cs_ch[33], &v);
		rc = gort_select_until(cs, NC, gort_now() + 3600LL * 1000 * MS);
		CO_CHECK(rc == 33, "select_until(%d cases, one ready) = %d", NC, rc);
		CO_CHECK(vals[33] == 1234 && cs[33].ok, "value %d ok %d", vals[33], cs[33].ok);
		/* and with a late sender */
		struct late_send ls = {.c = cs_ch[17], .delay = 5 * MS, .value = 171};
		struct co_run_ctx cc = {.fn = late_send_fn, .arg = &ls, .done = GORT_WG_INIT};
		gort_wg_add(&cc.done, 1);
		CO_CHECK(gort_go(co_run_tramp, &cc) > 0, "gort_go");
		rc = gort_select_until(cs, NC, gort_now() + 3600LL * 1000 * MS);
		CO_CHECK(rc == 17 && vals[17] == 171, "select_until = %d (val %d)", rc, vals[17]);
		gort_wg_wait(&cc.done);
		for (int i = 0; i < NC; i++)
			gort_chan_release(cs_ch[i]);
	}

	/* a deadline in the past: "only if ready now" */
	{
		int64_t past = gort_now() - 3600LL * 1000 * MS;
		gort_chan *c = gort_chan_make(sizeof(int), 1);
		int v = 11;
		x = 0;
		CO_CHECK(gort_chan_recv_until(c, &x, NULL, past) == -ETIMEDOUT,
			 "past recv_until on empty");
		CO_CHECK(gort_chan_recv_until(c, &x, NULL, gort_now()) == -ETIMEDOUT,
			 "recv_until(now) on empty");
		CO_CHECK(gort_chan_send_until(c, &v, past) == 0, "past send_until with room");
		CO_CHECK(gort_chan_len(c) == 1, "len %zu", gort_chan_len(c));
		v = 12;
		CO_CHECK(gort_chan_send_until(c, &v, past) == -ETIMEDOUT, "past send_until on full");
		CO_CHECK(gort_chan_len(c) == 1, "len %zu after a timed-out send", gort_chan_len(c));
		ok = false;
		CO_CHECK(gort_chan_recv_until(c, &x, &ok, past) == 0 && x == 11 && ok,
			 "past recv_until with a value: x=%d", x);
		gort_case cs[2] = {
			{.chan = c, .dir = GORT_RECV, .elem = &x},
			{.chan = c, .dir = GORT_SEND, .elem = &v},
		};
		CO_CHECK(gort_select_until(cs, 1, past) == -ETIMEDOUT, "past select none ready");
		CO_CHECK(gort_select_until(cs, 2, past) == 1, "past select, send ready");
		x = 0;
		CO_CHECK(gort_select_until(cs, 1, past) == 0 && x == 12, "past select recv: %d", x);
		CO_CHECK(gort_select_until(cs, 0, past) == -ETIMEDOUT, "past select of 0 cases");
		gort_chan_release(c);
	}

	/* select_until with no cases at all waits out the deadline */
	{
		int64_t dl = gort_now() + 10 * MS;
		CO_CHECK(gort_select_until(NULL, 0, dl) == -ETIMEDOUT, "select_until(0 cases)");
		CO_CHECK(gort_now() >= dl, "select_until(0 cases) returned early");
	}
}

PROCS_TEST(timer, deadlines, 15)
{
	rt_start(procs);
	co_run(deadline_cases, NULL); /* in a coroutine */
	deadline_cases(NULL);         /* on a plain thread */
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Churn                                                                     */
/* ------------------------------------------------------------------------ */

struct churn_ctx {
	long iters;
	gort_chan *shared; /* unbuffered, raced by deadline receivers and senders */
	gort_wg wg;
	atomic_long sent, recvd;
};
struct churn_arg {
	struct churn_ctx *ctx;
	uint64_t seed;
};

static void churn_fn(void *arg)
{
	struct churn_arg *a = arg;
	struct churn_ctx *ctx = a->ctx;
	uint64_t s = a->seed;
	int64_t v;
	for (long i = 0; i < ctx->iters; i++) {
		uint64_t r = rng_next(&s);
		int64_t ns = (int64_t)(r >> 8) % (200 * 1000); /* 0..200 us */
		switch (r % 8) {
		case 0: { /* create, free at once (maybe as it fires) */
			gort_timer *t = gort_timer_new(ns / 8);
			CO_CHECK(t != NULL, "gort_timer_new = NULL");
			if ((r >> 4) & 1)
				spin_ns(ns / 8);
			gort_timer_free(t);
			break;
		}
		case 1: { /* stop: no value afterwards */
			gort_timer *t = gort_timer_new(ns / 16);
			spin_ns(ns / 16);
			gort_timer_stop(t);
			spin_ns(20000);
			CO_CHECK(gort_chan_try_recv(gort_timer_chan(t), &v, NULL) == -EAGAIN,
				 "a value arrived after stop");
			gort_timer_free(t);
			break;
		}
		case 2: { /* reset: the value received is from after the reset */
			gort_timer *t = gort_timer_new(ns / 16);
			spin_ns(ns / 16);
			int64_t t0 = gort_now();
			gort_timer_reset(t, 100 * 1000);
			v = recv_i64(gort_timer_chan(t));
			CO_CHECK(v >= t0 + 100 * 1000, "value from before the reset (%lld ns early)",
				 (long long)(t0 + 100 * 1000 - v));
			gort_timer_free(t);
			break;
		}
		case 3: { /* a ticker, reset, stopped, freed */
			gort_timer *t = gort_ticker_new(ns / 4 + 1000);
			recv_i64(gort_timer_chan(t));
			gort_timer_reset(t, ns / 8 + 1000);
			recv_i64(gort_timer_chan(t));
			gort_timer_stop(t);
			gort_timer_free(t);
			break;
		}
		case 4: { /* gort_after, received */
			gort_chan *c = gort_after(ns / 8);
			CO_CHECK(c != NULL, "gort_after = NULL");
			if (c) {
				recv_i64(c);
				gort_chan_release(c);
			}
			break;
		}
		case 5: { /* deadline receive racing senders */
			int x;
			int rc = gort_chan_recv_until(ctx->shared, &x, NULL, gort_now() + ns / 4);
			CO_CHECK(rc == 0 || rc == -ETIMEDOUT, "recv_until = %d", rc);
			if (rc == 0)
				atomic_fetch_add(&ctx->recvd, 1);
			break;
		}
		case 6: { /* deadline send racing receivers */
			int x = 1;
			int rc = gort_chan_send_until(ctx->shared, &x, gort_now() + ns / 4);
			CO_CHECK(rc == 0 || rc == -ETIMEDOUT, "send_until = %d", rc);
			if (rc == 0)
				atomic_fetch_add(&ctx->sent, 1);
			break;
		}
		default: /* a short sleep */
			gort_sleep(ns / 16);
			break;
		}
	}
	gort_wg_done(&ctx->wg);
}

PROCS_TEST(timer, churn, 30)
{
	long n = scaled_min(1000, 50);
	struct churn_ctx ctx = {.iters = scaled_min(100, 10), .wg = GORT_WG_INIT};
	struct churn_arg *args = calloc((size_t)n, sizeof *args);
	cr_assert_not_null(args);
	atomic_init(&ctx.sent, 0);
	atomic_init(&ctx.recvd, 0);
	rt_start(procs);
	ctx.shared = gort_chan_make(sizeof(int), 0);
	cr_assert_not_null(ctx.shared);
	gort_wg_add(&ctx.wg, n);
	for (long i = 0; i < n; i++) {
		args[i] = (struct churn_arg){.ctx = &ctx, .seed = 0x1234567ULL + (uint64_t)i * 7919};
		cr_assert_gt(gort_go(churn_fn, &args[i]), 0);
	}
	gort_wg_wait(&ctx.wg);
	CO_ASSERT_NO_FAILURES();
	/* unbuffered: every completed send was a completed receive */
	cr_assert_eq(atomic_load(&ctx.sent), atomic_load(&ctx.recvd),
		     "%ld deadline sends completed but %ld receives", atomic_load(&ctx.sent),
		     atomic_load(&ctx.recvd));
	cr_assert_eq(gort_chan_len(ctx.shared), 0);
	gort_chan_release(ctx.shared);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
	free(args);
}

/* ------------------------------------------------------------------------ */
/* Not running                                                               */
/* ------------------------------------------------------------------------ */

Test(timer, not_running_returns_null, .timeout = 10)
{
	cr_assert(!gort_running());
	cr_assert_null(gort_timer_new(MS));
	cr_assert_null(gort_ticker_new(MS));
	cr_assert_null(gort_after(MS));
	rt_start(1);
	gort_timer *t = gort_timer_new(MS);
	cr_assert_not_null(t);
	gort_chan_recv(gort_timer_chan(t), NULL, NULL);
	gort_timer_free(t);
	rt_stop();
	cr_assert_null(gort_timer_new(MS));
	cr_assert_null(gort_ticker_new(MS));
	cr_assert_null(gort_after(MS));
	/* the clock works regardless, and is monotonic */
	int64_t a = gort_now(), b = gort_now();
	cr_assert_gt(a, 0);
	cr_assert_geq(b, a);
}
