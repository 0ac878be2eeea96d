/* The article's scenario 3, fixed: a fetch that obeys its context, then a
 * retry with exponential back-off under one.
 *
 * 1. The server (examples/http.h) answers "/?delay=2000" after 2 s.  The
 *    fetch makes a context with a 1 s timeout and passes it to every step
 *    of the request: gort_dial_tcp_ctx, gort_write_ctx, gort_read_ctx.
 *    At 1 s the read returns GORT_DEADLINE_EXCEEDED, the fetch closes its
 *    connection and returns.  The server's handler, which waits under a
 *    request context that the connection's end cancels (as Go's
 *    r.Context()), stops too: the leak check finds nothing of the request
 *    left (the server's accept loop aside).  Compare
 *    examples/http_fetch_broken.c.
 * 2. fetch_with_retry: one context (the budget) bounds every attempt and
 *    every back-off (100 ms, 200 ms, 400 ms, ...: gort_sleep_ctx, so the
 *    deadline cuts a back-off short).  A 503 or a failed connection is
 *    retried; a context error or any other status is final.  Real clients
 *    add jitter to the back-off; this one does not, to print the same
 *    thing every run.  Against a server that fails twice and then answers:
 *    success on the third attempt; against one that is down, with a
 *    500 ms budget: GORT_DEADLINE_EXCEEDED in the third back-off.
 * Built and run by `make test`, which checks what it prints. */
#include "http.h"

#include <signal.h>

#define TIMEOUT (1000 * MS)
#define FIRST_BACKOFF (100 * MS)
#define MAX_ATTEMPTS 8

/* A GET that gives up when ctx is done: every step takes ctx. */
static int fetch(gort_ctx *ctx, const char *addr, const char *target, struct http_response *r)
{
	return http_get(ctx, addr, target, r);
}

static int timeout_and_leakcheck(void)
{
	static struct http_server s;
	s.events = gort_chan_make(sizeof(struct http_event), 16);
	int err = http_server_start(&s, "127.0.0.1:0");
	if (err != 0) {
		fprintf(stderr, "listen: %s\n", gort_strerror(err));
		return 1;
	}
	printf("server on %s answers GET /?delay=2000 after 2.0 s\n", s.addr);
	printf("fetch with a 1 s timeout, passed to gort_dial_tcp_ctx, gort_write_ctx and "
	       "gort_read_ctx:\n");
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, TIMEOUT);
	struct http_response r;
	int64_t t0 = gort_now();
	err = fetch(ctx, s.addr, "/?delay=2000", &r);
	int64_t took = gort_now() - t0;
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	if (err != 0)
		printf("  -> %s after %.1f s\n", http_err_name(err), http_secs(took));
	else
		printf("  -> %d %s after %.1f s (too late)\n", r.status, r.reason, http_secs(took));

	/* Nothing of the request may be left half a second later: the
	 * handler and its watcher have returned (the accept loop runs on).
	 * Had the handler not noticed, it would be asleep until 2.0 s. */
	static const char *const accept_loop[] = {"http-accept", NULL};
	gort_leak_report rep = {0};
	int64_t leaks = gort_leakcheck(&(gort_leak_opts){
		.grace_ns = 500 * MS, .ignore_names = accept_loop, .report = &rep});

	/* What the server said about the abandoned request (waiting for its
	 * word at most 2 s). */
	struct http_event ev;
	gort_ctx *wait = gort_ctx_with_timeout(NULL, 2000 * MS);
	int got = gort_chan_recv_ctx(wait, s.events, &ev, NULL);
	gort_ctx_cancel(wait);
	gort_ctx_release(wait);
	printf("  %s\n", got == 0 ? ev.text : "server: said nothing within 2 s");
	printf("  leak check (the server's accept loop aside): %lld coroutines, %lld contexts left "
	       "behind\n",
	       (long long)rep.coroutines, (long long)rep.contexts);

	http_server_stop(&s);
	gort_chan_release(s.events);
	return err == GORT_DEADLINE_EXCEEDED && leaks == 0 ? 0 : 1;
}

struct retry_result {
	int err, attempts;
};

/* Fetch target until it answers 200 or ctx is done, backing off
 * 100 ms, 200 ms, 400 ms, ... between attempts. */
static struct retry_result fetch_with_retry(gort_ctx *ctx, const char *addr, const char *target)
{
	struct retry_result res = {0, 0};
	int64_t backoff = FIRST_BACKOFF;
	for (;;) {
		struct http_response r;
		res.attempts++;
		int err = fetch(ctx, addr, target, &r);
		if (err == 0 && r.status == 200) {
			printf("  attempt %d: %d %s \"%.*s\"\n", res.attempts, r.status, r.reason,
			       (int)strcspn(r.body, "\n"), r.body);
			return res;
		}
		bool retryable = (err == 0 && r.status == 503) ||
				 (err != 0 && err != GORT_CANCELED && err != GORT_DEADLINE_EXCEEDED);
		if (err == 0)
			printf("  attempt %d: %d %s", res.attempts, r.status, r.reason);
		else
			printf("  attempt %d: %s", res.attempts, http_err_name(err));
		if (!retryable || res.attempts == MAX_ATTEMPTS) {
			printf("; giving up\n");
			res.err = err != 0 ? err : -EPROTO;
			return res;
		}
		printf("; retrying in %lld ms\n", (long long)(backoff / MS));
		res.err = gort_sleep_ctx(ctx, backoff);
		if (res.err != 0)
			return res; /* the budget ran out during the back-off */
		backoff *= 2;
	}
}

static bool retry_run(const char *title, const char *addr, const char *target, int64_t budget,
		      int want_err, int want_attempts)
{
	printf("%s, %lld ms budget:\n", title, (long long)(budget / MS));
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, budget);
	int64_t t0 = gort_now();
	struct retry_result res = fetch_with_retry(ctx, addr, target);
	int64_t took = gort_now() - t0;
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	printf("  result: %s after %d attempt%s, %.1f s\n", http_err_name(res.err), res.attempts,
	       res.attempts == 1 ? "" : "s", http_secs(took));
	return res.err == want_err && res.attempts == want_attempts;
}

static int retry(void)
{
	static struct http_server s = {.fail_first = 2};
	int err = http_server_start(&s, "127.0.0.1:0");
	if (err != 0) {
		fprintf(stderr, "listen: %s\n", gort_strerror(err));
		return 1;
	}
	printf("retry with exponential back-off, one context for all attempts:\n");
	bool ok = retry_run("GET /flaky (503 the first 2 times)", s.addr, "/flaky", 2000 * MS, 0, 3);
	ok &= retry_run("GET /down (503 always)", s.addr, "/down", 500 * MS, GORT_DEADLINE_EXCEEDED,
			3);
	http_server_stop(&s);
	return ok ? 0 : 1;
}

static int real_main(void *arg)
{
	(void)arg;
	int bad = timeout_and_leakcheck();
	bad |= retry();
	/* a connection that has signalled the server's WaitGroup may not
	 * have returned yet */
	int64_t until = gort_now() + 1000 * MS;
	while (gort_num_coroutines() > 1 && gort_now() < until)
		gort_sleep(MS);
	printf("live coroutines: %lld\n", (long long)gort_num_coroutines());
	return bad || gort_num_coroutines() != 1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a write to a client that has gone: -EPIPE, not death */
	return gort_main(real_main, NULL);
}
