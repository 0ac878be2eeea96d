/* The article's worker pool, broken: the producer never closes the jobs
 * channel, so after the last job every worker blocks in its receive
 * forever — a coroutine leak.  main collects its results (it knows how many
 * to expect) and shows the leak: the workers are still alive, blocked.
 * (The leak checker of the observability issue will name them.)  The fix
 * is examples/workerpool_fixed.c.  Built and run by `make test`. */
#include <gort.h>
#include <stdio.h>

enum { WORKERS = 4, JOBS = 100 };

static gort_chan *jobs, *results;

static void worker(void *arg)
{
	(void)arg;
	int job;
	bool ok;
	for (;;) {
		gort_chan_recv(jobs, &job, &ok); /* blocks forever after the last job */
		if (!ok)
			break;
		long r = (long)job * 2;
		gort_chan_send(results, &r);
	}
}

static int real_main(void *arg)
{
	(void)arg;
	jobs = gort_chan_make(sizeof(int), 0);
	results = gort_chan_make(sizeof(long), JOBS);
	for (int i = 0; i < WORKERS; i++)
		gort_go_with(worker, NULL, .name = "worker");
	for (int j = 1; j <= JOBS; j++)
		gort_chan_send(jobs, &j);
	/* the bug: no gort_chan_close(jobs) */
	long sum = 0, r;
	for (int j = 0; j < JOBS; j++) {
		gort_chan_recv(results, &r, NULL);
		sum += r;
	}
	gort_sleep(10 * 1000 * 1000); /* let the workers reach their receive */
	long long live = gort_num_coroutines() - 1; /* minus main */
	printf("sum %ld; leaked: %lld worker coroutines still blocked receiving on jobs\n", sum,
	       live);
	/* gort_main discards them when main returns, as Go does; a long-running
	 * server would keep them forever. */
	return live == WORKERS ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
