/* Retry with exponential back-off, bounded by a context.  fetch_retry calls
 * fetch (a server coroutine that answers on a channel, as in ctx_timeout.c:
 * gort has no real I/O yet) until it succeeds, waiting 10 ms, 20 ms,
 * 40 ms, ... between attempts with gort_sleep_ctx, so that a cancel or a
 * deadline ends the back-off at once rather than when the sleep would
 * have.  Three runs:
 *   - a flaky server that recovers on the 3rd attempt: success;
 *   - a server that is down, whose caller gives up after the 3rd failed
 *     attempt and cancels the context: GORT_CANCELED, in the middle of
 *     the 40 ms back-off;
 *   - a server that is down, with a 110 ms budget (a deadline): attempts
 *     at 0, 10, 30 and 70 ms, then GORT_DEADLINE_EXCEEDED at 110 ms, in
 *     the middle of the 80 ms back-off.
 * Built and run by `make test`, which checks what it prints. */
#include <gort.h>
#include <stdio.h>
#include <stdlib.h>

#define MS (1000 * 1000LL)
#define FIRST_BACKOFF (10 * MS)
#define MAX_ATTEMPTS 10

struct service {
	const char *name;
	int failures; /* the first this many requests fail; -1: all do */
	int calls;
};

struct call {
	struct service *svc;
	gort_chan *reply; /* int status, buffered: the server never waits */
};

static void server(void *arg)
{
	struct call *c = arg;
	int n = ++c->svc->calls;
	int status = c->svc->failures < 0 || n <= c->svc->failures ? 503 : 200;
	gort_chan_send(c->reply, &status);
	gort_chan_release(c->reply);
	free(c);
}

/* One attempt: the HTTP-style status, or the context's error. */
static int fetch(gort_ctx *ctx, struct service *svc, int *status)
{
	struct call *c = malloc(sizeof *c);
	gort_chan *reply = gort_chan_make(sizeof(int), 1);
	if (c == NULL || reply == NULL) {
		free(c);
		gort_chan_release(reply);
		return -ENOMEM;
	}
	*c = (struct call){svc, gort_chan_retain(reply)}; /* the server's reference */
	gort_go_with(server, c, .name = "server");
	int err = gort_chan_recv_ctx(ctx, reply, status, NULL);
	gort_chan_release(reply);
	return err;
}

static const char *err_name(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case GORT_CANCELED:
		return "GORT_CANCELED (context canceled)";
	case GORT_DEADLINE_EXCEEDED:
		return "GORT_DEADLINE_EXCEEDED (context deadline exceeded)";
	default:
		return gort_strerror(err);
	}
}

struct retry_result {
	int err, attempts;
	bool cut_short; /* the last back-off ended before its time */
};

/* Retry until success, the context's end, or MAX_ATTEMPTS.  After each
 * failed attempt, its number goes to failures (if not NULL) before the
 * back-off: whoever watches may give up. */
static struct retry_result fetch_retry(gort_ctx *ctx, struct service *svc, gort_chan *failures)
{
	struct retry_result r = {0, 0, false};
	int64_t backoff = FIRST_BACKOFF;
	for (;;) {
		int status = 0;
		r.attempts++;
		r.err = fetch(ctx, svc, &status);
		if (r.err != 0) {
			printf("  attempt %d: %s\n", r.attempts, err_name(r.err));
			return r;
		}
		if (status == 200) {
			printf("  attempt %d: 200 OK\n", r.attempts);
			return r;
		}
		if (r.attempts == MAX_ATTEMPTS) {
			printf("  attempt %d: %d; no attempts left\n", r.attempts, status);
			r.err = -EAGAIN;
			return r;
		}
		printf("  attempt %d: %d Service Unavailable; retrying in %lld ms\n", r.attempts, status,
		       (long long)(backoff / MS));
		if (failures != NULL)
			gort_chan_send(failures, &r.attempts);
		int64_t t0 = gort_now();
		r.err = gort_sleep_ctx(ctx, backoff);
		if (r.err != 0) {
			r.cut_short = gort_now() - t0 < backoff;
			return r;
		}
		backoff *= 2;
	}
}

static void report(struct retry_result r)
{
	printf("  result: %s after %d attempt%s", err_name(r.err), r.attempts, r.attempts == 1 ? "" : "s");
	if (r.err == GORT_CANCELED || r.err == GORT_DEADLINE_EXCEEDED)
		printf("; the back-off was cut short: %s", r.cut_short ? "yes" : "no");
	printf("\n");
}

/* The second run's client, in a coroutine of its own so that its caller
 * can watch it and give up. */
struct client {
	gort_ctx *ctx;
	struct service *svc;
	gort_chan *failures;
	struct retry_result r;
	gort_wg done;
};

static void client(void *arg)
{
	struct client *c = arg;
	c->r = fetch_retry(c->ctx, c->svc, c->failures);
	gort_wg_done(&c->done);
}

static int real_main(void *arg)
{
	(void)arg;
	int bad = 0;

	printf("flaky server (fails twice), 1 s budget:\n");
	struct service flaky = {"flaky", 2, 0};
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, 1000 * MS);
	struct retry_result r = fetch_retry(ctx, &flaky, NULL);
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	report(r);
	bad |= r.err != 0 || r.attempts != 3;

	printf("server down, the caller gives up after 3 failed attempts:\n");
	struct service down = {"down", -1, 0};
	struct client c = {.ctx = gort_ctx_with_cancel(NULL), .svc = &down,
			   .failures = gort_chan_make(sizeof(int), MAX_ATTEMPTS)};
	gort_wg_add(&c.done, 1);
	gort_go_with(client, &c, .name = "client");
	int n = 0;
	while (n < 3)
		gort_chan_recv(c.failures, &n, NULL);
	gort_ctx_cancel(c.ctx); /* the user pressed "stop" */
	gort_wg_wait(&c.done);
	gort_ctx_release(c.ctx);
	gort_chan_release(c.failures);
	report(c.r);
	bad |= c.r.err != GORT_CANCELED || c.r.attempts != 3;

	printf("server down, 110 ms budget:\n");
	struct service down2 = {"down", -1, 0};
	ctx = gort_ctx_with_timeout(NULL, 110 * MS);
	r = fetch_retry(ctx, &down2, NULL);
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	report(r);
	bad |= r.err != GORT_DEADLINE_EXCEEDED;
	return bad;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
