/*
 * lock.h — the runtime's two thread-level primitives, built on futexes and
 * C11 atomics only:
 *
 *   gort__lock  a mutex for short internal critical sections (Drepper's
 *               three-state futex mutex: 0 free, 1 held, 2 held with
 *               sleepers).  Acquire is a CAS with acquire order, release an
 *               exchange with release order, pairing with the next acquire.
 *               Because it is only atomics, a lock taken on one coroutine's
 *               stack may be released on another stack of the same thread
 *               (that is how parking releases a channel's lock after the
 *               coroutine is off its stack), and TSan sees every pair.
 *               Never held across a switch, except by parking's hand-off.
 *
 *   gort__note  a one-shot event an OS thread sleeps on (an idle M, a plain
 *               thread blocked in a gort call).  wake stores 1 (release)
 *               then futex-wakes; sleep waits until it reads 1 (acquire).
 *               Whoever reuses it clears it first.
 */
#ifndef GORT_RUNTIME_LOCK_H
#define GORT_RUNTIME_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sys.h"

typedef struct gort__lock {
	_Atomic uint32_t state; /* 0 free, 1 held, 2 held and contended */
} gort__lock;

#define GORT__LOCK_INIT {0}

void gort__lock_slow(gort__lock *l);
void gort__lock_wake(gort__lock *l);

static inline void gort__lock_acquire(gort__lock *l)
{
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(&l->state, &z, 1, memory_order_acquire,
						     memory_order_relaxed))
		gort__lock_slow(l);
}

static inline void gort__lock_release(gort__lock *l)
{
	if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
		gort__lock_wake(l);
}

typedef struct gort__note {
	_Atomic uint32_t key; /* 0 not signalled, 1 signalled */
} gort__note;

static inline void gort__note_clear(gort__note *n)
{
	atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void gort__note_wake(gort__note *n);
void gort__note_sleep(gort__note *n);
/* Sleep until woken or the absolute monotonic deadline; true if woken. */
bool gort__note_sleep_until(gort__note *n, int64_t deadline_ns);

/* A full (seq_cst) fence: the StoreLoad barrier of the spinning protocol
 * (sched.c).  GCC's TSan rejects atomic_thread_fence, so under TSan it is a
 * seq_cst read-modify-write of a thread-private word: the same barrier on
 * x86, and an atomic TSan can see. */
#ifdef GORT__TSAN
extern __thread _Atomic int gort__fence_word;
static inline void gort__fence_sc(void)
{
	atomic_fetch_add_explicit(&gort__fence_word, 0, memory_order_seq_cst);
}
#else
static inline void gort__fence_sc(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}
#endif

/* One short CPU pause (x86 PAUSE). */
static inline void gort__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

#endif
