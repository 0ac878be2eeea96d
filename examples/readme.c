/* The README's example: a request with a timeout.  Built and run by
 * `make test`, and the C program of the consumer tests (test/consumers). */
#include <gort.h>
#include <stdio.h>

static void fetch(void *arg) /* a slow request: 50 ms */
{
	gort_chan *reply = arg;
	int answer = 42;
	gort_sleep(50 * GORT_MS);
	gort_chan_send(reply, &answer); /* 1 slot: never blocks, never leaks */
	gort_chan_release(reply);
}

static int real_main(void *arg)
{
	gort_ctx *ctx = gort_ctx_with_timeout(gort_ctx_background(), 10 * GORT_MS);
	gort_chan *reply = gort_chan_make(sizeof(int), 1);
	int answer;

	gort_go(fetch, gort_chan_retain(reply));
	gort_case cases[] = {{.chan = reply, .dir = GORT_RECV, .elem = &answer},
			     {.chan = gort_ctx_done(ctx), .dir = GORT_RECV}};
	if (gort_select(cases, 2, false) == 0)
		printf("answer: %d\n", answer);
	else
		printf("gave up: %s\n", gort_strerror(gort_ctx_err(ctx)));
	gort_ctx_cancel(ctx); /* Go's defer cancel() */
	gort_ctx_release(ctx);
	gort_chan_release(reply);
	return arg != NULL;
}

int main(void) { return gort_main(real_main, NULL); }
