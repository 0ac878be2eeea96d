/*
 * switch.c — the out-of-line parts of the fcontext binding (switch.h).
 */
#include "switch.h"

#include <pthread.h>
#include <stdint.h>

void gort__switch_pin_mxcsr(void)
{
#if defined(__x86_64__)
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	v |= GORT__MXCSR_STICKY;
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
#endif
}

void gort__switch_thread_fiber(struct gort__fiber *f)
{
#ifdef GORT__ASAN
	pthread_attr_t attr;
	f->stack_lo = NULL;
	f->stack_size = 0;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		void *lo;
		size_t size;
		if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
			f->stack_lo = lo;
			f->stack_size = size;
		}
		pthread_attr_destroy(&attr);
	}
	f->asan_fake = NULL;
#endif
#ifdef GORT__TSAN
	f->tsan = __tsan_get_current_fiber();
#endif
	(void)f;
}
