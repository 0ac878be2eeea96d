/* The README's first example: ten named workers and a WaitGroup.
 * Built and run by `make test`. */
#include <gort.h>
#include <stdio.h>

static gort_wg wg; /* all zeroes: an empty WaitGroup */

static void worker(void *arg)
{
	(void)arg;
	printf("hello from coroutine %lld\n", (long long)gort_self());
	gort_wg_done(&wg);
}

static int real_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		gort_wg_add(&wg, 1);
		gort_go_with(worker, NULL, .name = "worker");
	}
	gort_wg_wait(&wg);
	return 0;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
