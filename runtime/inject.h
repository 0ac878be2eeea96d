/*
 * inject.h — fault injection: make the runtime's doors to the operating
 * system (sys.h) fail on purpose, so that tests can walk every failure
 * path (docs/reliability.md).
 *
 * Every wrapper of sys.h that can fail (memory, threads, the poller's
 * descriptors) asks gort__inject_fail() first, but only while a plan is
 * armed: disarmed, the price is one relaxed load of gort__inject_armed
 * and a branch.  A plan fails the nth matching call after arming (once, or
 * every call from then on) and/or each matching call with a probability
 * drawn from a seeded generator, so a failure replays.  Each call site (a
 * "point", file:line of the wrapper's caller) is remembered with how often
 * it was called and failed while armed, for the tests' coverage report.
 *
 * Not for programs: the API is internal (hidden), used by test/test_fault.c.
 * Thread-safety: arm/disarm/points from any thread; the decision is taken
 * under one leaf spin lock (injection runs with runtime locks held).
 */
#ifndef GORT_RUNTIME_INJECT_H
#define GORT_RUNTIME_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum gort__fault {
	GORT__FAULT_MMAP,   /* gort__sys_mmap: stacks, signal stacks */
	GORT__FAULT_ALLOC,  /* malloc, calloc, realloc, aligned_alloc */
	GORT__FAULT_THREAD, /* gort__sys_thread_create: Ms, sysmon */
	GORT__FAULT_FD,     /* epoll_create1, epoll_ctl, eventfd, pipe2 */
	GORT__FAULT_COUNT_
};
#define GORT__FAULT_ALL ((1u << GORT__FAULT_COUNT_) - 1)

struct gort__inject_plan {
	unsigned kinds; /* bit mask of 1u << enum gort__fault */
	uint64_t nth;   /* fail the nth matching call after arming (1: the next); 0: none */
	bool every;     /* and every matching call after it, not just that one */
	uint32_t ppm;   /* also fail each matching call with this chance per million */
	uint64_t seed;  /* of the ppm draws */
};

struct gort__inject_point {
	const char *file; /* the wrapper's caller */
	int line;
	int kind;        /* enum gort__fault */
	uint64_t calls;  /* while armed */
	uint64_t failed; /* injected failures */
};

/* (a) relaxed: is a plan armed?  Read by every wrapper. */
extern _Atomic bool gort__inject_armed;

void gort__inject_arm(const struct gort__inject_plan *plan);
void gort__inject_disarm(void);
/* Failures injected since the last arm. */
uint64_t gort__inject_failures(void);
/* The points called while armed since the process started (or the last
 * reset), up to max; returns how many there are. */
int gort__inject_points(struct gort__inject_point *out, int max);
void gort__inject_points_reset(void);

/* The wrappers' question: should this call fail?  Sets errno when it says
 * yes (ENOMEM, EAGAIN for threads, EMFILE for descriptors). */
bool gort__inject_fail(int kind, const char *file, int line);

#define GORT__INJECT(kind, file, line)                                                             \
	(__builtin_expect(atomic_load_explicit(&gort__inject_armed, memory_order_relaxed), 0) &&   \
	 gort__inject_fail((kind), (file), (line)))

#endif
