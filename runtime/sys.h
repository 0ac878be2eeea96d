/*
 * sys.h — the runtime's one door to the operating system.
 *
 * Every mmap, malloc, thread creation, poller descriptor and futex call of
 * the runtime goes through these wrappers, so that tests can make them
 * fail on purpose (fault injection: inject.h, docs/reliability.md) and so
 * that nothing else in the tree needs to know the raw system interfaces.  Also: the fatal
 * error path (Go's throw) and a few cheap, always-on checks.
 *
 * errno: the futex and time calls leave errno as they found it (they run
 * on a coroutine's behalf inside gort calls that must not change the
 * coroutine's errno); the others may set it when they fail.
 *
 * Thread-safety: every function here may be called from any thread.
 */
#ifndef GORT_RUNTIME_SYS_H
#define GORT_RUNTIME_SYS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Sanitizer builds (set by the compiler). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORT__ASAN)
#define GORT__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORT__TSAN)
#define GORT__TSAN 1
#endif

#ifdef GORT__TSAN
/* For functions that never return (their frames are abandoned): TSan must
 * not push a shadow frame for them.  clang's no_sanitize("thread") still
 * emits __tsan_func_entry/exit; disable_sanitizer_instrumentation does not.
 * gcc's no_sanitize("thread") drops them. */
#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define GORT__NO_TSAN __attribute__((disable_sanitizer_instrumentation))
#endif
#endif
#ifndef GORT__NO_TSAN
#define GORT__NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#else
#define GORT__NO_TSAN
#endif
#ifdef GORT__ASAN
#define GORT__NO_ASAN __attribute__((no_sanitize("address")))
#else
#define GORT__NO_ASAN
#endif
#define GORT__HIDDEN __attribute__((visibility("hidden")))
/* For the few static functions on the path of every switch or channel
 * operation, which -O2 would leave out of line (measured: pingpong). */
#define GORT__INLINE static inline __attribute__((always_inline))
#define gort__likely(x) __builtin_expect(!!(x), 1)
#define gort__unlikely(x) __builtin_expect(!!(x), 0)
#define GORT__CACHELINE 64

/* memory.  Each wrapper that can fail takes its caller's file:line (the
 * macros pass them) so that fault injection (inject.h) can fail one call
 * site and report which sites it reached. */
void *gort__sys_mmap_at(size_t len, int prot, int flags, const char *file, int line);
#define gort__sys_mmap(len, prot, flags) gort__sys_mmap_at((len), (prot), (flags), __FILE__, __LINE__)
int gort__sys_munmap(void *addr, size_t len);
void *gort__sys_malloc_at(size_t n, const char *file, int line);
#define gort__sys_malloc(n) gort__sys_malloc_at((n), __FILE__, __LINE__)
void *gort__sys_calloc_at(size_t n, size_t size, const char *file, int line);
#define gort__sys_calloc(n, size) gort__sys_calloc_at((n), (size), __FILE__, __LINE__)
void *gort__sys_realloc_at(void *p, size_t n, const char *file, int line);
#define gort__sys_realloc(p, n) gort__sys_realloc_at((p), (n), __FILE__, __LINE__)
/* zeroed; free with gort__sys_free */
void *gort__sys_aligned_alloc_at(size_t align, size_t n, const char *file, int line);
#define gort__sys_aligned_alloc(align, n) gort__sys_aligned_alloc_at((align), (n), __FILE__, __LINE__)
void gort__sys_free(void *p);

/* the poller's descriptors: as the system calls (-1 and errno) */
int gort__sys_epoll_create_at(const char *file, int line);
#define gort__sys_epoll_create() gort__sys_epoll_create_at(__FILE__, __LINE__)
struct epoll_event;
int gort__sys_epoll_ctl_at(int epfd, int op, int fd, struct epoll_event *ev, const char *file, int line);
#define gort__sys_epoll_ctl(epfd, op, fd, ev) gort__sys_epoll_ctl_at((epfd), (op), (fd), (ev), __FILE__, __LINE__)
int gort__sys_eventfd_at(const char *file, int line); /* nonblocking, close-on-exec */
#define gort__sys_eventfd() gort__sys_eventfd_at(__FILE__, __LINE__)
int gort__sys_pipe_at(int fds[2], const char *file, int line); /* nonblocking, close-on-exec */
#define gort__sys_pipe(fds) gort__sys_pipe_at((fds), __FILE__, __LINE__)

/* Give the pages of n ranges back to the kernel (MADV_DONTNEED; guard
 * markers and PROT_NONE guards survive).  Where the kernel accepts it on
 * the calling process, one process_madvise call per batch of ranges: one
 * TLB shootdown per batch instead of one per range (13 us -> 0.6 us per
 * 32 KiB range here, with another thread running). */
struct iovec;
void gort__sys_release_pages(struct iovec *v, int n);
/* Open the pidfd process_madvise needs, at start with the runtime's other
 * descriptors (opened at the first trim, it looked like a descriptor
 * leaked by whatever ran then: the soak's per-round count saw it). */
void gort__sys_release_pages_init(void);
void gort__sys_release_pages_fini(void); /* close the cached pidfd */

/* threads: 0 or a positive errno (as pthread_create) */
int gort__sys_thread_create_at(pthread_t *t, void *(*fn)(void *), void *arg, const char *file, int line);
#define gort__sys_thread_create(t, fn, arg) gort__sys_thread_create_at((t), (fn), (arg), __FILE__, __LINE__)

/* futex on a 32-bit word, process-private.  wait returns 0 when woken (or
 * spuriously), -ETIMEDOUT, -EAGAIN (*addr != val) or -EINTR.  deadline_ns
 * is absolute CLOCK_MONOTONIC, or -1 for none. */
int gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns);
void gort__futex_wake(_Atomic uint32_t *addr, int n);

/* time */
int64_t gort__nanotime(void);   /* CLOCK_MONOTONIC in ns */

/* A cheap timestamp for "since when" records on hot paths (a park): the
 * TSC on x86 (one instruction, constant rate on every CPU Linux calls
 * constant_tsc), else the coarse clock in ns.  Only differences mean
 * anything; a reader converts them with a rate measured against
 * gort__nanotime. */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t gort__ticks(void)
{
	return __rdtsc();
}
#else
uint64_t gort__ticks(void);
#endif

/* number of CPUs this process may run on (sched_getaffinity), at least 1 */
int gort__sys_ncpu(void);

/* Runtime corruption or an impossible state: print "fatal error: ..." and
 * abort.  Never recoverable (Go's throw). */
_Noreturn void gort__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Always-on cheap assertion: prints the expression and file:line, aborts. */
#define gort__assert(e) \
	((e) ? (void)0 : gort__fatal("assertion failed: %s (%s:%d)", #e, __FILE__, __LINE__))

/* Async-signal-safe output helpers (write(2) only). */
void gort__ss_puts(int fd, const char *s);
void gort__ss_putu(int fd, uint64_t v);

#endif
