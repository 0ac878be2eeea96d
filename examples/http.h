/*
 * examples/http.h — a small HTTP/1.1 server and client written with gort's
 * I/O, shared by http_slow_server.c, http_fetch_broken.c and
 * http_fetch_fixed.c (header-only: everything is static).
 *
 * The server: one coroutine accepts, one coroutine per connection reads
 * the request head (request line and headers, up to the blank line),
 * answers with a status line, Content-Length and "Connection: close", and
 * closes: one request per connection, no keep-alive, GET and HEAD only.
 * Routes:
 *   /                 200 "hello from gort: GET <target>"
 *   /flaky            503 for the first fail_first requests, then as /
 *   /down             always 503
 *   anything else     404
 * A query "delay=MS" (e.g. "/?delay=2000") makes it answer slowly: the
 * handler waits MS milliseconds before answering, as a slow backend would.
 *
 * The handler waits under a request context that is cancelled when the
 * client goes away: while the handler works, a second coroutine of the
 * connection reads from it and cancels the context at end of file (Go's
 * net/http does the same since Go 1.8: r.Context() is done when the client
 * closes the connection).  So a client that gives up does not leave a
 * handler working on an answer nobody will read.
 *
 * The client: http_get dials, sends the request, reads the whole answer
 * (until the server closes) and parses it, every step under the caller's
 * context: gort_dial_tcp_ctx, gort_write_ctx, gort_read_ctx.
 *
 * A program using this must ignore SIGPIPE (as Go does for sockets): a
 * write to a connection whose peer has gone raises it, and gort's writes
 * use write(2).
 */
#ifndef GORT_EXAMPLES_HTTP_H
#define GORT_EXAMPLES_HTTP_H

#include <gort.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS (1000 * 1000LL)
#define HTTP_HEAD_TIMEOUT (5000 * MS) /* a client gets this long to send its request */
#define HTTP_MAX_DELAY_MS 60000

/* One line about each request the server handled (see events below). */
struct http_event {
	char text[200];
};

struct http_server {
	/* Set before http_server_start (all zeroes: the defaults). */
	int fail_first;    /* the first this many requests for /flaky get 503 */
	gort_chan *events; /* struct http_event, one per request; never blocks the
			    * server: a line that finds the channel full is dropped */
	bool log;          /* print a line per request on stdout (serve mode) */

	/* Set by http_server_start. */
	char addr[64];        /* "127.0.0.1:PORT": what clients dial */
	int port;
	gort_ctx *ctx;        /* cancelled by http_server_stop: ends the accept loop */
	gort_wg running;      /* the accept loop and every connection */
	atomic_int flaky_calls;
};

/* One connection's state, owned by its handler. */
struct http_conn {
	struct http_server *srv;
	gort_fd *fd;
	gort_ctx *rctx;  /* the request context: done when the client goes away */
	gort_wg watcher; /* the coroutine that watches for that */
};

static inline double http_secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static inline const char *http_err_name(int err)
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

static inline const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static inline void http_note(struct http_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void http_note(struct http_server *s, const char *fmt, ...)
{
	if (s->events == NULL && !s->log)
		return;
	struct http_event ev;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof ev.text, fmt, ap);
	va_end(ap);
	if (s->log) {
		printf("%s\n", ev.text);
		fflush(stdout);
	}
	if (s->events != NULL) {
		gort_case send = {.chan = s->events, .dir = GORT_SEND, .elem = &ev};
		gort_select(&send, 1, true); /* full: dropped */
	}
}

/* Send status and body (HEAD: without the body); 0 or a negative errno. */
static inline int http_respond(struct http_conn *c, bool head, int status, const char *body)
{
	char out[2048];
	size_t blen = strlen(body);
	int n = snprintf(out, sizeof out,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "%sConnection: close\r\n\r\n%s",
			 status, http_reason(status), blen,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "", head ? "" : body);
	if (n < 0 || (size_t)n >= sizeof out)
		return -EMSGSIZE;
	ssize_t w = gort_write(c->fd, out, (size_t)n);
	return w < 0 ? (int)w : 0;
}

