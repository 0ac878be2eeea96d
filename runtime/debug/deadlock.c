/*
 * deadlock.c — "fatal error: all coroutines are asleep - deadlock!"
 *
 * Owns: the detector's memory of what it last saw.
 *
 * When: an M is about to sleep with no P and no timer pending.  If then
 * every P is idle, the global queue is empty, no timer is pending, some
 * coroutine is alive (and, under gort_main, the main function has not
 * returned), nothing can run unless something outside the runtime wakes
 * it.  Go can conclude at once; an embedding C program may have plain
 * threads that still send on a channel, and an M may be a moment from
 * readying a coroutine, so the M sleeps a confirmation window
 * (CONFIRM_NS) instead of for ever, and the verdict needs the same picture
 * again with the scheduler's activity counters unchanged.  Then: the
 * message, the grouped dump, and abort() (deadlock=abort, the default
 * under gort_main) or nothing more (deadlock=report, once per stuck
 * state).  Off by default for gort_start (plain threads are the norm
 * there) and with deadlock=off.
 *
 * Coroutines waiting on descriptors (the poller may ready them) and Ps in
 * a marked system call (not idle) mean progress is possible.
 */
#include <stdlib.h>

#include "../netpoll.h"
#include "../timer.h"
#include "monitor.h"

#define CONFIRM_NS 100000000 /* 100 ms */

_Atomic bool gort__dbg_main_done;      /* (a) gort_main's function returned */
static _Atomic uint64_t seen_activity; /* (a) relaxed: the picture being confirmed */
static _Atomic uint64_t reported;      /* (a) relaxed: the activity last reported (+1), 0 none */

void gort__deadlock_reset(void)
{
	atomic_store(&seen_activity, 0);
	atomic_store(&reported, 0);
	atomic_store(&gort__dbg_main_done, false);
}

static int mode(void)
{
	int m = gort__dbg.deadlock;
	if (m == GORT__DEADLOCK_DEFAULT)
		m = gort__dbg_under_main ? GORT__DEADLOCK_ABORT : GORT__DEADLOCK_OFF;
	return m;
}

/* Everything asleep?  *activity gets the counters' sum. */
static bool all_asleep(uint64_t *activity)
{
	gort_stats st;
	if (gort_stats_read(&st) != 0)
		return false;
	*activity = st.spawns + st.runs + st.parks + st.wakeups + st.timers_fired + st.global_puts;
	return st.idle_procs == st.procs && st.spawns > st.exits &&
	       !atomic_load_explicit(&gort__netpoll_waiters, memory_order_relaxed) &&
	       atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed) == 0 &&
	       gort__timers_earliest() == 0 && !atomic_load(&gort__dbg_main_done);
}

int64_t gort__deadlock_idle_deadline(void)
{
	if (mode() == GORT__DEADLOCK_OFF)
		return 0;
	uint64_t a;
	if (!all_asleep(&a) || atomic_load_explicit(&reported, memory_order_relaxed) == a + 1)
		return 0;
	atomic_store_explicit(&seen_activity, a, memory_order_relaxed);
	return gort__nanotime() + CONFIRM_NS;
}

void gort__deadlock_check(void)
{
	int m = mode();
	uint64_t a;
	if (m == GORT__DEADLOCK_OFF || !all_asleep(&a) ||
	    a != atomic_load_explicit(&seen_activity, memory_order_relaxed))
		return;
	uint64_t prev = atomic_exchange_explicit(&reported, a + 1, memory_order_relaxed);
	if (prev == a + 1)
		return; /* another M reported this one */
	fprintf(stderr, "fatal error: all coroutines are asleep - deadlock!\n\n");
	/* sites, no backtraces: this runs on an M's 256 KiB thread stack, and
	 * symbolising needs more than that under the sanitizers */
	gort_dump_file(stderr, GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE);
	if (m == GORT__DEADLOCK_ABORT) {
		fflush(stderr);
		abort();
	}
}
