/*
 * timer.h — per-P timer heaps (see timer.c).
 */
#ifndef GORT_RUNTIME_TIMER_H
#define GORT_RUNTIME_TIMER_H

#include "rt.h"

struct gort__timer;
/* Runs on whatever M runs the heap, under the heap's lock (must not block
 * or take a timer lock; may ready coroutines and try_send), or for a timer
 * armed with gort__timer_start_unlocked, just after that lock is released
 * (may also stop and arm timers; must not block). */
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
	bool unlocked;           /* (h) fn runs after the heap lock is released */
	struct gort__timer *later; /* (the M running the heap) its run's list of
				   * unlocked timers whose fn is still to run */
	/* (o) set by the owner, or NULL: called by gort_stop for a timer still
	 * armed, which will never fire (a timer that owns itself frees itself) */
	void (*drop)(struct gort__timer *t, void *arg);
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
/* Arm t, one-shot, with fn run just after the heap's lock is released, so
 * that fn may stop and arm timers (a context's deadline cancels a tree).
 * gort__timer_stop cannot wait for such an fn: false from it means fn ran
 * or is about to, so t must stay valid until fn has run (fn typically
 * drops the owner's reference).  0 or -ENOMEM. */
int gort__timer_start_unlocked(struct gort__timer *t, int64_t when, gort__timer_fn fn, void *arg);
/* Disarm: true if it was armed (it will not fire), false if it already
 * fired (one-shot) or was never armed.  Waits for a running callback
 * (not one run unlocked). */
bool gort__timer_stop(struct gort__timer *t);

/* At gort_start: room for the first timers of p's heap (so that arming
 * one needs no memory until many are armed at once).  0 or -ENOMEM. */
int gort__timers_init(struct gort__p *p);
/* Run p's due timers (from the scheduler).  Cheap when none is due. */
void gort__timers_run(struct gort__p *p, int64_t now);
/* Earliest deadline over every P (0: none). */
int64_t gort__timers_earliest(void);
/* At gort_stop: drop p's heap; its timers never fire (see dropped and
 * drop). */
void gort__timers_fini(struct gort__p *p);

#endif
