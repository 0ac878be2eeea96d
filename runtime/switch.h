/*
 * switch.h — the only binding to Boost.Context's fcontext.  Nothing else in
 * the tree knows fcontext exists: the rest of the runtime makes, jumps to
 * and abandons "contexts" through the gort__switch_* calls below.
 *
 * What a switch costs (x86-64): jump_fcontext saves six callee-saved
 * registers, MXCSR and the x87 control word on the old stack, loads the
 * same from the new one, and jumps: ~5 ns when both contexts carry the same
 * MXCSR.  Reloading a *different* MXCSR stalls the pipeline (~72 ns here),
 * and MXCSR's six exception flags are sticky and set by ordinary
 * floating-point work.  So every M calls gort__switch_pin_mxcsr() before it
 * makes or enters any context: it sets all six flags, after which no
 * computation can change the register, and every context made on that M
 * (make_fcontext snapshots the current MXCSR) carries the same value.
 *
 * Sanitizers: under ASan every jump is bracketed by
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber (a dying
 * context passes NULL so ASan frees its fake stack); under TSan each context
 * is a TSan fiber (__tsan_create_fiber / __tsan_switch_to_fiber /
 * __tsan_destroy_fiber).  Valgrind learns of stacks in stack.c.  All of it
 * compiles to nothing in a normal build.
 *
 * Thread-safety: a context is entered by at most one thread at a time; the
 * scheduler's state machine guarantees it (runtime/rt.h).
 */
#ifndef GORT_RUNTIME_SWITCH_H
#define GORT_RUNTIME_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#define GORT__MXCSR_STICKY 0x3Fu /* IE DE ZE OE UE PE */

#include "sys.h" /* GORT__ASAN, GORT__TSAN */

/* Boost.Context's C ABI (its header is C++). */
typedef void *gort__fctx;
typedef struct gort__xfer {
	gort__fctx from; /* the context that jumped here, saved at its switch point */
	void *data;      /* what it passed */
} gort__xfer;

gort__xfer jump_fcontext(gort__fctx const to, void *data);
gort__fctx make_fcontext(void *sp, size_t size, void (*fn)(gort__xfer));
gort__xfer ontop_fcontext(gort__fctx const to, void *data, gort__xfer (*fn)(gort__xfer));

#ifdef GORT__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#endif
#ifdef GORT__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* One execution context as the sanitizers see it: its stack, and their
 * per-context state.  Owned by whoever owns the context (rt.h). */
struct gort__fiber {
#ifdef GORT__ASAN
	void *stack_lo;    /* lowest usable address */
	size_t stack_size; /* usable bytes */
	void *asan_fake;   /* ASan's fake stack, saved while switched out */
#endif
#ifdef GORT__TSAN
	void *tsan; /* the TSan fiber */
#endif
#if !defined(GORT__ASAN) && !defined(GORT__TSAN)
	char none_; /* nothing to keep without sanitizers */
#endif
};

/* Set the six sticky exception flags in this thread's MXCSR (see above). */
void gort__switch_pin_mxcsr(void);

/* Describe the calling thread's own stack as a fiber (an M's scheduler
 * context). */
void gort__switch_thread_fiber(struct gort__fiber *f);

/* Make a new context on [lo, lo+size) that will start in entry(xfer).  The
 * entry must never return; it calls gort__switch_landed_new() first. */
/* *san is per-stack sanitizer state kept with the stack across uses (the
 * TSan fiber: creating one is costly and TSan counts them as threads, so
 * they live as long as the stack, and there are as many as stacks). */
static inline gort__fctx gort__switch_make(struct gort__fiber *f, void *lo, size_t size,
					   void (*entry)(gort__xfer), void **san)
{
#ifdef GORT__ASAN
	f->stack_lo = lo; /* only ASan reads these: keep the G's hot line clean */
	f->stack_size = size;
#endif
#ifdef GORT__TSAN
	if (!*san)
		*san = __tsan_create_fiber(0);
	f->tsan = *san;
#else
	(void)san;
#endif
	(void)f;
	gort__fctx ctx = make_fcontext((char *)lo + size, size, entry);
#if defined(__x86_64__)
	/* make_fcontext snapshots the current MXCSR into the new context's
	 * first word (Boost's x86-64 SysV layout: MXCSR at +0, x87 control
	 * word at +4).  The current context may be a coroutine that cleared
	 * its flags on purpose: pin the new context's copy regardless. */
	*(uint32_t *)ctx |= GORT__MXCSR_STICKY;
#endif
	return ctx;
}

/* Release the per-stack sanitizer state (when the stack is unmapped). */
static inline void gort__switch_san_release(void *san)
{
#if defined(GORT__TSAN) && !defined(__clang__)
	if (san)
		__tsan_destroy_fiber(san);
#elif defined(GORT__TSAN)
	/* clang 14's TSan crashes destroying a fiber that is not current
	 * (CHECK thr->slot != 0 in ThreadFinish; fixed upstream later): leave
	 * it to the process's exit. */
	(void)san;
#else
	(void)san;
#endif
}

/* Jump from the running context (described by self) to the context to,
 * passing data.  Returns when something jumps back to self, with what that
 * one passed. */
/* The sanitizers' half of a switch to `to`; fake_save is where ASan keeps
 * the leaving context's fake stack (NULL: it is finished). */
#ifdef GORT__ASAN
#define GORT__ASAN_FAKE(f) (&(f)->asan_fake)
#else
#define GORT__ASAN_FAKE(f) NULL
#endif
__attribute__((always_inline)) static inline void gort__switch_san_before(void **fake_save,
									   struct gort__fiber *to)
{
#ifdef GORT__ASAN
	__sanitizer_start_switch_fiber(fake_save, to->stack_lo, to->stack_size);
#endif
#ifdef GORT__TSAN
	__tsan_switch_to_fiber(to->tsan, 0);
#endif
	(void)fake_save;
	(void)to;
}

static inline gort__xfer gort__switch_jump(struct gort__fiber *self, struct gort__fiber *to,
					   gort__fctx ctx, void *data)
{
	gort__switch_san_before(GORT__ASAN_FAKE(self), to);
	gort__xfer t = jump_fcontext(ctx, data);
#ifdef GORT__ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake, NULL, NULL);
#endif
	(void)self;
	return t;
}

/* As gort__switch_jump, for a context that is finished: it never resumes. */
GORT__NO_TSAN __attribute__((always_inline)) static inline _Noreturn void
gort__switch_exit(struct gort__fiber *self, struct gort__fiber *to, gort__fctx ctx, void *data)
{
	(void)self;
	gort__switch_san_before(NULL, to);
	jump_fcontext(ctx, data);
	__builtin_unreachable();
}

/* First thing a new context does. */
static inline void gort__switch_landed_new(void)
{
#ifdef GORT__ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

#endif
