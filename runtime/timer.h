/*
 * timer.h — per-P timer heaps (see timer.c).
 */
#ifndef GORT_RUNTIME_TIMER_H
#define GORT_RUNTIME_TIMER_H

#include "rt.h"

struct gort__timer;
/* Runs under the owning heap's lock, on whatever M runs the heap: must not
 * block or take a timer lock; may ready coroutines and try_send. */
typedef void (*gort__timer_fn)(struct gort__timer *t, void *arg, int64_t now);

struct gort__timer {
	int64_t when;            /* (h) absolute CLOCK_MONOTONIC ns */
	int64_t period;          /* (h) > 0: re-armed after each firing */
	gort__timer_fn fn;       /* (h) */
	void *arg;               /* (h) */
	struct gort__theap *heap; /* (h) where it is queued, NULL when not; also read
				   * lock-free by stop (__atomic acquire/release) */
	int idx;                 /* (h) index in heap */
	struct gort__theap *home; /* (o) the heap it was last armed on: set by start,
				   * read by stop, both by the timer's owner; NULL
				   * once gort_stop dropped the heap */
	bool dropped;            /* (o) armed when gort_stop dropped its heap: it
				   * will never fire, and stop says it was armed */
	uint64_t run_id;         /* (o) gort__sched.run_id when armed: home is
				   * valid only in that run */
};

/* The absolute time ns from now, saturated at INT64_MAX (a duration too
 * long to add to the clock is "never", not a time in the past). */
static inline int64_t gort__deadline_after(int64_t ns)
{
	int64_t now = gort__nanotime();
	return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* Arm t (not armed; zero it before its first use) to fire at when
 * (period > 0: repeatedly).  0 or -ENOMEM. */
int gort__timer_start(struct gort__timer *t, int64_t when, int64_t period, gort__timer_fn fn,
		      void *arg);
/* Disarm: true if it was armed (it will not fire), false if it already
 * fired (one-shot) or was never armed.  Waits for a running callback. */
bool gort__timer_stop(struct gort__timer *t);

/* Run p's due timers (from the scheduler).  Cheap when none is due. */
void gort__timers_run(struct gort__p *p, int64_t now);
/* Earliest deadline over every P (0: none). */
int64_t gort__timers_earliest(void);
/* At gort_stop: drop p's heap; its timers never fire (see dropped). */
void gort__timers_fini(struct gort__p *p);

#endif
