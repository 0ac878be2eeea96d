/*
 * gort/debug.h — seeing every coroutine, catching leaks and deadlocks
 * (runtime/debug/).  Included by <gort.h>; do not include it on its own.
 *
 * The runtime knows every wait: each blocking call records why the
 * coroutine waits, the file:line of the call (the _at macros), since when,
 * and what it waits on; each spawn records its site and parent.  The calls
 * below read that, racily but safely, while everything runs: a coroutine
 * that changes state during a dump is shown in one state or the other.
 * See docs/leaks.md.
 */
#ifndef GORT_DEBUG_H
#define GORT_DEBUG_H

#ifndef GORT_H
#error "include <gort.h>, not <gort/debug.h>"
#endif

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Counts by state and wait reason                                           */
/* ------------------------------------------------------------------------ */

/* Why a coroutine waits. */
typedef enum gort_wait_reason {
	GORT_WAIT_NONE = 0,      /* not waiting */
	GORT_WAIT_WAITGROUP,     /* gort_wg_wait */
	GORT_WAIT_CHAN_SEND,     /* gort_chan_send */
	GORT_WAIT_CHAN_RECV,     /* gort_chan_recv */
	GORT_WAIT_CHAN_SEND_NIL, /* send on a NULL channel: forever */
	GORT_WAIT_CHAN_RECV_NIL, /* receive from a NULL channel: forever */
	GORT_WAIT_SELECT,        /* gort_select and its variants */
	GORT_WAIT_SELECT_EMPTY,  /* a select with no cases: forever */
	GORT_WAIT_SLEEP,         /* gort_sleep */
	GORT_WAIT_MUTEX,         /* gort_mutex_lock */
	GORT_WAIT_RWMUTEX_R,     /* gort_rwmutex_rlock */
	GORT_WAIT_RWMUTEX_W,     /* gort_rwmutex_lock */
	GORT_WAIT_COND,          /* gort_cond_wait */
	GORT_WAIT_SEMAPHORE,     /* gort_sem_acquire */
	GORT_WAIT_IO_READ,       /* gort_read, gort_accept on a descriptor */
	GORT_WAIT_IO_WRITE,      /* gort_write, gort_connect on a descriptor */
	GORT_WAIT_REASONS        /* how many there are */
} gort_wait_reason;

/*
 * The name dumps show for a wait reason ("chan receive", ...).
 * Returns: a static string; "?" for GORT_WAIT_NONE, GORT_WAIT_REASONS and
 *   any value out of range.
 * Blocks: no
 * Threads: any coroutine or thread; the runtime need not run.
 */
GORT_API const char *gort_wait_reason_name(gort_wait_reason r);

/* Live coroutines by state, and the waiting ones by reason.  A snapshot
 * taken while they run: the parts may not add up exactly. */
typedef struct gort_coroutine_counts {
	int64_t live;     /* runnable + running + waiting */
	int64_t runnable; /* on a run queue */
	int64_t running;  /* on an M right now */
	int64_t waiting;  /* parked */
	int64_t by_reason[GORT_WAIT_REASONS]; /* waiting, by gort_wait_reason */
} gort_coroutine_counts;

/*
 * Fills *out by walking every coroutine (O(coroutines ever alive at once)).
 * Returns: 0; -EINVAL if out is NULL; -ESRCH if the runtime is not
 *   running; -ENOMEM if the snapshot could not be allocated.
 * Blocks: no (a walk without stopping anyone)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_coroutine_counts_read(gort_coroutine_counts *out);

/* ------------------------------------------------------------------------ */
/* Dumps                                                                     */
/* ------------------------------------------------------------------------ */

/* Flags for the dumps. */
enum {
	/* One entry per group of coroutines with the same state, wait reason,
	 * blocked-at site and spawn site, with a count, largest first (what
	 * one reads when 100,000 are stuck in the same place; pprof's
	 * goroutine profile at debug=1). */
	GORT_DUMP_GROUPED = 1u << 0,
	/* No backtraces of parked stacks (faster; sites only). */
	GORT_DUMP_NO_BACKTRACE = 1u << 1,
};

/*
 * Writes every live coroutine to fd, Go-style:
 *
 *   coroutine 17 "worker-3" [chan receive, 12 minutes]:
 *   	blocked at server.c:88
 *   	#0 0x55d1c2a0 worker+0x4f
 *   	        server.c:88
 *   	...
 *   created by coroutine 1 at server.c:40
 *
 * A running coroutine says [running] and has no backtrace (its stack is
 * in use).  With GORT_DUMP_GROUPED:
 *
 *   10000 coroutines [chan receive, 2 s .. 12 minutes]:
 *   	blocked at server.c:88
 *   	(the backtrace of one of them)
 *   created at server.c:40
 *
 * The caller's own coroutine is included (as running).  Not
 * async-signal-safe: from a signal, use the dumpsig debug option, which
 * hands the dump to a thread of its own.  gort_dump_file writes the same
 * to a stdio stream, flushed before it returns.
 * Returns: the number of coroutines written; -EINVAL if fd < 0 (or f is
 *   NULL) or flags has a bit other than the GORT_DUMP_ flags; -ESRCH if the runtime is not running; -ENOMEM (snapshot or
 *   grouping); the negative errno of a failed dup, fdopen, write or flush.
 * Blocks: no (it parks nobody; the writes may block the thread)
 * Threads: any coroutine or thread, not from a signal handler.
 */
