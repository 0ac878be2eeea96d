/*
 * chan_helpers.h — helpers shared by the channel and timer tests
 * (test_chan.c, test_chan_spec.c, test_timer.c).  All static inline, so a
 * file that uses only some of them compiles without warnings.
 *
 *   leak_check()            under ASan, fail the test now on a leak
 *   mk(size, cap)           gort_chan_make, asserted
 *   wait_ge(v, target, ms)  poll an atomic (yields in a coroutine, sleeps
 *                           on a plain thread); whether it got there
 *   protected_call(fn, arg, &info)
 *                           fn(arg) in a gort_protect region whose deferred
 *                           call recovers: GORT_PANICKED or 0
 *   rng_next(&state)        xorshift64* (state != 0)
 */
#ifndef GORT_TEST_CHAN_HELPERS_H
#define GORT_TEST_CHAN_HELPERS_H

#include "helpers.h"

#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define GORT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_TEST_ASAN 1
#endif
#endif
#ifdef GORT_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* Under ASan, fail the test on a leak now: LeakSanitizer's report at exit
 * comes after Criterion has recorded the test as passed.  (Allocations
 * made on the test's main thread are hidden by test/lsan.supp's
 * libcriterion.so rule; those made in coroutines are checked.) */
static inline void leak_check(void)
{
#ifdef GORT_TEST_ASAN
	cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
		     "LeakSanitizer found leaks (report on stderr)");
#endif
}

static inline gort_chan *mk(size_t elem_size, size_t cap)
{
	gort_chan *c = gort_chan_make(elem_size, cap);
	cr_assert_not_null(c, "gort_chan_make(%zu, %zu) = NULL", elem_size, cap);
	cr_assert_eq(gort_chan_cap(c), cap);
	cr_assert_eq(gort_chan_len(c), 0);
	return c;
}

static inline bool wait_ge(atomic_int *v, int target, int ms)
{
	int64_t deadline = now_ns() + (int64_t)ms * 1000000;
	while (atomic_load(v) < target) {
		if (now_ns() > deadline)
			return false;
		if (gort_self() != 0)
			gort_yield();
		else
			usleep(100);
	}
	return true;
}

static inline void protected_recover_defer(void *p)
{
	(void)p;
	(void)gort_recover();
}

struct protected_call_args {
	void (*fn)(void *);
	void *arg;
};

static inline void protected_call_region(void *p)
{
	struct protected_call_args *c = p;
	GORT_DEFER(protected_recover_defer, NULL);
	c->fn(c->arg);
}

static inline int protected_call(void (*fn)(void *), void *arg, gort_panic_info *out)
{
	struct protected_call_args c = {fn, arg};
	memset(out, 0, sizeof *out);
	return gort_protect(protected_call_region, &c, out);
}

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
