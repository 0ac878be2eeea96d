/*
 * io.c — gort_fd and the I/O calls on the netpoller (protocol in
 * netpoll.h and netpoll.c).
 *
 * Owns: every gort_fd (= its poll descriptor).
 *
 * A call tries its system call first; on EAGAIN it waits for the next
 * readiness edge in its direction (fd_wait) and tries again.  The wait is
 * the sync primitives' cancellable wait (sync/sema.h, cwait.c) on the
 * descriptor's lock and queue: a context's watch ends it with the
 * context's error, and the poller, a deadline's timer or a close grant it
 * (GRANTED), after which the waiter reads why (closing, expired) under the
 * lock.
 *
 * Lifetime: refs counts the handle plus every call in progress; close
 * marks the descriptor closing, wakes every waiter, drops the handle's
 * reference; the last reference deregisters the descriptor, stops the
 * deadline timers, closes it and frees it, so a descriptor is never
 * closed (and its number reused) under a call still in its system call.
 *
 * errno: every call leaves the caller's errno as it found it (errors are
 * returned).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../context/context.h"
#include "netpoll.h"

/* A gort_fd is its poll descriptor (type-stable, netpoll.h). */
struct gort_fd {
	struct gort__pd pd;
};

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

static bool pd_acquire(struct gort__pd *pd)
{
	int32_t r = atomic_load_explicit(&pd->refs, memory_order_relaxed);
	do {
		if (r <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&pd->refs, &r, r + 1, memory_order_acquire,
							memory_order_relaxed));
	gort__lock_acquire(&pd->lock);
	bool ok = !pd->closing;
	gort__lock_release(&pd->lock);
	if (!ok) {
		atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_release);
		/* close holds the last reference until it has dropped its own */
	}
	return ok;
}

static void pd_release(struct gort__pd *pd)
{
	if (atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel) != 1)
		return;
	gort__timer_stop(&pd->timer[0]);
	gort__timer_stop(&pd->timer[1]);
	gort__netpoll_close(pd);
	int e = errno;
	close(pd->fd);
	errno = e;
	gort__pd_put(pd);
}

int gort_fd_open(int fd, gort_fd **out)
{
	if (fd < 0 || !out)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	int e = errno, rc = 0;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
		rc = -errno;
		errno = e;
		return rc;
	}
	struct gort__pd *pd = gort__pd_get();
	if (!pd) {
		errno = e;
		return -ENOMEM;
	}
	pd->fd = fd;
	rc = gort__netpoll_open(pd);
	errno = e;
	if (rc) {
		gort__pd_put(pd);
		return rc;
	}
	*out = GORT__CONTAINER_OF(pd, struct gort_fd, pd);
	return 0;
}

int gort_fd_fileno(const gort_fd *f)
{
	return f ? f->pd.fd : -EINVAL;
}

/* Lock held: take every waiter of direction d (GRANTED) onto list. */
static struct gort__waiter *grant_all(struct gort__pd *pd, int d, struct gort__waiter *list)
{
	struct gort__waiter *w;
	while ((w = gort__waitq_pop(&pd->q[d]))) {
		bool parked = w->state == GORT__WS_PARKED;
		w->state = GORT__WS_GRANTED;
		if (parked) {
			w->next = list;
			list = w;
		}
	}
	return list;
}

int gort_fd_close(gort_fd *f)
{
	if (!f)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	gort__lock_acquire(&pd->lock);
	bool was = pd->closing;
	pd->closing = true;
	struct gort__waiter *list = grant_all(pd, GORT__PD_READ, NULL);
	list = grant_all(pd, GORT__PD_WRITE, list);
	gort__lock_release(&pd->lock);
	gort__waiter_wake_list(list);
	if (was)
		return -EBADF;
	pd_release(pd);
	return 0;
}

/* A deadline's timer (under its heap's lock). */
static void deadline_fire(struct gort__timer *t, void *arg, int64_t now)
{
	struct gort__pd *pd = arg;
	int d = t == &pd->timer[GORT__PD_READ] ? GORT__PD_READ : GORT__PD_WRITE;
	gort__lock_acquire(&pd->lock);
	struct gort__waiter *list = NULL;
	if (pd->deadline[d] && now >= pd->deadline[d]) {
		pd->expired[d] = true;
		list = grant_all(pd, d, NULL);
	}
	gort__lock_release(&pd->lock);
	gort__waiter_wake_list(list);
}

static int set_one(struct gort__pd *pd, int d, int64_t deadline)
{
	gort__timer_stop(&pd->timer[d]);
	int64_t now = gort__nanotime();
	gort__lock_acquire(&pd->lock);
	pd->deadline[d] = deadline;
	pd->expired[d] = deadline && deadline <= now;
	struct gort__waiter *list = pd->expired[d] ? grant_all(pd, d, NULL) : NULL;
	gort__lock_release(&pd->lock);
	gort__waiter_wake_list(list);
	if (deadline && deadline > now)
		return gort__timer_start(&pd->timer[d], deadline, 0, deadline_fire, pd);
	return 0;
}

