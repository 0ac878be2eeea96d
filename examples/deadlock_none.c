/* Parked is not deadlocked: every coroutine but one waits on a channel, and
 * that one sleeps 300 ms before it closes the channel, then main waits
 * 200 ms on a timer channel (gort_after) with nothing else alive.  A
 * pending timer can still wake someone, so the deadlock detector (on by
 * default under gort_main) must stay silent, and the program exits 0.
 * `make test` runs it; test_examples.c checks that stderr never mentions a
 * deadlock. */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>

enum { WAITERS = 3 };
#define MS (1000 * 1000LL)

static gort_chan *gate;
static gort_wg wg;
static atomic_int woke;

static void waiter(void *arg)
{
	(void)arg;
	gort_chan_recv(gate, NULL, NULL); /* until the gate closes */
	atomic_fetch_add(&woke, 1);
	gort_wg_done(&wg);
}

static void opener(void *arg)
{
	(void)arg;
	gort_sleep(300 * MS); /* meanwhile everyone else is parked */
	gort_chan_close(gate);
	gort_wg_done(&wg);
}

static int real_main(void *arg)
{
	(void)arg;
	gate = gort_chan_make(0, 0);
	gort_wg_add(&wg, WAITERS + 1);
	for (int i = 0; i < WAITERS; i++)
		gort_go_with(waiter, NULL, .name = "waiter");
	gort_go_with(opener, NULL, .name = "opener");
	gort_wg_wait(&wg);
	printf("%d waiters woke after the opener's 300 ms sleep\n", atomic_load(&woke));

	/* only main, parked on a timer's channel */
	gort_chan *later = gort_after(200 * MS);
	int64_t when;
	gort_chan_recv(later, &when, NULL);
	gort_chan_release(later);
	printf("main woke from its 200 ms timer\n");
	gort_chan_release(gate);
	return atomic_load(&woke) == WAITERS ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
