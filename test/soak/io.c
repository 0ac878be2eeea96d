/*
 * io.c — the soak's loopback TCP traffic.
 *
 * Each round with I/O workers starts an echo server on 127.0.0.1:0 (an
 * accept loop with the round's context, one coroutine per connection that
 * echoes until end of file).  Each client worker runs sessions: dial (with
 * a timeout context), then 1..8 exchanges, then close.  Every byte a
 * session writes is a function of the session's seed and its offset in
 * the stream, so every byte read back is checked at its offset.
 * Exchanges:
 *   echo       write 1..io_max_msg bytes, read them back
 *   duplex     a second coroutine writes in pieces while this one reads
 *   deadline   a read deadline 0..200 us ahead with nothing in flight:
 *              the read must return -ETIMEDOUT, and the connection goes on
 *   cancel     a read with a context another coroutine cancels: it must
 *              return GORT_CANCELED, and the connection goes on
 *   midcancel  write, then read with a context cancelled at a random
 *              moment: either bytes (checked) or GORT_CANCELED having taken
 *              nothing (the rest of the stream is checked at its offset)
 *   wdeadline  a write under a write deadline far ahead
 * A session cut short by the round's end (its context) counts as
 * aborted.  At the end of the round: every session that got an echo was
 * accepted, no more were accepted than dialled, and when no session was
 * aborted the bytes the clients sent, the bytes they checked and the bytes
 * the server echoed are equal.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SERVER_BUF = 16 * 1024 };

struct soak_io {
	struct soak_round *r;
	gort_fd *lis;
	char addr[64];
	gort_wg conns; /* the server's connections */
	atomic_llong echoed, sent, verified;
	atomic_int aborted, accepted, dialed, served; /* served: got an echo back */
};

/* ---------------------------------------------------------------- server */

struct sconn {
	struct soak_io *io;
	gort_fd *fd;
};

static void server_conn(void *arg)
{
	struct sconn *c = arg;
	char *buf = malloc(SERVER_BUF);
	SOAK_CHECK(buf != NULL, "out of memory");
	ssize_t n;
	while (buf != NULL && (n = gort_read(c->fd, buf, SERVER_BUF)) > 0) {
		ssize_t w = gort_write(c->fd, buf, (size_t)n);
		if (w < 0) {
			SOAK_CHECK(w == -EPIPE || w == -ECONNRESET, "echo server: write returned %zd (%s)",
				   w, gort_strerror((int)w));
			break;
		}
		SOAK_CHECK(w == n, "echo server: wrote %zd of %zd", w, n);
		atomic_fetch_add(&c->io->echoed, n);
		soak_ops(1);
	}
	if (buf != NULL && n < 0)
		SOAK_CHECK(n == -ECONNRESET, "echo server: read returned %zd (%s)", n,
			   gort_strerror((int)n));
	free(buf);
	SOAK_CHECK(gort_fd_close(c->fd) == 0, "echo server: close failed");
	soak_obj(-1);
	gort_wg_done(&c->io->conns);
	free(c);
}

static void accept_loop(void *arg)
{
	struct soak_io *io = arg;
	for (;;) {
		gort_fd *fd;
		int rc = gort_accept_ctx(io->r->ctx, io->lis, &fd, NULL, NULL);
		if (rc == GORT_CANCELED)
			break;
		if (rc != 0) {
			SOAK_FAIL("accept returned %d (%s)", rc, gort_strerror(rc));
			break;
		}
		soak_obj(1);
		atomic_fetch_add(&io->accepted, 1);
		struct sconn *c = malloc(sizeof *c);
		if (c == NULL) {
			SOAK_FAIL("out of memory");
			gort_fd_close(fd);
			soak_obj(-1);
			continue;
		}
		*c = (struct sconn){io, fd};
		gort_wg_add(&io->conns, 1);
		soak_go(io->r, server_conn, c, "echo-conn", 0);
	}
	SOAK_CHECK(gort_fd_close(io->lis) == 0, "closing the listener failed");
	soak_obj(-1);
	gort_wg_wait(&io->conns);
}