GORT_API int64_t gort_dump(int fd, unsigned flags);
GORT_API int64_t gort_dump_file(FILE *f, unsigned flags);

/* ------------------------------------------------------------------------ */
/* Leak check (goleak, built in)                                             */
/* ------------------------------------------------------------------------ */

/* The coroutines alive at one moment, to be ignored later (goleak's
 * IgnoreCurrent). */
typedef struct gort_leak_baseline gort_leak_baseline;

/*
 * Records every live coroutine but the caller (for gort_leak_opts'
 * baseline); gort_leak_baseline_free frees the record (NULL is ignored).
 * Returns: take: the baseline, or NULL if memory is short or the runtime
 *   is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_leak_baseline *gort_leak_baseline_take(void);
GORT_API void gort_leak_baseline_free(gort_leak_baseline *b);

/* What a leak check found. */
typedef struct gort_leak_report {
	int64_t coroutines; /* live coroutines not ignored, after the grace period */
	int64_t contexts;   /* contexts released without a cancel and not done */
	int64_t channels;   /* channels released by every owner with waiters left */
	int64_t waitgroups; /* wait groups whose waiters are all leaked, counter > 0 */
} gort_leak_report;

/* Options; all zeroes (or a NULL pointer) means the defaults. */
typedef struct gort_leak_opts {
	/* How long to wait for coroutines to exit, retrying with back-off
	 * (from 10 us doubling up to 100 ms a step).  0: 1 s; negative: do
	 * not wait at all. */
	int64_t grace_ns;
	/* NULL-terminated lists (or NULL) of coroutines to ignore:
	 *   sites   spawn sites, "file:line", or "file" for any line; a file
	 *           matches when it equals the recorded __FILE__ or is a
	 *           '/'-separated tail of it ("x.c" matches "src/x.c")
	 *   names   exact names given at spawn */
	const char *const *ignore_sites;
	const char *const *ignore_names;
	/* Wait reasons to ignore: a bit mask of 1u << gort_wait_reason. */
	uint32_t ignore_reasons;
	/* Coroutines recorded here are ignored (NULL: none). */
	const gort_leak_baseline *baseline;
	/* Where the report goes (the grouped dump of what leaked, then the
	 * contexts, channels and wait groups): NULL is stderr. */
	FILE *out;
	/* Print nothing (the counts are still returned). */
	bool quiet;
	/* If not NULL, gets the counts by kind. */
	gort_leak_report *report;
} gort_leak_opts;

/*
 * Waits up to the grace period for every coroutine except the caller and
 * the ignored ones to exit; then reports what is left, in the grouped dump
 * form, and also contexts whose cancel was dropped (released without
 * gort_ctx_cancel while not done: Go's lostcancel), channels that every
 * owner released while coroutines still wait on them (nothing can ever
 * wake those), and wait groups whose every waiter is a leaked coroutine
 * while the counter is above zero.  opts NULL: the defaults.
 *
 * GORT_DEBUG=leakcheck=1 runs it (with the defaults) when gort_main's
 * function returns, and turns a non-zero result into exit status 1 after
 * printing it.
 *
 * A clean leak check says every coroutine has ended; it does not order
 * their last writes before the caller's next reads (no happens-before).
 * Synchronise with them (a wait group, a channel) before freeing what
 * they used.  Channels whose only waiters sit in a select of several
 * cases are counted with the coroutines, not as orphaned channels (the
 * one-channel _ctx and _until forms count as that channel's waiters, and
 * dumps show them as its send or receive).
 * Returns: the number of leaked coroutines plus those contexts, channels
 *   and wait groups (0: clean); -ESRCH if the runtime is not running;
 *   -ENOMEM if a snapshot could not be allocated.
 * Blocks: yes: up to the grace period, while coroutines are left (parks
 *   the caller if it is a coroutine; a plain thread sleeps)
 * Context: none (the grace period bounds it)
 * Threads: any coroutine or thread.
 */
GORT_API int64_t gort_leakcheck(const gort_leak_opts *opts);

/* ------------------------------------------------------------------------ */
/* Watchdog                                                                  */
/* ------------------------------------------------------------------------ */

/* The watchdog's callback (see gort_watchdog_set). */
typedef void (*gort_watchdog_fn)(int64_t live, const char *dump, void *ctx);

/*
 * Calls fn(live, dump, ctx) from the runtime's monitor thread (sysmon) when the
 * number of live coroutines is above threshold (the article's
 * checkGoroutineLeak), checked every interval_ns (<= 0: 1 s), at most once
 * per interval.  dump is the grouped dump (GORT_DUMP_GROUPED) taken then,
 * NUL-terminated, valid during the call (NULL if memory was short).  fn
 * runs on a plain thread; it should not block for long.  threshold <= 0
 * or fn NULL turns the watchdog off; gort_stop turns it off too.
 * Returns: 0; -ESRCH if the runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_watchdog_set(int64_t threshold, int64_t interval_ns, gort_watchdog_fn fn,
			       void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* GORT_DEBUG_H */
