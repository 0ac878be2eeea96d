/* Embedding gort in a program that has its own threads: start the runtime
 * from a plain thread, spawn from several plain threads, wait on a
 * WaitGroup from a plain thread, stop, and start again.  Built and run by
 * `make test`; `make valgrind` checks that nothing leaks. */
#include <gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

enum { THREADS = 4, PER_THREAD = 1000 };

static gort_wg wg;
static atomic_long sum;

static void work(void *arg)
{
	atomic_fetch_add(&sum, (long)(intptr_t)arg);
	gort_yield(); /* may resume on another M */
	gort_wg_done(&wg);
}

static void *producer(void *arg)
{
	long base = (long)(intptr_t)arg * PER_THREAD;
	for (long i = 0; i < PER_THREAD; i++)
		if (gort_go_with(work, (void *)(intptr_t)(base + i + 1), .name = "work") < 0)
			return (void *)1;
	return NULL;
}

static int run_once(int procs)
{
	int rc = gort_start(&(gort_config){.procs = procs});
	if (rc < 0) {
		fprintf(stderr, "gort_start: %s\n", gort_strerror(rc));
		return 1;
	}
	atomic_store(&sum, 0);
	gort_wg_add(&wg, THREADS * PER_THREAD);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, producer, (void *)(intptr_t)i);
	int failed = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed |= r != NULL;
	}
	gort_wg_wait(&wg); /* a plain thread blocks until every coroutine is done */
	long n = THREADS * PER_THREAD, want = n * (n + 1) / 2;
	printf("procs=%d: %ld coroutines from %d threads, sum %ld (want %ld)\n", procs, n, THREADS,
	       atomic_load(&sum), want);
	gort_stop();
	return failed || atomic_load(&sum) != want;
}

int main(void)
{
	return run_once(2) || run_once(1) ? 1 : 0;
}
