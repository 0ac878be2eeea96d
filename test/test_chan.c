/*
 * test_chan.c — channels and select (channel/): Go's semantics.
 *
 *   - unbuffered: a send returns only once a receiver has taken the value;
 *     values (24-byte structs) are copied intact; ping-pong round trips;
 *   - buffered: FIFO order, len/cap, a send waits while full, a receive
 *     while empty;
 *   - zero-size elements as signals;
 *   - close: every waiting receiver wakes with ok = false and a zeroed
 *     element, buffered values drain first, waiting and later senders
 *     panic, close of a closed or nil channel panics;
 *   - FIFO order of waiting receivers and senders;
 *   - try_send / try_recv;
 *   - MPMC with coroutines and plain threads, buffered and unbuffered;
 *   - nil channels: never ready, block forever;
 *   - select: the ready case, default, blocking, send cases, closed
 *     channels, uniform choice, one channel in several cases, losers taken
 *     off the other channels' queues, a stress over shared channels;
 *   - reference counts: a channel outlives its last reference while a
 *     coroutine waits on it; retain/release balance (leaks show under ASan).
 *
 * Checks made off the test's main thread use CO_CHECK.  Nothing asserts on
 * timing: sleeps only give a wrong implementation the chance to show.
 */
#include "chan_helpers.h"

#include <pthread.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

struct elem24 {
	uint64_t a, b, c;
};
_Static_assert(sizeof(struct elem24) == 24, "24-byte element");

static struct elem24 e24(uint64_t i)
{
	return (struct elem24){i, ~i, i * 0x9E3779B97F4A7C15ull + 1};
}

static bool e24_is(const struct elem24 *e, uint64_t i)
{
	struct elem24 w = e24(i);
	return memcmp(e, &w, sizeof w) == 0;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Give a wrong implementation time to let something through that must
 * still be blocked.  Not a timing assertion. */
static void settle(void)
{
	if (gort_self() != 0) {
		for (int i = 0; i < 200; i++)
			gort_yield();
	} else {
		sleep_ms(30);
	}
}

/* A bitmap of values seen, shared by consumers. */
struct seen {
	long n;
	_Atomic uint64_t *bits;
	atomic_long dups, bad, count, sum;
};

static void seen_init(struct seen *s, long n)
{
	s->n = n;
	s->bits = calloc((size_t)(n + 63) / 64, sizeof *s->bits);
	cr_assert_not_null(s->bits);
	atomic_store(&s->dups, 0);
	atomic_store(&s->bad, 0);
	atomic_store(&s->count, 0);
	atomic_store(&s->sum, 0);
}

static void seen_mark(struct seen *s, long v)
{
	if (v < 0 || v >= s->n) {
		atomic_fetch_add(&s->bad, 1);
		return;
	}
	uint64_t bit = 1ull << (v % 64);
	if (atomic_fetch_or(&s->bits[v / 64], bit) & bit)
		atomic_fetch_add(&s->dups, 1);
}

static void seen_check(struct seen *s, const char *what)
{
	cr_assert_eq(atomic_load(&s->bad), 0, "%s: %ld value(s) out of range", what,
		     atomic_load(&s->bad));
	cr_assert_eq(atomic_load(&s->dups), 0, "%s: %ld value(s) received twice", what,
		     atomic_load(&s->dups));
	cr_assert_eq(atomic_load(&s->count), s->n, "%s: %ld values received, want %ld", what,
		     atomic_load(&s->count), s->n);
	for (long v = 0; v < s->n; v++)
		cr_assert(atomic_load(&s->bits[v / 64]) & (1ull << (v % 64)), "%s: value %ld lost", what,
			  v);
	long want = s->n * (s->n - 1) / 2;
	cr_assert_eq(atomic_load(&s->sum), want, "%s: sum %ld, want %ld", what, atomic_load(&s->sum),
		     want);
	free(s->bits);
	s->bits = NULL;
}

/* ------------------------------------------------------------------------ */
/* unbuffered                                                                */
/* ------------------------------------------------------------------------ */

struct ub {
	gort_chan *c;
	atomic_int about, sent;
	gort_wg done;
	int rounds;
};

static void ub_sender(void *p)
{
	struct ub *u = p;
	struct elem24 v = e24(7);
	atomic_store(&u->about, 1);
	gort_chan_send(u->c, &v);
	memset(&v, 0xEE, sizeof v); /* the sender's copy is its own again */
	atomic_store(&u->sent, 1);
	gort_wg_done(&u->done);
}

PROCS_TEST(chan, unbuffered_send_waits_for_receiver_thread, 20)
{
	static struct ub u;
	rt_start(procs);
	u.c = mk(sizeof(struct elem24), 0);
	gort_wg_add(&u.done, 1);
	cr_assert_gt(gort_go(ub_sender, &u), 0);
	cr_assert(wait_ge(&u.about, 1, 10000));
	settle();
	cr_assert_eq(atomic_load(&u.sent), 0, "gort_chan_send returned with no receiver");
	cr_assert_eq(gort_chan_len(u.c), 0, "an unbuffered channel has a length");
	struct elem24 got;
	memset(&got, 0x55, sizeof got);
	bool ok = false;
	cr_assert_eq(gort_chan_recv(u.c, &got, &ok), 0);
	cr_assert(ok, "ok false on an open channel");
	cr_assert(e24_is(&got, 7), "value not copied intact: %llx %llx %llx", (unsigned long long)got.a,
		  (unsigned long long)got.b, (unsigned long long)got.c);
	gort_wg_wait(&u.done);
	cr_assert_eq(atomic_load(&u.sent), 1);
	gort_chan_release(u.c);
	rt_stop();
	leak_check();
}

/* Coroutine to coroutine, many rounds: before the receiver takes round r,
 * at most r sends may have returned. */
static void ub_rounds_sender(void *p)
{
	struct ub *u = p;
	for (int r = 0; r < u->rounds; r++) {
		struct elem24 v = e24((uint64_t)r);
		gort_chan_send(u->c, &v);
		memset(&v, 0xEE, sizeof v);
		atomic_store(&u->sent, r + 1);
	}
	gort_wg_done(&u->done);
}

static void ub_rounds_receiver(void *p)
{
	struct ub *u = p;
	for (int r = 0; r < u->rounds; r++) {
		for (int i = 0; i < 3; i++)
			gort_yield(); /* a sender that does not wait runs ahead now */
		int s = atomic_load(&u->sent);
		CO_CHECK(s <= r, "round %d: %d sends returned before the receive of round %d", r, s, r);
		struct elem24 got;
		memset(&got, 0, sizeof got);
		bool ok = false;
		gort_chan_recv(u->c, &got, &ok);
		CO_CHECK(ok && e24_is(&got, (uint64_t)r), "round %d: ok %d, value %llx %llx %llx", r, ok,
			 (unsigned long long)got.a, (unsigned long long)got.b,
			 (unsigned long long)got.c);
	}
	gort_wg_done(&u->done);
}

PROCS_TEST(chan, unbuffered_send_waits_for_receiver_coroutines, 20)
{
	static struct ub u;
	u.rounds = (int)scaled_min(2000, 200);
	rt_start(procs);
	u.c = mk(sizeof(struct elem24), 0);
	gort_wg_add(&u.done, 2);
	cr_assert_gt(gort_go(ub_rounds_sender, &u), 0);
	cr_assert_gt(gort_go(ub_rounds_receiver, &u), 0);
	gort_wg_wait(&u.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&u.sent), u.rounds);
	gort_chan_release(u.c);
	rt_stop();
	leak_check();
}

struct pp {
	gort_chan *ping, *pong;
	long n;
	gort_wg done;
};

static void pp_echo(void *p)
{
	struct pp *q = p;
	for (;;) {
		struct elem24 v;
		bool ok = true;
		gort_chan_recv(q->ping, &v, &ok);
		if (!ok)
			break;
		v = e24(v.a + 1);
		gort_chan_send(q->pong, &v);
	}
	gort_wg_done(&q->done);
}

static void pp_driver(void *p)
{
	struct pp *q = p;
	for (long i = 0; i < q->n; i++) {
		struct elem24 v = e24((uint64_t)i);
		gort_chan_send(q->ping, &v);
		bool ok = false;
		gort_chan_recv(q->pong, &v, &ok);
		if (!ok || !e24_is(&v, (uint64_t)i + 1)) {
			CO_CHECK(0, "round trip %ld: ok %d, got %llu", i, ok, (unsigned long long)v.a);
			break;
		}
	}
	gort_chan_close(q->ping);
	gort_wg_done(&q->done);
}