/* The connection's second coroutine: reads until the client closes
 * (cancelling the request context) or the handler is done (which cancels
 * it).  Bytes a client sends after its request are read and ignored. */
static inline void http_watch(void *arg)
{
	struct http_conn *c = arg;
	char junk[256];
	ssize_t n;
	while ((n = gort_read_ctx(c->rctx, c->fd, junk, sizeof junk)) > 0)
		;
	if (n == 0 || n != gort_ctx_err(c->rctx))
		gort_ctx_cancel(c->rctx); /* end of file or a reset: the client is gone */
	gort_wg_done(&c->watcher);
}

/* Read the request head (up to the blank line) into buf, NUL-terminated
 * there: its length, 0 if the client closed or failed first, or -431 if
 * it does not fit. */
static inline ssize_t http_read_head(gort_fd *fd, char *buf, size_t size)
{
	size_t len = 0;
	gort_fd_set_deadline(fd, gort_now() + HTTP_HEAD_TIMEOUT, 0);
	for (;;) {
		if (len == size - 1)
			return -431;
		ssize_t n = gort_read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			return 0; /* closed, reset, or too slow (-ETIMEDOUT) */
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			end[2] = '\0'; /* keep the last header's CRLF */
			gort_fd_set_deadline(fd, 0, 0);
			return end + 2 - buf;
		}
	}
}

/* Parse "METHOD SP TARGET SP HTTP/1.x CRLF (NAME: VALUE CRLF)*": the status
 * to answer with if it is not valid, else 0. */
static inline int http_parse_request(char *head, char *method, size_t msize, char *target,
				     size_t tsize)
{
	char *eol = strstr(head, "\r\n");
	if (eol == NULL)
		return 400;
	*eol = '\0';
	char *sp1 = strchr(head, ' ');
	char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
		return 400;
	size_t mlen = (size_t)(sp1 - head), tlen = (size_t)(sp2 - sp1 - 1);
	if (mlen == 0 || mlen >= msize || tlen == 0 || tlen >= tsize || sp1[1] != '/')
		return 400;
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0)
		return 400;
	memcpy(method, head, mlen);
	method[mlen] = '\0';
	memcpy(target, sp1 + 1, tlen);
	target[tlen] = '\0';
	/* headers: "name: value" each, a name without spaces */
	for (char *line = eol + 2; *line != '\0';) {
		char *end = strstr(line, "\r\n");
		char *colon = strchr(line, ':');
		if (end == NULL || colon == NULL || colon > end || colon == line)
			return 400;
		for (char *p = line; p < colon; p++)
			if (*p == ' ' || *p == '\t')
				return 400;
		line = end + 2;
	}
	return 0;
}

/* The delay=MS of a target's query, in ns (0 if none). */
static inline int64_t http_query_delay(const char *target)
{
	const char *q = strchr(target, '?');
	for (const char *p = q; p != NULL; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, "delay=", 6) == 0) {
			long ms = strtol(p + 7, NULL, 10);
			ms = ms < 0 ? 0 : ms > HTTP_MAX_DELAY_MS ? HTTP_MAX_DELAY_MS : ms;
			return ms * MS;
		}
	}
	return 0;
}

/* One connection: read the request, work on it (wait for its delay), answer,
 * close. */
