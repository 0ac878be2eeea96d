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
 * (GRANTED), after which the waiter reads why (closing, expired).  The
 * state a call checks before its system call is atomic: no lock on the
 * way in, only when it must wait.
 *
 * Lifetime: refs counts the handle plus every call in progress; close
 * marks the descriptor closing, wakes every waiter, drops the handle's
 * reference; the last reference deregisters the descriptor, stops the
 * deadline timers, closes it and frees it, so a descriptor is never
 * closed (and its number reused) under a call still in its system call.
 *
 * errno: every call leaves the caller's errno as it found it (errors are
 * returned), and reads errno only in the out-of-line x_ wrappers (see
 * there: a call may resume on another thread).
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
#include <sys/stat.h>
#include <unistd.h>

#include "../context/context.h"
#include "netpoll.h"

/* A gort_fd is its poll descriptor (type-stable, netpoll.h). */
struct gort_fd {
	struct gort__pd pd;
};

/*
 * The system calls of code that may park (and so resume on another M).
 * errno is thread-local and __errno_location() is a const function, so
 * the compiler may keep its address, the old thread's, across a switch:
 * reading errno after a park can read another thread's.  So errno is only
 * ever read inside these (out of line: nothing of them is hoisted), which
 * return the result or -errno and leave errno as they found it.
 */
#define X_CALL(type, call)              \
	do {                            \
		int e_ = errno;         \
		type r_ = (call);       \
		if (r_ < 0)             \
			r_ = -errno;    \
		errno = e_;             \
		return r_;              \
	} while (0)

__attribute__((noinline)) static ssize_t x_read(int fd, void *b, size_t n)
{
	X_CALL(ssize_t, read(fd, b, n));
}

/* On a socket, send with MSG_NOSIGNAL: a peer gone is -EPIPE, not
 * SIGPIPE (as in Go). */
__attribute__((noinline)) static ssize_t x_write(int fd, bool sock, const void *b, size_t n)
{
	X_CALL(ssize_t, sock ? send(fd, b, n, MSG_NOSIGNAL) : write(fd, b, n));
}

__attribute__((noinline)) static int x_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	X_CALL(int, accept4(fd, a, l, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

__attribute__((noinline)) static int x_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	X_CALL(int, connect(fd, a, l));
}

/* The socket's pending error (0 none), or -errno. */
__attribute__((noinline)) static int x_soerror(int fd)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	X_CALL(int, getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ? -1 : soerr);
}

__attribute__((noinline)) static int x_connected(int fd)
{
	struct sockaddr_storage peer;
	socklen_t pl = sizeof peer;
	X_CALL(int, getpeername(fd, (struct sockaddr *)&peer, &pl));
}