/* ---------------------------------------------------------------- client */

struct session {
	struct soak_io *io;
	struct soak_round *r;
	soak_rng *rng;
	gort_fd *fd;
	uint64_t seed;
	uint64_t wr_off, rd_off; /* stream offsets written and read back */
	unsigned char *wbuf, *rbuf;
	size_t cap;
	atomic_bool aborted; /* (also set by a duplex writer) */
};

static unsigned char stream_byte(uint64_t seed, uint64_t off)
{
	return (unsigned char)(soak_mix64(seed + (off >> 3)) >> ((off & 7) * 8));
}

static void fill(struct session *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s->wbuf[i] = stream_byte(s->seed, s->wr_off + i);
}

/* Checks n bytes just read at the read offset, and moves it on. */
static bool check_read(struct session *s, const unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != stream_byte(s->seed, s->rd_off + i)) {
			SOAK_FAIL("echo: byte %llu of the stream is %02x, sent %02x",
				  (unsigned long long)(s->rd_off + i), buf[i],
				  stream_byte(s->seed, s->rd_off + i));
			return false;
		}
	s->rd_off += n;
	atomic_fetch_add(&s->io->verified, (long long)n);
	atomic_fetch_add_explicit(&soak_t.io_bytes, n, memory_order_relaxed);
	return true;
}

/* A read or write that failed (or met the end of the stream): fine once
 * the round is over (its context cancelled the call, or the listener was
 * closed with this connection still in its backlog, which resets it),
 * else a failure.  Either way the session ends. */
static bool io_error(struct session *s, const char *what, ssize_t rc)
{
	s->aborted = true;
	if (gort_ctx_err(s->r->ctx) != 0 &&
	    (rc == GORT_CANCELED || rc == -ECONNRESET || rc == -EPIPE || rc == 0))
		return false;
	SOAK_FAIL("echo client: %s returned %zd (%s)", what, rc,
		  rc == 0 ? "end of file" : gort_strerror((int)rc));
	return false;
}

static bool write_stream(struct session *s, gort_ctx *ctx, size_t n)
{
	fill(s, n);
	ssize_t w = gort_write_ctx(ctx, s->fd, s->wbuf, n);
	if (w < 0)
		return io_error(s, "write", w);
	if ((size_t)w != n) {
		SOAK_FAIL("echo client: wrote %zd of %zu", w, n);
		return false;
	}
	s->wr_off += n;
	atomic_fetch_add(&s->io->sent, (long long)n);
	return true;
}

/* Reads until everything written came back. */
static bool read_back(struct session *s)
{
	while (s->rd_off < s->wr_off) {
		size_t want = (size_t)(s->wr_off - s->rd_off);
		if (want > s->cap)
			want = s->cap;
		ssize_t n = gort_read_ctx(s->r->ctx, s->fd, s->rbuf, want);
		if (n <= 0)
			return io_error(s, "read", n);
		if (!check_read(s, s->rbuf, (size_t)n))
			return false;
		soak_ops(1);
	}
	return true;
}

struct duplex {
	struct session *s;
	size_t n;
	bool ok;
	gort_wg wg;
};

static void duplex_writer(void *arg)
{
	struct duplex *d = arg;
	struct session *s = d->s;
	size_t left = d->n;
	d->ok = true;
	fill(s, d->n);
	size_t off = 0;
	while (left > 0 && d->ok) {
		size_t piece = 1 + (size_t)rng_below(s->rng, (uint32_t)left);
		ssize_t w = gort_write_ctx(s->r->ctx, s->fd, s->wbuf + off, piece);
		if (w < 0) {
			d->ok = io_error(s, "write (duplex)", w);
			break;
		}
		off += piece;
		left -= piece;
	}
	gort_wg_done(&d->wg);
}

