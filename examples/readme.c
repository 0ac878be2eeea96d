/* The README's example: a request with a timeout.  Built and run by
 * `make test`, and the C program of the consumer tests (test/consumers). */
#include <gort.h>
#include <stdio.h>

struct request {
	gort_ctx *ctx;
	gort_chan *reply;
	gort_wg done;
};

static void fetch(void *arg) /* a slow request: 50 ms, unless cancelled */
{
	struct request *r = arg;
	int answer = 42;
	if (gort_sleep_ctx(r->ctx, 50 * GORT_MS) == 0)
		gort_chan_send(r->reply, &answer); /* 1 slot: never blocks */
	gort_wg_done(&r->done);
}

static int real_main(void *arg)
{
	struct request r = {.ctx = gort_ctx_with_timeout(gort_ctx_background(), 10 * GORT_MS),
			    .reply = gort_chan_make(sizeof(int), 1)};
	int answer;

	gort_wg_add(&r.done, 1);
	gort_go(fetch, &r);
	gort_case cases[] = {{.chan = r.reply, .dir = GORT_RECV, .elem = &answer},
			     {.chan = gort_ctx_done(r.ctx), .dir = GORT_RECV}};
	if (gort_select(cases, 2, false) == 0)
		printf("answer: %d\n", answer);
	else
		printf("gave up: %s\n", gort_strerror(gort_ctx_err(r.ctx)));
	gort_ctx_cancel(r.ctx); /* Go's defer cancel(): fetch stops too */
	gort_wg_wait(&r.done);  /* nothing is left running */
	gort_ctx_release(r.ctx);
	gort_chan_release(r.reply);
	return arg != NULL;
}

int main(void) { return gort_main(real_main, NULL); }
