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
 *   -EINVAL      a NULL handle or buffer
 *   -ESRCH, -ENOMEM  a context whose deadline was pending at a gort_stop
 *                (gort/context.h)
 *   any other negative errno from the system call.
 * Calls that make a gort_fd (gort_fd_open, gort_accept, gort_dial_tcp,
 * gort_listen_tcp) return -ESRCH when the runtime is not running.
 * gort_stop closes every gort_fd left open (its descriptor too, as
 * gort_fd_close would).  A handle stays readable memory after its close
 * and after gort_stop: every call on it returns -EBADF (a second
 * gort_fd_close included) until the handle is reused for a newer
 * descriptor, which happens only once every other free handle has been
 * (they are recycled oldest first); after that, as close(2) on a stale
 * number, the call acts on the newer descriptor, so do not keep closed
 * handles.  Calls on one gort_fd from several coroutines are safe; as with
 * Go's net.Conn, concurrent reads (or writes) interleave unpredictably.
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

/* A descriptor registered with the runtime's poller. */
typedef struct gort_fd gort_fd;

/*
 * Takes fd over: makes it non-blocking and registers it.  *out gets the
 * handle, which owns fd from then on (gort_fd_close closes it).  On
 * failure fd is left open and still the caller's.
 * Returns: 0; -EINVAL if fd < 0 or out is NULL; -ESRCH if the runtime is
 *   not running; -ENOMEM; the errno of fcntl (-EBADF) or epoll_ctl
 *   (-EPERM: a regular file, which epoll does not take; -EEXIST: fd is
 *   registered already).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_fd_open(int fd, gort_fd **out);
/*
 * The descriptor, for setsockopt, getsockname, ... (do not close it).
 * Returns: the descriptor number; -EINVAL if f is NULL; -EBADF once f
 *   is closed (or being closed).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_fd_fileno(const gort_fd *f);
/*
 * Closes f: every waiter on it returns -EBADF, new calls fail with -EBADF,
 * and the descriptor is closed once the calls in progress have left.
 * Frees the handle: close each handle once.
 * Returns: 0; -EINVAL if f is NULL; -EBADF if f is closed or being
 *   closed already (a second close, also after gort_stop; see the top of
 *   this file for how long that is detected).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_fd_close(gort_fd *f);
/*
 * Deadlines (absolute, gort_now() ns; 0: none) for the reads and the
 * writes of f, as Go's SetReadDeadline/SetWriteDeadline: a call waiting
 * past one returns -ETIMEDOUT, as does any call started after it, until
 * the deadline is moved.  A deadline already past takes effect at once.
 * Returns: 0; -EINVAL if f is NULL or a deadline is negative; -EBADF if f
 *   is closed; -ENOMEM if a deadline's timer could not be armed.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_fd_set_deadline(gort_fd *f, int64_t read_deadline, int64_t write_deadline);

/*
 * Reads up to n bytes into buf (read(2); EINTR is retried).
 * gort_read(f, buf, n) is the form without a context.
 * Returns: the number of bytes read (0 at end of file); -EINVAL if f is
 *   NULL, buf NULL with n > 0, or n > SSIZE_MAX; -EBADF; -ETIMEDOUT (the read
 *   deadline); GORT_CANCELED or GORT_DEADLINE_EXCEEDED; the negative errno
 *   of read(2) (-ECONNRESET, ...).
 * Blocks: yes: until some data, the end, or an error
 * Context: takes ctx (NULL: none)
 * Threads: any coroutine or thread.
 */
GORT_API ssize_t gort_read_ctx_at(gort_ctx *ctx, gort_fd *f, void *buf, size_t n, const char *file,
				  int line);
#define gort_read(f, buf, n) gort_read_ctx_at(NULL, (f), (buf), (n), __FILE__, __LINE__)
#define gort_read_ctx(ctx, f, buf, n) gort_read_ctx_at((ctx), (f), (buf), (n), __FILE__, __LINE__)

/*
 * Writes all n bytes of buf.  On a socket whose peer is gone it returns
 * -EPIPE (no SIGPIPE); on a pipe, SIGPIPE is the process's to handle, as
 * with write(2).  After an error, how much went out is unknown to the
 * caller (the peer sees a prefix).  gort_write(f, buf, n) is the form
 * without a context.
 * Returns: n; -EINVAL if f is NULL, buf NULL with n > 0, or n >
 *   SSIZE_MAX; -EBADF; -ETIMEDOUT (the write deadline); GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED; the negative errno of write(2)/send(2)
 *   (-EPIPE, -ECONNRESET, ...).
 * Blocks: yes: until all n bytes are written, or an error
 * Context: takes ctx (NULL: none)
 * Threads: any coroutine or thread.
 */
GORT_API ssize_t gort_write_ctx_at(gort_ctx *ctx, gort_fd *f, const void *buf, size_t n,
				   const char *file, int line);
#define gort_write(f, buf, n) gort_write_ctx_at(NULL, (f), (buf), (n), __FILE__, __LINE__)
#define gort_write_ctx(ctx, f, buf, n) gort_write_ctx_at((ctx), (f), (buf), (n), __FILE__, __LINE__)

