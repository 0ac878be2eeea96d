/* An echo server written with gort: one coroutine accepts, one coroutine
 * per connection reads and writes back what it read until the client
 * closes, each parked on the netpoller while it waits, so a few threads
 * serve every connection.  Without arguments the example starts it on
 * 127.0.0.1 (a free port), runs 8 clients at once, each doing 200 round
 * trips of 1 to 4096 bytes (sizes and bytes from a fixed seed) and
 * checking every echo byte for byte, stops the server and prints the
 * totals of both sides, which must agree.
 * With "serve PORT" it serves on 127.0.0.1:PORT until killed:
 *     nc 127.0.0.1 7007
 * Built and run by `make test`, which checks what it prints. */
#include <gort.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS (1000 * 1000LL)

enum { CLIENTS = 8, ROUNDS = 200, MAX_MSG = 4096 };

struct server {
	gort_ctx *ctx;   /* cancelled to stop accepting */
	gort_fd *lis;
	gort_wg running; /* the accept loop and every connection */
	atomic_long connections, bytes;
};

/* One connection: echo until end of file or an error. */
struct conn {
	struct server *srv;
	gort_fd *fd;
};

static void echo_conn(void *arg)
{
	struct conn *c = arg;
	char buf[MAX_MSG];
	ssize_t n;
	while ((n = gort_read(c->fd, buf, sizeof buf)) > 0) {
		if (gort_write(c->fd, buf, (size_t)n) < 0)
			break;
		atomic_fetch_add(&c->srv->bytes, n);
	}
	gort_fd_close(c->fd);
	gort_wg_done(&c->srv->running);
	free(c);
}

static void accept_loop(void *arg)
{
	struct server *s = arg;
	for (;;) {
		gort_fd *fd;
		int err = gort_accept_ctx(s->ctx, s->lis, &fd, NULL, NULL);
		if (err == GORT_CANCELED)
			break;
		if (err != 0) { /* -EMFILE and friends: back off a little */
			fprintf(stderr, "accept: %s\n", gort_strerror(err));
			gort_sleep_ctx(s->ctx, 10 * MS);
			continue;
		}
		struct conn *c = malloc(sizeof *c);
		if (c == NULL) {
			gort_fd_close(fd);
			continue;
		}
		*c = (struct conn){s, fd};
		atomic_fetch_add(&s->connections, 1);
		gort_wg_add(&s->running, 1);
		gort_go_with(echo_conn, c, .name = "echo-conn");
	}
	gort_fd_close(s->lis);
	gort_wg_done(&s->running);
}

static int server_start(struct server *s, const char *hostport)
{
	int err = gort_listen_tcp(hostport, 128, &s->lis);
	if (err != 0)
		return err;
	s->ctx = gort_ctx_with_cancel(NULL);
	if (s->ctx == NULL) {
		gort_fd_close(s->lis);
		return -ENOMEM;
	}
	gort_wg_add(&s->running, 1);
	gort_go_with(accept_loop, s, .name = "echo-accept");
	return 0;
}

/* Stop accepting and wait for the connections to end. */
static void server_stop(struct server *s)
{
	gort_ctx_cancel(s->ctx);
	gort_wg_wait(&s->running);
	gort_ctx_release(s->ctx);
}

/* A client: ROUNDS round trips on one connection. */
struct client {
	int id;
	const char *addr;
	gort_wg *done;
	long round_trips, bytes, bad; /* bad: echoes that differed or failed */
	int err;
};

