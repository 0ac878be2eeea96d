/* Go's "fatal error: all coroutines are asleep - deadlock!": alice waits
 * for bob's message before she sends her own, bob waits for alice's before
 * he sends his, and main waits for both on a WaitGroup.  Nothing can ever
 * run again, no timer is pending, and under gort_main no plain thread can
 * wake them, so the runtime's deadlock detector (GORT_DEBUG deadlock=abort,
 * the default under gort_main) prints the message and the grouped dump of
 * the three, each with the line it is blocked at, and aborts.  `make test`
 * runs it and expects SIGABRT; test_examples.c checks what it printed. */
#include <gort.h>
#include <stdio.h>

static gort_chan *to_alice, *to_bob;
static gort_wg wg;

static void alice(void *arg)
{
	(void)arg;
	int msg;
	printf("alice waits for bob at %s:%d\n", __FILE__, __LINE__ + 2);
	fflush(stdout); /* abort() flushes nothing */
	gort_chan_recv(to_alice, &msg, NULL);
	msg = 1;
	gort_chan_send(to_bob, &msg); /* never reached */
	gort_wg_done(&wg);
}

static void bob(void *arg)
{
	(void)arg;
	int msg;
	printf("bob waits for alice at %s:%d\n", __FILE__, __LINE__ + 2);
	fflush(stdout);
	gort_chan_recv(to_bob, &msg, NULL);
	msg = 2;
	gort_chan_send(to_alice, &msg); /* never reached */
	gort_wg_done(&wg);
}

static int real_main(void *arg)
{
	(void)arg;
	to_alice = gort_chan_make(sizeof(int), 0);
	to_bob = gort_chan_make(sizeof(int), 0);
	gort_wg_add(&wg, 2);
	gort_go_with(alice, NULL, .name = "alice");
	gort_go_with(bob, NULL, .name = "bob");
	printf("main waits for both at %s:%d\n", __FILE__, __LINE__ + 2);
	fflush(stdout);
	gort_wg_wait(&wg);
	printf("never printed: the detector aborts first\n");
	return 0;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
