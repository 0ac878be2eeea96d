/* deadlock=report: the detector prints its message and the grouped dump
 * once, and the program goes on.  Here every coroutine waits on a gate
 * that only a plain thread of the program opens, 500 ms later: inside the
 * runtime everything is asleep (so the report comes), yet the program is
 * not stuck (so it must not abort).  That is why gort_main's default,
 * abort, is for programs whose threads never talk to coroutines; an
 * embedding program gets the detector off unless it asks.  `make test`
 * runs it; test_examples.c checks that the report came exactly once. */
#include <gort.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { WAITERS = 2 };

static gort_chan *gate;
static gort_wg wg;

static void waiter(void *arg)
{
	(void)arg;
	gort_chan_recv(gate, NULL, NULL);
	gort_wg_done(&wg);
}

static void *opener_thread(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 500 * 1000 * 1000};
	while (nanosleep(&ts, &ts) != 0)
		;
	gort_chan_close(gate); /* a plain thread wakes the coroutines */
	return NULL;
}

static int real_main(void *arg)
{
	(void)arg;
	gort_wg_add(&wg, WAITERS);
	for (int i = 0; i < WAITERS; i++)
		gort_go_with(waiter, NULL, .name = "waiter");
	gort_wg_wait(&wg);
	printf("the plain thread opened the gate; %d waiters and main went on\n", WAITERS);
	return 0;
}

int main(void)
{
	gate = gort_chan_make(0, 0);
	pthread_t th;
	if (pthread_create(&th, NULL, opener_thread, NULL) != 0)
		return 1;
	int rc = gort_main_cfg(&(gort_config){.debug = "deadlock=report"}, real_main, NULL);
	pthread_join(th, NULL);
	gort_chan_release(gate);
	return rc;
}
