/*
 * monitor.c — the debug tasks that run on a clock or from a signal, driven
 * by the runtime's monitor thread (sysmon.c): the scheduler trace
 * (schedtrace=MS, scheddetail=1), the watchdog (gort_watchdog_set) and the
 * dump signal (dumpsig=SIG).
 *
 * Owns: the watchdog's settings, the trace's schedule, the dump signal's
 * handler.  The handler only writes a byte to sysmon's pipe (the one
 * async-signal-safe step); sysmon then calls gort__monitor_signal, where
 * the dump may allocate and symbolise.
 *
 * Locks: mon_lock guards the watchdog settings and the signal's
 * installation.  The trace reads the scheduler's counters racily, as a
 * statistics reader ((r) fields), and the M list under gort__sched.lock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

static gort__lock mon_lock = GORT__LOCK_INIT;
static int64_t start_ns;             /* (i) while running */
static int64_t next_trace;           /* (sysmon's) */
static int64_t next_watch;           /* (sysmon's) */
/* the watchdog (mon_lock) */
static int64_t wd_threshold, wd_interval;
static gort_watchdog_fn wd_fn;
static void *wd_ctx;
static struct sigaction old_action;  /* (mon_lock) the dump signal's, to restore */
static bool sig_installed;           /* (mon_lock) */

static void on_dumpsig(int sig)
{
	(void)sig;
	gort__sysmon_wake('s');
}

/* ------------------------------------------------------------------ */
/* Scheduler trace                                                     */
/* ------------------------------------------------------------------ */

static uint32_t runq_len(struct gort__p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	uint32_t n = t - h;
	if (n > GORT__RUNQ_SIZE)
		n = 0; /* torn read */
	return n + (atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL);
}

GORT__NO_TSAN static void sched_trace(void)
{
	gort_stats st;
	if (gort_stats_read(&st) != 0)
		return;
	int np = gort__sched.nprocs;
	fprintf(stderr,
		"SCHED %lldms: procs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d "
		"runqueue=%d coroutines=%lld [",
		(long long)((gort__nanotime() - start_ns) / 1000000), np, st.idle_procs, st.threads,
		st.spinning, st.idle_threads,
		(int)atomic_load_explicit(&gort__sched.runqsize, memory_order_relaxed),
		(long long)(st.spawns - st.exits));
	for (int i = 0; i < np; i++)
		fprintf(stderr, i ? " %u" : "%u", runq_len(gort__sched.allp[i]));
	fputs("]\n", stderr);
	if (!gort__dbg.scheddetail)
		return;
	for (int i = 0; i < np; i++) {
		struct gort__p *p = gort__sched.allp[i];
		gort_stats ps;
		gort_proc_stats_read(i, &ps);
		struct gort__m *m = p->m;
		fprintf(stderr,
			"  P%d: status=%s schedtick=%u m=%d runqsize=%u gfreecnt=%d timers=%d spawns=%llu "
			"switches=%llu steals=%llu\n",
			i, atomic_load_explicit(&p->status, memory_order_relaxed) ? "running" : "idle",
			p->schedtick, m ? m->id : -1, runq_len(p), p->ngfree, p->timers.n,
			(unsigned long long)ps.spawns, (unsigned long long)ps.switches,
			(unsigned long long)ps.steals);
	}
	gort__lock_acquire(&gort__sched.lock);
	for (struct gort__m *m = gort__sched.allm; m; m = m->alllink) {
		struct gort__g *g = m->curg;
		fprintf(stderr, "  M%d: p=%d curg=%lld spinning=%d idle=%d\n", m->id, m->p ? m->p->id : -1,
			g ? (long long)g->id : -1LL, m->spinning, m->idle);
	}
	gort__lock_release(&gort__sched.lock);
}

/* The watchdog tripped: hand fn the grouped dump as text. */
static void watchdog_fire(gort_watchdog_fn fn, int64_t live, void *ctx)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f) {
		gort_dump_file(f, GORT_DUMP_GROUPED);
		fclose(f);
	}
	fn(live, text, ctx);
	free(text);
}

/* ------------------------------------------------------------------ */
/* Driven by sysmon                                                    */
/* ------------------------------------------------------------------ */

void gort__monitor_signal(void)
{
	fprintf(stderr, "gort: dump on SIG%s (GORT_DEBUG=dumpsig):\n\n", sigabbrev_np(gort__dbg.dumpsig));
	gort_dump_file(stderr, GORT_DUMP_GROUPED);
}

int64_t gort__monitor_due(int64_t now)
{
	int64_t trace_every = (int64_t)gort__dbg.schedtrace_ms * 1000000;
	if (trace_every) {
		if (!next_trace)
			next_trace = now + trace_every;
		else if (now >= next_trace) {
			sched_trace();
			next_trace += trace_every;
			if (next_trace <= now)
				next_trace = now + trace_every;
		}
	}
	gort__lock_acquire(&mon_lock);
	gort_watchdog_fn fn = wd_fn;
	void *ctx = wd_ctx;
	int64_t threshold = wd_threshold, interval = wd_interval;
	gort__lock_release(&mon_lock);
	if (!fn) {
		next_watch = 0;
	} else if (!next_watch || next_watch > now + interval) {
		next_watch = now + interval;
	} else if (now >= next_watch) {
		next_watch = now + interval;
		int64_t live = gort_num_coroutines();
		if (live > threshold)
			watchdog_fire(fn, live, ctx);
	}
	int64_t next = next_trace;
	if (next_watch && (!next || next_watch < next))
		next = next_watch;
	return next;
}

int gort__monitor_start(void)
{
	start_ns = gort__nanotime();
	next_trace = next_watch = 0;
	gort__lock_acquire(&mon_lock);
	if (gort__dbg.dumpsig && !sig_installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_dumpsig;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sig_installed = sigaction(gort__dbg.dumpsig, &sa, &old_action) == 0;
	}
	gort__lock_release(&mon_lock);
	return 0;
}

void gort__monitor_stop(void)
{
	gort__lock_acquire(&mon_lock);
	if (sig_installed) {
		sigaction(gort__dbg.dumpsig, &old_action, NULL);
		sig_installed = false;
	}
	wd_fn = NULL;
	gort__lock_release(&mon_lock);
}

int gort_watchdog_set(int64_t threshold, int64_t interval_ns, gort_watchdog_fn fn, void *ctx)
{
	if (!gort_running())
		return -ESRCH;
	bool on = threshold > 0 && fn;
	gort__lock_acquire(&mon_lock);
	wd_threshold = threshold;
	wd_interval = interval_ns > 0 ? interval_ns : INT64_C(1000000000);
	wd_fn = on ? fn : NULL;
	wd_ctx = ctx;
	gort__lock_release(&mon_lock);
	gort__sysmon_wake('k');
	return 0;
}
