/* GORT_DEBUG leakcheck=1 (here in gort_config.debug): when main returns,
 * gort_main runs gort_leakcheck, prints what leaked (the grouped dump of
 * the leaked coroutines, with the line each is blocked at) and exits with
 * status 1 (goleak's VerifyTestMain, built in).  The leak: a worker that
 * ranges over a results channel its producer forgot to close.  `make test`
 * runs it and expects status 1 (the *_exit1 rule of run-examples);
 * test_examples.c checks the report. */
#include <gort.h>
#include <stdio.h>

static gort_chan *results;

static void consumer(void *arg)
{
	(void)arg;
	int r;
	bool ok;
	for (;;) {
		gort_chan_recv(results, &r, &ok); /* after the last result: forever */
		if (!ok)
			break;
		printf("consumer got %d\n", r);
	}
}

static int real_main(void *arg)
{
	(void)arg;
	results = gort_chan_make(sizeof(int), 0);
	gort_go_with(consumer, NULL, .name = "consumer");
	for (int i = 1; i <= 3; i++)
		gort_chan_send(results, &i);
	/* the bug: no gort_chan_close(results) */
	printf("main returns 0; the leak check turns that into exit status 1\n");
	fflush(stdout);
	return 0;
}

int main(void)
{
	return gort_main_cfg(&(gort_config){.debug = "leakcheck=1"}, real_main, NULL);
}
