/* The article's context scenario: a fetch bounded by a timeout.  Until gort
 * has real I/O, "fetching" asks a server coroutine, which takes its time
 * (it sleeps) and answers on a channel.  The caller gives each fetch a
 * context with a 50 ms timeout (Go's context.WithTimeout) and waits for
 * the answer or the context's end, whichever comes first
 * (gort_chan_recv_ctx).  Against a slow server (2 s) the fetch gives up
 * at the deadline with GORT_DEADLINE_EXCEEDED, and the server, which got
 * the same context with the request, stops working on it as an HTTP server
 * does when its client hangs up; against a fast server (5 ms) the fetch
 * succeeds.  Nothing is left running.  Built and run by `make test`, which
 * checks what it prints. */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>

#define MS (1000 * 1000LL)
#define TIMEOUT (50 * MS)

enum { BODY = 64 };

/* What a server did with its request, printed once it is done. */
struct request {
	gort_ctx *ctx; /* the caller's context, retained for the server */
	const char *url;
	int64_t latency;  /* how long the server takes to answer */
	gort_chan *reply; /* char[BODY], buffered: the server never waits on it */
	int outcome;      /* 0: answered, else the context's error */
};

static gort_wg servers;

static const char *err_name(int err)
{
	switch (err) {
	case GORT_CANCELED:
		return "GORT_CANCELED (context canceled)";
	case GORT_DEADLINE_EXCEEDED:
		return "GORT_DEADLINE_EXCEEDED (context deadline exceeded)";
	default:
		return gort_strerror(err);
	}
}

/* The "server": works on the request for its latency, unless the
 * request's context ends first, then answers. */
static void server(void *arg)
{
	struct request *rq = arg;
	rq->outcome = gort_sleep_ctx(rq->ctx, rq->latency);
	if (rq->outcome == 0) {
		char body[BODY];
		snprintf(body, sizeof body, "200 OK \"hello from %s\"", rq->url);
		gort_chan_send(rq->reply, body); /* room for one: never blocks */
	}
	gort_ctx_release(rq->ctx);
	gort_wg_done(&servers);
}

/* Fetch url: hand the request to a server, wait for its answer or for
 * ctx to end.  0 with the body, or the context's error. */
static int fetch(gort_ctx *ctx, struct request *rq, char *body)
{
	rq->ctx = gort_ctx_retain(ctx);
	rq->reply = gort_chan_make(BODY, 1);
	gort_wg_add(&servers, 1);
	gort_go_with(server, rq, .name = "server");
	return gort_chan_recv_ctx(ctx, rq->reply, body, NULL);
}

static int fetch_with_timeout(struct request *rq)
{
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, TIMEOUT);
	if (ctx == NULL)
		return -ENOMEM;
	char body[BODY];
	int64_t t0 = gort_now();
	int err = fetch(ctx, rq, body);
	int64_t took = gort_now() - t0;
	gort_ctx_cancel(ctx); /* always, as Go's defer cancel() */
	gort_ctx_release(ctx);
	printf("fetch %s (server takes %lld ms, timeout %lld ms): %s\n", rq->url,
	       (long long)(rq->latency / MS), (long long)(TIMEOUT / MS), err ? err_name(err) : body);
	if (err == GORT_DEADLINE_EXCEEDED)
		printf("  gave up at the deadline, before the server would have answered: %s\n",
		       took >= TIMEOUT && took < rq->latency ? "yes" : "no");
	return err;
}

static int real_main(void *arg)
{
	(void)arg;
	struct request slow = {.url = "/slow", .latency = 2000 * MS};
	struct request fast = {.url = "/fast", .latency = 5 * MS};
	int e1 = fetch_with_timeout(&slow);
	int e2 = fetch_with_timeout(&fast);

	gort_wg_wait(&servers);
	struct request *all[] = {&slow, &fast};
	for (int i = 0; i < 2; i++) {
		if (all[i]->outcome == 0)
			printf("server %s: answered\n", all[i]->url);
		else
			printf("server %s: stopped working on it: %s\n", all[i]->url,
			       err_name(all[i]->outcome));
		gort_chan_release(all[i]->reply);
	}
	/* a server that has signalled the WaitGroup may not have returned yet */
	int64_t until = gort_now() + 1000 * MS;
	while (gort_num_coroutines() > 1 && gort_now() < until)
		gort_sleep(MS);
	printf("live coroutines: %lld\n", (long long)gort_num_coroutines());
	return e1 == GORT_DEADLINE_EXCEEDED && e2 == 0 ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