static uint32_t next_rand(uint32_t *x) /* xorshift32 */
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void client_main(void *arg)
{
	struct client *cl = arg;
	gort_fd *fd;
	cl->err = gort_dial_tcp(cl->addr, &fd);
	if (cl->err != 0) {
		gort_wg_done(cl->done);
		return;
	}
	char out[MAX_MSG], in[MAX_MSG];
	uint32_t seed = 2463534242u + (uint32_t)cl->id;
	for (int i = 0; i < ROUNDS; i++) {
		size_t len = 1 + next_rand(&seed) % MAX_MSG;
		for (size_t k = 0; k < len; k++)
			out[k] = (char)next_rand(&seed);
		ssize_t w = gort_write(fd, out, len);
		size_t got = 0;
		while (w >= 0 && got < len) { /* the echo may come back in pieces */
			ssize_t n = gort_read(fd, in + got, len - got);
			if (n <= 0) {
				w = n == 0 ? -ECONNRESET : n;
				break;
			}
			got += (size_t)n;
		}
		if (w < 0) {
			cl->err = (int)w;
			cl->bad++;
			break;
		}
		if (memcmp(out, in, len) != 0)
			cl->bad++;
		cl->round_trips++;
		cl->bytes += (long)len;
	}
	gort_fd_close(fd);
	gort_wg_done(cl->done);
}

static int serve(const char *port)
{
	static struct server s;
	char hostport[64];
	snprintf(hostport, sizeof hostport, "127.0.0.1:%s", port);
	int err = server_start(&s, hostport);
	if (err != 0) {
		fprintf(stderr, "listen on %s: %s\n", hostport, gort_strerror(err));
		return 1;
	}
	printf("echo server on %s until killed; try: nc 127.0.0.1 %d\n", hostport,
	       gort_fd_port(s.lis));
	fflush(stdout);
	gort_wg_wait(&s.running); /* forever */
	return 0;
}

static int real_main(void *arg)
{
	char **argv = arg;
	if (argv[1] != NULL)
		return serve(argv[2]);

	static struct server s;
	int err = server_start(&s, "127.0.0.1:0");
	if (err != 0) {
		fprintf(stderr, "listen: %s\n", gort_strerror(err));
		return 1;
	}
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", gort_fd_port(s.lis));
	printf("echo server on %s, one coroutine per connection\n", addr);

	static struct client cl[CLIENTS];
	gort_wg done = GORT_WG_INIT;
	int64_t t0 = gort_now();
	gort_wg_add(&done, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i] = (struct client){.id = i, .addr = addr, .done = &done};
		gort_go_with(client_main, &cl[i], .name = "echo-client");
	}
	gort_wg_wait(&done);
	int64_t took = gort_now() - t0;
	long trips = 0, bytes = 0, bad = 0;
	int failed = 0;
	for (int i = 0; i < CLIENTS; i++) {
		trips += cl[i].round_trips;
		bytes += cl[i].bytes;
		bad += cl[i].bad;
		if (cl[i].err != 0) {
			failed++;
			fprintf(stderr, "client %d: %s\n", i, gort_strerror(cl[i].err));
		}
	}
	server_stop(&s);
	printf("clients: %d x %d round trips of 1..%d bytes at once: %ld round trips, %ld bytes "
	       "each way; every echo intact: %s\n",
	       CLIENTS, ROUNDS, MAX_MSG, trips, bytes, bad == 0 && failed == 0 ? "yes" : "no");
	printf("server: %ld connections served, %ld bytes echoed; the two sides agree: %s\n",
	       atomic_load(&s.connections), atomic_load(&s.bytes),
	       atomic_load(&s.bytes) == bytes && atomic_load(&s.connections) == CLIENTS ? "yes"
										 : "no");
	printf("(%.0f round trips a second)\n", (double)trips / ((double)took / 1e9));
	/* a connection that has signalled the WaitGroup may not have returned yet */
	int64_t until = gort_now() + 1000 * MS;
	while (gort_num_coroutines() > 1 && gort_now() < until)
		gort_sleep(MS);
	printf("server stopped; live coroutines: %lld\n", (long long)gort_num_coroutines());
	bool ok = bad == 0 && failed == 0 && trips == (long)CLIENTS * ROUNDS &&
		  atomic_load(&s.bytes) == bytes && gort_num_coroutines() == 1;
	return ok ? 0 : 1;
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