static bool exchange(struct session *s)
{
	soak_rng *rng = s->rng;
	size_t n = 1 + (size_t)rng_below(rng, (uint32_t)s->cap);
	switch (rng_below(rng, 10)) {
	case 0: { /* deadline with nothing in flight */
		int rc = gort_fd_set_deadline(s->fd, gort_now() + rng_range(rng, 0, 200 * GORT_US), 0);
		SOAK_CHECK(rc == 0, "set_deadline returned %d", rc);
		ssize_t r = gort_read(s->fd, s->rbuf, s->cap);
		gort_fd_set_deadline(s->fd, 0, 0);
		if (r == -ETIMEDOUT)
			return true;
		if (r <= 0)
			return io_error(s, "a read past its deadline", r);
		SOAK_FAIL("echo client: a read past its deadline got %zd bytes, none in flight", r);
		return false;
	}
	case 1: { /* cancelled by another, nothing in flight */
		struct soak_canceller c;
		gort_ctx *ctx = soak_ctx_cancel(s->r->ctx);
		soak_cancel_later(s->r, &c, ctx, rng_range(rng, 0, 200 * GORT_US));
		ssize_t r = gort_read_ctx(ctx, s->fd, s->rbuf, s->cap);
		soak_cancel_join(&c);
		soak_ctx_done(ctx);
		if (r == GORT_CANCELED)
			return true;
		if (r <= 0)
			return io_error(s, "a cancelled read", r);
		SOAK_FAIL("echo client: a cancelled read got %zd bytes, none in flight", r);
		return false;
	}
	case 2: { /* cancelled in the middle of the data */
		if (!write_stream(s, s->r->ctx, n))
			return false;
		struct soak_canceller c;
		gort_ctx *ctx = soak_ctx_cancel(s->r->ctx);
		soak_cancel_later(s->r, &c, ctx, rng_range(rng, 0, 50 * GORT_US));
		ssize_t r = gort_read_ctx(ctx, s->fd, s->rbuf, n);
		soak_cancel_join(&c);
		soak_ctx_done(ctx);
		if (r > 0 && !check_read(s, s->rbuf, (size_t)r))
			return false;
		if (r <= 0 && r != GORT_CANCELED)
			return io_error(s, "a read cancelled in the middle", r);
		return read_back(s);
	}
	case 3:
	case 4: { /* duplex */
		struct duplex d = {.s = s, .n = n};
		gort_wg_add(&d.wg, 1);
		uint64_t start = s->wr_off;
		soak_go(s->r, duplex_writer, &d, "echo-duplex-writer", 0);
		bool ok = true;
		while (ok && s->rd_off < start + n) {
			size_t want = (size_t)(start + n - s->rd_off);
			ssize_t r = gort_read_ctx(s->r->ctx, s->fd, s->rbuf, want);
			if (r <= 0)
				ok = io_error(s, "read (duplex)", r);
			else
				ok = check_read(s, s->rbuf, (size_t)r);
		}
		gort_wg_wait(&d.wg);
		if (d.ok) {
			s->wr_off += n;
			atomic_fetch_add(&s->io->sent, (long long)n);
		}
		return ok && d.ok;
	}
	case 5: { /* a write deadline far ahead */
		gort_fd_set_deadline(s->fd, 0, gort_now() + 30 * GORT_SEC);
		bool ok = write_stream(s, NULL, n) && read_back(s);
		gort_fd_set_deadline(s->fd, 0, 0);
		return ok;
	}
	default:
		return write_stream(s, s->r->ctx, n) && read_back(s);
	}
}