/*
 * Accepts a connection on listening socket lis: *out gets it (registered,
 * non-blocking, close-on-exec); addr/addrlen as accept(2) (may be NULL).
 * EINTR and ECONNABORTED are retried.  gort_accept(lis, out, addr,
 * addrlen) is the form without a context.
 * Returns: 0; -EINVAL if lis or out is NULL; -EBADF; -ETIMEDOUT (lis's
 *   read deadline); GORT_CANCELED or GORT_DEADLINE_EXCEEDED; the negative
 *   errno of accept4 (-EMFILE, ...); gort_fd_open's error for the new
 *   connection (-ESRCH, -ENOMEM; the connection is closed then).
 * Blocks: yes: until a connection comes
 * Context: takes ctx (NULL: none)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_accept_ctx_at(gort_ctx *ctx, gort_fd *lis, gort_fd **out, struct sockaddr *addr,
				socklen_t *addrlen, const char *file, int line);
#define gort_accept(lis, out, addr, addrlen) \
	gort_accept_ctx_at(NULL, (lis), (out), (addr), (addrlen), __FILE__, __LINE__)
#define gort_accept_ctx(ctx, lis, out, addr, addrlen) \
	gort_accept_ctx_at((ctx), (lis), (out), (addr), (addrlen), __FILE__, __LINE__)

/*
 * Connects socket f to addr: a non-blocking connect, then a wait for its
 * completion.  There is no form without a context: pass NULL.  After a
 * failure or a cancel the socket's state is the kernel's (close it).
 * Returns: 0 once connected; -EINVAL if f or addr is NULL; -EBADF;
 *   -ETIMEDOUT (f's write deadline); GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED; the negative errno of connect(2) or of the
 *   socket's SO_ERROR (-ECONNREFUSED, -ENETUNREACH, ...).
 * Blocks: yes: until connected or failed
 * Context: takes ctx (NULL: none)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_connect_ctx_at(gort_ctx *ctx, gort_fd *f, const struct sockaddr *addr,
				 socklen_t addrlen, const char *file, int line);
#define gort_connect_ctx(ctx, f, addr, addrlen) \
	gort_connect_ctx_at((ctx), (f), (addr), (addrlen), __FILE__, __LINE__)

/*
 * A TCP connection (TCP_NODELAY set) to "host:port" ("127.0.0.1:80",
 * "[::1]:8080", "localhost:80"): each address the name resolves to is
 * tried in turn, until one connects or the context ends.  Names go
 * through getaddrinfo inside gort_syscall_enter/exit, so the lookup does
 * not hold a P.  *out gets the connection.  gort_dial_tcp(hostport, out)
 * is the form without a context.
 * Returns: 0; -EINVAL if out is NULL or hostport is NULL or not
 *   "host:port" with a numeric port up to 65535; -ESRCH if the runtime
 *   is not running (before any lookup); -ENOMEM; -EHOSTUNREACH if the name did
 *   not resolve; GORT_CANCELED or GORT_DEADLINE_EXCEEDED; else the error
 *   of the last address tried (socket or connect: -ECONNREFUSED, ...), or
 *   gort_fd_open's (-ESRCH if the runtime is not running).
 * Blocks: yes: through the lookup (its thread) and the connects
 * Context: takes ctx (NULL: none; the lookup itself is not cancellable)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_dial_tcp_ctx_at(gort_ctx *ctx, const char *hostport, gort_fd **out,
				  const char *file, int line);
#define gort_dial_tcp(hostport, out) gort_dial_tcp_ctx_at(NULL, (hostport), (out), __FILE__, __LINE__)
#define gort_dial_tcp_ctx(ctx, hostport, out) \
	gort_dial_tcp_ctx_at((ctx), (hostport), (out), __FILE__, __LINE__)

/*
 * A TCP listener on "host:port" (port 0: any; host "" or "*": every
 * address; SO_REUSEADDR set; backlog 0: SOMAXCONN).  The addresses the
 * name resolves to are tried in turn until one binds.  *out gets it;
 * gort_fd_port tells the port.
 * Returns: 0; -EINVAL if out is NULL, backlog < 0 or hostport is NULL or
 *   not "host:port"; -ESRCH if the runtime is not running (before any
 *   lookup); -ENOMEM; -EHOSTUNREACH if the name did not resolve; the
 *   socket, bind or listen error of the last address tried (-EADDRINUSE,
 *   -EACCES, ...); gort_fd_open's (-ESRCH if the runtime is not running).
 * Blocks: no (a name lookup may take time, inside gort_syscall_enter/exit)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_listen_tcp(const char *hostport, int backlog, gort_fd **out);
/*
 * The local port of a socket (after bind or connect).
 * Returns: the port (0 .. 65535); -EINVAL if f is NULL; -EBADF if f is
 *   closed; -EAFNOSUPPORT if
 *   it is not an IPv4 or IPv6 socket; the negative errno of getsockname
 *   (-ENOTSOCK, ...).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_fd_port(const gort_fd *f);

#ifdef __cplusplus
}
#endif
#endif /* GORT_IO_H */
