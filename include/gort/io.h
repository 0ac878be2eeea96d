/*
 * gort/io.h — I/O that parks coroutines instead of threads (runtime/io.c
 * on the netpoller, runtime/netpoll.c).  Included by <gort.h>; do not
 * include it on its own.
 *
 * A gort_fd owns a file descriptor (a socket, a pipe, anything epoll
 * takes) switched to non-blocking mode and registered once with the
 * runtime's poller.  A call that would block parks the calling coroutine
 * until the descriptor is ready (a plain thread sleeps instead), so one M
 * serves any number of connections.  Every blocking call takes a context
 * (NULL: none) and returns, besides its result:
 *   GORT_CANCELED / GORT_DEADLINE_EXCEEDED  the context ended the wait
 *   -ETIMEDOUT   the descriptor's own deadline (gort_fd_set_deadline)
 *                passed; the descriptor stays usable
 *   -EBADF       the descriptor was closed (also while waiting)
 *   -ESRCH       the runtime is not running
 *   any other negative errno from the system call.
 * Calls on one gort_fd from several coroutines are safe; as with Go's
 * net.Conn, concurrent reads (or writes) interleave unpredictably.
 */
#ifndef GORT_IO_H
#define GORT_IO_H

#ifndef GORT_H
#error "include <gort.h>, not <gort/io.h>"
#endif

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gort_fd gort_fd;

/* Take fd over: make it non-blocking and register it.  *out gets the
 * handle.  0, -EINVAL (fd < 0 or out NULL), -ESRCH, -ENOMEM, or the
 * errno of fcntl/epoll_ctl (-EPERM: a regular file, which epoll does not
 * take).  On failure fd is left open and still the caller's. */
GORT_API int gort_fd_open(int fd, gort_fd **out);
/* The descriptor (for setsockopt, getsockname...; do not close it). */
GORT_API int gort_fd_fileno(const gort_fd *f);
/* Close: every waiter on it returns -EBADF, new calls fail with -EBADF,
 * and the descriptor is closed once the calls in progress have left.
 * Frees the handle.  0 or -EINVAL.  Never blocks. */
GORT_API int gort_fd_close(gort_fd *f);
/* Deadlines (absolute, gort_now() ns; 0: none) for the reads and the
 * writes of f, as Go's SetReadDeadline/SetWriteDeadline: a call waiting
 * past one returns -ETIMEDOUT, as does any call started after it, until
 * the deadline is moved.  0, -EINVAL, -EBADF, -ENOMEM. */
GORT_API int gort_fd_set_deadline(gort_fd *f, int64_t read_deadline, int64_t write_deadline);

/* Read up to n bytes: their number (0 at end of file), or an error.
 * Blocks until some data, the end, or an error. */
GORT_API ssize_t gort_read_ctx_at(gort_ctx *ctx, gort_fd *f, void *buf, size_t n, const char *file,
				  int line);
#define gort_read(f, buf, n) gort_read_ctx_at(NULL, (f), (buf), (n), __FILE__, __LINE__)
#define gort_read_ctx(ctx, f, buf, n) gort_read_ctx_at((ctx), (f), (buf), (n), __FILE__, __LINE__)

/* Write all n bytes: n, or an error (then how much went out is unknown
 * to the caller; the peer sees a prefix).  On a socket whose peer is gone
 * it returns -EPIPE (no SIGPIPE); on a pipe, SIGPIPE is the process's to
 * handle, as with write(2).  Blocks until done. */
GORT_API ssize_t gort_write_ctx_at(gort_ctx *ctx, gort_fd *f, const void *buf, size_t n,
				   const char *file, int line);
#define gort_write(f, buf, n) gort_write_ctx_at(NULL, (f), (buf), (n), __FILE__, __LINE__)
#define gort_write_ctx(ctx, f, buf, n) gort_write_ctx_at((ctx), (f), (buf), (n), __FILE__, __LINE__)

/* Accept a connection on listening socket lis: *out gets it (registered,
 * non-blocking, close-on-exec); addr/addrlen as accept(2) (may be NULL).
 * 0 or an error.  Blocks until a connection comes. */
GORT_API int gort_accept_ctx_at(gort_ctx *ctx, gort_fd *lis, gort_fd **out, struct sockaddr *addr,
				socklen_t *addrlen, const char *file, int line);
#define gort_accept(lis, out, addr, addrlen) \
	gort_accept_ctx_at(NULL, (lis), (out), (addr), (addrlen), __FILE__, __LINE__)
#define gort_accept_ctx(ctx, lis, out, addr, addrlen) \
	gort_accept_ctx_at((ctx), (lis), (out), (addr), (addrlen), __FILE__, __LINE__)

/* Connect socket f (non-blocking connect, then wait for completion): 0 or
 * an error (-ECONNREFUSED, ...).  Blocks until connected. */
GORT_API int gort_connect_ctx_at(gort_ctx *ctx, gort_fd *f, const struct sockaddr *addr,
				 socklen_t addrlen, const char *file, int line);
#define gort_connect_ctx(ctx, f, addr, addrlen) \
	gort_connect_ctx_at((ctx), (f), (addr), (addrlen), __FILE__, __LINE__)

/* A TCP connection to "host:port" ("127.0.0.1:80", "[::1]:8080",
 * "localhost:80"): each address the name resolves to is tried in turn.
 * Names go through getaddrinfo inside gort_syscall_enter/exit, so the
 * lookup does not hold a P.  *out gets the connection.  0, -EINVAL (bad
 * address), a getaddrinfo failure as -EHOSTUNREACH, or the last connect's
 * error.  Blocks. */
GORT_API int gort_dial_tcp_ctx_at(gort_ctx *ctx, const char *hostport, gort_fd **out,
				  const char *file, int line);
#define gort_dial_tcp(hostport, out) gort_dial_tcp_ctx_at(NULL, (hostport), (out), __FILE__, __LINE__)
#define gort_dial_tcp_ctx(ctx, hostport, out) \
	gort_dial_tcp_ctx_at((ctx), (hostport), (out), __FILE__, __LINE__)

/* A TCP listener on "host:port" (port 0: any; host "" or "*": every
 * address; SO_REUSEADDR set).  *out gets it; gort_fd_port tells the port.
 * 0, -EINVAL, or the socket/bind/listen error.  Never blocks. */
GORT_API int gort_listen_tcp(const char *hostport, int backlog, gort_fd **out);
/* The local port of a socket (after bind or connect), or a negative
 * errno. */
GORT_API int gort_fd_port(const gort_fd *f);

#ifdef __cplusplus
}
#endif
#endif /* GORT_IO_H */