static inline void http_conn_main(void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->srv;
	char head[4096], method[16], target[1024], body[1200];
	ssize_t hl = http_read_head(c->fd, head, sizeof head);
	if (hl == 0)
		goto out; /* nothing to answer */
	int64_t t0 = gort_now();
	int status = hl < 0 ? 431 : http_parse_request(head, method, sizeof method, target, sizeof target);
	if (status != 0) {
		http_respond(c, false, status, "bad request\n");
		http_note(s, "server: a malformed request -> %d %s", status, http_reason(status));
		goto out;
	}
	bool is_head = strcmp(method, "HEAD") == 0;
	if (!is_head && strcmp(method, "GET") != 0) {
		http_respond(c, false, 405, "GET or HEAD only\n");
		http_note(s, "server: %s %s -> 405 %s", method, target, http_reason(405));
		goto out;
	}

	/* The work, under the request context, which the watcher cancels
	 * if the client goes away meanwhile. */
	c->rctx = gort_ctx_with_cancel(NULL);
	if (c->rctx == NULL)
		goto out;
	gort_wg_add(&c->watcher, 1);
	gort_go_with(http_watch, c, .name = "http-watch");

	int64_t delay = http_query_delay(target);
	int err = gort_sleep_ctx(c->rctx, delay);
	size_t plen = strcspn(target, "?");
	if (err != 0) {
		http_note(s,
			  "server: %s %s: the client went away after %.1f s; the handler stopped "
			  "(its context: %s) instead of answering at %.1f s",
			  method, target, http_secs(gort_now() - t0),
			  err == GORT_CANCELED ? "GORT_CANCELED" : gort_strerror(err), http_secs(delay));
	} else {
		if (plen == 6 && strncmp(target, "/flaky", 6) == 0 &&
		    atomic_fetch_add(&s->flaky_calls, 1) < s->fail_first)
			status = 503;
		else if (plen == 5 && strncmp(target, "/down", 5) == 0)
			status = 503;
		else if (plen == 1 || (plen == 6 && strncmp(target, "/flaky", 6) == 0))
			status = 200;
		else
			status = 404;
		if (status == 200)
			snprintf(body, sizeof body, "hello from gort: %s %s\n", method, target);
		else
			snprintf(body, sizeof body, "%s\n",
				 status == 503 ? "try again later" : "not found");
		err = http_respond(c, is_head, status, body);
		http_note(s, "server: %s %s -> %d %s after %.1f s%s%s", method, target, status,
			  http_reason(status), http_secs(gort_now() - t0), err ? ": " : "",
			  err ? http_err_name(err) : "");
	}
	gort_ctx_cancel(c->rctx); /* done: stops the watcher */
	gort_wg_wait(&c->watcher);
	gort_ctx_release(c->rctx);
out:
	gort_fd_close(c->fd);
	gort_wg_done(&s->running);
	free(c);
}

/* The accept loop: one coroutine per connection, until the server's
 * context is cancelled; it owns the listener and closes it. */
struct http_accept_arg {
	struct http_server *srv;
	gort_fd *lis;
};