static void client_worker(void *arg)
{
	struct session *s = arg;
	struct soak_io *io = s->io;
	while (!soak_stopping(s->r)) {
		gort_ctx *ctx = gort_ctx_with_timeout(s->r->ctx, 10 * GORT_SEC);
		SOAK_CHECK(ctx != NULL, "gort_ctx_with_timeout failed");
		soak_obj(1);
		int rc = gort_dial_tcp_ctx(ctx, io->addr, &s->fd);
		soak_ctx_done(ctx);
		if (rc != 0) {
			if (gort_ctx_err(s->r->ctx) != 0)
				break; /* cancelled, or refused by the closed listener */
			SOAK_FAIL("dial %s returned %d (%s)", io->addr, rc, gort_strerror(rc));
			break;
		}
		soak_obj(1);
		atomic_fetch_add(&io->dialed, 1);
		atomic_fetch_add_explicit(&soak_t.io_sessions, 1, memory_order_relaxed);
		s->seed = rng_next(s->rng);
		s->wr_off = s->rd_off = 0;
		s->aborted = false;
		int exchanges = 1 + (int)rng_below(s->rng, 8);
		for (int i = 0; i < exchanges; i++) {
			if (soak_stopping(s->r)) {
				s->aborted = true;
				break;
			}
			if (!exchange(s)) {
				s->aborted = true;
				break;
			}
			soak_ops(1);
		}
		if (s->aborted)
			atomic_fetch_add(&io->aborted, 1);
		if (s->rd_off > 0)
			atomic_fetch_add(&io->served, 1);
		SOAK_CHECK(gort_fd_close(s->fd) == 0, "echo client: close failed");
		soak_obj(-1);
	}
	free(s->wbuf);
	free(s->rbuf);
	free(s->rng);
	free(s);
}

void io_start(struct soak_round *r)
{
	r->io = NULL;
	if (r->mix.count[K_IO] == 0)
		return;
	struct soak_io *io = calloc(1, sizeof *io);
	if (io == NULL) {
		SOAK_FAIL("out of memory");
		return;
	}
	io->r = r;
	int rc = gort_listen_tcp("127.0.0.1:0", 0, &io->lis);
	if (rc != 0) {
		SOAK_FAIL("listen on 127.0.0.1:0 returned %d (%s)", rc, gort_strerror(rc));
		free(io);
		return;
	}
	soak_obj(1);
	snprintf(io->addr, sizeof io->addr, "127.0.0.1:%d", gort_fd_port(io->lis));
	r->io = io;
	soak_spawn_worker(r, accept_loop, io, "echo-accept");
	for (int i = 0; i < r->mix.count[K_IO]; i++) {
		struct session *s = calloc(1, sizeof *s);
		soak_rng *rng = malloc(sizeof *rng);
		size_t cap = (size_t)r->mix.io_max_msg;
		unsigned char *wb = malloc(cap), *rb = malloc(cap);
		if (s == NULL || rng == NULL || wb == NULL || rb == NULL) {
			SOAK_FAIL("out of memory");
			free(s), free(rng), free(wb), free(rb);
			return;
		}
		*rng = soak_stream(r->number, K_IO, (uint64_t)i);
		*s = (struct session){.io = io, .r = r, .rng = rng, .wbuf = wb, .rbuf = rb, .cap = cap};
		soak_spawn_worker(r, client_worker, s, "echo-client");
	}
}

void io_check(struct soak_round *r)
{
	struct soak_io *io = r->io;
	if (io == NULL)
		return;
	/* (a session of probes alone may end before the round's last accept:
	 * only one that got an echo back was surely accepted) */
	SOAK_CHECK(atomic_load(&io->served) <= atomic_load(&io->accepted) &&
			   atomic_load(&io->accepted) <= atomic_load(&io->dialed),
		   "echo: %d connections dialled, %d accepted, %d echoed", atomic_load(&io->dialed),
		   atomic_load(&io->accepted), atomic_load(&io->served));
	if (atomic_load(&io->aborted) == 0) {
		long long sent = atomic_load(&io->sent), ver = atomic_load(&io->verified),
			  echoed = atomic_load(&io->echoed);
		SOAK_CHECK(sent == ver && ver == echoed,
			   "echo: clients sent %lld bytes and checked %lld, the server echoed %lld", sent,
			   ver, echoed);
	}
	free(io);
	r->io = NULL;
}
