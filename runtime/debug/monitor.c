/*
 * monitor.c — one background thread for what must happen on a clock or
 * from a signal, outside any M: the scheduler trace (schedtrace=MS,
 * scheddetail=1), the watchdog (gort_watchdog_set) and the dump signal
 * (dumpsig=SIG).
 *
 * Owns: the thread and its wake-up pipe, the watchdog's settings, the
 * dump signal's handler.
 *
 * The thread sleeps in poll() on a pipe until the earliest of the next
 * trace line and the next watchdog check; the pipe carries 's' (the dump
 * signal arrived: its handler only writes that byte, the one
 * async-signal-safe step, and the dump runs here, where it may allocate
 * and symbolise), 'k' (the watchdog changed) and 'q' (stop).
 *
 * Locks: mon_lock guards the watchdog settings and the thread's life
 * (started, the pipe).  The trace reads the scheduler's counters racily,
 * as a statistics reader ((r) fields), and the idle lists under
 * gort__sched.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

static gort__lock mon_lock = GORT__LOCK_INIT;
static bool started;                 /* (mon_lock) */
static pthread_t thread;             /* (mon_lock) */
static int pipe_fd[2] = {-1, -1};    /* (mon_lock) set while started; the
				      * handler reads pipe_fd[1] */
static int64_t start_ns;             /* (i) while started */
/* the watchdog (mon_lock) */
static int64_t wd_threshold, wd_interval;
static gort_watchdog_fn wd_fn;
static void *wd_ctx;
static struct sigaction old_action;  /* (mon_lock) the dump signal's, to restore */
static bool sig_installed;           /* (mon_lock) */

static void kick(char c)
{
	int fd = pipe_fd[1];
	if (fd >= 0) {
		ssize_t r = write(fd, &c, 1);
		(void)r; /* a full pipe already holds a wake-up */
	}
}

static void on_dumpsig(int sig)
{
	(void)sig;
	int e = errno;
	kick('s');
	errno = e;
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
/* The thread                                                          */
/* ------------------------------------------------------------------ */

static void *monitor_main(void *arg)
{
	(void)arg;
	int64_t trace_every = (int64_t)gort__dbg.schedtrace_ms * 1000000;
	int64_t next_trace = trace_every ? gort__nanotime() + trace_every : 0;
	int64_t next_watch = 0;
	for (;;) {
		gort__lock_acquire(&mon_lock);
		int64_t interval = wd_fn ? wd_interval : 0;
		gort__lock_release(&mon_lock);
		int64_t now = gort__nanotime();
		if (interval && !next_watch)
			next_watch = now + interval;
		if (!interval)
			next_watch = 0;
		int64_t next = next_trace;
		if (next_watch && (!next || next_watch < next))
			next = next_watch;
		int timeout = -1;
		if (next)
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		struct pollfd pfd = {.fd = pipe_fd[0], .events = POLLIN};
		int r = poll(&pfd, 1, timeout);
		if (r > 0) {
			char buf[64];
			ssize_t n = read(pipe_fd[0], buf, sizeof buf);
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == 'q')
					return NULL;
				if (buf[i] == 's') {
					fprintf(stderr, "gort: dump on SIG%s (GORT_DEBUG=dumpsig):\n\n",
						sigabbrev_np(gort__dbg.dumpsig));
					gort_dump_file(stderr, GORT_DUMP_GROUPED);
				}
			}
		}
		now = gort__nanotime();
		if (next_trace && now >= next_trace) {
			sched_trace();
			next_trace += trace_every;
			if (next_trace < now)
				next_trace = now + trace_every;
		}
		if (next_watch && now >= next_watch) {
			next_watch = now + interval;
			gort__lock_acquire(&mon_lock);
			gort_watchdog_fn fn = wd_fn;
			void *ctx = wd_ctx;
			int64_t threshold = wd_threshold;
			gort__lock_release(&mon_lock);
			int64_t live = gort_num_coroutines();
			if (fn && live > threshold)
				watchdog_fire(fn, live, ctx);
		}
	}
}

int gort__monitor_start(void)
{
	int rc = 0;
	gort__lock_acquire(&mon_lock);
	if (started)
		goto out;
	if (pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = -errno;
		goto out;
	}
	start_ns = gort__nanotime();
	if (pthread_create(&thread, NULL, monitor_main, NULL) != 0) {
		close(pipe_fd[0]);
		close(pipe_fd[1]);
		pipe_fd[0] = pipe_fd[1] = -1;
		rc = -EAGAIN;
		goto out;
	}
	started = true;
	if (gort__dbg.dumpsig) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_dumpsig;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sig_installed = sigaction(gort__dbg.dumpsig, &sa, &old_action) == 0;
	}
out:
	gort__lock_release(&mon_lock);
	return rc;
}

void gort__monitor_stop(void)
{
	gort__lock_acquire(&mon_lock);
	bool was = started;
	if (sig_installed) {
		sigaction(gort__dbg.dumpsig, &old_action, NULL);
		sig_installed = false;
	}
	wd_fn = NULL;
	gort__lock_release(&mon_lock);
	if (!was)
		return;
	kick('q');
	pthread_join(thread, NULL);
	gort__lock_acquire(&mon_lock);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pipe_fd[0] = pipe_fd[1] = -1;
	started = false;
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
	if (!on)
		return 0;
	int rc = gort__monitor_start();
	if (rc == 0)
		kick('k');
	return rc;
}