static inline void http_accept_loop(void *arg)
{
	struct http_accept_arg *a = arg;
	struct http_server *s = a->srv;
	gort_fd *lis = a->lis;
	free(a);
	for (;;) {
		gort_fd *fd;
		int err = gort_accept_ctx(s->ctx, lis, &fd, NULL, NULL);
		if (err == GORT_CANCELED)
			break;
		if (err != 0) { /* -EMFILE and friends: back off a little */
			fprintf(stderr, "server: accept: %s\n", gort_strerror(err));
			gort_sleep_ctx(s->ctx, 10 * MS);
			continue;
		}
		struct http_conn *c = calloc(1, sizeof *c);
		if (c == NULL) {
			gort_fd_close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		gort_wg_add(&s->running, 1);
		gort_go_with(http_conn_main, c, .name = "http-conn");
	}
	gort_fd_close(lis);
	gort_wg_done(&s->running);
}

/* Listen on hostport ("127.0.0.1:0": a free port) and serve in the
 * background.  0 or a negative errno. */
static inline int http_server_start(struct http_server *s, const char *hostport)
{
	gort_fd *lis;
	int err = gort_listen_tcp(hostport, 128, &lis);
	if (err != 0)
		return err;
	struct http_accept_arg *a = malloc(sizeof *a);
	s->ctx = gort_ctx_with_cancel(NULL);
	if (a == NULL || s->ctx == NULL) {
		free(a);
		if (s->ctx != NULL) {
			gort_ctx_cancel(s->ctx);
			gort_ctx_release(s->ctx);
		}
		gort_fd_close(lis);
		return -ENOMEM;
	}
	s->port = gort_fd_port(lis);
	snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
	*a = (struct http_accept_arg){s, lis};
	gort_wg_add(&s->running, 1);
	gort_go_with(http_accept_loop, a, .name = "http-accept");
	return 0;
}

/* Stop accepting, and wait for the connections in progress to finish (a
 * graceful shutdown, as Go's Server.Shutdown). */
static inline void http_server_stop(struct http_server *s)
{
	gort_ctx_cancel(s->ctx);
	gort_wg_wait(&s->running);
	gort_ctx_release(s->ctx);
}

/* ------------------------------------------------------------------------ */
/* The client                                                                */
/* ------------------------------------------------------------------------ */

struct http_response {
	int status;        /* 200, 503, ... */
	char reason[40];   /* "OK", ... */
	char body[1024];   /* NUL-terminated */
	size_t length;     /* Content-Length */
};

/* Parse a whole answer (status line, headers, body of Content-Length
 * bytes): 0, or -EPROTO if it is not one. */
static inline int http_parse_response(char *buf, size_t len, struct http_response *r)
{
	buf[len] = '\0';
	char *end = strstr(buf, "\r\n\r\n");
	if (end == NULL)
		return -EPROTO;
	*end = '\0';
	int reason_at = 0;
	if (sscanf(buf, "HTTP/1.%*1[01] %3d %n", &r->status, &reason_at) != 1 || reason_at == 0)
		return -EPROTO;
	size_t rl = strcspn(buf + reason_at, "\r\n");
	snprintf(r->reason, sizeof r->reason, "%.*s", (int)rl, buf + reason_at);
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl == NULL)
		return -EPROTO;
	r->length = strtoul(cl + 17, NULL, 10);
	char *body = end + 4;
	size_t got = len - (size_t)(body - buf);
	if (got != r->length || got >= sizeof r->body)
		return -EPROTO;
	memcpy(r->body, body, got);
	r->body[got] = '\0';
	return 0;
}

/* Send request (a whole request head) to hostport and read the answer,
 * every step under ctx (NULL: none).  0 with *r filled, the context's
 * error, -EPROTO for a garbled answer, or another negative errno. */
static inline int http_roundtrip(gort_ctx *ctx, const char *hostport, const char *request,
				 struct http_response *r)
{
	gort_fd *fd;
	int err = gort_dial_tcp_ctx(ctx, hostport, &fd);
	if (err != 0)
		return err;
	char buf[4096];
	size_t len = 0;
	ssize_t n = gort_write_ctx(ctx, fd, request, strlen(request));
	while (n >= 0 && len < sizeof buf - 1) {
		n = gort_read_ctx(ctx, fd, buf + len, sizeof buf - 1 - len);
		if (n == 0) /* the server closed: the answer is complete */
			break;
		if (n > 0)
			len += (size_t)n;
	}
	gort_fd_close(fd);
	if (n < 0)
		return (int)n;
	return http_parse_response(buf, len, r);
}

/* GET target from hostport under ctx (NULL: none). */
static inline int http_get(gort_ctx *ctx, const char *hostport, const char *target,
			   struct http_response *r)
{
	char req[1200];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gort-example\r\n"
			 "Connection: close\r\n\r\n",
			 target, hostport);
	if (n < 0 || (size_t)n >= sizeof req)
		return -EINVAL;
	return http_roundtrip(ctx, hostport, req, r);
}

#endif /* GORT_EXAMPLES_HTTP_H */