PROCS_TEST(chan, unbuffered_ping_pong, 30)
{
	static struct pp q;
	q.n = scaled_min(10000, 1000);
	rt_start(procs);
	q.ping = mk(sizeof(struct elem24), 0);
	q.pong = mk(sizeof(struct elem24), 0);
	gort_wg_add(&q.done, 2);
	cr_assert_gt(gort_go(pp_echo, &q), 0);
	cr_assert_gt(gort_go(pp_driver, &q), 0);
	gort_wg_wait(&q.done);
	CO_ASSERT_NO_FAILURES();
	gort_chan_release(q.ping);
	gort_chan_release(q.pong);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* buffered                                                                  */
/* ------------------------------------------------------------------------ */

Test(chan, buffered_fifo_len_cap, .timeout = 10)
{
	rt_start(1);
	gort_chan *c = mk(sizeof(struct elem24), 8);
	for (int i = 0; i < 8; i++) {
		struct elem24 v = e24((uint64_t)i);
		cr_assert_eq(gort_chan_try_send(c, &v), 0, "try_send %d into a buffer of 8", i);
		cr_assert_eq(gort_chan_len(c), (size_t)i + 1);
	}
	struct elem24 v = e24(99);
	cr_assert_eq(gort_chan_try_send(c, &v), -EAGAIN, "try_send into a full buffer");
	cr_assert_eq(gort_chan_len(c), 8);
	cr_assert_eq(gort_chan_cap(c), 8);
	/* wrap around the ring a few times */
	for (int i = 0; i < 40; i++) {
		bool ok = false;
		memset(&v, 0, sizeof v);
		cr_assert_eq(gort_chan_recv(c, &v, &ok), 0);
		cr_assert(ok && e24_is(&v, (uint64_t)i), "receive %d: ok %d, got %llu", i, ok,
			  (unsigned long long)v.a);
		struct elem24 w = e24((uint64_t)i + 8);
		cr_assert_eq(gort_chan_send(c, &w), 0);
		cr_assert_eq(gort_chan_len(c), 8);
	}
	for (int i = 40; i < 48; i++) {
		bool ok = false;
		cr_assert_eq(gort_chan_try_recv(c, &v, &ok), 0);
		cr_assert(ok && e24_is(&v, (uint64_t)i), "receive %d: got %llu", i,
			  (unsigned long long)v.a);
	}
	cr_assert_eq(gort_chan_len(c), 0);
	bool ok = true;
	cr_assert_eq(gort_chan_try_recv(c, &v, &ok), -EAGAIN, "try_recv from an empty buffer");
	/* a NULL elem drops the value; a NULL ok is allowed */
	cr_assert_eq(gort_chan_try_send(c, &v), 0);
	cr_assert_eq(gort_chan_recv(c, NULL, NULL), 0);
	cr_assert_eq(gort_chan_len(c), 0);
	gort_chan_release(c);
	rt_stop();
	leak_check();
}

struct full {
	gort_chan *c;
	int cap;
	atomic_int progress, got_flag;
	long got;
	gort_wg done;
};

static void full_sender(void *p)
{
	struct full *f = p;
	for (long i = 0; i <= f->cap; i++) {
		gort_chan_send(f->c, &i);
		atomic_fetch_add(&f->progress, 1);
	}
	gort_wg_done(&f->done);
}

PROCS_TEST(chan, buffered_send_waits_when_full, 20)
{
	static struct full f;
	f.cap = 4;
	rt_start(procs);
	f.c = mk(sizeof(long), (size_t)f.cap);
	gort_wg_add(&f.done, 1);
	cr_assert_gt(gort_go(full_sender, &f), 0);
	cr_assert(wait_ge(&f.progress, f.cap, 10000), "only %d sends into an empty buffer of %d",
		  atomic_load(&f.progress), f.cap);
	settle();
	cr_assert_eq(atomic_load(&f.progress), f.cap, "a send into a full buffer returned");
	cr_assert_eq(gort_chan_len(f.c), (size_t)f.cap);
	long v = -1;
	cr_assert_eq(gort_chan_recv(f.c, &v, NULL), 0);
	cr_assert_eq(v, 0);
	cr_assert(wait_ge(&f.progress, f.cap + 1, 10000), "the waiting sender never went on");
	gort_wg_wait(&f.done);
	cr_assert_eq(gort_chan_len(f.c), (size_t)f.cap);
	for (long i = 1; i <= f.cap; i++) {
		cr_assert_eq(gort_chan_recv(f.c, &v, NULL), 0);
		cr_assert_eq(v, i, "FIFO: got %ld, want %ld", v, i);
	}
	cr_assert_eq(gort_chan_len(f.c), 0);
	gort_chan_release(f.c);
	rt_stop();
	leak_check();
}

static void empty_receiver(void *p)
{
	struct full *f = p;
	bool ok = false;
	gort_chan_recv(f->c, &f->got, &ok);
	CO_CHECK(ok, "ok false");
	atomic_store(&f->got_flag, 1);
	gort_wg_done(&f->done);
}

PROCS_TEST(chan, buffered_recv_waits_when_empty, 20)
{
	static struct full f;
	rt_start(procs);
	f.c = mk(sizeof(long), 4);
	gort_wg_add(&f.done, 1);
	cr_assert_gt(gort_go(empty_receiver, &f), 0);
	settle();
	cr_assert_eq(atomic_load(&f.got_flag), 0, "a receive from an empty buffer returned");
	long v = 1234;
	cr_assert_eq(gort_chan_send(f.c, &v), 0);
	gort_wg_wait(&f.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(f.got, 1234);
	cr_assert_eq(gort_chan_len(f.c), 0);
	gort_chan_release(f.c);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* zero-size elements                                                        */
/* ------------------------------------------------------------------------ */

#define SIG_N 8

struct sig {
	gort_chan *c;
	atomic_int woke;
	gort_wg done;
};

static void sig_sender(void *p)
{
	struct sig *s = p;
	char dummy = 'x';
	gort_chan_send(s->c, &dummy);
	gort_wg_done(&s->done);
}

static void sig_waiter(void *p)
{
	struct sig *s = p;
	unsigned char canary = 0xC3;
	bool ok = true;
	gort_chan_recv(s->c, &canary, &ok);
	CO_CHECK(!ok, "a receive on a closed signal channel: ok true");
	CO_CHECK(canary == 0xC3, "a 0-byte receive wrote %#x", canary);
	atomic_fetch_add(&s->woke, 1);
	gort_wg_done(&s->done);
}

PROCS_TEST(chan, zero_size_elements_signal, 20)
{
	static struct sig s;
	rt_start(procs);
	/* unbuffered: SIG_N senders, the main thread receives each */
	s.c = mk(0, 0);
	gort_wg_add(&s.done, SIG_N);
	for (int i = 0; i < SIG_N; i++)
		cr_assert_gt(gort_go(sig_sender, &s), 0);
	for (int i = 0; i < SIG_N; i++) {
		unsigned char canary = 0xC3;
		bool ok = false;
		cr_assert_eq(gort_chan_recv(s.c, &canary, &ok), 0);
		cr_assert(ok);
		cr_assert_eq(canary, 0xC3, "a 0-byte receive wrote %#x", canary);
	}
	gort_wg_wait(&s.done);
	cr_assert_eq(gort_chan_try_recv(s.c, NULL, NULL), -EAGAIN);

	/* close as a broadcast */
	gort_wg_add(&s.done, SIG_N);
	for (int i = 0; i < SIG_N; i++)
		cr_assert_gt(gort_go(sig_waiter, &s), 0);
	settle();
	cr_assert_eq(atomic_load(&s.woke), 0, "a receiver woke before the close");
	gort_chan_close(s.c);
	gort_wg_wait(&s.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&s.woke), SIG_N);
	gort_chan_release(s.c);

	/* buffered: counts without bytes */
	gort_chan *b = mk(0, 3);
	char dummy = 0;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(gort_chan_try_send(b, &dummy), 0);
	cr_assert_eq(gort_chan_try_send(b, &dummy), -EAGAIN);
	cr_assert_eq(gort_chan_len(b), 3);
	gort_chan_close(b);
	for (int i = 0; i < 3; i++) {
		bool ok = false;
		cr_assert_eq(gort_chan_recv(b, NULL, &ok), 0);
		cr_assert(ok, "buffered signal %d lost by the close", i);
	}
	bool ok = true;
	cr_assert_eq(gort_chan_recv(b, NULL, &ok), 0);
	cr_assert(!ok);
	gort_chan_release(b);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* close                                                                     */
/* ------------------------------------------------------------------------ */

#define CW_RECV 6
#define CW_SEL 2

struct cw {
	gort_chan *c, *never;
	atomic_int arrived, woke_ok_false, bad;
	gort_wg done;
};

static void cw_receiver(void *p)
{
	struct cw *w = p;
	struct elem24 v;
	memset(&v, 0xAB, sizeof v);
	bool ok = true;
	atomic_fetch_add(&w->arrived, 1);
	gort_chan_recv(w->c, &v, &ok);
	CO_CHECK(!ok, "receiver woken by close: ok true");
	CO_CHECK(all_zero(&v, sizeof v), "receiver woken by close: element not zeroed");
	if (!ok && all_zero(&v, sizeof v))
		atomic_fetch_add(&w->woke_ok_false, 1);
	gort_wg_done(&w->done);
}

static void cw_selector(void *p)
{
	struct cw *w = p;
	struct elem24 v[2];
	memset(v, 0xAB, sizeof v);
	gort_case cs[2] = {{.chan = w->never, .dir = GORT_RECV, .elem = &v[0]},
			   {.chan = w->c, .dir = GORT_RECV, .elem = &v[1], .ok = true}};
	atomic_fetch_add(&w->arrived, 1);
	int i = gort_select(cs, 2, false);
	CO_CHECK(i == 1, "select woken by close returned %d", i);
	CO_CHECK(!cs[1].ok, "select woken by close: ok true");
	CO_CHECK(all_zero(&v[1], sizeof v[1]), "select woken by close: element not zeroed");
	if (i == 1 && !cs[1].ok)
		atomic_fetch_add(&w->woke_ok_false, 1);
	gort_wg_done(&w->done);
}

PROCS_TEST(chan, close_wakes_every_receiver, 20)
{
	static struct cw w;
	rt_start(procs);
	w.c = mk(sizeof(struct elem24), 0);
	w.never = mk(sizeof(struct elem24), 0);
	gort_wg_add(&w.done, CW_RECV + CW_SEL);
	for (int i = 0; i < CW_RECV; i++)
		cr_assert_gt(gort_go(cw_receiver, &w), 0);
	for (int i = 0; i < CW_SEL; i++)
		cr_assert_gt(gort_go(cw_selector, &w), 0);
	cr_assert(wait_ge(&w.arrived, CW_RECV + CW_SEL, 10000));
	settle();
	cr_assert_eq(atomic_load(&w.woke_ok_false), 0);
	gort_chan_close(w.c);
	gort_wg_wait(&w.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&w.woke_ok_false), CW_RECV + CW_SEL);
	/* later receives return at once */
	struct elem24 v;
	memset(&v, 0xAB, sizeof v);
	bool ok = true;
	cr_assert_eq(gort_chan_recv(w.c, &v, &ok), 0);
	cr_assert(!ok);
	cr_assert(all_zero(&v, sizeof v));
	memset(&v, 0xAB, sizeof v);
	ok = true;
	cr_assert_eq(gort_chan_try_recv(w.c, &v, &ok), 0, "try_recv on a closed channel");
	cr_assert(!ok);
	cr_assert(all_zero(&v, sizeof v));
	gort_chan_release(w.c);
	gort_chan_release(w.never);
	rt_stop();
	leak_check();
}

Test(chan, close_keeps_buffered_values, .timeout = 10)
{
	rt_start(2);
	gort_chan *c = mk(sizeof(struct elem24), 4);
	for (int i = 0; i < 3; i++) {
		struct elem24 v = e24((uint64_t)i + 10);
		cr_assert_eq(gort_chan_send(c, &v), 0);
	}
	gort_chan_close(c);
	cr_assert_eq(gort_chan_len(c), 3);
	cr_assert_eq(gort_chan_cap(c), 4);
	for (int i = 0; i < 3; i++) {
		struct elem24 v;
		memset(&v, 0, sizeof v);
		bool ok = false;
		cr_assert_eq(gort_chan_recv(c, &v, &ok), 0);
		cr_assert(ok, "buffered value %d: ok false after the close", i);
		cr_assert(e24_is(&v, (uint64_t)i + 10), "buffered value %d: got %llu", i,
			  (unsigned long long)v.a);
		cr_assert_eq(gort_chan_len(c), (size_t)(2 - i));
	}
	for (int k = 0; k < 3; k++) {
		struct elem24 v;
		memset(&v, 0xAB, sizeof v);
		bool ok = true;
		cr_assert_eq(gort_chan_recv(c, &v, &ok), 0);
		cr_assert(!ok, "a drained closed channel gave ok true");
		cr_assert(all_zero(&v, sizeof v), "a drained closed channel gave a non-zero element");
	}
	gort_chan_release(c);
	rt_stop();
	leak_check();
}

/* Operations that must panic. */
static void op_close(void *c)
{
	gort_chan_close(c);
}

static void op_send(void *c)
{
	struct elem24 v = e24(1);
	gort_chan_send(c, &v);
}

static void op_try_send(void *c)
{
	struct elem24 v = e24(1);
	(void)gort_chan_try_send(c, &v);
}

static void op_select_send(void *c)
{
	struct elem24 v = e24(1);
	gort_case cs[1] = {{.chan = c, .dir = GORT_SEND, .elem = &v}};
	(void)gort_select(cs, 1, false);
}

static void op_select_send_nb(void *c)
{
	struct elem24 v = e24(1);
	gort_case cs[1] = {{.chan = c, .dir = GORT_SEND, .elem = &v}};
	(void)gort_select(cs, 1, true);
}

/* More cases than a select keeps on its stack: the panic must not leak
 * what it allocated (LSan). */
#define MANY_CASES 40

static gort_chan *never_ready;

static void op_select_send_many(void *c)
{
	struct elem24 v[MANY_CASES];
	gort_case cs[MANY_CASES];
	for (int i = 0; i < MANY_CASES; i++) {
		v[i] = e24((uint64_t)i);
		cs[i] = (gort_case){.chan = never_ready, .dir = GORT_RECV, .elem = &v[i]};
	}
	cs[MANY_CASES / 2] = (gort_case){.chan = c, .dir = GORT_SEND, .elem = &v[0]};
	(void)gort_select(cs, MANY_CASES, false);
}

struct panic_case {
	const char *what;
	void (*fn)(void *);
	void *arg;
	const char *want;
	/* results */
	int rc;
	gort_panic_info info;
};

static void run_panic_case(void *p)
{
	struct panic_case *pc = p;
	pc->rc = protected_call(pc->fn, pc->arg, &pc->info);
}

static void check_panic_case(const struct panic_case *pc, const char *where)
{
	cr_assert_eq(pc->rc, GORT_PANICKED, "%s (%s): no panic (gort_protect = %d)", pc->what, where,
		     pc->rc);
	cr_assert(strstr(pc->info.message, pc->want) != NULL, "%s (%s): panic \"%s\", want \"%s\"",
		  pc->what, where, pc->info.message, pc->want);
	cr_assert(pc->info.runtime_error, "%s (%s): not marked a runtime error", pc->what, where);
}

Test(chan, misuse_panics, .timeout = 10)
{
	rt_start(2);
	gort_chan *closed = mk(sizeof(struct elem24), 0);
	gort_chan_close(closed);
	gort_chan *closed_b = mk(sizeof(struct elem24), 2);
	gort_chan_close(closed_b);
	never_ready = mk(sizeof(struct elem24), 0);
	struct panic_case cases[] = {
		{.what = "close of closed (unbuffered)", .fn = op_close, .arg = closed, .want = "close of closed channel"},
		{.what = "close of closed (buffered)", .fn = op_close, .arg = closed_b, .want = "close of closed channel"},
		{.what = "close of nil", .fn = op_close, .arg = NULL, .want = "close of nil channel"},
		{.what = "send on closed (unbuffered)", .fn = op_send, .arg = closed, .want = "send on closed channel"},
		{.what = "send on closed (buffered, room)", .fn = op_send, .arg = closed_b, .want = "send on closed channel"},
		{.what = "try_send on closed", .fn = op_try_send, .arg = closed, .want = "send on closed channel"},
		{.what = "try_send on closed (buffered, room)", .fn = op_try_send, .arg = closed_b, .want = "send on closed channel"},
		{.what = "select send on closed", .fn = op_select_send, .arg = closed, .want = "send on closed channel"},
		{.what = "nonblocking select send on closed", .fn = op_select_send_nb, .arg = closed_b,
		 .want = "send on closed channel"},
		{.what = "select of many cases, a send on closed", .fn = op_select_send_many,
		 .arg = closed, .want = "send on closed channel"},
	};
	size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		cases[i].rc = -99;
		run_panic_case(&cases[i]);
		check_panic_case(&cases[i], "plain thread");
	}
	for (size_t i = 0; i < n; i++) {
		cases[i].rc = -99;
		co_run(run_panic_case, &cases[i]);
		check_panic_case(&cases[i], "coroutine");
	}
	/* the channels still work as closed channels */
	bool ok = true;
	cr_assert_eq(gort_chan_recv(closed, NULL, &ok), 0);
	cr_assert(!ok);
	gort_chan_release(closed);
	gort_chan_release(closed_b);
	gort_chan_release(never_ready);
	rt_stop();
	leak_check();
}

/* Senders waiting when the channel is closed panic. */
#define WS_SEND 3

struct ws {
	gort_chan *c;
	atomic_int arrived, panicked;
	gort_wg done;
};

static void ws_sender(void *p)
{
	struct ws *w = p;
	struct panic_case pc = {.what = "waiting send", .fn = op_send, .arg = w->c,
				.want = "send on closed channel", .rc = -99};
	atomic_fetch_add(&w->arrived, 1);
	run_panic_case(&pc);
	CO_CHECK(pc.rc == GORT_PANICKED, "a sender waiting at the close: gort_protect = %d", pc.rc);
	CO_CHECK(strstr(pc.info.message, "send on closed channel") != NULL, "panic \"%s\"",
		 pc.info.message);
	if (pc.rc == GORT_PANICKED)
		atomic_fetch_add(&w->panicked, 1);
	gort_wg_done(&w->done);
}

static void ws_sel_sender(void *p)
{
	struct ws *w = p;
	struct panic_case pc = {.what = "waiting select send", .fn = op_select_send, .arg = w->c,
				.want = "send on closed channel", .rc = -99};
	atomic_fetch_add(&w->arrived, 1);
	run_panic_case(&pc);
	CO_CHECK(pc.rc == GORT_PANICKED, "a select send waiting at the close: gort_protect = %d",
		 pc.rc);
	CO_CHECK(strstr(pc.info.message, "send on closed channel") != NULL, "panic \"%s\"",
		 pc.info.message);
	if (pc.rc == GORT_PANICKED)
		atomic_fetch_add(&w->panicked, 1);
	gort_wg_done(&w->done);
}

static void waiting_senders_panic(int procs, size_t cap)
{
	static struct ws w;
	atomic_store(&w.arrived, 0);
	atomic_store(&w.panicked, 0);
	rt_start(procs);
	w.c = mk(sizeof(struct elem24), cap);
	for (size_t i = 0; i < cap; i++) {
		struct elem24 v = e24(i + 100);
		cr_assert_eq(gort_chan_try_send(w.c, &v), 0);
	}
	gort_wg_add(&w.done, WS_SEND + 1);
	for (int i = 0; i < WS_SEND; i++)
		cr_assert_gt(gort_go(ws_sender, &w), 0);
	cr_assert_gt(gort_go(ws_sel_sender, &w), 0);
	cr_assert(wait_ge(&w.arrived, WS_SEND + 1, 10000));
	settle();
	cr_assert_eq(atomic_load(&w.panicked), 0, "a sender panicked before the close");
	cr_assert_eq(gort_chan_len(w.c), cap);
	gort_chan_close(w.c);
	gort_wg_wait(&w.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(atomic_load(&w.panicked), WS_SEND + 1);
	/* the buffered values survive; the senders' values never arrived */
	for (size_t i = 0; i < cap; i++) {
		struct elem24 v;
		bool ok = false;
		cr_assert_eq(gort_chan_recv(w.c, &v, &ok), 0);
		cr_assert(ok && e24_is(&v, i + 100), "buffered value %zu", i);
	}
	bool ok = true;
	cr_assert_eq(gort_chan_recv(w.c, NULL, &ok), 0);
	cr_assert(!ok, "a waiting sender's value was delivered after the close");
	gort_chan_release(w.c);
	rt_stop();
	leak_check();
}

PROCS_TEST(chan, close_panics_waiting_senders_unbuffered, 20)
{
	waiting_senders_panic(procs, 0);
}

Test(chan, close_panics_waiting_senders_buffered, .timeout = 20)
{
	waiting_senders_panic(2, 2);
}

/* With the default policy, the waiting sender's panic aborts the process. */
static gort_chan *child_c;

static void child_sender(void *p)
{
	(void)p;
	int v = 1;
	gort_chan_send(child_c, &v);
}

static int child_waiting_sender(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	child_c = gort_chan_make(sizeof(int), 0);
	CHILD_CHECK(child_c != NULL, 3, "make");
	CHILD_CHECK(gort_go_with(child_sender, NULL, .name = "sender") > 0, 3, "spawn");
	sleep_ms(50);
	gort_chan_close(child_c);
	return child_wait_forever();
}

Test(chan, close_with_waiting_sender_aborts_by_default, .timeout = 30)
{
	static struct child_result r;
	child_run(child_waiting_sender, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "send on closed channel");
}

static int child_close_closed(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	CHILD_CHECK(c != NULL, 3, "make");
	gort_chan_close(c);
	gort_chan_close(c);
	return 4;
}

Test(chan, close_of_closed_aborts_plain_thread, .timeout = 30)
{
	static struct child_result r;
	child_run(child_close_closed, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "close of closed channel");
}

/* ------------------------------------------------------------------------ */
/* FIFO order of waiters                                                     */
/* ------------------------------------------------------------------------ */

#define FIFO_N 5

struct fifo {
	gort_chan *c;
	atomic_int arrived;
	int got[FIFO_N];
	gort_wg done;
};

struct fifo_w {
	struct fifo *f;
	int idx;
};

static void fifo_receiver(void *p)
{
	struct fifo_w *w = p;
	int v = -1;
	atomic_fetch_add(&w->f->arrived, 1);
	gort_chan_recv(w->f->c, &v, NULL);
	w->f->got[w->idx] = v;
	gort_wg_done(&w->f->done);
}

static void fifo_sender(void *p)
{
	struct fifo_w *w = p;
	int v = w->idx;
	atomic_fetch_add(&w->f->arrived, 1);
	gort_chan_send(w->f->c, &v);
	gort_wg_done(&w->f->done);
}

/* At procs 1 a spawned coroutine runs until it parks before the spawner
 * runs again (no preemption), so waiter i is queued before waiter i+1. */
static void fifo_driver(void *p)
{
	struct fifo *f = p;
	struct fifo_w ws[FIFO_N];
	for (int pass = 0; pass < 2; pass++) {
		bool senders = pass == 1;
		atomic_store(&f->arrived, 0);
		gort_wg_add(&f->done, FIFO_N);
		for (int i = 0; i < FIFO_N; i++) {
			ws[i] = (struct fifo_w){f, i};
			f->got[i] = -1;
			CO_CHECK(gort_go(senders ? fifo_sender : fifo_receiver, &ws[i]) > 0, "spawn");
			while (atomic_load(&f->arrived) < i + 1)
				gort_yield();
			gort_yield();
		}
		for (int i = 0; i < FIFO_N; i++) {
			int v = i;
			if (senders) {
				v = -1;
				gort_chan_recv(f->c, &v, NULL);
				CO_CHECK(v == i, "senders queued in order 0..%d: receive %d got %d",
					 FIFO_N - 1, i, v);
			} else {
				gort_chan_send(f->c, &v);
			}
		}
		gort_wg_wait(&f->done);
		if (!senders)
			for (int i = 0; i < FIFO_N; i++)
				CO_CHECK(f->got[i] == i,
					 "receiver %d (queued %d-th) got %d: waiters not served FIFO", i,
					 i, f->got[i]);
	}
}

Test(chan, waiters_served_fifo_unbuffered, .timeout = 10)
{
	static struct fifo f;
	rt_start(1);
	f.c = mk(sizeof(int), 0);
	co_run(fifo_driver, &f);
	CO_ASSERT_NO_FAILURES();
	gort_chan_release(f.c);
	rt_stop();
	leak_check();
}

Test(chan, waiters_served_fifo_buffered, .timeout = 10)
{
	static struct fifo f;
	rt_start(1);
	/* receivers wait on an empty buffer; senders on a full one */
	f.c = mk(sizeof(int), 2);
	co_run(fifo_driver, &f);
	CO_ASSERT_NO_FAILURES();
	gort_chan_release(f.c);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* try_send / try_recv                                                       */
/* ------------------------------------------------------------------------ */

struct tr {
	gort_chan *c;
	atomic_int arrived;
	long got;
	gort_wg done;
};

static void tr_receiver(void *p)
{
	struct tr *t = p;
	atomic_store(&t->arrived, 1);
	bool ok = false;
	gort_chan_recv(t->c, &t->got, &ok);
	CO_CHECK(ok, "ok false");
	gort_wg_done(&t->done);
}

static void tr_sender(void *p)
{
	struct tr *t = p;
	long v = 77;
	atomic_store(&t->arrived, 1);
	gort_chan_send(t->c, &v);
	gort_wg_done(&t->done);
}

PROCS_TEST(chan, try_send_try_recv, 20)
{
	static struct tr t;
	rt_start(procs);
	t.c = mk(sizeof(long), 0);
	long v = 5;
	bool ok = true;
	cr_assert_eq(gort_chan_try_send(t.c, &v), -EAGAIN, "try_send with no receiver");
	cr_assert_eq(gort_chan_try_recv(t.c, &v, &ok), -EAGAIN, "try_recv with no sender");
	cr_assert_eq(v, 5, "a failed try_recv wrote the element");

	/* a waiting receiver: try_send succeeds once it waits */
	gort_wg_add(&t.done, 1);
	cr_assert_gt(gort_go(tr_receiver, &t), 0);
	int64_t deadline = now_ns() + 10 * 1000000000LL;
	int rc;
	v = 42;
	while ((rc = gort_chan_try_send(t.c, &v)) == -EAGAIN && now_ns() < deadline)
		usleep(100);
	cr_assert_eq(rc, 0, "try_send to a waiting receiver = %d", rc);
	gort_wg_wait(&t.done);
	cr_assert_eq(t.got, 42);

	/* a waiting sender: try_recv succeeds once it waits */
	gort_wg_add(&t.done, 1);
	cr_assert_gt(gort_go(tr_sender, &t), 0);
	v = 0;
	ok = false;
	deadline = now_ns() + 10 * 1000000000LL;
	while ((rc = gort_chan_try_recv(t.c, &v, &ok)) == -EAGAIN && now_ns() < deadline)
		usleep(100);
	cr_assert_eq(rc, 0, "try_recv from a waiting sender = %d", rc);
	cr_assert(ok);
	cr_assert_eq(v, 77);
	gort_wg_wait(&t.done);
	CO_ASSERT_NO_FAILURES();
	cr_assert_eq(gort_chan_try_recv(t.c, &v, &ok), -EAGAIN);
	gort_chan_release(t.c);

	/* buffered */
	gort_chan *b = mk(sizeof(long), 2);
	v = 1;
	cr_assert_eq(gort_chan_try_send(b, &v), 0);
	v = 2;
	cr_assert_eq(gort_chan_try_send(b, &v), 0);
	v = 3;
	cr_assert_eq(gort_chan_try_send(b, &v), -EAGAIN);
	cr_assert_eq(gort_chan_len(b), 2);
	cr_assert_eq(gort_chan_try_recv(b, &v, &ok), 0);
	cr_assert(ok && v == 1);
	cr_assert_eq(gort_chan_try_recv(b, &v, &ok), 0);
	cr_assert(ok && v == 2);
	v = 9;
	cr_assert_eq(gort_chan_try_recv(b, &v, &ok), -EAGAIN);
	cr_assert_eq(v, 9, "a failed try_recv wrote the element");
	gort_chan_close(b);
	ok = true;
	cr_assert_eq(gort_chan_try_recv(b, &v, &ok), 0, "try_recv on a closed, drained channel");
	cr_assert(!ok);
	cr_assert_eq(v, 0, "try_recv on a closed channel did not zero the element");
	gort_chan_release(b);
	rt_stop();
	leak_check();
}

/* ------------------------------------------------------------------------ */
/* MPMC, coroutines and plain threads                                        */
/* ------------------------------------------------------------------------ */

struct mpmc {
	gort_chan *c;
	long n;
	int nprod, ncons;
	struct seen seen;
	gort_wg prod, cons;
};

struct mpmc_w {
	struct mpmc *m;
	int k;
};

static void mpmc_producer(void *p)
{
	struct mpmc_w *w = p;
	for (long v = w->k; v < w->m->n; v += w->m->nprod)
		gort_chan_send(w->m->c, &v);
	gort_wg_done(&w->m->prod);
}

static void mpmc_consumer(void *p)
{
	struct mpmc_w *w = p;
	long sum = 0, count = 0;
	for (;;) {
		long v = -1;
		bool ok = false;
		gort_chan_recv(w->m->c, &v, &ok);
		if (!ok)
			break;
		seen_mark(&w->m->seen, v);
		sum += v;
		count++;
	}
	atomic_fetch_add(&w->m->seen.sum, sum);
	atomic_fetch_add(&w->m->seen.count, count);
	gort_wg_done(&w->m->cons);
}

static void *mpmc_producer_th(void *p)
{
	mpmc_producer(p);
	return NULL;
}

static void *mpmc_consumer_th(void *p)
{
	mpmc_consumer(p);
	return NULL;
}

#define MPMC_MAX 8

/* nprod producers and ncons consumers; the first thr_prod producers and
 * thr_cons consumers are plain threads, the others coroutines. */
static void mpmc_run(int procs, size_t cap, long n, int nprod, int ncons, int thr_prod, int thr_cons)
{
	static struct mpmc m;
	struct mpmc_w pw[MPMC_MAX], cw[MPMC_MAX];
	pthread_t pth[MPMC_MAX], cth[MPMC_MAX];
	rt_start(procs);
	m.c = mk(sizeof(long), cap);
	m.n = n;
	m.nprod = nprod;
	m.ncons = ncons;
	seen_init(&m.seen, n);
	gort_wg_add(&m.prod, nprod);
	gort_wg_add(&m.cons, ncons);
	for (int i = 0; i < ncons; i++) {
		cw[i] = (struct mpmc_w){&m, i};
		if (i < thr_cons)
			cr_assert_eq(pthread_create(&cth[i], NULL, mpmc_consumer_th, &cw[i]), 0);
		else
			cr_assert_gt(gort_go(mpmc_consumer, &cw[i]), 0);
	}
	for (int i = 0; i < nprod; i++) {
		pw[i] = (struct mpmc_w){&m, i};
		if (i < thr_prod)
			cr_assert_eq(pthread_create(&pth[i], NULL, mpmc_producer_th, &pw[i]), 0);
		else
			cr_assert_gt(gort_go(mpmc_producer, &pw[i]), 0);
	}
	gort_wg_wait(&m.prod);
	gort_chan_close(m.c);
	gort_wg_wait(&m.cons);
	for (int i = 0; i < thr_prod; i++)
		cr_assert_eq(pthread_join(pth[i], NULL), 0);
	for (int i = 0; i < thr_cons; i++)
		cr_assert_eq(pthread_join(cth[i], NULL), 0);
	seen_check(&m.seen, cap ? "buffered MPMC" : "unbuffered MPMC");
	cr_assert_eq(gort_chan_len(m.c), 0);
	gort_chan_release(m.c);
	rt_stop();
	leak_check();
}

PROCS_TEST(chan, mpmc_buffered_4x4, 60)
{
	mpmc_run(procs, 128, scaled_min(200000, 5000), 4, 4, 0, 0);
}

PROCS_TEST(chan, mpmc_unbuffered_4x4, 60)
{
	mpmc_run(procs, 0, scaled_min(100000, 5000), 4, 4, 0, 0);
}

PROCS_TEST(chan, mpmc_plain_threads_and_coroutines_buffered, 60)
{
	mpmc_run(procs, 16, scaled_min(40000, 4000), 4, 4, 2, 2);
}

PROCS_TEST(chan, mpmc_plain_threads_and_coroutines_unbuffered, 60)
{
	mpmc_run(procs, 0, scaled_min(20000, 2000), 4, 4, 2, 2);
}

/* Only plain threads on one side: a thread sends to a coroutine, a
 * coroutine sends to a thread. */
Test(chan, plain_thread_to_coroutine_and_back, .timeout = 20)
{
	mpmc_run(2, 0, scaled_min(20000, 2000), 1, 1, 1, 0);
	mpmc_run(2, 0, scaled_min(20000, 2000), 1, 1, 0, 1);
}

/* ------------------------------------------------------------------------ */
/* nil channels                                                              */
/* ------------------------------------------------------------------------ */

Test(chan, nil_channel_never_ready, .timeout = 10)
{
	rt_start(2);
	long v = 3;
	bool ok = true;
	gort_case one[1] = {{.chan = NULL, .dir = GORT_RECV, .elem = &v}};
	cr_assert_eq(gort_select(one, 1, true), -EAGAIN, "nonblocking select on a nil channel");
	one[0].dir = GORT_SEND;
	cr_assert_eq(gort_select(one, 1, true), -EAGAIN, "nonblocking select send on a nil channel");
	cr_assert_eq(gort_select(NULL, 0, true), -EAGAIN, "nonblocking select with no cases");
	cr_assert_eq(gort_chan_try_send(NULL, &v), -EAGAIN);
	cr_assert_eq(gort_chan_try_recv(NULL, &v, &ok), -EAGAIN);
	cr_assert_eq(v, 3);
	cr_assert_eq(gort_chan_len(NULL), 0);
	cr_assert_eq(gort_chan_cap(NULL), 0);

	/* nil cases next to a ready one */
	gort_chan *c = mk(sizeof(long), 1);
	long w = 11;
	cr_assert_eq(gort_chan_try_send(c, &w), 0);
	for (int k = 0; k < 20; k++) {
		long a = 0, b = 0, d = 0;
		gort_case cs[3] = {{.chan = NULL, .dir = GORT_RECV, .elem = &a},
				   {.chan = NULL, .dir = GORT_SEND, .elem = &b},
				   {.chan = c, .dir = GORT_RECV, .elem = &d}};
		int i = gort_select(cs, 3, k % 2 == 0);
		cr_assert_eq(i, 2, "select chose %d (a nil channel?)", i);
		cr_assert(cs[2].ok);
		cr_assert_eq(d, 11);
		cr_assert_eq(gort_chan_try_send(c, &w), 0);
	}
	gort_chan_release(c);
	rt_stop();
	leak_check();
}

struct nilb {
	atomic_int started, passed;
};

static void nil_recv(void *p)
{
	struct nilb *b = p;
	long v;
	atomic_fetch_add(&b->started, 1);
	gort_chan_recv(NULL, &v, NULL);
	atomic_fetch_add(&b->passed, 1);
}

static void nil_send(void *p)
{
	struct nilb *b = p;
	long v = 1;
	atomic_fetch_add(&b->started, 1);
	gort_chan_send(NULL, &v);
	atomic_fetch_add(&b->passed, 1);
}

static void nil_select(void *p)
{
	struct nilb *b = p;
	long v = 1;
	gort_case cs[2] = {{.chan = NULL, .dir = GORT_RECV, .elem = &v},
			   {.chan = NULL, .dir = GORT_SEND, .elem = &v}};
	atomic_fetch_add(&b->started, 1);
	(void)gort_select(cs, 2, false);
	atomic_fetch_add(&b->passed, 1);
}

static void empty_select(void *p)
{
	struct nilb *b = p;
	atomic_fetch_add(&b->started, 1);
	(void)gort_select(NULL, 0, false);
	atomic_fetch_add(&b->passed, 1);
}

PROCS_TEST(chan, nil_channel_blocks_forever, 20)
{
	static struct nilb b;
	rt_start(procs);
	cr_assert_gt(gort_go(nil_recv, &b), 0);
	cr_assert_gt(gort_go(nil_send, &b), 0);
	cr_assert_gt(gort_go(nil_select, &b), 0);
	cr_assert_gt(gort_go(empty_select, &b), 0);
	cr_assert(wait_ge(&b.started, 4, 10000));
	sleep_ms(50);
	cr_assert_eq(atomic_load(&b.passed), 0, "an operation on a nil channel returned");
	cr_assert_eq(gort_num_coroutines(), 4, "%lld coroutines live, want the 4 blocked ones",
		     (long long)gort_num_coroutines());
	rt_stop(); /* discards them */
	cr_assert_eq(atomic_load(&b.passed), 0);
}

/* ------------------------------------------------------------------------ */
/* select                                                                    */
/* ------------------------------------------------------------------------ */

Test(chan, select_returns_the_ready_case, .timeout = 10)
{
	rt_start(2);
	gort_chan *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = mk(sizeof(struct elem24), 1);
	for (int k = 0; k < 3; k++) {
		struct elem24 v = e24((uint64_t)k + 50);
		cr_assert_eq(gort_chan_try_send(c[k], &v), 0);
		struct elem24 got[3];
		memset(got, 0x77, sizeof got);
		gort_case cs[3];
		for (int i = 0; i < 3; i++)
			cs[i] = (gort_case){.chan = c[i], .dir = GORT_RECV, .elem = &got[i]};
		int i = gort_select(cs, 3, k == 1);
		cr_assert_eq(i, k, "select chose %d, only %d is ready", i, k);
		cr_assert(cs[k].ok);
		cr_assert(e24_is(&got[k], (uint64_t)k + 50), "select's value not copied intact");
		for (int j = 0; j < 3; j++)
			if (j != k) {
				unsigned char want[sizeof got[j]];
				memset(want, 0x77, sizeof want);
				cr_assert(memcmp(&got[j], want, sizeof want) == 0,
					  "a case not chosen had its element written");
			}
	}
	/* default: none ready */
	struct elem24 got[3];
	memset(got, 0x77, sizeof got);
	gort_case cs[3];
	for (int i = 0; i < 3; i++)
		cs[i] = (gort_case){.chan = c[i], .dir = GORT_RECV, .elem = &got[i]};
	cr_assert_eq(gort_select(cs, 3, true), -EAGAIN, "nonblocking select with none ready");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(gort_chan_len(c[i]), 0);
	/* a send case on the one with room */
	for (int i = 0; i < 3; i++) {
		struct elem24 v = e24(1);
		if (i != 1)
			cr_assert_eq(gort_chan_try_send(c[i], &v), 0);
	}
	struct elem24 sv[3] = {e24(200), e24(201), e24(202)};
	for (int i = 0; i < 3; i++)
		cs[i] = (gort_case){.chan = c[i], .dir = GORT_SEND, .elem = &sv[i]};
	cr_assert_eq(gort_select(cs, 3, false), 1, "a send select chose a full channel");
	cr_assert_eq(gort_select(cs, 3, true), -EAGAIN, "nonblocking send select, all full");
	struct elem24 v;
	cr_assert_eq(gort_chan_recv(c[1], &v, NULL), 0);
	cr_assert(e24_is(&v, 201));
	/* mixed element sizes in one select */
	gort_chan *z = mk(0, 1), *b = mk(1, 1);
	char one = 'q', zb = 0;
	cr_assert_eq(gort_chan_try_send(b, &one), 0);
	char rb = 0;
	gort_case mix[3] = {{.chan = c[0], .dir = GORT_SEND, .elem = &sv[0]},
			    {.chan = z, .dir = GORT_SEND, .elem = &zb},
			    {.chan = b, .dir = GORT_RECV, .elem = &rb}};
	int seen_z = 0, seen_b = 0;
	for (int k = 0; k < 2; k++) {
		int i = gort_select(mix, 3, false);
		cr_assert(i == 1 || i == 2, "mixed select chose %d (full)", i);
		if (i == 1)
			seen_z++;
		else {
			seen_b++;
			cr_assert_eq(rb, 'q');
		}
		mix[i].chan = NULL; /* done with it */
	}
	cr_assert(seen_z == 1 && seen_b == 1);
	cr_assert_eq(gort_chan_len(z), 1);
	gort_chan_release(z);
	gort_chan_release(b);
	for (int i = 0; i < 3; i++)
		gort_chan_release(c[i]);
	rt_stop();
	leak_check();
}

/* A select that waits until another coroutine (or thread) makes a case
 * ready. */
struct sw {
	gort_chan *c[3];
	int k; /* the case to make ready */
	atomic_int arrived, returned;
	int idx;
	struct elem24 got[3];
	bool ok;
	gort_wg done;
};

static void sw_selector(void *p)
{
	struct sw *s = p;
	gort_case cs[3];
	memset(s->got, 0, sizeof s->got);
	for (int i = 0; i < 3; i++)
		cs[i] = (gort_case){.chan = s->c[i], .dir = GORT_RECV, .elem = &s->got[i]};
	atomic_store(&s->arrived, 1);
	s->idx = gort_select(cs, 3, false);
	s->ok = s->idx >= 0 && s->idx < 3 ? cs[s->idx].ok : false;
	atomic_store(&s->returned, 1);
	gort_wg_done(&s->done);
}

static void sw_sender(void *p)
{
	struct sw *s = p;
	for (int i = 0; i < 10; i++)
		gort_yield();
	struct elem24 v = e24(900);
	gort_chan_send(s->c[s->k], &v);
	gort_wg_done(&s->done);
}

static void *sw_selector_th(void *p)
{
	sw_selector(p);
	return NULL;
}

PROCS_TEST(chan, select_blocks_until_ready, 20)
{
	static struct sw s;
	rt_start(procs);
	for (int i = 0; i < 3; i++)
		s.c[i] = mk(sizeof(struct elem24), i == 2 ? 4 : 0);
	for (int round = 0; round < 6; round++) {
		s.k = round % 3;
		atomic_store(&s.arrived, 0);
		atomic_store(&s.returned, 0);
		bool thread = round >= 3;
		pthread_t th;
		gort_wg_add(&s.done, 2);
		if (thread)
			cr_assert_eq(pthread_create(&th, NULL, sw_selector_th, &s), 0);
		else
			cr_assert_gt(gort_go(sw_selector, &s), 0);
		cr_assert(wait_ge(&s.arrived, 1, 10000));
		settle();
		cr_assert_eq(atomic_load(&s.returned), 0, "select returned with nothing ready");
		cr_assert_gt(gort_go(sw_sender, &s), 0);
		gort_wg_wait(&s.done);
		if (thread)
			cr_assert_eq(pthread_join(th, NULL), 0);
		cr_assert_eq(s.idx, s.k, "round %d: select returned %d, want %d", round, s.idx, s.k);
		cr_assert(s.ok);
		cr_assert(e24_is(&s.got[s.k], 900), "round %d: value not intact", round);
	}
	/* woken by a close */
	s.k = 1;
	atomic_store(&s.arrived, 0);
	gort_wg_add(&s.done, 1);
	cr_assert_gt(gort_go(sw_selector, &s), 0);
	cr_assert(wait_ge(&s.arrived, 1, 10000));
	settle();
	memset(&s.got[1], 0x5A, sizeof s.got[1]);
	gort_chan_close(s.c[1]);
	gort_wg_wait(&s.done);
	cr_assert_eq(s.idx, 1, "select woken by a close returned %d", s.idx);
	cr_assert(!s.ok, "select woken by a close: ok true");
	cr_assert(all_zero(&s.got[1], sizeof s.got[1]), "select woken by a close: not zeroed");
	/* a closed channel is always ready */
	struct elem24 g[3];
	memset(g, 0x5A, sizeof g);
	gort_case cs[3];
	for (int i = 0; i < 3; i++)
		cs[i] = (gort_case){.chan = s.c[i], .dir = GORT_RECV, .elem = &g[i], .ok = true};
	cr_assert_eq(gort_select(cs, 3, true), 1, "nonblocking select with a closed channel");
	cr_assert(!cs[1].ok);
	cr_assert(all_zero(&g[1], sizeof g[1]));
	for (int i = 0; i < 3; i++)
		gort_chan_release(s.c[i]);
	rt_stop();
	leak_check();
}

/* Send cases that wait for a receiver. */
struct ss {
	gort_chan *c[3];
	int k;
	atomic_int arrived;
	int idx;
	long got;
	gort_wg done;
};

static void ss_selector(void *p)
{
	struct ss *s = p;
	long vals[3] = {1000, 1001, 1002};
	gort_case cs[3];
	for (int i = 0; i < 3; i++)
		cs[i] = (gort_case){.chan = s->c[i], .dir = GORT_SEND, .elem = &vals[i]};
	atomic_store(&s->arrived, 1);
	s->idx = gort_select(cs, 3, false);
	vals[0] = vals[1] = vals[2] = -1; /* the value was copied */
	gort_wg_done(&s->done);
}

PROCS_TEST(chan, select_send_cases_wait_for_receiver, 20)
{
	static struct ss s;
	rt_start(procs);
	for (int i = 0; i < 3; i++)
		s.c[i] = mk(sizeof(long), 0);
	for (int round = 0; round < 6; round++) {
		s.k = round % 3;
		atomic_store(&s.arrived, 0);
		gort_wg_add(&s.done, 1);
		cr_assert_gt(gort_go(ss_selector, &s), 0);
		if (round % 2)
			cr_assert(wait_ge(&s.arrived, 1, 10000));
		long v = -5;
		bool ok = false;
		cr_assert_eq(gort_chan_recv(s.c[s.k], &v, &ok), 0);
		cr_assert(ok);
		cr_assert_eq(v, 1000 + s.k, "round %d: got %ld", round, v);
		gort_wg_wait(&s.done);
		cr_assert_eq(s.idx, s.k, "round %d: select returned %d, want %d", round, s.idx, s.k);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(gort_chan_try_recv(s.c[i], &v, &ok), -EAGAIN,
				     "round %d: channel %d still has a sender after the select", round, i);
	}
	for (int i = 0; i < 3; i++)
		gort_chan_release(s.c[i]);
	rt_stop();
	leak_check();
}

/* Uniform choice among ready cases. */
struct uni {
	gort_chan *c[3];
	long n;
	long count[3];
};

static void uni_run(void *p)
{
	struct uni *u = p;
	for (long k = 0; k < u->n; k++) {
		int got[3] = {-1, -1, -1};
		gort_case cs[3];
		for (int i = 0; i < 3; i++)
			cs[i] = (gort_case){.chan = u->c[i], .dir = GORT_RECV, .elem = &got[i]};
		int i = gort_select(cs, 3, (k & 1) != 0);
		if (i < 0 || i > 2 || got[i] != i) {
			CO_CHECK(0, "select %ld returned %d (value %d)", k, i, i >= 0 && i < 3 ? got[i] : -1);
			return;
		}
		u->count[i]++;
		int rc = gort_chan_try_send(u->c[i], &i);
		CO_CHECK(rc == 0, "refill: %d", rc);
	}
}

Test(chan, select_chooses_uniformly, .timeout = 20)
{
	static struct uni u;
	u.n = scaled_min(30000, 3000);
	rt_start(1);
	for (int i = 0; i < 3; i++) {
		u.c[i] = mk(sizeof(int), 1);
		cr_assert_eq(gort_chan_try_send(u.c[i], &i), 0);
	}
	co_run(uni_run, &u);
	CO_ASSERT_NO_FAILURES();
	for (int i = 0; i < 3; i++) {
		double share = (double)u.count[i] / (double)u.n;
		cr_assert(share >= 0.25 && share <= 0.42,
			  "case %d chosen %ld of %ld times (%.1f%%); counts %ld %ld %ld", i, u.count[i],
			  u.n, share * 100, u.count[0], u.count[1], u.count[2]);
	}
	for (int i = 0; i < 3; i++)
		gort_chan_release(u.c[i]);
	rt_stop();
	leak_check();
}

/* One channel in several cases. */
#define DUP_CASES 24

struct dup {
	gort_chan *c[4];
	atomic_int arrived;
	int idx;
	long got[DUP_CASES];
	bool ok;
	gort_wg done;
};

static void dup_selector(void *p)
{
	struct dup *d = p;
	gort_case cs[DUP_CASES];
	for (int i = 0; i < DUP_CASES; i++) {
		d->got[i] = -1;
		cs[i] = (gort_case){.chan = d->c[i % 4], .dir = GORT_RECV, .elem = &d->got[i]};
	}
	atomic_store(&d->arrived, 1);
	d->idx = gort_select(cs, DUP_CASES, false);
	d->ok = d->idx >= 0 ? cs[d->idx].ok : false;
	gort_wg_done(&d->done);
}

struct selfpair {
	gort_chan *c;
	int idx;
	long got;
	gort_wg done;
};

static void selfpair_selector(void *p)
{
	struct selfpair *s = p;
	long out = 31, in = -1;
	gort_case cs[2] = {{.chan = s->c, .dir = GORT_RECV, .elem = &in},
			   {.chan = s->c, .dir = GORT_SEND, .elem = &out}};
	s->idx = gort_select(cs, 2, false);
	s->got = in;
	gort_wg_done(&s->done);
}

PROCS_TEST(chan, select_same_channel_in_many_cases, 20)
{
	static struct dup d;
	rt_start(procs);
	for (int i = 0; i < 4; i++)
		d.c[i] = mk(sizeof(long), i == 3 ? 2 : 0);
	int rounds = (int)scaled_min(200, 40);
	for (int r = 0; r < rounds; r++) {
		int k = r % 4;
		atomic_store(&d.arrived, 0);
		gort_wg_add(&d.done, 1);
		cr_assert_gt(gort_go(dup_selector, &d), 0);
		if (r % 2)
			cr_assert(wait_ge(&d.arrived, 1, 10000));
		long v = 500 + r;
		cr_assert_eq(gort_chan_send(d.c[k], &v), 0);
		gort_wg_wait(&d.done);
		cr_assert(d.idx >= 0 && d.idx < DUP_CASES && d.idx % 4 == k,
			  "round %d: select returned %d, want a case on channel %d", r, d.idx, k);
		cr_assert(d.ok);
		cr_assert_eq(d.got[d.idx], v, "round %d: case %d got %ld", r, d.idx, d.got[d.idx]);
		for (int i = 0; i < DUP_CASES; i++)
			if (i != d.idx)
				cr_assert_eq(d.got[i], -1, "round %d: case %d not chosen but written", r,
					     i);
		/* nothing left queued anywhere */
		v = 0;
		for (int i = 0; i < 3; i++)
			cr_assert_eq(gort_chan_try_send(d.c[i], &v), -EAGAIN,
				     "round %d: a receiver left on channel %d", r, i);
	}
	for (int i = 0; i < 4; i++)
		gort_chan_release(d.c[i]);

	/* a send and a receive on one unbuffered channel never pair with
	 * each other; an outside receiver takes the send */
	static struct selfpair sp;
	sp.c = mk(sizeof(long), 0);
	gort_wg_add(&sp.done, 1);
	cr_assert_gt(gort_go(selfpair_selector, &sp), 0);
	long v = -1;
	cr_assert_eq(gort_chan_recv(sp.c, &v, NULL), 0);
	gort_wg_wait(&sp.done);
	cr_assert_eq(v, 31);
	cr_assert_eq(sp.idx, 1, "select with send and receive on one channel returned %d", sp.idx);
	cr_assert_eq(sp.got, -1);
	gort_chan_release(sp.c);
	rt_stop();
	leak_check();
}

/* The losing cases of a select leave their channels' queues. */
struct lose {
	gort_chan *c[3];
	int rounds;
	gort_wg helpers;
};

struct lose_msg {
	struct lose *l;
	int ch;
	long v;
};

static void lose_send_one(void *p)
{
	struct lose_msg *m = p;
	gort_chan_send(m->l->c[m->ch], &m->v);
	gort_wg_done(&m->l->helpers);
}

static void lose_recv_one(void *p)
{
	struct lose_msg *m = p;
	long v = -1;
	bool ok = false;
	gort_chan_recv(m->l->c[m->ch], &v, &ok);
	CO_CHECK(ok && v == m->v, "helper receive on %d: ok %d, got %ld, want %ld", m->ch, ok, v,
		 m->v);
	gort_wg_done(&m->l->helpers);
}

static void lose_driver(void *p)
{
	struct lose *l = p;
	struct lose_msg m1, m2;
	for (int r = 0; r < l->rounds; r++) {
		int k = r % 3, other = (r + 1) % 3;
		/* receive select */
		m1 = (struct lose_msg){l, k, r};
		gort_wg_add(&l->helpers, 1);
		CO_CHECK(gort_go(lose_send_one, &m1) > 0, "spawn");
		long got[3] = {-1, -1, -1};
		gort_case cs[3];
		for (int i = 0; i < 3; i++)
			cs[i] = (gort_case){.chan = l->c[i], .dir = GORT_RECV, .elem = &got[i]};
		int i = gort_select(cs, 3, false);
		CO_CHECK(i == k && got[k] == r, "round %d: select returned %d (got %ld), want %d", r, i,
			 i >= 0 && i < 3 ? got[i] : -1, k);
		gort_wg_wait(&l->helpers);
		long z = 0;
		for (int j = 0; j < 3; j++) {
			int rc = gort_chan_try_send(l->c[j], &z);
			CO_CHECK(rc == -EAGAIN,
				 "round %d: after the select, try_send on channel %d = %d: a stale "
				 "receiver of the select is still queued",
				 r, j, rc);
		}
		/* a later plain send on a losing channel reaches a later receive */
		m2 = (struct lose_msg){l, other, 10000 + r};
		gort_wg_add(&l->helpers, 1);
		CO_CHECK(gort_go(lose_send_one, &m2) > 0, "spawn");
		long v = -1;
		bool ok = false;
		gort_chan_recv(l->c[other], &v, &ok);
		CO_CHECK(ok && v == 10000 + r, "round %d: receive on the losing channel %d got %ld", r,
			 other, v);
		gort_wg_wait(&l->helpers);

		/* send select */
		m1 = (struct lose_msg){l, k, 20000 + k};
		gort_wg_add(&l->helpers, 1);
		CO_CHECK(gort_go(lose_recv_one, &m1) > 0, "spawn");
		long vals[3] = {20000, 20001, 20002};
		for (int j = 0; j < 3; j++)
			cs[j] = (gort_case){.chan = l->c[j], .dir = GORT_SEND, .elem = &vals[j]};
		i = gort_select(cs, 3, false);
		CO_CHECK(i == k, "round %d: send select returned %d, want %d", r, i, k);
		gort_wg_wait(&l->helpers);
		for (int j = 0; j < 3; j++) {
			bool okk = false;
			int rc = gort_chan_try_recv(l->c[j], &z, &okk);
			CO_CHECK(rc == -EAGAIN,
				 "round %d: after the send select, try_recv on channel %d = %d (got "
				 "%ld): a stale sender of the select is still queued",
				 r, j, rc, z);
		}
		if (atomic_load(&co_fail_state()->count) != 0)
			return;
	}
}

PROCS_TEST(chan, select_losers_are_dequeued, 30)
{
	static struct lose l;
	l.rounds = (int)scaled_min(1000, 100);
	rt_start(procs);
	for (int i = 0; i < 3; i++)
		l.c[i] = mk(sizeof(long), 0);
	co_run(lose_driver, &l);
	CO_ASSERT_NO_FAILURES();
	for (int i = 0; i < 3; i++)
		gort_chan_release(l.c[i]);
	rt_stop();
	leak_check();
}

/* Stress: 8 selectors over 4 shared channels, 4 feeders. */
#define ST_CH 4
#define ST_SEL 8

struct st {
	gort_chan *c[ST_CH];
	long n;
	bool feeders_select;
	struct seen seen;
	gort_wg feeders, selectors;
};

struct st_w {
	struct st *s;
	int k;
};

static void st_feeder(void *p)
{
	struct st_w *w = p;
	struct st *s = w->s;
	for (long v = w->k; v < s->n; v += ST_CH) {
		if (s->feeders_select) {
			long vals[ST_CH];
			gort_case cs[ST_CH];
			for (int i = 0; i < ST_CH; i++) {
				vals[i] = v;
				cs[i] = (gort_case){.chan = s->c[i], .dir = GORT_SEND, .elem = &vals[i]};
			}
			int i = gort_select(cs, ST_CH, false);
			CO_CHECK(i >= 0 && i < ST_CH, "feeder select returned %d", i);
		} else {
			gort_chan_send(s->c[w->k], &v);
		}
	}
	if (!s->feeders_select)
		gort_chan_close(s->c[w->k]);
	gort_wg_done(&s->feeders);
}

static void st_closer(void *p)
{
	struct st *s = p;
	gort_wg_wait(&s->feeders);
	for (int i = 0; i < ST_CH; i++)
		gort_chan_close(s->c[i]);
}

static void st_selector(void *p)
{
	struct st_w *w = p;
	struct st *s = w->s;
	gort_chan *cs_ch[ST_CH];
	long got[ST_CH];
	int open = ST_CH;
	long sum = 0, count = 0;
	for (int i = 0; i < ST_CH; i++)
		cs_ch[i] = s->c[i];
	while (open > 0) {
		gort_case cs[ST_CH];
		for (int i = 0; i < ST_CH; i++)
			cs[i] = (gort_case){.chan = cs_ch[i], .dir = GORT_RECV, .elem = &got[i]};
		int i = gort_select(cs, ST_CH, false);
		if (i < 0 || i >= ST_CH) {
			CO_CHECK(0, "select returned %d", i);
			break;
		}
		if (!cs[i].ok) {
			cs_ch[i] = NULL; /* Go's idiom: a nil channel is never chosen */
			open--;
			continue;
		}
		seen_mark(&s->seen, got[i]);
		sum += got[i];
		count++;
	}
	atomic_fetch_add(&s->seen.sum, sum);
	atomic_fetch_add(&s->seen.count, count);
	gort_wg_done(&s->selectors);
}

static void select_stress(int procs, bool feeders_select)
{
	static struct st s;
	struct st_w fw[ST_CH], sw[ST_SEL];
	static const size_t caps[ST_CH] = {0, 0, 8, 64};
	s.n = scaled_min(80000, 4000);
	s.feeders_select = feeders_select;
	rt_start(procs);
	for (int i = 0; i < ST_CH; i++)
		s.c[i] = mk(sizeof(long), caps[i]);
	seen_init(&s.seen, s.n);
	gort_wg_add(&s.selectors, ST_SEL);
	gort_wg_add(&s.feeders, ST_CH);
	for (int i = 0; i < ST_SEL; i++) {
		sw[i] = (struct st_w){&s, i};
		cr_assert_gt(gort_go(st_selector, &sw[i]), 0);
	}
	for (int i = 0; i < ST_CH; i++) {
		fw[i] = (struct st_w){&s, i};
		cr_assert_gt(gort_go(st_feeder, &fw[i]), 0);
	}
	if (feeders_select)
		cr_assert_gt(gort_go(st_closer, &s), 0);
	gort_wg_wait(&s.selectors);
	CO_ASSERT_NO_FAILURES();
	seen_check(&s.seen, feeders_select ? "select to select" : "plain sends to selects");
	for (int i = 0; i < ST_CH; i++)
		gort_chan_release(s.c[i]);
	rt_stop();
	leak_check();
}

PROCS_TEST(chan, select_stress_shared_channels, 60)
{
	select_stress(procs, false);
}

PROCS_TEST(chan, select_stress_select_on_both_sides, 60)
{
	select_stress(procs, true);
}

/* ------------------------------------------------------------------------ */
/* reference counting                                                        */
/* ------------------------------------------------------------------------ */

struct rc {
	gort_chan *c, *d;
	atomic_int arrived;
	int idx;
	long got;
	bool ok;
	gort_wg done;
};

static void rc_receiver(void *p)
{
	struct rc *r = p;
	atomic_store(&r->arrived, 1);
	r->got = -1;
	gort_chan_recv(r->c, &r->got, &r->ok);
	gort_wg_done(&r->done);
}

static void rc_sender(void *p)
{
	struct rc *r = p;
	atomic_store(&r->arrived, 1);
	long v = 64;
	gort_chan_send(r->c, &v);
	gort_wg_done(&r->done);
}

/* The other holder: sends (or receives), then drops the last reference at
 * once, possibly before the woken coroutine has run again. */
static void rc_last_sender(void *p)
{
	struct rc *r = p;
	long v = 99;
	gort_chan_send(r->c, &v);
	gort_chan_release(r->c);
	gort_wg_done(&r->done);
}

static void rc_last_receiver(void *p)
{
	struct rc *r = p;
	long v = -1;
	bool ok = false;
	gort_chan_recv(r->c, &v, &ok);
	CO_CHECK(ok && v == 64, "ok %d, got %ld", ok, v);
	gort_chan_release(r->c);
	gort_wg_done(&r->done);
}

static void rc_selector(void *p)
{
	struct rc *r = p;
	long g[2] = {-1, -1};
	gort_case cs[2] = {{.chan = r->c, .dir = GORT_RECV, .elem = &g[0]},
			   {.chan = r->d, .dir = GORT_RECV, .elem = &g[1]}};
	atomic_store(&r->arrived, 1);
	r->idx = gort_select(cs, 2, false);
	r->got = r->idx == 1 ? g[1] : -1;
	r->ok = r->idx == 1 ? cs[1].ok : false;
	gort_wg_done(&r->done);
}

/* Sends on d, then drops the last references to both c and d while the
 * selector may still be queued on c. */
static void rc_last_sender_two(void *p)
{
	struct rc *r = p;
	long v = 123;
	gort_chan_send(r->d, &v);
	gort_chan_release(r->d);
	gort_chan_release(r->c);
	gort_wg_done(&r->done);
}

PROCS_TEST(chan, release_while_waiting_does_not_free, 20)
{
	static struct rc r;
	rt_start(procs);
	int rounds = (int)scaled_min(200, 40);
	for (int k = 0; k < rounds; k++) {
		/* Unbuffered only: the other holder's send then completes only
		 * once the receiver is inside its receive (with a buffer, the
		 * send and the last release could come before the receiver
		 * has even started, and it would use a freed channel). */
		/* a waiting receiver whose holder lets go */
		r.c = mk(sizeof(long), 0);
		cr_assert_eq(gort_chan_retain(r.c), r.c, "retain returns its argument");
		atomic_store(&r.arrived, 0);
		gort_wg_add(&r.done, 2);
		cr_assert_gt(gort_go(rc_receiver, &r), 0);
		cr_assert(wait_ge(&r.arrived, 1, 10000));
		if (k == 0)
			settle();
		gort_chan_release(r.c); /* the receiver's holder */
		cr_assert_gt(gort_go(rc_last_sender, &r), 0);
		gort_wg_wait(&r.done);
		cr_assert(r.ok && r.got == 99, "round %d: receiver got %ld (ok %d)", k, r.got, r.ok);

		/* a waiting sender whose holder lets go */
		r.c = mk(sizeof(long), 0);
		gort_chan_retain(r.c);
		atomic_store(&r.arrived, 0);
		gort_wg_add(&r.done, 2);
		cr_assert_gt(gort_go(rc_sender, &r), 0);
		cr_assert(wait_ge(&r.arrived, 1, 10000));
		gort_chan_release(r.c);
		cr_assert_gt(gort_go(rc_last_receiver, &r), 0);
		gort_wg_wait(&r.done);
		CO_ASSERT_NO_FAILURES();

		/* a waiting select: its other channel's last reference goes
		 * while it may still be queued there */
		r.c = mk(sizeof(long), 0);
		r.d = mk(sizeof(long), 0);
		atomic_store(&r.arrived, 0);
		gort_wg_add(&r.done, 2);
		cr_assert_gt(gort_go(rc_selector, &r), 0);
		cr_assert(wait_ge(&r.arrived, 1, 10000));
		cr_assert_gt(gort_go(rc_last_sender_two, &r), 0);
		gort_wg_wait(&r.done);
		cr_assert_eq(r.idx, 1, "round %d: select returned %d", k, r.idx);
		cr_assert(r.ok && r.got == 123, "round %d: select got %ld (ok %d)", k, r.got, r.ok);
	}
	rt_stop();
	leak_check();
}

struct bal {
	gort_chan *c;
	int iters;
	gort_wg done;
};

static void bal_worker(void *p)
{
	struct bal *b = p;
	for (int i = 0; i < b->iters; i++) {
		gort_chan *mine = gort_chan_retain(b->c);
		CO_CHECK(mine == b->c, "retain returned another pointer");
		long v = i;
		if (gort_chan_try_send(mine, &v) == 0) {
			bool ok = false;
			(void)gort_chan_try_recv(mine, &v, &ok);
		}
		gort_chan_release(mine);
	}
	gort_wg_done(&b->done);
}

PROCS_TEST(chan, retain_release_balance, 20)
{
	static struct bal b;
	rt_start(procs);
	b.c = mk(sizeof(long), 4);
	b.iters = (int)scaled_min(20000, 2000);
	gort_wg_add(&b.done, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_gt(gort_go(bal_worker, &b), 0);
	gort_wg_wait(&b.done);
	CO_ASSERT_NO_FAILURES();
	/* still usable: our one reference is the only one left */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(gort_chan_retain(b.c), b.c);
	for (int i = 0; i < 10; i++)
		gort_chan_release(b.c);
	long v = 1;
	while (gort_chan_try_recv(b.c, &v, NULL) == 0) {
	}
	cr_assert_eq(gort_chan_try_send(b.c, &v), 0);
	cr_assert_eq(gort_chan_len(b.c), 1);
	gort_chan_release(b.c); /* freed with a value still buffered (LSan) */

	/* freed closed, freed open and empty, freed with big elements */
	gort_chan *c = mk(sizeof(struct elem24), 3);
	struct elem24 e = e24(3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(gort_chan_try_send(c, &e), 0);
	gort_chan_close(c);
	gort_chan_release(c);
	gort_chan_release(mk(0, 0));
	gort_chan_release(mk(4096, 16));
	rt_stop();
	leak_check();
}

#ifndef GORT_TEST_ASAN
/* elem_size * cap overflows size_t: NULL, not a small buffer.  (Not under
 * ASan, whose allocator aborts on impossible sizes instead of returning
 * NULL.) */
Test(chan, make_with_overflowing_size_is_null, .timeout = 10)
{
	cr_assert_null(gort_chan_make(SIZE_MAX / 2 + 1, 4));
	cr_assert_null(gort_chan_make(SIZE_MAX / 8, SIZE_MAX / 8));
}
#endif