__attribute__((noinline)) static int x_socket(int family, int type, int proto)
{
	X_CALL(int, socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
}

__attribute__((noinline)) static int x_close(int fd)
{
	X_CALL(int, close(fd));
}

/* bind and listen, with SO_REUSEADDR: 0 or -errno */
__attribute__((noinline)) static int x_bind_listen(int fd, const struct sockaddr *a, socklen_t l, int backlog)
{
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	X_CALL(int, bind(fd, a, l) != 0 || listen(fd, backlog) != 0 ? -1 : 0);
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */
/* ------------------------------------------------------------------ */

static void pd_release(struct gort__pd *pd);

static bool pd_acquire(struct gort__pd *pd)
{
	int32_t r = atomic_load_explicit(&pd->refs, memory_order_relaxed);
	do {
		if (r <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&pd->refs, &r, r + 1, memory_order_acquire,
							memory_order_relaxed));
	bool ok = !atomic_load_explicit(&pd->closing, memory_order_acquire);
	if (!ok)
		pd_release(pd); /* may be the last one, since close dropped its own */
	return ok;
}

static void pd_release(struct gort__pd *pd)
{
	if (atomic_fetch_sub_explicit(&pd->refs, 1, memory_order_acq_rel) != 1)
		return;
	gort__timer_stop(&pd->timer[0]);
	gort__timer_stop(&pd->timer[1]);
	gort__netpoll_close(pd);
	x_close(pd->fd);
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
	struct stat st;
	pd->socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	rc = gort__netpoll_open(pd);
	errno = e;
	if (rc) {
		/* back to the pool as a closed one (refs 0): fd stays the caller's */
		gort__pd_mark_closed(pd);
		gort__pd_put(pd);
		return rc;
	}
	*out = GORT__CONTAINER_OF(pd, struct gort_fd, pd);
	return 0;
}

int gort_fd_fileno(const gort_fd *f)
{
	if (!f)
		return -EINVAL;
	/* closed (or closing): the number may belong to another file by now */
	if (atomic_load_explicit(&f->pd.closing, memory_order_acquire))
		return -EBADF;
	return f->pd.fd;
}


int gort_fd_close(gort_fd *f)
{
	if (!f)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	gort__lock_acquire(&pd->lock);
	bool was = atomic_exchange_explicit(&pd->closing, true, memory_order_acq_rel);
	struct gort__waiter *list = gort__pd_grant_all(pd, GORT__PD_READ, NULL);
	list = gort__pd_grant_all(pd, GORT__PD_WRITE, list);
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
		atomic_store_explicit(&pd->expired[d], true, memory_order_release);
		list = gort__pd_grant_all(pd, d, NULL);
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
	bool expired = deadline && deadline <= now;
	atomic_store_explicit(&pd->expired[d], expired, memory_order_release);
	struct gort__waiter *list = expired ? gort__pd_grant_all(pd, d, NULL) : NULL;
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

/* Why a call or wait in direction d must end now: 0 if it need not. */
static int stop_reason(struct gort__pd *pd, int d)
{
	if (atomic_load_explicit(&pd->closing, memory_order_acquire))
		return -EBADF;
	if (atomic_load_explicit(&pd->expired[d], memory_order_acquire))
		return -ETIMEDOUT;
	return 0;
}

/* Before a system call: the edge count to wait against, or an error that
 * forbids the call (closed, deadline passed, context done). */
static int fd_begin(struct gort__pd *pd, int d, gort_ctx *ctx, uint32_t *seq)
{
	int err = gort__ctx_wait_err(ctx);
	if (err)
		return err;
	/* no lock: a stale count only makes fd_wait, which compares it under
	 * the lock, send the caller round once more */
	*seq = atomic_load_explicit(&pd->seq[d], memory_order_acquire);
	return stop_reason(pd, d);
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
	else if (!(err = stop_reason(pd, d)) &&
		 atomic_load_explicit(&pd->seq[d], memory_order_relaxed) == seq) {
		atomic_fetch_add_explicit(&gort__netpoll_waiters, 1, memory_order_seq_cst);
		if (!cw.w.g)
			gort__netpoll_kick(); /* a plain thread: make sure some M polls */
		gort__set_wait_obj(pd);
		err = gort__cwait_wait(&cw, false, d == GORT__PD_READ ? GORT__WR_IO_READ : GORT__WR_IO_WRITE,
				       file, line);
		atomic_fetch_sub_explicit(&gort__netpoll_waiters, 1, memory_order_relaxed);
		if (err)
			return err;
		return stop_reason(pd, d);
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
	if (!f || (!buf && n) || n > SSIZE_MAX)
		return -EINVAL;
	struct gort__pd *pd = &f->pd;
	if (!pd_acquire(pd))
		return -EBADF;
	ssize_t r;
	for (;;) {
		uint32_t seq;
		int err = fd_begin(pd, GORT__PD_READ, ctx, &seq);
		if (err) {
			r = err;
			break;
		}
		r = x_read(pd->fd, buf, n);
		if (r >= 0 || (r != -EAGAIN && r != -EINTR))
			break;
		if (r == -EAGAIN && (err = fd_wait(pd, GORT__PD_READ, seq, ctx, file, line))) {
			r = err;
			break;
		}
	}
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
	size_t done = 0;
	ssize_t r = 0;
	do {
		uint32_t seq;
		int err = fd_begin(pd, GORT__PD_WRITE, ctx, &seq);
		if (err) {
			r = err;
			break;
		}
		ssize_t w = x_write(pd->fd, pd->socket, (const char *)buf + done, n - done);
		if (w >= 0) {
			done += (size_t)w;
			continue;
		}
		if (w == -EINTR)
			continue;
		if (w != -EAGAIN) {
			r = w;
			break;
		}
		if ((err = fd_wait(pd, GORT__PD_WRITE, seq, ctx, file, line))) {
			r = err;
			break;
		}
	} while (done < n);
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
	int rc;
	for (;;) {
		uint32_t seq;
		if ((rc = fd_begin(pd, GORT__PD_READ, ctx, &seq)))
			break;
		int fd = x_accept(pd->fd, addr, addrlen);
		if (fd >= 0) {
			if ((rc = gort_fd_open(fd, out)))
				x_close(fd);
			break;
		}
		if (fd == -EINTR || fd == -ECONNABORTED)
			continue;
		if (fd != -EAGAIN) {
			rc = fd;
			break;
		}
		if ((rc = fd_wait(pd, GORT__PD_READ, seq, ctx, file, line)))
			break;
	}
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
	uint32_t seq = 0;
	int rc = fd_begin(pd, GORT__PD_WRITE, ctx, &seq);
	if (!rc)
		rc = x_connect(pd->fd, addr, addrlen);
	if (rc == -EINPROGRESS || rc == -EINTR) {
		/* in progress: writable means done, SO_ERROR says how */
		for (;;) {
			rc = x_soerror(pd->fd);
			if (rc < 0)
				break;
			if (rc && rc != EINPROGRESS && rc != EALREADY) {
				rc = -rc;
				break;
			}
			if (!rc && x_connected(pd->fd) == 0)
				break; /* connected */
			if ((rc = fd_wait(pd, GORT__PD_WRITE, seq, ctx, file, line)))
				break;
			seq = atomic_load_explicit(&pd->seq[GORT__PD_WRITE], memory_order_acquire);
		}
	}
	pd_release(pd);
	return rc;
}

int gort_fd_port(const gort_fd *f)
{
	if (!f)
		return -EINVAL;
	struct gort__pd *pd = (struct gort__pd *)(uintptr_t)&f->pd; /* a call's reference */
	if (!pd_acquire(pd))
		return -EBADF;
	struct sockaddr_storage ss = {0};
	socklen_t l = sizeof ss;
	int e = errno, rc;
	if (getsockname(pd->fd, (struct sockaddr *)&ss, &l) != 0)
		rc = -errno;
	else if (ss.ss_family == AF_INET)
		rc = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		rc = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		rc = -EAFNOSUPPORT;
	errno = e;
	pd_release(pd);
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
	size_t n = strlen(colon + 1);
	if (!n || n >= pl)
		return -EINVAL;
	memcpy(port, colon + 1, n + 1);
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (strtol(port, NULL, 10) > 65535)
		return -EINVAL; /* getaddrinfo would take it modulo 65536 */
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
	if (!out || !hostport)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH; /* before a name lookup for nothing */
	struct addrinfo *res;
	int rc = resolve(hostport, false, &res);
	if (rc)
		return rc;
	rc = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = x_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			rc = fd;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		gort_fd *f;
		if ((rc = gort_fd_open(fd, &f))) {
			x_close(fd);
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
	return rc;
}

int gort_listen_tcp(const char *hostport, int backlog, gort_fd **out)
{
	if (!out || !hostport || backlog < 0)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	struct addrinfo *res;
	int rc = resolve(hostport, true, &res);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = x_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			rc = fd;
			continue;
		}
		if ((rc = x_bind_listen(fd, ai->ai_addr, ai->ai_addrlen, backlog ? backlog : SOMAXCONN))) {
			x_close(fd);
			continue;
		}
		if ((rc = gort_fd_open(fd, out)))
			x_close(fd);
		break;
	}
	freeaddrinfo(res);
	return rc;
}
