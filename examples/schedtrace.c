/* The scheduler trace (Go's GODEBUG=schedtrace=X,scheddetail=1): every
 * 50 ms a "SCHED" line on stderr (Ps, idle Ps, threads, spinning threads,
 * the global queue, each P's queue), then a line per P and per M, while
 * ping-pong pairs and sleepers keep the scheduler busy for about 300 ms.
 * The example sets the option in gort_config.debug; GORT_DEBUG=schedtrace=50
 * does the same for any program.  `make test` runs it; test_examples.c
 * checks the trace. */
#include <gort.h>
#include <stdio.h>

enum { PAIRS = 4, ROUNDS_MS = 300 };
#define MS (1000 * 1000LL)

static gort_wg wg;

struct pair {
	gort_chan *ping, *pong;
	int64_t until;
};

static void pinger(void *arg)
{
	struct pair *p = arg;
	int v = 0;
	while (gort_now() < p->until) {
		gort_chan_send(p->ping, &v);
		gort_chan_recv(p->pong, &v, NULL);
		v++;
		if (v % 1000 == 0)
			gort_sleep(1 * MS);
	}
	v = -1;
	gort_chan_send(p->ping, &v);
	gort_wg_done(&wg);
}

static void ponger(void *arg)
{
	struct pair *p = arg;
	int v;
	for (;;) {
		gort_chan_recv(p->ping, &v, NULL);
		if (v < 0)
			break;
		gort_chan_send(p->pong, &v);
	}
	gort_wg_done(&wg);
}

static int real_main(void *arg)
{
	(void)arg;
	static struct pair pairs[PAIRS];
	int64_t until = gort_now() + ROUNDS_MS * MS;
	gort_wg_add(&wg, 2 * PAIRS);
	for (int i = 0; i < PAIRS; i++) {
		pairs[i].ping = gort_chan_make(sizeof(int), 0);
		pairs[i].pong = gort_chan_make(sizeof(int), 0);
		pairs[i].until = until;
		gort_go_with(pinger, &pairs[i], .name = "ping");
		gort_go_with(ponger, &pairs[i], .name = "pong");
	}
	gort_wg_wait(&wg);
	for (int i = 0; i < PAIRS; i++) {
		gort_chan_release(pairs[i].ping);
		gort_chan_release(pairs[i].pong);
	}
	printf("procs=%d: %d ping-pong pairs ran for %d ms under the trace\n", gort_procs(), PAIRS,
	       ROUNDS_MS);
	return 0;
}

int main(void)
{
	return gort_main_cfg(&(gort_config){.debug = "schedtrace=50,scheddetail=1"}, real_main, NULL);
}