int gort_fd_set_deadline(gort_fd *f, int64_t read_deadline, int64_t write_deadline)
{
	if (!f || read_deadline < 0 || write_deadline < 0)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	int rc = set_one(pd, GORT__PD_READ, read_deadline);
	if (!rc)
		rc = set_one(pd, GORT__PD_WRITE, write_deadline);
	pd_release(pd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

/* Why a wait in direction d must end now (lock held): 0 if it need not. */
static int stop_reason(const struct gort__pd *pd, int d)
{
	if (pd->closing)
		return -EBADF;
	if (pd->expired[d])
		return -ETIMEDOUT;
	return 0;
}

/* Before a system call: the edge count to wait against, or an error that
 * forbids the call (closed, deadline passed, context done). */
static int fd_begin(struct gort__pd *pd, int d, gort_ctx *ctx, uint32_t *seq)
{
	int err = gort_ctx_err(ctx);
	if (err)
		return err;
	gort__lock_acquire(&pd->lock);
	err = stop_reason(pd, d);
	*seq = pd->seq[d];
	gort__lock_release(&pd->lock);
	return err;
}

/* The system call said EAGAIN: wait for an edge after seq.  0: try again. */
static int fd_wait(struct gort__pd *pd, int d, uint32_t seq, gort_ctx *ctx, const char *file,
		   int line)
{
	struct gort__cwait cw;
	int err = gort__cwait_begin(&cw, ctx, &pd->lock, &pd->q[d], NULL);
	if (err)
		return err;
	gort__lock_acquire(&pd->lock);
	if (gort__cwait_cancelled(&cw))
		err = cw.err;
	else if (!(err = stop_reason(pd, d)) && pd->seq[d] == seq) {
		atomic_fetch_add_explicit(&gort__netpoll_waiters, 1, memory_order_seq_cst);
		if (!cw.w.g)
			gort__netpoll_kick(); /* a plain thread: make sure some M polls */
		gort__set_wait_obj(pd);
		err = gort__cwait_wait(&cw, false, d == GORT__PD_READ ? GORT__WR_IO_READ : GORT__WR_IO_WRITE,
				       file, line);
		atomic_fetch_sub_explicit(&gort__netpoll_waiters, 1, memory_order_relaxed);
		if (err)
			return err;
		gort__lock_acquire(&pd->lock);
		err = stop_reason(pd, d);
		gort__lock_release(&pd->lock);
		return err;
	}
	gort__lock_release(&pd->lock);
	gort__cwait_end(&cw);
	return err;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

ssize_t gort_read_ctx_at(gort_ctx *ctx, gort_fd *f, void *buf, size_t n, const char *file, int line)
{
	if (!f || (!buf && n))
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	int e = errno;
	ssize_t r;
	for (;;) {
		uint32_t seq;
		int err = fd_begin(pd, GORT__PD_READ, ctx, &seq);
		if (err) {
			r = err;
			break;
		}
		r = read(pd->fd, buf, n);
		if (r >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			r = -errno;
			break;
		}
		if ((err = fd_wait(pd, GORT__PD_READ, seq, ctx, file, line))) {
			r = err;
			break;
		}
	}
	errno = e;
	pd_release(pd);
	return r;
}

ssize_t gort_write_ctx_at(gort_ctx *ctx, gort_fd *f, const void *buf, size_t n, const char *file,
			  int line)
{
	if (!f || (!buf && n) || n > SSIZE_MAX)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	int e = errno;
	size_t done = 0;
	ssize_t r = 0;
	while (done < n || n == 0) {
		uint32_t seq;
		int err = fd_begin(pd, GORT__PD_WRITE, ctx, &seq);
		if (err) {
			r = err;
			break;
		}
		ssize_t w = write(pd->fd, (const char *)buf + done, n - done);
		if (w >= 0) {
			done += (size_t)w;
			if (n == 0)
				break;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			r = -errno;
			break;
		}
		if ((err = fd_wait(pd, GORT__PD_WRITE, seq, ctx, file, line))) {
			r = err;
			break;
		}
	}
	errno = e;
	pd_release(pd);
	return r < 0 ? r : (ssize_t)done;
}

int gort_accept_ctx_at(gort_ctx *ctx, gort_fd *lis, gort_fd **out, struct sockaddr *addr,
		       socklen_t *addrlen, const char *file, int line)
{
	if (!lis || !out)
		return -EINVAL;
	struct gort__pd *pd = &lis->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	int e = errno, rc;
	for (;;) {
		uint32_t seq;
		if ((rc = fd_begin(pd, GORT__PD_READ, ctx, &seq)))
			break;
		int fd = accept4(pd->fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if ((rc = gort_fd_open(fd, out)))
				close(fd);
			break;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN) {
			rc = -errno;
			break;
		}
		if ((rc = fd_wait(pd, GORT__PD_READ, seq, ctx, file, line)))
			break;
	}
	errno = e;
	pd_release(pd);
	return rc;
}

int gort_connect_ctx_at(gort_ctx *ctx, gort_fd *f, const struct sockaddr *addr, socklen_t addrlen,
			const char *file, int line)
{
	if (!f || !addr)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	int e = errno, rc;
	uint32_t seq;
	if ((rc = fd_begin(pd, GORT__PD_WRITE, ctx, &seq)))
		goto out;
	if (connect(pd->fd, addr, addrlen) == 0)
		goto out;
	if (errno != EINPROGRESS && errno != EINTR) {
		rc = -errno;
		goto out;
	}
	/* in progress: writable means done, SO_ERROR says how */
	for (;;) {
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (getsockopt(pd->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
			rc = -errno;
			break;
		}
		if (soerr && soerr != EINPROGRESS && soerr != EALREADY) {
			rc = -soerr;
			break;
		}
		struct sockaddr_storage peer;
		socklen_t pl = sizeof peer;
		if (!soerr && getpeername(pd->fd, (struct sockaddr *)&peer, &pl) == 0)
			break; /* connected */
		if ((rc = fd_wait(pd, GORT__PD_WRITE, seq, ctx, file, line)))
			break;
		gort__lock_acquire(&pd->lock);
		seq = pd->seq[GORT__PD_WRITE];
		gort__lock_release(&pd->lock);
	}
out:
	errno = e;
	pd_release(pd);
	return rc;
}

int gort_fd_port(const gort_fd *f)
{
	if (!f)
		return -EINVAL;
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	int e = errno, rc;
	if (getsockname(f->pd.fd, (struct sockaddr *)&ss, &l) != 0)
		rc = -errno;
	else if (ss.ss_family == AF_INET)
		rc = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		rc = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		rc = -EAFNOSUPPORT;
	errno = e;
	return rc;
}

/* ------------------------------------------------------------------ */
/* TCP helpers                                                         */
/* ------------------------------------------------------------------ */

/* Split "host:port" / "[v6]:port" into host (maybe "") and port. */
static int split_hostport(const char *hp, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon;
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		if ((size_t)(end - hp - 1) >= hl)
			return -EINVAL;
		memcpy(host, hp + 1, (size_t)(end - hp - 1));
		host[end - hp - 1] = 0;
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (!colon || (size_t)(colon - hp) >= hl || memchr(hp, ':', (size_t)(colon - hp)))
			return -EINVAL;
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = 0;
	}
	if (!colon[1] || strlen(colon + 1) >= pl)
		return -EINVAL;
	strcpy(port, colon + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	return 0;
}

static int resolve(const char *hostport, bool passive, struct addrinfo **res)
{
	char host[256], port[16];
	if (!hostport || split_hostport(hostport, host, sizeof host, port, sizeof port))
		return -EINVAL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	const char *h = host[0] && strcmp(host, "*") != 0 ? host : NULL;
	gort_syscall_enter();
	int rc = getaddrinfo(h, port, &hints, res);
	gort_syscall_exit();
	if (rc == EAI_MEMORY)
		return -ENOMEM;
	return rc ? -EHOSTUNREACH : 0;
}

int gort_dial_tcp_ctx_at(gort_ctx *ctx, const char *hostport, gort_fd **out, const char *file, int line)
{
	if (!out)
		return -EINVAL;
	struct addrinfo *res;
	int e = errno;
	int rc = resolve(hostport, false, &res);
	if (rc)
		return rc;
	rc = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		gort_fd *f;
		if ((rc = gort_fd_open(fd, &f))) {
			close(fd);
			break;
		}
		rc = gort_connect_ctx_at(ctx, f, ai->ai_addr, ai->ai_addrlen, file, line);
		if (!rc) {
			*out = f;
			break;
		}
		gort_fd_close(f);
		if (rc == GORT_CANCELED || rc == GORT_DEADLINE_EXCEEDED)
			break;
	}
	freeaddrinfo(res);
	errno = e;
	return rc;
}

int gort_listen_tcp(const char *hostport, int backlog, gort_fd **out)
{
	if (!out || backlog < 0)
		return -EINVAL;
	struct addrinfo *res;
	int e = errno;
	int rc = resolve(hostport, true, &res);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog ? backlog : SOMAXCONN) != 0) {
			rc = -errno;
			close(fd);
			continue;
		}
		if ((rc = gort_fd_open(fd, out)))
			close(fd);
		break;
	}
	freeaddrinfo(res);
	errno = e;
	return rc;
}
