/* The article's scenario 3 needs a server that can be slow: this is one, a
 * small HTTP/1.1 server written with gort (examples/http.h: one coroutine
 * per connection, parked on the netpoller while it waits), which answers
 * "/?delay=MS" after MS milliseconds.  Without arguments the example
 * starts it on 127.0.0.1 (a free port), fetches from it and stops it:
 *   - "/?delay=200" and "/" at once: the fast answer does not wait for the
 *     slow one, each connection having its own coroutine;
 *   - "/nope" (404) and a malformed request (400);
 * then prints the server's own line about each request.
 * With "serve PORT" it serves on 127.0.0.1:PORT until killed, printing a
 * line per request, for trying it by hand:
 *     curl -i 'http://127.0.0.1:8080/?delay=1500'
 * Built and run by `make test`, which checks what it prints. */
#include "http.h"

#include <signal.h>

struct fetch {
	const char *addr, *target;
	struct http_response r;
	int err;
	int64_t start, end;
	gort_wg *done;
};

static void fetch_main(void *arg)
{
	struct fetch *f = arg;
	f->start = gort_now();
	f->err = http_get(NULL, f->addr, f->target, &f->r);
	f->end = gort_now();
	gort_wg_done(f->done);
}

static void show(const char *what, int err, const struct http_response *r, int64_t took)
{
	if (err != 0) {
		printf("  %s -> %s after %.1f s\n", what, http_err_name(err), http_secs(took));
		return;
	}
	int blen = (int)strcspn(r->body, "\n"); /* the body is one line */
	printf("  %s -> %d %s, %zu bytes after %.1f s: \"%.*s\"\n", what, r->status, r->reason,
	       r->length, http_secs(took), blen, r->body);
}

static int serve(const char *port)
{
	static struct http_server s = {.log = true};
	char hostport[64];
	snprintf(hostport, sizeof hostport, "127.0.0.1:%s", port);
	int err = http_server_start(&s, hostport);
	if (err != 0) {
		fprintf(stderr, "listen on %s: %s\n", hostport, gort_strerror(err));
		return 1;
	}
	printf("serving on http://%s/ until killed; try: curl -i 'http://%s/?delay=1500'\n", s.addr,
	       s.addr);
	fflush(stdout);
	gort_wg_wait(&s.running); /* forever */
	return 0;
}

static int real_main(void *arg)
{
	char **argv = arg;
	if (argv[1] != NULL)
		return serve(argv[2]);

	static struct http_server s;
	s.events = gort_chan_make(sizeof(struct http_event), 16);
	int err = http_server_start(&s, "127.0.0.1:0");
	if (err != 0) {
		fprintf(stderr, "listen: %s\n", gort_strerror(err));
		return 1;
	}
	printf("server: listening on %s (one coroutine per connection)\n", s.addr);

	printf("two requests at once, the slow one first:\n");
	gort_wg done = GORT_WG_INIT;
	struct fetch slow = {.addr = s.addr, .target = "/?delay=200", .done = &done};
	struct fetch fast = {.addr = s.addr, .target = "/", .done = &done};
	gort_wg_add(&done, 2);
	gort_go_with(fetch_main, &slow, .name = "fetch-slow");
	gort_go_with(fetch_main, &fast, .name = "fetch-fast");
	gort_wg_wait(&done);
	show("GET /?delay=200", slow.err, &slow.r, slow.end - slow.start);
	show("GET /          ", fast.err, &fast.r, fast.end - fast.start);
	bool fast_first = slow.err == 0 && fast.err == 0 && fast.end < slow.end;
	printf("  the fast answer came before the slow one: %s\n", fast_first ? "yes" : "no");

	printf("one at a time:\n");
	struct http_response r;
	int64_t t0 = gort_now();
	int e404 = http_get(NULL, s.addr, "/nope", &r);
	show("GET /nope", e404, &r, gort_now() - t0);
	bool ok404 = e404 == 0 && r.status == 404;
	t0 = gort_now();
	int e400 = http_roundtrip(NULL, s.addr, "GET nowhere\r\n\r\n", &r);
	show("\"GET nowhere\" (no version, no '/')", e400, &r, gort_now() - t0);
	bool ok400 = e400 == 0 && r.status == 400;

	http_server_stop(&s);
	printf("server log:\n");
	struct http_event ev;
	gort_case recv = {.chan = s.events, .dir = GORT_RECV, .elem = &ev};
	while (gort_select(&recv, 1, true) == 0)
		printf("  %s\n", ev.text);
	gort_chan_release(s.events);
	/* a connection that has signalled the server's WaitGroup may not
	 * have returned yet */
	int64_t until = gort_now() + 1000 * MS;
	while (gort_num_coroutines() > 1 && gort_now() < until)
		gort_sleep(MS);
	printf("server stopped; live coroutines: %lld\n", (long long)gort_num_coroutines());
	return fast_first && ok404 && ok400 && gort_num_coroutines() == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc != 1 && !(argc == 3 && strcmp(argv[1], "serve") == 0)) {
		fprintf(stderr, "usage: %s [serve PORT]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a write to a client that has gone: -EPIPE, not death */
	return gort_main(real_main, argv);
}
