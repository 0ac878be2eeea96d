/*
 * test_chan_spec.c — channel, select and timer properties that the rest of
 * the suite (test_chan.c, test_timer.c) does not pin down:
 *
 *   - chan/unbuffered_handoff_1k_bytes: 1 KiB elements cross an unbuffered
 *     channel byte for byte (coroutine to coroutine, plain thread to
 *     coroutine, coroutine to plain thread), and the copy received does not
 *     alias the sender's buffer, which is rewritten as soon as send returns;
 *   - chan/close_1000_receivers_1000_senders: one close wakes 1,000 parked
 *     receivers (ok = false, zeroed element) and another 1,000 parked
 *     senders (each panics "send on closed channel", recovered either by
 *     gort_protect or by a per-spawn on_panic handler); later arrivals get
 *     the same; the runtime goes on working;
 *   - chan/select_fairness_two_ready: two always-ready cases (two receives,
 *     then a receive and a send) are each chosen 45..55% of the time;
 *   - chan/select_default_never_blocks: a non-blocking select over cases
 *     none of which can proceed (empty buffer, unbuffered without partner,
 *     nil channel, full buffer for a send) returns -EAGAIN without touching
 *     anything, from a coroutine and from a plain thread; once one case can
 *     proceed, that one is chosen;
 *   - chan/random_ops_checksum: thousands of coroutines run random sends,
 *     receives, selects (blocking, with default, with a deadline), try and
 *     deadline forms and closes over 100 channels; every value sent (send
 *     returned success) is received exactly once and nothing else is:
 *     per-value bitmaps, counts and sums must match;
 *   - timer/sleeps_100k_never_early: no gort_sleep returns before its time;
 *   - timer/fires_while_owner_m_blocked: timers armed on a P whose M then
 *     blocks its OS thread fire anyway (procs >= 2);
 *   - timer/stopped_never_fires: many stopped timers never deliver;
 *   - timer/ticker_keeps_period: ticks are never early against the period's
 *     grid, and never more than the elapsed time allows.
 *
 * Timing is asserted only from below ("not early") or by ordering against
 * an event; never with a tight upper bound (the test machine is noisy).
 * Checks made off the test's main thread use CO_CHECK.
 */
#include "chan_helpers.h"

#include <pthread.h>
#include <stdint.h>

#define MS (1000000LL)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* splitmix64: turns any number into a well-mixed seed. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* ------------------------------------------------------------------------ */
/* chan/unbuffered_handoff_1k_bytes                                          */
/* ------------------------------------------------------------------------ */

#define HB_SIZE 1024

struct hb {
	gort_chan *c;
	long n;
	uint64_t seed;
	atomic_long received;
	gort_wg done;
};

/* Message i: 1 KiB derived from the seed and i; its first 8 bytes are i. */
static void hb_fill(unsigned char *b, uint64_t seed, long i)
{
	uint64_t s = mix64(seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ULL)) | 1;
	for (size_t w = 0; w < HB_SIZE / 8; w++) {
		uint64_t x = rng_next(&s);
		memcpy(b + 8 * w, &x, 8);
	}
	uint64_t tag = (uint64_t)i;
	memcpy(b, &tag, 8);
}

/* The offset of the first byte of b that differs from message i, or -1. */
static long hb_diff(const unsigned char *b, uint64_t seed, long i)
{
	unsigned char want[HB_SIZE];
	hb_fill(want, seed, i);
	for (long k = 0; k < HB_SIZE; k++)
		if (b[k] != want[k])
			return k;
	return -1;
}

/* Let the other side get there first now and then (a coroutine yields; a
 * plain thread sched_yields), so that both hand-off paths are taken: the
 * sender copying into a waiting receiver, the receiver copying from a
 * waiting sender. */
static void hb_pause(void)
{
	for (int k = 0; k < 3; k++)
		gort_yield();
}

static void hb_send_all(struct hb *h)
{
	unsigned char buf[HB_SIZE];
	for (long i = 0; i < h->n; i++) {
		hb_fill(buf, h->seed, i);
		if (i % 3 == 0)
			hb_pause();
		int rc = gort_chan_send(h->c, buf);
		CO_CHECK(rc == 0, "send of message %ld = %d", i, rc);
		/* the value is the receiver's now: reuse the buffer at once */
		memset(buf, 0xA0 + (int)(i & 0x1F), sizeof buf);
	}
}

static void hb_recv_all(struct hb *h)
{
	unsigned char *rb = malloc(2 * HB_SIZE);
	CO_CHECK(rb != NULL, "malloc");
	if (rb == NULL)
		return;
	bool prev_good = false;
	for (long i = 0; i < h->n; i++) {
		unsigned char *b = rb + (i & 1) * HB_SIZE;
		memset(b, 0x5A, HB_SIZE);
		if (i % 3 == 1)
			hb_pause();
		bool ok = false;
		int rc = gort_chan_recv(h->c, b, &ok);
		CO_CHECK(rc == 0 && ok, "recv of message %ld = %d ok=%d", i, rc, ok);
		long d = hb_diff(b, h->seed, i);
		CO_CHECK(d < 0, "message %ld: byte %ld is 0x%02x (seed %#llx)", i, d,
			 d >= 0 ? b[d] : 0, (unsigned long long)h->seed);
		/* the previous message was sent, and its buffer rewritten by the
		 * sender, before this one was: our copy must not have changed */
		if (i > 0 && prev_good) {
			unsigned char *pb = rb + ((i - 1) & 1) * HB_SIZE;
			long pd = hb_diff(pb, h->seed, i - 1);
			CO_CHECK(pd < 0,
				 "message %ld changed (byte %ld now 0x%02x) after the sender reused "
				 "its buffer",
				 i - 1, pd, pd >= 0 ? pb[pd] : 0);
		}
		prev_good = d < 0;
		atomic_fetch_add(&h->received, 1);
	}
	free(rb);
}

static void hb_sender_co(void *p)
{
	struct hb *h = p;
	hb_send_all(h);
	gort_wg_done(&h->done);
}

static void hb_receiver_co(void *p)
{
	struct hb *h = p;
	hb_recv_all(h);
	gort_wg_done(&h->done);
}

static void hb_phase(struct hb *h, long n, uint64_t seed, bool plain_sender, bool plain_receiver)
{
	h->n = n;
	h->seed = seed;
	atomic_store(&h->received, 0);
	h->c = mk(HB_SIZE, 0);
	gort_wg_add(&h->done, 2 - (plain_sender ? 1 : 0) - (plain_receiver ? 1 : 0));
	if (!plain_receiver)
		cr_assert_gt(gort_go(hb_receiver_co, h), 0);
	if (!plain_sender)
		cr_assert_gt(gort_go(hb_sender_co, h), 0);
	if (plain_sender)
		hb_send_all(h);
	if (plain_receiver)
		hb_recv_all(h);
	gort_wg_wait(&h->done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&h->received), n, "%ld of %ld messages received (%s to %s)",
		     atomic_load(&h->received), n, plain_sender ? "plain thread" : "coroutine",
		     plain_receiver ? "plain thread" : "coroutine");
	cr_assert_eq(gort_chan_len(h->c), 0);
	gort_chan_release(h->c);
}

