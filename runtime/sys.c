/*
 * sys.c — system-call wrappers (see sys.h).  The one place to add fault
 * injection: each wrapper is the only caller of its system call.
 */
#include "sys.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *gort__sys_mmap(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int gort__sys_munmap(void *addr, size_t len)
{
	return munmap(addr, len);
}

void *gort__sys_malloc(size_t n)
{
	return malloc(n);
}

void *gort__sys_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

void *gort__sys_aligned_alloc(size_t align, size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, align, n) != 0)
		return NULL;
	memset(p, 0, n);
	return p;
}

void gort__sys_free(void *p)
{
	free(p);
}

int gort__sys_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
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
