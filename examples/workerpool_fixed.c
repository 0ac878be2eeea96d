/* The article's worker pool, fixed: the producer closes the jobs channel
 * when it has sent everything, so each worker's receive loop ends (ok ==
 * false); a WaitGroup tells a closer when every worker is done, and the
 * closer closes the results channel, which ends main's loop.  No coroutine
 * is left behind.  Built and run
 * by `make test`; it prints the sum of the results and exits 0. */
#include <gort.h>
#include <stdio.h>

enum { WORKERS = 4, JOBS = 1000 };

static gort_chan *jobs;    /* int */
static gort_chan *results; /* long */
static gort_wg workers;

static void worker(void *arg)
{
	(void)arg;
	int job;
	bool ok;
	for (;;) {
		gort_chan_recv(jobs, &job, &ok);
		if (!ok)
			break; /* closed and drained: no more work */
		long r = (long)job * job;
		gort_chan_send(results, &r);
	}
	gort_wg_done(&workers);
}

static void producer(void *arg)
{
	(void)arg;
	for (int j = 1; j <= JOBS; j++)
		gort_chan_send(jobs, &j);
	gort_chan_close(jobs); /* the fix: without it the workers wait forever */
}

static void closer(void *arg)
{
	(void)arg;
	gort_wg_wait(&workers);
	gort_chan_close(results); /* every worker is done: no more results */
}

static int real_main(void *arg)
{
	(void)arg;
	jobs = gort_chan_make(sizeof(int), 16);
	results = gort_chan_make(sizeof(long), 16);
	gort_wg_add(&workers, WORKERS);
	for (int i = 0; i < WORKERS; i++)
		gort_go_with(worker, NULL, .name = "worker");
	gort_go_with(closer, NULL, .name = "closer");
	gort_go_with(producer, NULL, .name = "producer");
	long sum = 0, r;
	bool ok;
	for (;;) {
		gort_chan_recv(results, &r, &ok);
		if (!ok)
			break;
		sum += r;
	}
	printf("sum of squares 1..%d = %ld (want %ld); live coroutines: %lld\n", JOBS, sum,
	       (long)JOBS * (JOBS + 1) * (2 * JOBS + 1) / 6, (long long)gort_num_coroutines());
	gort_chan_release(jobs);
	gort_chan_release(results);
	return sum == (long)JOBS * (JOBS + 1) * (2 * JOBS + 1) / 6 ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
