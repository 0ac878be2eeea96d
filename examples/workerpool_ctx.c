/* The article's worker pool (examples/workerpool_fixed.c) with a context
 * for a graceful exit, instead of closing the jobs channel: a producer
 * feeds an endless stream of jobs; each worker waits in a select on the
 * jobs channel and the context's done channel, Go's
 *     select { case <-ctx.Done(): return; case job := <-jobs: ... }
 * and hands its result over with gort_chan_send_ctx, so that it stops
 * wherever it is blocked.  main collects 100 results, then cancels the
 * context: the four workers and the producer see it and return, a
 * WaitGroup tells main they are all gone, and no channel needed closing.
 * Built and run by `make test`, which checks what it prints. */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>

#define MS (1000 * 1000LL)

enum { WORKERS = 4, WANT = 100 };

static gort_chan *jobs;    /* int */
static gort_chan *results; /* long */
static gort_wg running;
static atomic_int workers_cancelled; /* workers that returned because of the cancel */
static int producer_err;
static atomic_long jobs_done;

static void worker(void *arg)
{
	gort_ctx *ctx = arg;
	int err = 0;
	while (err == 0) {
		int job;
		gort_case cs[2] = {
			{.chan = gort_ctx_done(ctx), .dir = GORT_RECV},
			{.chan = jobs, .dir = GORT_RECV, .elem = &job},
		};
		if (gort_select(cs, 2, false) == 0) {
			err = gort_ctx_err(ctx); /* <-ctx.Done() */
			break;
		}
		long r = (long)job * job;
		err = gort_chan_send_ctx(ctx, results, &r); /* the same select, shorter */
		if (err == 0)
			atomic_fetch_add(&jobs_done, 1);
	}
	if (err == GORT_CANCELED)
		atomic_fetch_add(&workers_cancelled, 1);
	gort_wg_done(&running);
}

static void producer(void *arg)
{
	gort_ctx *ctx = arg;
	int err = 0;
	for (int j = 1; err == 0; j++)
		err = gort_chan_send_ctx(ctx, jobs, &j); /* endless, until the cancel */
	producer_err = err;
	gort_wg_done(&running);
}

static bool is_square(long r)
{
	for (long j = 1; j * j <= r; j++)
		if (j * j == r)
			return true;
	return false;
}

static int real_main(void *arg)
{
	(void)arg;
	gort_ctx *ctx = gort_ctx_with_cancel(NULL);
	jobs = gort_chan_make(sizeof(int), 16);
	results = gort_chan_make(sizeof(long), 16);
	gort_wg_add(&running, WORKERS + 1);
	for (int i = 0; i < WORKERS; i++)
		gort_go_with(worker, ctx, .name = "worker");
	gort_go_with(producer, ctx, .name = "producer");

	int got = 0, squares = 0;
	while (got < WANT) {
		long r;
		gort_chan_recv(results, &r, NULL);
		got++;
		squares += is_square(r);
	}
	gort_ctx_cancel(ctx); /* enough: everybody stops */
	gort_wg_wait(&running);
	/* a coroutine that has signalled the WaitGroup may not have returned yet */
	int64_t until = gort_now() + 1000 * MS;
	while (gort_num_coroutines() > 1 && gort_now() < until)
		gort_sleep(MS);

	int stopped = atomic_load(&workers_cancelled);
	long done = atomic_load(&jobs_done);
	int64_t live = gort_num_coroutines();
	printf("collected %d results, all squares of jobs: %s\n", got, squares == got ? "yes" : "no");
	printf("after the cancel: %d of %d workers stopped with GORT_CANCELED; the producer with %s\n",
	       stopped, WORKERS, producer_err == GORT_CANCELED ? "GORT_CANCELED" : gort_strerror(producer_err));
	printf("results the workers handed over: at least %d: %s\n", WANT, done >= WANT ? "yes" : "no");
	printf("live coroutines: %lld\n", (long long)live);
	gort_ctx_release(ctx);
	gort_chan_release(jobs);
	gort_chan_release(results);
	return squares == got && stopped == WORKERS && producer_err == GORT_CANCELED && live == 1 ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
