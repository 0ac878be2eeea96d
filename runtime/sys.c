/*
 * sys.c — system-call wrappers (see sys.h).  Each wrapper that can fail
 * asks fault injection (inject.h) first; each is the only caller of its
 * system call in the runtime.
 */
#include "sys.h"

#include "inject.h"
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void *gort__sys_mmap_at(size_t len, int prot, int flags, const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_MMAP, file, line))
		return NULL;
	void *p = mmap(NULL, len, prot, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int gort__sys_munmap(void *addr, size_t len)
{
	return munmap(addr, len);
}

void *gort__sys_malloc_at(size_t n, const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_ALLOC, file, line))
		return NULL;
	return malloc(n);
}

void *gort__sys_calloc_at(size_t n, size_t size, const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_ALLOC, file, line))
		return NULL;
	return calloc(n, size);
}

void *gort__sys_realloc_at(void *p, size_t n, const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_ALLOC, file, line))
		return NULL;
	return realloc(p, n);
}

void *gort__sys_aligned_alloc_at(size_t align, size_t n, const char *file, int line)
{
	void *p = NULL;
	if (GORT__INJECT(GORT__FAULT_ALLOC, file, line) || posix_memalign(&p, align, n) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

void gort__sys_free(void *p)
{
	free(p);
}

int gort__sys_epoll_create_at(const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_FD, file, line))
		return -1;
	return epoll_create1(EPOLL_CLOEXEC);
}

int gort__sys_epoll_ctl_at(int epfd, int op, int fd, struct epoll_event *ev, const char *file, int line)
{
	if (op != EPOLL_CTL_DEL && GORT__INJECT(GORT__FAULT_FD, file, line))
		return -1;
	return epoll_ctl(epfd, op, fd, ev);
}

int gort__sys_eventfd_at(const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_FD, file, line))
		return -1;
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int gort__sys_pipe_at(int fds[2], const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_FD, file, line))
		return -1;
	return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
}

/* The pidfd of this process for process_madvise: reopened after a fork
 * (pid changes); -2 once the kernel refused, then madvise only. */
static gort__lock self_fd_lock = GORT__LOCK_INIT;
static int self_fd = -1;  /* (self_fd_lock) */
static pid_t self_pid;    /* (self_fd_lock) the pid self_fd refers to */

static int self_pidfd(void)
{
	pid_t pid = getpid();
	gort__lock_acquire(&self_fd_lock);
	if (self_fd != -2 && self_pid != pid) {
		if (self_fd >= 0)
			close(self_fd);
		self_fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (self_fd < 0)
			self_fd = -2;
		self_pid = pid;
	}
	int fd = self_fd;
	gort__lock_release(&self_fd_lock);
	return fd;
}

static void refuse_process_madvise(void)
{
	gort__lock_acquire(&self_fd_lock);
	if (self_fd >= 0)
		close(self_fd);
	self_fd = -2;
	gort__lock_release(&self_fd_lock);
}

void gort__sys_release_pages(struct iovec *v, int n)
{
	int done = 0;
	int fd = self_pidfd();
	if (fd >= 0) {
		long r = syscall(SYS_process_madvise, fd, v, (size_t)n, MADV_DONTNEED, 0u);
		if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM || errno == EBADF))
			refuse_process_madvise(); /* an older kernel: DONTNEED on self not allowed */
		/* ranges are done in order: skip those wholly advised */
		for (size_t left = r > 0 ? (size_t)r : 0; done < n && left >= v[done].iov_len; done++)
			left -= v[done].iov_len;
	}
	for (; done < n; done++)
		madvise(v[done].iov_base, v[done].iov_len, MADV_DONTNEED);
}

void gort__sys_release_pages_init(void)
{
	(void)self_pidfd();
}

void gort__sys_release_pages_fini(void)
{
	gort__lock_acquire(&self_fd_lock);
	if (self_fd >= 0)
		close(self_fd);
	self_fd = -1;
	self_pid = 0;
	gort__lock_release(&self_fd_lock);
}

int gort__sys_thread_create_at(pthread_t *t, void *(*fn)(void *), void *arg, const char *file, int line)
{
	if (GORT__INJECT(GORT__FAULT_THREAD, file, line))
		return EAGAIN;
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);
	if (rc)
		return rc;
	/* The M's own stack only runs the scheduler loop: 256 KiB is plenty. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc;
}

int gort__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;
	int op = FUTEX_WAIT_PRIVATE;
	if (deadline_ns >= 0) {
		/* FUTEX_WAIT_BITSET takes an absolute deadline on CLOCK_MONOTONIC. */
		op = FUTEX_WAIT_BITSET_PRIVATE;
		ts.tv_sec = deadline_ns / 1000000000;
		ts.tv_nsec = deadline_ns % 1000000000;
		tsp = &ts;
	}
	int saved = errno; /* the caller's (a coroutine's) errno is not ours to change */
	long rc = syscall(SYS_futex, (uint32_t *)addr, op, val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
	int err = rc == 0 ? 0 : -errno;
	errno = saved;
	return err;
}

void gort__futex_wake(_Atomic uint32_t *addr, int n)
{
	int saved = errno;
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = saved;
}

#if !defined(__x86_64__) && !defined(__i386__)
uint64_t gort__ticks(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

int64_t gort__nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int gort__sys_ncpu(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void gort__fatal(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fatal error: %s\n", buf);
	fflush(stderr);
	abort();
}

void gort__ss_puts(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

void gort__ss_putu(int fd, uint64_t v)
{
	char buf[24];
	int i = (int)sizeof buf - 1;
	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	gort__ss_puts(fd, buf + i);
}