PROCS_TEST(chan, unbuffered_handoff_1k_bytes, 60)
{
	static struct hb h;
	long n = scaled_min(20000, 2000);
	rt_start(procs);
	hb_phase(&h, n, 0x1C0DE5EEDULL + (uint64_t)procs, false, false);
	hb_phase(&h, n / 4, 0x2C0DE5EEDULL + (uint64_t)procs, true, false);
	hb_phase(&h, n / 4, 0x3C0DE5EEDULL + (uint64_t)procs, false, true);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* chan/close_1000_receivers_1000_senders                                    */
/* ------------------------------------------------------------------------ */

struct cl {
	gort_chan *a; /* receivers wait on it */
	gort_chan *b; /* senders wait on it */
	atomic_int arrived, woke;
	atomic_long recv_closed, send_panicked, by_handler;
	gort_wg done;
};

struct send_args {
	gort_chan *c;
	const void *elem;
};

static void op_send(void *p)
{
	struct send_args *a = p;
	gort_chan_send(a->c, a->elem);
}

static void cl_recv_done(struct cl *s, int64_t v, bool ok, const char *how)
{
	atomic_fetch_add(&s->woke, 1);
	CO_CHECK(!ok, "%s woken by the close: ok true (value %lld)", how, (long long)v);
	CO_CHECK(v == 0, "%s woken by the close: element %#llx, not zeroed", how,
		 (unsigned long long)v);
	if (!ok && v == 0)
		atomic_fetch_add(&s->recv_closed, 1);
	gort_wg_done(&s->done);
}

static void cl_receiver(void *p)
{
	struct cl *s = p;
	int64_t v = 0x5A5A5A5A5A5A5A5AULL;
	bool ok = true;
	atomic_fetch_add(&s->arrived, 1);
	int rc = gort_chan_recv(s->a, &v, &ok);
	CO_CHECK(rc == 0, "recv = %d", rc);
	cl_recv_done(s, v, ok, "receiver");
}

static void cl_sel_receiver(void *p)
{
	struct cl *s = p;
	int64_t v[2] = {0x5A5A5A5A5A5A5A5AULL, 0x5A5A5A5A5A5A5A5AULL};
	gort_case cs[2] = {{.chan = NULL, .dir = GORT_RECV, .elem = &v[0]},
			   {.chan = s->a, .dir = GORT_RECV, .elem = &v[1], .ok = true}};
	atomic_fetch_add(&s->arrived, 1);
	int i = gort_select(cs, 2, false);
	CO_CHECK(i == 1, "select woken by the close returned %d", i);
	cl_recv_done(s, v[1], cs[1].ok, "select receiver");
}

static void cl_check_panic(const gort_panic_info *info, const char *how)
{
	CO_CHECK(strstr(info->message, "send on closed channel") != NULL, "%s: panic \"%s\"", how,
		 info->message);
	CO_CHECK(info->runtime_error, "%s: the panic is not marked a runtime error", how);
	CO_CHECK(info->coroutine == gort_self() && info->coroutine > 0,
		 "%s: panic of coroutine %lld seen in %lld", how, (long long)info->coroutine,
		 (long long)gort_self());
}

/* Recovers its own panic. */
static void cl_sender_protected(void *p)
{
	struct cl *s = p;
	int64_t v = 1234;
	struct send_args a = {s->b, &v};
	gort_panic_info info;
	atomic_fetch_add(&s->arrived, 1);
	int rc = protected_call(op_send, &a, &info);
	atomic_fetch_add(&s->woke, 1);
	CO_CHECK(rc == GORT_PANICKED, "a sender waiting at the close: gort_protect = %d", rc);
	if (rc == GORT_PANICKED) {
		cl_check_panic(&info, "protected sender");
		atomic_fetch_add(&s->send_panicked, 1);
	}
	gort_wg_done(&s->done);
}

/* Spawned with its own on_panic handler: the panic ends it. */
static void cl_sender_bare(void *p)
{
	struct cl *s = p;
	int64_t v = 5678;
	atomic_fetch_add(&s->arrived, 1);
	gort_chan_send(s->b, &v);
	atomic_fetch_add(&s->woke, 1);
	CO_CHECK(0, "a send on a closed channel returned");
	gort_wg_done(&s->done);
}

static void cl_on_panic(const gort_panic_info *info, void *ctx)
{
	struct cl *s = ctx;
	atomic_fetch_add(&s->woke, 1);
	cl_check_panic(info, "sender with on_panic");
	atomic_fetch_add(&s->send_panicked, 1);
	atomic_fetch_add(&s->by_handler, 1);
	gort_wg_done(&s->done);
}

static void cl_spawn(struct cl *s, long k)
{
	gort_id id;
	id = gort_go((k & 1) ? cl_sel_receiver : cl_receiver, s);
	cr_assert_gt(id, 0, "spawn of receiver %ld = %lld", k, (long long)id);
	if (k & 1)
		id = gort_go_with(cl_sender_bare, s, .name = "bare-sender", .on_panic = cl_on_panic,
				  .on_panic_ctx = s);
	else
		id = gort_go(cl_sender_protected, s);
	cr_assert_gt(id, 0, "spawn of sender %ld = %lld", k, (long long)id);
}

/* After the storm: a fresh channel still carries values between
 * coroutines. */
struct pp {
	gort_chan *ping, *pong;
	long n;
};

static void pp_echo(void *p)
{
	struct pp *x = p;
	for (long i = 0; i < x->n; i++) {
		long v = -1;
		bool ok = false;
		gort_chan_recv(x->ping, &v, &ok);
		CO_CHECK(ok && v == i, "echo got %ld ok=%d, want %ld", v, ok, i);
		v = -v;
		gort_chan_send(x->pong, &v);
	}
}

static void pp_drive(void *p)
{
	struct pp *x = p;
	CO_CHECK(gort_go(pp_echo, x) > 0, "spawn echo");
	for (long i = 0; i < x->n; i++) {
		long v = i;
		gort_chan_send(x->ping, &v);
		bool ok = false;
		gort_chan_recv(x->pong, &v, &ok);
		CO_CHECK(ok && v == -i, "round %ld: got %ld", i, v);
	}
}

PROCS_TEST(chan, close_1000_receivers_1000_senders, 60)
{
	static struct cl s;
	long n = scaled_min(1000, 100);
	const long late = 10;
	rt_start(procs);
	gort_stats st0, st;
	cr_assert_eq(gort_stats_read(&st0), 0);
	s.a = mk(sizeof(int64_t), 0);
	s.b = mk(sizeof(int64_t), 0);
	gort_wg_add(&s.done, 2 * (n + late));
	for (long k = 0; k < n; k++)
		cl_spawn(&s, k);
	cr_assert(wait_ge(&s.arrived, (int)(2 * n), 20000), "%d of %ld coroutines arrived",
		  atomic_load(&s.arrived), 2 * n);
	/* parked is not observable one by one; the park counter says when
	 * (at least) that many parks happened.  Correct either way: the close
	 * must wake those parked and those still on their way. */
	int64_t until = now_ns() + 10000 * MS;
	do {
		cr_assert_eq(gort_stats_read(&st), 0);
		if (st.parks - st0.parks >= (uint64_t)(2 * n))
			break;
		usleep(500);
	} while (now_ns() < until);
	sleep_ms(20);
	cr_assert_eq(atomic_load(&s.woke), 0, "%d coroutines got through before the close",
		     atomic_load(&s.woke));

	gort_chan_close(s.a);
	gort_chan_close(s.b);
	/* arrivals after the close: receive at once, panic at once */
	for (long k = 0; k < late; k++)
		cl_spawn(&s, k);
	gort_wg_wait(&s.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&s.recv_closed), n + late, "%ld receivers saw the close, want %ld",
		     atomic_load(&s.recv_closed), n + late);
	cr_assert_eq(atomic_load(&s.send_panicked), n + late,
		     "%ld senders panicked and were recovered, want %ld",
		     atomic_load(&s.send_panicked), n + late);
	cr_assert_eq(atomic_load(&s.by_handler), n / 2 + late / 2,
		     "%ld panics reached on_panic handlers", atomic_load(&s.by_handler));
	/* no waiting sender's value was delivered */
	int64_t v = 99;
	bool ok = true;
	cr_assert_eq(gort_chan_recv(s.b, &v, &ok), 0);
	cr_assert(!ok && v == 0, "a closed channel's waiting sender delivered %lld",
		  (long long)v);
	cr_assert_eq(gort_chan_len(s.a), 0);
	cr_assert_eq(gort_chan_len(s.b), 0);
	int64_t live = wait_num_coroutines(0, 10000);
	cr_assert_eq(live, 0, "%lld coroutines still live after the close", (long long)live);

	/* still usable */
	struct pp x = {.ping = mk(sizeof(long), 0), .pong = mk(sizeof(long), 0), .n = 200};
	co_run(pp_drive, &x);
	CO_ASSERT_NO_FAILURES();
	gort_chan_release(x.ping);
	gort_chan_release(x.pong);
	gort_chan_release(s.a);
	gort_chan_release(s.b);
	cr_assert_eq(wait_num_coroutines(0, 10000), 0);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* chan/select_fairness_two_ready                                            */
/* ------------------------------------------------------------------------ */

struct fair {
	gort_chan *c[2];
	long n;
	long count[2];
	bool recv_send; /* case 0 receives from c[0], case 1 sends to c[1] */
};

static void fair_run(void *p)
{
	struct fair *f = p;
	f->count[0] = f->count[1] = 0;
	for (long k = 0; k < f->n; k++) {
		int got[2] = {-1, -1};
		int out = 1;
		gort_case cs[2];
		cs[0] = (gort_case){.chan = f->c[0], .dir = GORT_RECV, .elem = &got[0]};
		if (f->recv_send)
			cs[1] = (gort_case){.chan = f->c[1], .dir = GORT_SEND, .elem = &out};
		else
			cs[1] = (gort_case){.chan = f->c[1], .dir = GORT_RECV, .elem = &got[1]};
		/* blocking and non-blocking alike: both cases are ready */
		int i = gort_select(cs, 2, (k & 1) != 0);
		if (i < 0 || i > 1) {
			CO_CHECK(0, "select %ld returned %d with both cases ready", k, i);
			return;
		}
		f->count[i]++;
		int rc;
		if (i == 1 && f->recv_send) {
			/* restore: empty c[1] again */
			int w = -1;
			rc = gort_chan_try_recv(f->c[1], &w, NULL);
			CO_CHECK(rc == 0 && w == 1, "drain after the send case: %d (value %d)", rc, w);
		} else {
			CO_CHECK(got[i] == i && cs[i].ok, "case %d received %d ok=%d", i, got[i],
				 cs[i].ok);
			rc = gort_chan_try_send(f->c[i], &i);
			CO_CHECK(rc == 0, "refill of %d: %d", i, rc);
		}
		if (rc != 0)
			return;
	}
}

static void fair_check(const struct fair *f, const char *what)
{
	CO_ASSERT_NO_FAILURES();
	for (int i = 0; i < 2; i++) {
		double share = (double)f->count[i] / (double)f->n;
		cr_assert(share >= 0.45 && share <= 0.55,
			  "%s: case %d chosen %ld of %ld times (%.2f%%)", what, i, f->count[i], f->n,
			  share * 100);
	}
}

PROCS_TEST(chan, select_fairness_two_ready, 30)
{
	static struct fair f;
	f.n = scaled_min(100000, 10000);
	rt_start(procs);
	for (int i = 0; i < 2; i++) {
		f.c[i] = mk(sizeof(int), 1);
		cr_assert_eq(gort_chan_try_send(f.c[i], &i), 0);
	}
	/* two receive cases: in a coroutine, then on a plain thread */
	f.recv_send = false;
	co_run(fair_run, &f);
	fair_check(&f, "two receives, coroutine");
	fair_run(&f);
	fair_check(&f, "two receives, plain thread");
	/* a receive and a send */
	int w;
	cr_assert_eq(gort_chan_try_recv(f.c[1], &w, NULL), 0);
	cr_assert_eq(gort_chan_len(f.c[1]), 0);
	f.recv_send = true;
	co_run(fair_run, &f);
	fair_check(&f, "a receive and a send, coroutine");
	for (int i = 0; i < 2; i++)
		gort_chan_release(f.c[i]);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* chan/select_default_never_blocks                                          */
/* ------------------------------------------------------------------------ */

enum {
	SD_EMPTY_BUF,  /* recv, buffered, empty */
	SD_UNBUF_RECV, /* recv, unbuffered, no sender */
	SD_UNBUF_SEND, /* send, unbuffered, no receiver */
	SD_NIL_RECV,   /* recv, nil */
	SD_NIL_SEND,   /* send, nil */
	SD_FULL_SEND,  /* send, buffered, full */
	SD_N
};

struct sd {
	gort_chan *empty, *unbuf_r, *unbuf_s, *full;
	long iters;
	atomic_int finished;
	atomic_int partner_arrived;
};

struct sd_cases {
	gort_case cs[SD_N];
	int64_t in[SD_N];
	int64_t out[SD_N];
};

static void sd_build(struct sd *s, struct sd_cases *c)
{
	gort_chan *ch[SD_N] = {s->empty, s->unbuf_r, s->unbuf_s, NULL, NULL, s->full};
	static const int dir[SD_N] = {GORT_RECV, GORT_RECV, GORT_SEND,
				      GORT_RECV, GORT_SEND, GORT_SEND};
	for (int i = 0; i < SD_N; i++) {
		c->in[i] = -7;
		c->out[i] = 1000 + i;
		c->cs[i] = (gort_case){.chan = ch[i], .dir = dir[i],
				       .elem = dir[i] == GORT_SEND ? (void *)&c->out[i] : &c->in[i]};
	}
}

static void sd_partner_send(void *p)
{
	struct sd *s = p;
	int64_t v = 424242;
	atomic_fetch_add(&s->partner_arrived, 1);
	gort_chan_send(s->unbuf_r, &v);
}

static void sd_partner_recv(void *p)
{
	struct sd *s = p;
	int64_t v = -1;
	bool ok = false;
	atomic_fetch_add(&s->partner_arrived, 1);
	gort_chan_recv(s->unbuf_s, &v, &ok);
	CO_CHECK(ok && v == 1000 + SD_UNBUF_SEND, "the select's send delivered %lld ok=%d",
		 (long long)v, ok);
}

/* Non-blocking select until it returns something other than -EAGAIN (a
 * partner is on its way), or 10 s pass. */
static int sd_select_until_ready(struct sd_cases *c)
{
	int64_t deadline = now_ns() + 10000 * MS;
	for (;;) {
		int i = gort_select(c->cs, SD_N, true);
		if (i != -EAGAIN || now_ns() > deadline)
			return i;
		if (gort_self() != 0)
			gort_yield();
		else
			usleep(50);
	}
}

static void sd_run(void *p)
{
	struct sd *s = p;
	struct sd_cases c;
	sd_build(s, &c);

	/* nothing can proceed: -EAGAIN, every time, nothing touched */
	for (long k = 0; k < s->iters; k++) {
		int i = gort_select(c.cs, SD_N, true);
		if (i != -EAGAIN) {
			CO_CHECK(0, "select %ld with default, nothing ready, returned %d", k, i);
			break;
		}
		if (k % 64 == 0) {
			for (int j = 0; j < SD_N; j++)
				CO_CHECK(c.in[j] == -7 && c.out[j] == 1000 + j,
					 "case %d's element changed by a select that chose nothing", j);
			CO_CHECK(gort_chan_len(s->empty) == 0 && gort_chan_len(s->full) == 2,
				 "buffers changed: len %zu and %zu", gort_chan_len(s->empty),
				 gort_chan_len(s->full));
		}
	}
	/* the same with a deadline in the past (only if ready now) */
	for (long k = 0; k < s->iters / 16; k++) {
		int i = gort_select_until(c.cs, SD_N, gort_now() - 1);
		if (i != -ETIMEDOUT) {
			CO_CHECK(0, "select_until(past), nothing ready, returned %d", i);
			break;
		}
	}

	/* a value in the empty buffer: that case */
	int64_t v = 77;
	CO_CHECK(gort_chan_try_send(s->empty, &v) == 0, "fill");
	int i = gort_select(c.cs, SD_N, true);
	CO_CHECK(i == SD_EMPTY_BUF && c.in[i] == 77 && c.cs[i].ok,
		 "buffered value: select = %d (value %lld)", i, i >= 0 ? (long long)c.in[i] : -1LL);
	sd_build(s, &c);

	/* room in the full buffer: the send case */
	CO_CHECK(gort_chan_try_recv(s->full, &v, NULL) == 0, "drain one");
	i = gort_select(c.cs, SD_N, true);
	CO_CHECK(i == SD_FULL_SEND, "room in the buffer: select = %d", i);
	CO_CHECK(gort_chan_len(s->full) == 2, "len %zu after the send case", gort_chan_len(s->full));
	int64_t a = -1, b = -1;
	CO_CHECK(gort_chan_try_recv(s->full, &a, NULL) == 0 &&
			 gort_chan_try_recv(s->full, &b, NULL) == 0,
		 "read back");
	CO_CHECK(b == 1000 + SD_FULL_SEND, "the send case put %lld (then %lld)", (long long)a,
		 (long long)b);
	a = 1;
	b = 2;
	CO_CHECK(gort_chan_try_send(s->full, &a) == 0 && gort_chan_try_send(s->full, &b) == 0,
		 "refill");
	sd_build(s, &c);

	/* a sender waiting on the unbuffered channel: the receive case */
	atomic_store(&s->partner_arrived, 0);
	CO_CHECK(gort_go(sd_partner_send, s) > 0, "spawn");
	i = sd_select_until_ready(&c);
	CO_CHECK(i == SD_UNBUF_RECV && c.in[i] == 424242 && c.cs[i].ok,
		 "waiting sender: select = %d (value %lld)", i, i >= 0 ? (long long)c.in[i] : -1LL);
	sd_build(s, &c);

	/* a receiver waiting on the other: the send case */
	atomic_store(&s->partner_arrived, 0);
	CO_CHECK(gort_go(sd_partner_recv, s) > 0, "spawn");
	i = sd_select_until_ready(&c);
	CO_CHECK(i == SD_UNBUF_SEND, "waiting receiver: select = %d", i);
	sd_build(s, &c);

	/* back to nothing ready */
	i = gort_select(c.cs, SD_N, true);
	CO_CHECK(i == -EAGAIN, "nothing ready again: select = %d", i);
	atomic_store(&s->finished, 1);
}

static void sd_run_co(void *p)
{
	sd_run(p);
}

static void *sd_run_thread(void *p)
{
	sd_run(p);
	return NULL;
}

PROCS_TEST(chan, select_default_never_blocks, 30)
{
	static struct sd s;
	s.iters = scaled_min(20000, 2000);
	rt_start(procs);
	s.empty = mk(sizeof(int64_t), 4);
	s.unbuf_r = mk(sizeof(int64_t), 0);
	s.unbuf_s = mk(sizeof(int64_t), 0);
	s.full = mk(sizeof(int64_t), 2);
	int64_t a = 1, b = 2;
	cr_assert_eq(gort_chan_try_send(s.full, &a), 0);
	cr_assert_eq(gort_chan_try_send(s.full, &b), 0);

	/* in a coroutine; a select that blocked would never finish */
	atomic_store(&s.finished, 0);
	cr_assert_gt(gort_go(sd_run_co, &s), 0);
	cr_assert(wait_ge(&s.finished, 1, 20000), "a select with default blocked (coroutine)");
	/* on a plain thread (not the main one, so a blocked select shows as
	 * a failure rather than a hang) */
	atomic_store(&s.finished, 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, sd_run_thread, &s), 0);
	cr_assert(wait_ge(&s.finished, 1, 20000), "a select with default blocked (plain thread)");
	pthread_join(th, NULL);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(wait_num_coroutines(0, 10000), 0, "a partner is still waiting");
	cr_assert_eq(gort_chan_len(s.empty), 0);
	cr_assert_eq(gort_chan_len(s.full), 2);
	gort_chan_release(s.empty);
	gort_chan_release(s.unbuf_r);
	gort_chan_release(s.unbuf_s);
	gort_chan_release(s.full);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* chan/random_ops_checksum                                                  */
/* ------------------------------------------------------------------------ */

#define RO_CH 100
#define RO_OPS 24
#define RO_MAXC 4

enum {
	RO_SEND_UNTIL,
	RO_RECV_UNTIL,
	RO_TRY_SEND,
	RO_TRY_RECV,
	RO_SEL_UNTIL,
	RO_SEL_DEFAULT,
	RO_SEND,
	RO_RECV,
	RO_SEL,
	RO_CLOSE,
	RO_YIELD,
};

struct ro {
	gort_chan *c[RO_CH];
	atomic_int closed[RO_CH]; /* set just before the channel is closed */
	long n;
	uint64_t seed;
	uint64_t close_div;
	long nvals; /* values are 1 .. nvals */
	_Atomic uint64_t *sent_bits, *recv_bits;
	atomic_long sent_n, sent_sum, recv_n, recv_sum;
	atomic_long panics, closes, timeouts, closed_recvs, dups, bad;
	atomic_long done, in_blocking;
	atomic_long ops_late; /* operations begun after the final close */
	atomic_int final_close;
	gort_wg wg;
};

struct ro_w {
	struct ro *r;
	long idx;
	uint64_t seed;
};

struct ro_op {
	struct ro *r;
	int kind;
	int ci; /* the channel of a single-channel operation */
	size_t ncases;
	gort_case cs[RO_MAXC];
	int cidx[RO_MAXC]; /* each case's channel, -1: nil */
	int64_t out[RO_MAXC];
	int64_t in[RO_MAXC];
	int64_t deadline;
	int rc;
	bool ok;
	bool returned;
};

static int64_t ro_value(long idx, int k, int j)
{
	return 1 + ((int64_t)idx * RO_OPS + k) * RO_MAXC + j;
}

static bool ro_mark(_Atomic uint64_t *bits, int64_t v)
{
	uint64_t bit = 1ULL << (v % 64);
	return (atomic_fetch_or(&bits[v / 64], bit) & bit) == 0;
}

struct ro_tally {
	long sent_n, sent_sum, recv_n, recv_sum;
};

static void ro_sent(struct ro *r, struct ro_tally *t, int64_t v)
{
	if (!ro_mark(r->sent_bits, v))
		CO_CHECK(0, "value %lld counted as sent twice (seed %#llx)", (long long)v,
			 (unsigned long long)r->seed);
	t->sent_n++;
	t->sent_sum += v;
}

static void ro_received(struct ro *r, struct ro_tally *t, int64_t v)
{
	if (v < 1 || v > r->nvals) {
		atomic_fetch_add(&r->bad, 1);
		CO_CHECK(0, "received %lld, never a value sent (seed %#llx)", (long long)v,
			 (unsigned long long)r->seed);
		return;
	}
	if (!ro_mark(r->recv_bits, v)) {
		atomic_fetch_add(&r->dups, 1);
		CO_CHECK(0, "value %lld received twice (seed %#llx)", (long long)v,
			 (unsigned long long)r->seed);
	}
	t->recv_n++;
	t->recv_sum += v;
}

/* A receive that reported the channel closed: it must be, and the element
 * must be zero. */
static void ro_closed_recv(struct ro *r, int ci, int64_t v, const char *what, uint64_t seed)
{
	atomic_fetch_add(&r->closed_recvs, 1);
	CO_CHECK(ci >= 0 && atomic_load(&r->closed[ci]), "%s: ok=false on open channel %d (seed %#llx)",
		 what, ci, (unsigned long long)seed);
	CO_CHECK(v == 0, "%s: ok=false with element %lld (seed %#llx)", what, (long long)v,
		 (unsigned long long)seed);
}

static void ro_do(void *p)
{
	struct ro_op *o = p;
	gort_chan *c = o->ci >= 0 ? o->r->c[o->ci] : NULL;
	switch (o->kind) {
	case RO_SEND_UNTIL:
		o->rc = gort_chan_send_until(c, &o->out[0], o->deadline);
		break;
	case RO_RECV_UNTIL:
		o->rc = gort_chan_recv_until(c, &o->in[0], &o->ok, o->deadline);
		break;
	case RO_TRY_SEND:
		o->rc = gort_chan_try_send(c, &o->out[0]);
		break;
	case RO_TRY_RECV:
		o->rc = gort_chan_try_recv(c, &o->in[0], &o->ok);
		break;
	case RO_SEL_UNTIL:
		o->rc = gort_select_until(o->cs, o->ncases, o->deadline);
		break;
	case RO_SEL_DEFAULT:
		o->rc = gort_select(o->cs, o->ncases, true);
		break;
	case RO_SEND:
		o->rc = gort_chan_send(c, &o->out[0]);
		break;
	case RO_RECV:
		o->rc = gort_chan_recv(c, &o->in[0], &o->ok);
		break;
	case RO_SEL:
		o->rc = gort_select(o->cs, o->ncases, false);
		break;
	case RO_CLOSE:
		gort_chan_close(c);
		o->rc = 0;
		break;
	default:
		break;
	}
	o->returned = true;
}

static bool ro_is_send(int kind)
{
	return kind == RO_SEND_UNTIL || kind == RO_TRY_SEND || kind == RO_SEND;
}

static bool ro_is_select(int kind)
{
	return kind == RO_SEL_UNTIL || kind == RO_SEL_DEFAULT || kind == RO_SEL;
}

static void ro_worker(void *p)
{
	struct ro_w *w = p;
	struct ro *r = w->r;
	uint64_t s = w->seed;
	struct ro_tally t = {0, 0, 0, 0};
	static const char *const names[] = {"send_until", "recv_until", "try_send", "try_recv",
					    "select_until", "select+default", "send", "recv",
					    "select", "close", "yield"};
	for (int k = 0; k < RO_OPS; k++) {
		uint64_t x = rng_next(&s);
		struct ro_op o;
		memset(&o, 0, sizeof o);
		o.r = r;
		o.ci = (int)((x >> 8) % RO_CH);
		o.deadline = gort_now() + (int64_t)((x >> 24) % (500 * 1000)); /* 0..500 us */
		int pick = (int)(x % 100);
		if ((x >> 44) % r->close_div == 0)
			o.kind = RO_CLOSE;
		else if (pick < 14)
			o.kind = RO_SEND_UNTIL;
		else if (pick < 28)
			o.kind = RO_RECV_UNTIL;
		else if (pick < 36)
			o.kind = RO_TRY_SEND;
		else if (pick < 44)
			o.kind = RO_TRY_RECV;
		else if (pick < 58)
			o.kind = RO_SEL_UNTIL;
		else if (pick < 72)
			o.kind = RO_SEL_DEFAULT;
		else if (pick < 79)
			o.kind = RO_SEND;
		else if (pick < 86)
			o.kind = RO_RECV;
		else if (pick < 94)
			o.kind = RO_SEL;
		else
			o.kind = RO_YIELD;
		if (atomic_load(&r->final_close))
			atomic_fetch_add(&r->ops_late, 1);
		if (o.kind == RO_YIELD) {
			gort_yield();
			continue;
		}
		if (o.kind == RO_CLOSE && atomic_exchange(&r->closed[o.ci], 1) != 0)
			continue; /* someone closed it already */
		for (int j = 0; j < RO_MAXC; j++) {
			o.out[j] = ro_value(w->idx, k, j);
			o.in[j] = -1;
		}
		if (ro_is_select(o.kind)) {
			uint64_t y = rng_next(&s);
			o.ncases = 2 + (size_t)(y % (RO_MAXC - 1));
			for (size_t j = 0; j < o.ncases; j++) {
				uint64_t z = rng_next(&s);
				/* case 0 is never nil: a blocking select must end */
				o.cidx[j] = (j > 0 && z % 12 == 0) ? -1 : (int)((z >> 8) % RO_CH);
				int dir = ((z >> 32) & 1) ? GORT_SEND : GORT_RECV;
				o.cs[j] = (gort_case){
					.chan = o.cidx[j] >= 0 ? r->c[o.cidx[j]] : NULL,
					.dir = dir,
					.elem = dir == GORT_SEND ? (void *)&o.out[j] : (void *)&o.in[j],
				};
			}
		}
		bool blocking = o.kind == RO_SEND || o.kind == RO_RECV || o.kind == RO_SEL;
		if (blocking)
			atomic_fetch_add(&r->in_blocking, 1);
		gort_panic_info info;
		int prc = protected_call(ro_do, &o, &info);
		if (blocking)
			atomic_fetch_sub(&r->in_blocking, 1);
		if (prc == GORT_PANICKED) {
			/* only a send on a closed channel may panic; nothing was
			 * delivered */
			atomic_fetch_add(&r->panics, 1);
			CO_CHECK(!o.returned, "%s panicked after returning", names[o.kind]);
			CO_CHECK(strstr(info.message, "send on closed channel") != NULL,
				 "%s on channel %d: panic \"%s\" (seed %#llx)", names[o.kind], o.ci,
				 info.message, (unsigned long long)w->seed);
			bool closed_send = false;
			if (ro_is_select(o.kind)) {
				for (size_t j = 0; j < o.ncases; j++)
					if (o.cs[j].dir == GORT_SEND && o.cidx[j] >= 0 &&
					    atomic_load(&r->closed[o.cidx[j]]))
						closed_send = true;
			} else {
				closed_send = ro_is_send(o.kind) && atomic_load(&r->closed[o.ci]);
			}
			CO_CHECK(closed_send, "%s panicked with no send on a closed channel (seed %#llx)",
				 names[o.kind], (unsigned long long)w->seed);
			continue;
		}
		CO_CHECK(prc == 0, "gort_protect = %d", prc);
		switch (o.kind) {
		case RO_SEND_UNTIL:
		case RO_TRY_SEND:
		case RO_SEND:
			if (o.rc == 0)
				ro_sent(r, &t, o.out[0]);
			else if (o.rc == -ETIMEDOUT && o.kind == RO_SEND_UNTIL)
				atomic_fetch_add(&r->timeouts, 1);
			else
				CO_CHECK(o.rc == -EAGAIN && o.kind == RO_TRY_SEND, "%s = %d (seed %#llx)",
					 names[o.kind], o.rc, (unsigned long long)w->seed);
			break;
		case RO_RECV_UNTIL:
		case RO_TRY_RECV:
		case RO_RECV:
			if (o.rc == 0) {
				if (o.ok)
					ro_received(r, &t, o.in[0]);
				else
					ro_closed_recv(r, o.ci, o.in[0], names[o.kind], w->seed);
			} else if ((o.rc == -ETIMEDOUT && o.kind == RO_RECV_UNTIL) ||
				   (o.rc == -EAGAIN && o.kind == RO_TRY_RECV)) {
				if (o.rc == -ETIMEDOUT)
					atomic_fetch_add(&r->timeouts, 1);
				CO_CHECK(o.in[0] == -1, "%s = %d wrote %lld into the element",
					 names[o.kind], o.rc, (long long)o.in[0]);
			} else {
				CO_CHECK(0, "%s = %d (seed %#llx)", names[o.kind], o.rc,
					 (unsigned long long)w->seed);
			}
			break;
		case RO_SEL_UNTIL:
		case RO_SEL_DEFAULT:
		case RO_SEL:
			if (o.rc >= 0 && (size_t)o.rc < o.ncases) {
				int j = o.rc;
				CO_CHECK(o.cidx[j] >= 0, "%s chose nil case %d", names[o.kind], j);
				if (o.cs[j].dir == GORT_SEND)
					ro_sent(r, &t, o.out[j]);
				else if (o.cs[j].ok)
					ro_received(r, &t, o.in[j]);
				else
					ro_closed_recv(r, o.cidx[j], o.in[j], names[o.kind], w->seed);
			} else if (o.rc == -ETIMEDOUT && o.kind == RO_SEL_UNTIL) {
				atomic_fetch_add(&r->timeouts, 1);
			} else {
				CO_CHECK(o.rc == -EAGAIN && o.kind == RO_SEL_DEFAULT,
					 "%s of %zu cases = %d (seed %#llx)", names[o.kind], o.ncases,
					 o.rc, (unsigned long long)w->seed);
			}
			break;
		case RO_CLOSE:
			atomic_fetch_add(&r->closes, 1);
			break;
		default:
			break;
		}
	}
	atomic_fetch_add(&r->sent_n, t.sent_n);
	atomic_fetch_add(&r->sent_sum, t.sent_sum);
	atomic_fetch_add(&r->recv_n, t.recv_n);
	atomic_fetch_add(&r->recv_sum, t.recv_sum);
	atomic_fetch_add(&r->done, 1);
	gort_wg_done(&r->wg);
}

static void ro_round(struct ro *r, struct ro_w *ws, long n, uint64_t seed)
{
	static const size_t caps[5] = {0, 0, 1, 3, 16};
	r->n = n;
	r->seed = seed;
	r->nvals = (long)ro_value(n - 1, RO_OPS - 1, RO_MAXC - 1);
	/* about 25 closes in the round */
	r->close_div = (uint64_t)(n * RO_OPS / 25) + 1;
	size_t words = (size_t)r->nvals / 64 + 1;
	r->sent_bits = calloc(words, sizeof *r->sent_bits);
	r->recv_bits = calloc(words, sizeof *r->recv_bits);
	cr_assert(r->sent_bits != NULL && r->recv_bits != NULL);
	atomic_long *ctrs[] = {&r->sent_n, &r->sent_sum, &r->recv_n, &r->recv_sum, &r->panics,
			       &r->closes, &r->timeouts, &r->closed_recvs, &r->dups, &r->bad,
			       &r->done, &r->in_blocking, &r->ops_late};
	atomic_store(&r->final_close, 0);
	for (size_t i = 0; i < sizeof ctrs / sizeof ctrs[0]; i++)
		atomic_store(ctrs[i], 0);
	for (int i = 0; i < RO_CH; i++) {
		r->c[i] = mk(sizeof(int64_t), caps[i % 5]);
		atomic_store(&r->closed[i], 0);
	}
	gort_wg_add(&r->wg, n);
	for (long i = 0; i < n; i++) {
		ws[i] = (struct ro_w){.r = r, .idx = i, .seed = mix64(mix64(seed) + (uint64_t)i) | 1};
		gort_id id = gort_go(ro_worker, &ws[i]);
		cr_assert_gt(id, 0, "spawn %ld = %lld", i, (long long)id);
	}
	/* Everyone does a bounded number of operations; those in a plain
	 * blocking one may wait for ever.  Once every coroutine has finished
	 * or sits in one (for a few polls in a row), close every channel:
	 * that wakes them all (receivers get ok=false, senders panic). */
	int64_t give_up = now_ns() + 10000 * MS;
	int stable = 0;
	while (atomic_load(&r->done) < n) {
		if (atomic_load(&r->done) + atomic_load(&r->in_blocking) >= n)
			stable++;
		else
			stable = 0;
		if (stable >= 5 || now_ns() > give_up)
			break;
		usleep(1000);
	}
	atomic_store(&r->final_close, 1);
	for (int i = 0; i < RO_CH; i++)
		if (atomic_exchange(&r->closed[i], 1) == 0)
			gort_chan_close(r->c[i]);
	gort_wg_wait(&r->wg);
	CO_ASSERT_NO_FAILURES();

	/* what is still buffered was sent too: drain it */
	struct ro_tally t = {0, 0, 0, 0};
	for (int i = 0; i < RO_CH; i++) {
		for (;;) {
			int64_t v = -1;
			bool ok = false;
			cr_assert_eq(gort_chan_recv(r->c[i], &v, &ok), 0);
			if (!ok) {
				cr_assert_eq(v, 0, "closed channel %d gave element %lld", i, (long long)v);
				break;
			}
			ro_received(r, &t, v);
		}
		cr_assert_eq(gort_chan_len(r->c[i]), 0);
	}
	CO_ASSERT_NO_FAILURES();
	long recv_n = atomic_load(&r->recv_n) + t.recv_n;
	long recv_sum = atomic_load(&r->recv_sum) + t.recv_sum;
	long sent_n = atomic_load(&r->sent_n), sent_sum = atomic_load(&r->sent_sum);
	cr_assert_eq(atomic_load(&r->bad), 0, "seed %#llx: %ld foreign values received",
		     (unsigned long long)seed, atomic_load(&r->bad));
	cr_assert_eq(atomic_load(&r->dups), 0, "seed %#llx: %ld values received twice",
		     (unsigned long long)seed, atomic_load(&r->dups));
	for (long v = 1; v <= r->nvals; v++) {
		uint64_t bit = 1ULL << (v % 64);
		bool s_ = (atomic_load(&r->sent_bits[v / 64]) & bit) != 0;
		bool r_ = (atomic_load(&r->recv_bits[v / 64]) & bit) != 0;
		long z = v - 1;
		cr_assert_eq(s_, r_,
			     "seed %#llx: value %ld (coroutine %ld, op %ld, case %ld) %s (%ld of %ld "
			     "received)",
			     (unsigned long long)seed, v, z / (RO_OPS * RO_MAXC),
			     (z / RO_MAXC) % RO_OPS, z % RO_MAXC,
			     s_ ? "was sent but never received" : "was received but never sent",
			     recv_n, sent_n);
	}
	cr_assert_eq(recv_n, sent_n, "seed %#llx: %ld values sent, %ld received",
		     (unsigned long long)seed, sent_n, recv_n);
	cr_assert_eq(recv_sum, sent_sum, "seed %#llx: sum sent %ld, received %ld",
		     (unsigned long long)seed, sent_sum, recv_sum);
	/* the mix did happen */
	cr_assert_geq(sent_n, n / 2, "seed %#llx: only %ld values went through",
		      (unsigned long long)seed, sent_n);
	if (getenv("GORT_TEST_VERBOSE"))
		fprintf(stderr,
			"random_ops seed %#llx: n %ld sent %ld, buffered at the end %ld, panics %ld, "
			"closes %ld, timeouts %ld, closed receives %ld, operations after the final close %ld\n",
			(unsigned long long)seed, n, sent_n, t.recv_n, atomic_load(&r->panics),
			atomic_load(&r->closes), atomic_load(&r->timeouts),
			atomic_load(&r->closed_recvs), atomic_load(&r->ops_late));
	for (int i = 0; i < RO_CH; i++)
		gort_chan_release(r->c[i]);
	free(r->sent_bits);
	free(r->recv_bits);
	r->sent_bits = r->recv_bits = NULL;
	int64_t live = wait_num_coroutines(0, 10000);
	cr_assert_eq(live, 0, "seed %#llx: %lld coroutines still live", (unsigned long long)seed,
		     (long long)live);
}

PROCS_TEST(chan, random_ops_checksum, 60)
{
	static struct ro r;
	long n = scaled_min(10000, 1000);
	struct ro_w *ws = calloc((size_t)n, sizeof *ws);
	cr_assert_not_null(ws);
	rt_start(procs);
	for (int round = 0; round < 3; round++)
		ro_round(&r, ws, n, 0x5EED0000ULL + (uint64_t)procs * 16 + (uint64_t)round);
	rt_stop();
	free(ws);
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* timer/sleeps_100k_never_early                                             */
/* ------------------------------------------------------------------------ */

struct sl_one {
	struct sl *s;
	int64_t dur;
};

struct sl {
	long n;
	struct sl_one *ones;
	atomic_long early, ran, bad_rc, spawn_failed;
	atomic_llong worst; /* ns, the earliest wakeup */
	gort_wg wg;
};

static void sl_sleeper(void *p)
{
	struct sl_one *o = p;
	struct sl *s = o->s;
	int64_t t0 = gort_now();
	int rc = gort_sleep(o->dur);
	int64_t t1 = gort_now();
	if (rc != 0)
		atomic_fetch_add(&s->bad_rc, 1);
	if (t1 - t0 < o->dur) {
		atomic_fetch_add(&s->early, 1);
		long long by = (long long)(o->dur - (t1 - t0));
		long long w = atomic_load(&s->worst);
		while (by > w && !atomic_compare_exchange_weak(&s->worst, &w, by)) {
		}
	}
	atomic_fetch_add(&s->ran, 1);
	gort_wg_done(&s->wg);
}

static void sl_spawner(void *p)
{
	struct sl *s = p;
	uint64_t seed = 0x51EE9ULL;
	gort_wg_add(&s->wg, s->n);
	for (long i = 0; i < s->n; i++) {
		uint64_t x = rng_next(&seed);
		int64_t d;
		if (x % 100 == 0)
			d = 0;
		else if (x % 100 == 1)
			d = (int64_t)((x >> 8) % 1000); /* under a microsecond */
		else
			d = (int64_t)((x >> 8) % (uint64_t)(50 * MS + 1));
		s->ones[i] = (struct sl_one){.s = s, .dur = d};
		gort_id id = gort_go_with(sl_sleeper, &s->ones[i], .stack_size = 64 * 1024);
		if (id <= 0) {
			atomic_fetch_add(&s->spawn_failed, 1);
			gort_wg_done(&s->wg);
		}
	}
	gort_wg_wait(&s->wg);
}

PROCS_TEST(timer, sleeps_100k_never_early, 60)
{
	static struct sl s;
	s.n = scaled_min(100000, 5000);
#ifdef GORT_TEST_TSAN
	/* ThreadSanitizer stops at 8128 live fibers */
	if (s.n > 4000)
		s.n = 4000;
#endif
	s.ones = calloc((size_t)s.n, sizeof *s.ones);
	cr_assert_not_null(s.ones);
	rt_start(procs);
	co_run(sl_spawner, &s);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&s.spawn_failed), 0, "%ld spawns failed",
		     atomic_load(&s.spawn_failed));
	cr_assert_eq(atomic_load(&s.ran), s.n, "%ld of %ld sleepers ran", atomic_load(&s.ran), s.n);
	cr_assert_eq(atomic_load(&s.bad_rc), 0, "%ld sleeps failed", atomic_load(&s.bad_rc));
	cr_assert_eq(atomic_load(&s.early), 0, "%ld of %ld sleepers woke early (worst by %lld ns)",
		     atomic_load(&s.early), s.n, (long long)atomic_load(&s.worst));
	cr_assert_eq(wait_num_coroutines(0, 10000), 0);
	rt_stop();
	free(s.ones);
}

/* ------------------------------------------------------------------------ */
/* timer/fires_while_owner_m_blocked                                         */
/* ------------------------------------------------------------------------ */

/*
 * A coroutine arms timers (on its own P's heap), then blocks its OS thread
 * in nanosleep without yielding until the timers' values have been
 * received, by the main thread and by a coroutine it spawned just before
 * blocking (which lands in its P's runnext and must be taken by another
 * P).  The other Ms must fire the timers meanwhile.  Only procs >= 2: with
 * one P its only M is the blocked one, and nothing can fire or run until
 * it returns (as in Go with GOMAXPROCS=1 and no spare thread).
 */
#define FB_T 4

struct fb {
	gort_timer *t[FB_T];
	gort_chan *after;
	int64_t armed;
	int blocker_proc, receiver_proc;
	atomic_int published, receivers_done, blocker_done, gave_up, late;
	gort_wg wg;
};

static void fb_recv_one(struct fb *f, gort_chan *c, const char *who)
{
	int64_t v = -1;
	bool ok = false;
	int rc = gort_chan_recv_until(c, &v, &ok, gort_now() + 20000 * MS);
	CO_CHECK(rc == 0 && ok, "%s: recv = %d ok=%d", who, rc, ok);
	if (atomic_load(&f->blocker_done))
		atomic_fetch_add(&f->late, 1);
	CO_CHECK(v >= f->armed + 10 * MS, "%s: fired %lld ns after arming, asked 10 ms", who,
		 (long long)(v - f->armed));
}

static void fb_co_receiver(void *p)
{
	struct fb *f = p;
	f->receiver_proc = gort_current_proc();
	for (int i = FB_T / 2; i < FB_T; i++)
		fb_recv_one(f, gort_timer_chan(f->t[i]), "coroutine receiver");
	fb_recv_one(f, f->after, "coroutine receiver (gort_after)");
	atomic_fetch_add(&f->receivers_done, 1);
	gort_wg_done(&f->wg);
}

static void fb_blocker(void *p)
{
	struct fb *f = p;
	f->blocker_proc = gort_current_proc();
	f->armed = gort_now();
	for (int i = 0; i < FB_T; i++) {
		f->t[i] = gort_timer_new(10 * MS);
		CO_CHECK(f->t[i] != NULL, "gort_timer_new = NULL");
	}
	f->after = gort_after(10 * MS);
	CO_CHECK(f->after != NULL, "gort_after = NULL");
	CO_CHECK(gort_go(fb_co_receiver, f) > 0, "spawn");
	atomic_store(&f->published, 1);
	/* hold this M (and its P) in the kernel, no gort call, until both
	 * receivers are through, or 5 s */
	int64_t give_up = now_ns() + 5000 * MS;
	while (atomic_load(&f->receivers_done) < 2 && now_ns() < give_up)
		sleep_ms(1);
	if (atomic_load(&f->receivers_done) < 2)
		atomic_store(&f->gave_up, 1);
	atomic_store(&f->blocker_done, 1);
	gort_wg_done(&f->wg);
}

static void fires_while_blocked(int procs)
{
	rt_start(procs);
	static struct fb fbs[3]; /* one per round: no wait group is reused */
	for (int round = 0; round < 3; round++) {
		struct fb *f = &fbs[round];
		f->blocker_proc = f->receiver_proc = -2;
		gort_wg_add(&f->wg, 2);
		cr_assert_gt(gort_go(fb_blocker, f), 0);
		int pub = 0;
		for (int i = 0; i < 100000 && !(pub = atomic_load(&f->published)); i++)
			usleep(100);
		cr_assert(pub, "the blocker never ran");
		for (int i = 0; i < FB_T / 2; i++)
			fb_recv_one(f, gort_timer_chan(f->t[i]), "main thread");
		atomic_fetch_add(&f->receivers_done, 1);
		gort_wg_wait(&f->wg);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(atomic_load(&f->gave_up), 0,
			     "round %d: timers armed on P %d did not fire while its M was blocked "
			     "(%d receivers through in 5 s)",
			     round, f->blocker_proc, atomic_load(&f->receivers_done));
		cr_assert_eq(atomic_load(&f->late), 0,
			     "round %d: %d values received only after the blocker returned", round,
			     atomic_load(&f->late));
		cr_assert_neq(f->receiver_proc, f->blocker_proc,
			      "the receiver ran on the blocked P %d", f->blocker_proc);
		for (int i = 0; i < FB_T; i++)
			gort_timer_free(f->t[i]);
		gort_chan_release(f->after);
	}
	cr_assert_eq(wait_num_coroutines(0, 10000), 0);
	rt_stop();
}

Test(timer, fires_while_owner_m_blocked_procs2, .timeout = 60)
{
	fires_while_blocked(2);
}

Test(timer, fires_while_owner_m_blocked_procs8, .timeout = 60)
{
	fires_while_blocked(8);
}

/* ------------------------------------------------------------------------ */
/* timer/stopped_never_fires                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Kinds, by index % 4:
 *   0  armed for an hour, stopped: stop returns true
 *   1  armed for 1..20 ms, stopped at once (stop may find it fired, if
 *      this thread was descheduled; either way no value may stay)
 *   2  armed for an hour, reset to 1..20 ms, stopped: stop returns true
 *   3  armed for 1..20 ms, left alone: the control, it must fire once
 */
struct sn {
	long n;
	uint64_t seed;
	atomic_long fired_stopped, early, missing;
};

static void sn_run(void *p)
{
	struct sn *s = p;
	uint64_t seed = s->seed;
	gort_timer **t = calloc((size_t)s->n, sizeof *t);
	int64_t *armed = calloc((size_t)s->n, sizeof *armed);
	int64_t *dur = calloc((size_t)s->n, sizeof *dur);
	CO_CHECK(t != NULL && armed != NULL && dur != NULL, "calloc");
	if (t == NULL || armed == NULL || dur == NULL)
		goto out;
	for (long i = 0; i < s->n; i++) {
		dur[i] = (int64_t)(1 + rng_next(&seed) % 20) * MS;
		armed[i] = gort_now();
		switch (i % 4) {
		case 0:
			t[i] = gort_timer_new(3600LL * 1000 * MS);
			CO_CHECK(t[i] && gort_timer_stop(t[i]), "stop of an armed timer: false");
			break;
		case 1:
			t[i] = gort_timer_new(dur[i]);
			CO_CHECK(t[i] != NULL, "gort_timer_new = NULL");
			(void)gort_timer_stop(t[i]);
			break;
		case 2:
			t[i] = gort_timer_new(3600LL * 1000 * MS);
			CO_CHECK(t[i] && gort_timer_reset(t[i], dur[i]), "reset of an armed timer: false");
			CO_CHECK(gort_timer_stop(t[i]), "stop right after a reset to %lld ns: false",
				 (long long)dur[i]);
			break;
		default:
			t[i] = gort_timer_new(dur[i]);
			CO_CHECK(t[i] != NULL, "gort_timer_new = NULL");
			break;
		}
		if (t[i] == NULL)
			goto out;
	}
	/* past every deadline, twice over */
	for (int pass = 0; pass < 2; pass++) {
		gort_sleep(30 * MS);
		for (long i = 0; i < s->n; i++) {
			int64_t v = -1;
			gort_chan *c = gort_timer_chan(t[i]);
			if (i % 4 != 3) {
				if (gort_chan_try_recv(c, &v, NULL) != -EAGAIN)
					atomic_fetch_add(&s->fired_stopped, 1);
			} else if (pass == 0) {
				bool ok = false;
				int rc = gort_chan_recv_until(c, &v, &ok, gort_now() + 20000 * MS);
				if (rc != 0 || !ok)
					atomic_fetch_add(&s->missing, 1);
				else if (v < armed[i] + dur[i])
					atomic_fetch_add(&s->early, 1);
			} else if (gort_chan_try_recv(c, &v, NULL) != -EAGAIN) {
				atomic_fetch_add(&s->fired_stopped, 1); /* fired twice */
			}
		}
	}
out:
	for (long i = 0; t != NULL && i < s->n; i++)
		gort_timer_free(t[i]);
	free(t);
	free(armed);
	free(dur);
}

struct sn_job {
	struct sn sn;
	gort_wg *wg;
};

static void sn_co(void *p)
{
	struct sn_job *j = p;
	sn_run(&j->sn);
	gort_wg_done(j->wg);
}

PROCS_TEST(timer, stopped_never_fires, 30)
{
	enum { JOBS = 4 };
	static struct sn_job jobs[JOBS + 1];
	gort_wg wg = GORT_WG_INIT;
	long n = scaled_min(2000, 200);
	rt_start(procs);
	gort_wg_add(&wg, JOBS);
	for (int k = 0; k <= JOBS; k++) {
		jobs[k].sn.n = n / JOBS;
		jobs[k].sn.seed = mix64((uint64_t)k + 77) | 1;
		jobs[k].wg = &wg;
	}
	for (int k = 0; k < JOBS; k++)
		cr_assert_gt(gort_go(sn_co, &jobs[k]), 0);
	sn_run(&jobs[JOBS].sn); /* and on a plain thread, meanwhile */
	gort_wg_wait(&wg);
	CO_ASSERT_NO_FAILURES();
	for (int k = 0; k <= JOBS; k++) {
		struct sn *s = &jobs[k].sn;
		cr_assert_eq(atomic_load(&s->fired_stopped), 0,
			     "job %d: %ld stopped timers delivered a value", k,
			     atomic_load(&s->fired_stopped));
		cr_assert_eq(atomic_load(&s->missing), 0, "job %d: %ld unstopped timers never fired",
			     k, atomic_load(&s->missing));
		cr_assert_eq(atomic_load(&s->early), 0, "job %d: %ld timers fired early", k,
			     atomic_load(&s->early));
	}
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* timer/ticker_keeps_period                                                 */
/* ------------------------------------------------------------------------ */

struct tp {
	int64_t period;
	int ticks;
	int64_t window; /* ns of the counting phase */
	gort_wg *wg;
};

static void tp_run(struct tp *x)
{
	const int64_t period = x->period;
	int64_t t0 = gort_now();
	gort_timer *tk = gort_ticker_new(period);
	CO_CHECK(tk != NULL, "gort_ticker_new = NULL");
	if (tk == NULL)
		return;
	gort_chan *c = gort_timer_chan(tk);

	/* a prompt consumer: tick k is never before t0 + k * period */
	int64_t prev = t0;
	for (int k = 1; k <= x->ticks; k++) {
		int64_t v = -1;
		bool ok = false;
		int rc = gort_chan_recv_until(c, &v, &ok, gort_now() + 20000 * MS);
		int64_t now = gort_now();
		CO_CHECK(rc == 0 && ok, "tick %d: recv = %d", k, rc);
		if (rc != 0)
			break;
		CO_CHECK(v >= t0 + k * period, "tick %d (period %lld) came %lld ns after the start",
			 k, (long long)period, (long long)(v - t0));
		CO_CHECK(v > prev, "tick %d not after the previous one", k);
		CO_CHECK(v <= now, "tick %d stamped %lld ns in the future", k, (long long)(v - now));
		prev = v;
	}
	int64_t el = gort_now() - t0;
	CO_CHECK((int64_t)x->ticks * period <= el, "%d ticks of %lld ns in %lld ns", x->ticks,
		 (long long)period, (long long)el);

	/* counting for a window: never more ticks than the time allows */
	int64_t w0 = gort_now();
	int64_t wend = w0 + x->window;
	long got = 0;
	for (;;) {
		int64_t v;
		int rc = gort_chan_recv_until(c, &v, NULL, wend);
		if (rc == -ETIMEDOUT)
			break;
		CO_CHECK(rc == 0, "recv_until = %d", rc);
		if (rc != 0)
			break;
		got++;
	}
	int64_t span = gort_now() - w0;
	/* at most one tick buffered from before the window, plus one per
	 * period of it */
	CO_CHECK(got <= span / period + 2, "%ld ticks of %lld ns in %lld ns", got,
		 (long long)period, (long long)span);
	CO_CHECK(got >= 1, "no tick in a %lld ns window (period %lld)", (long long)span,
		 (long long)period);
	gort_timer_free(tk);
}

static void tp_co(void *p)
{
	struct tp *x = p;
	tp_run(x);
	gort_wg_done(x->wg);
}

PROCS_TEST(timer, ticker_keeps_period, 30)
{
	gort_wg wg = GORT_WG_INIT;
	struct tp a = {.period = 3 * MS, .ticks = 30, .window = 60 * MS, .wg = &wg};
	struct tp b = {.period = 7 * MS, .ticks = 12, .window = 60 * MS, .wg = &wg};
	struct tp c = {.period = 5 * MS, .ticks = 15, .window = 50 * MS, .wg = &wg};
	rt_start(procs);
	gort_wg_add(&wg, 2);
	cr_assert_gt(gort_go(tp_co, &a), 0);
	cr_assert_gt(gort_go(tp_co, &b), 0);
	tp_run(&c); /* a plain thread's ticker, meanwhile */
	gort_wg_wait(&wg);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}
