/* The article's scenario 3, broken: a timeout that nothing obeys.  The
 * server (examples/http.h) answers "/?delay=2000" after 2 s; each fetch is
 * meant to give up after 1 s, and neither does, for the two classic
 * reasons:
 *   1. the context is made and never passed down: Go's
 *          ctx, cancel := context.WithTimeout(ctx, time.Second)
 *          defer cancel()
 *          resp, err := http.Get(url) // ctx goes nowhere
 *      here http_get(NULL, ...), whose reads have no deadline;
 *   2. the context is passed down, but the I/O is a C library's blocking
 *      read(2) on a plain socket, which a context cannot reach.  The
 *      library is otherwise well-behaved: its blocking calls are marked
 *      with gort_syscall_enter/exit, so the P goes to other coroutines
 *      (the server among them) while the thread sits in the kernel.  It
 *      looks at the context once, on the way in, as such wrappers often do.
 * Both run at once and come back after the server's 2 s with its answer:
 * the deadline passed at 1 s and nobody noticed.  The fix is
 * examples/http_fetch_fixed.c (for a library that must block: give its
 * socket SO_RCVTIMEO from the context's deadline, or run it on gort_fd).
 * Built and run by `make test`, which checks what it prints. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT (1000 * MS)
#define TARGET "/?delay=2000"

/* Broken 1: the timeout never reaches the I/O. */
static int fetch_ctx_dropped(gort_ctx *ctx, const struct http_server *s, struct http_response *r)
{
	(void)ctx; /* made by the caller, with care, and dropped here */
	return http_get(NULL, s->addr, TARGET, r);
}

/* Broken 2: a blocking GET, as a C library without gort would do it. */
static int fetch_blocking(gort_ctx *ctx, const struct http_server *s, struct http_response *r)
{
	int err = gort_ctx_err(ctx); /* the context, looked at once */
	if (err != 0)
		return err;
	char req[256], buf[4096];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			 TARGET, s->addr);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)s->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	size_t len = 0;
	gort_syscall_enter();
	/* errno is read before gort_syscall_exit, after which the coroutine
	 * may run on another thread (with another errno) */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		err = -errno;
	else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		err = -errno;
	else if (write(fd, req, (size_t)n) != n) /* a short request fits a socket buffer */
		err = -EIO;
	while (err == 0 && len < sizeof buf - 1) {
		ssize_t k = read(fd, buf + len, sizeof buf - 1 - len); /* blocks: 2 s */
		if (k < 0 && errno != EINTR)
			err = -errno;
		if (k == 0)
			break;
		if (k > 0)
			len += (size_t)k;
	}
	if (fd >= 0)
		close(fd);
	gort_syscall_exit();
	return err != 0 ? err : http_parse_response(buf, len, r);
}

struct fetch {
	const char *what;
	int (*fn)(gort_ctx *, const struct http_server *, struct http_response *);
	const struct http_server *srv;
	gort_wg *done;
	struct http_response r;
	int err, ctx_err;
	int64_t took, late;
};

/* A fetch with a 1 s timeout, as the caller means it. */
static void fetch_main(void *arg)
{
	struct fetch *f = arg;
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, TIMEOUT);
	int64_t deadline = 0, t0 = gort_now();
	gort_ctx_deadline(ctx, &deadline);
	f->err = f->fn(ctx, f->srv, &f->r);
	int64_t t1 = gort_now();
	f->ctx_err = gort_ctx_err(ctx); /* what the context said by then */
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	f->took = t1 - t0;
	f->late = t1 - deadline;
	gort_wg_done(f->done);
}

static bool report(int i, const struct fetch *f)
{
	printf("fetch %d: %s\n", i, f->what);
	if (f->err != 0)
		printf("  -> %s after %.1f s\n", http_err_name(f->err), http_secs(f->took));
	else
		printf("  -> %d %s after %.1f s: \"%.*s\"\n", f->r.status, f->r.reason,
		       http_secs(f->took), (int)strcspn(f->r.body, "\n"), f->r.body);
	bool ignored = f->late > 0 && f->ctx_err == GORT_DEADLINE_EXCEEDED;
	printf("  the 1 s timeout was ignored: %s", ignored ? "yes" : "no");
	if (ignored)
		printf(" (it returned %.1f s past the deadline; by then the context said "
		       "GORT_DEADLINE_EXCEEDED)",
		       http_secs(f->late));
	printf("\n");
	return ignored;
}

static int real_main(void *arg)
{
	(void)arg;
	static struct http_server s;
	int err = http_server_start(&s, "127.0.0.1:0");
	if (err != 0) {
		fprintf(stderr, "listen: %s\n", gort_strerror(err));
		return 1;
	}
	printf("server on %s answers GET %s after 2.0 s\n", s.addr, TARGET);
	printf("two fetches, at once, each meant to give up after 1.0 s:\n");
	gort_wg done = GORT_WG_INIT;
	struct fetch f[2] = {
		{.what = "makes a 1 s context and never passes it down (Go: http.Get(url))",
		 .fn = fetch_ctx_dropped, .srv = &s, .done = &done},
		{.what = "passes the context to a blocking read(2) that cannot see it",
		 .fn = fetch_blocking, .srv = &s, .done = &done},
	};
	gort_wg_add(&done, 2);
	gort_go_with(fetch_main, &f[0], .name = "fetch-dropped-ctx");
	gort_go_with(fetch_main, &f[1], .name = "fetch-blocking");
	gort_wg_wait(&done);
	bool both = report(1, &f[0]);
	both &= report(2, &f[1]);
	http_server_stop(&s);
	printf("fixed in examples/http_fetch_fixed.c\n");
	return both ? 0 : 1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a write to a client that has gone: -EPIPE, not death */
	return gort_main(real_main, NULL);
}
