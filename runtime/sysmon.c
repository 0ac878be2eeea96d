/*
 * sysmon.c — the monitor thread: one background thread, always running
 * with the runtime, that does what no M can do for itself (Go's sysmon).
 *
 * Owns: the thread, its wake-up pipe, and its per-P observations.
 *
 * Each round it
 *   - retakes the P of an M whose coroutine has been in a blocking call
 *     (gort_syscall_enter/exit) for a whole round of at least 20 us, and
 *     hands it to another M (gort__handoffp), so the other coroutines run;
 *   - notices a P whose running coroutine has not switched for 10 ms (its
 *     schedtick did not move): asks it to yield at its next
 *     gort_preempt_point, and moves the rest of that P's queue to the
 *     global queue for the other Ps (C code cannot be preempted safely, so
 *     the hog keeps its M; with one P nothing else can run meanwhile);
 *     with GORT_DEBUG=hogwarn=1 it names the hog once;
 *   - polls the network if nobody has for 10 ms;
 *   - starts an M again after one could not be created (mstarve), so
 *     that work queued meanwhile is not stranded;
 *   - runs the debug tasks that are due (debug/monitor.c: the scheduler
 *     trace, the watchdog) and a dump asked for by signal.
 * It sleeps 20 us between rounds while it acts, doubling up to 10 ms
 * after 50 quiet rounds (Go's schedule), and, while every P is idle, until
 * woken (gort__sysmon_wake from startm) or the next debug task.
 *
 * Reads of other Ps' schedtick are racy by design (an owner counter, (r)
 * in rt.h): a stale value only delays a decision one round.  The syscall
 * hand-off is decided by a CAS on the P's syscallword (rt.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "debug/monitor.h"
#include "netpoll.h"
#include "rt.h"

#define DELAY_MIN 20000         /* 20 us */
#define DELAY_MAX 10000000      /* 10 ms */
#define SYSCALL_RETAKE 20000    /* a syscall seen this long loses its P */
#define HOG_NS 10000000         /* a coroutine running this long is a hog */
#define NETPOLL_STALE 10000000  /* poll if nobody has for this long */
#define DEEP_SLEEP 1000000000   /* all Ps idle: at most this long */

_Atomic bool gort__sysmon_deep;       /* (a) relaxed: asleep until woken */
static pthread_t thread;              /* (i) while running */
static bool running;                  /* (life cycle: start/stop, under gort_start's mutex) */
static int pipe_fd[2] = {-1, -1};     /* (i) while running; the signal handler writes [1] */
static struct pwatch *pwatch;         /* (i) while running: the thread's, one per P */

struct pwatch {
	uint64_t syscallword;
	int64_t syscall_seen;
	uint32_t schedtick;
	int64_t sched_seen;
	bool hog_reported;
};

void gort__sysmon_wake(char why)
{
	int fd = pipe_fd[1];
	if (fd < 0)
		return;
	int e = errno;
	ssize_t r = write(fd, &why, 1);
	(void)r; /* a full pipe already holds a wake-up */
	errno = e;
}

GORT__NO_TSAN static void report_hog(struct gort__p *p)
{
	struct gort__m *m = p->m;
	struct gort__g *g = m ? m->curg : NULL;
	if (!g)
		return;
	fprintf(stderr,
		"gort: coroutine %lld%s%s%s (spawned at %s:%d) has run 10 ms without yielding on P%d; "
		"its queue moves to other Ps (call gort_preempt_point in long loops)\n",
		(long long)g->id, g->name[0] ? " \"" : "", g->name, g->name[0] ? "\"" : "",
		g->spawn_file ? g->spawn_file : "?", g->spawn_line, p->id);
}

/* A P's schedule count, written by its owner without atomics (rt.h (r)). */
GORT__NO_TSAN static uint32_t schedtick_of(const struct gort__p *p)
{
	return *(volatile const uint32_t *)&p->schedtick;
}

/* One look at every P; true if it did something. */
static bool retake(int64_t now, struct pwatch *pw)
{
	bool acted = false;
	for (int i = 0; i < gort__sched.nprocs; i++) {
		struct gort__p *p = gort__sched.allp[i];
		struct pwatch *w = &pw[i];
		int st = atomic_load_explicit(&p->status, memory_order_acquire);
		uint64_t sw = atomic_load_explicit(&p->syscallword, memory_order_acquire);
		if (st == GORT__P_SYSCALL && (sw & 1)) {
			if (sw != w->syscallword || !w->syscall_seen) {
				w->syscallword = sw;
				w->syscall_seen = now;
				continue;
			}
			if (now - w->syscall_seen < SYSCALL_RETAKE)
				continue;
			if (!atomic_compare_exchange_strong_explicit(&p->syscallword, &sw, sw & ~(uint64_t)1,
								     memory_order_acq_rel, memory_order_relaxed))
				continue; /* its owner came back first */
			atomic_store_explicit(&p->status, GORT__P_IDLE, memory_order_relaxed);
			gort__lock_acquire(&gort__sched.lock);
			p->m = NULL; /* its old M finds out at gort_syscall_exit */
			gort__lock_release(&gort__sched.lock);
			gort__handoffp(p);
			w->syscall_seen = 0;
			acted = true;
		} else if (st == GORT__P_RUNNING) {
			uint32_t t = schedtick_of(p);
			if (t != w->schedtick || !w->sched_seen) {
				w->schedtick = t;
				w->sched_seen = now;
				w->hog_reported = false;
				continue;
			}
			if (now - w->sched_seen < HOG_NS)
				continue;
			atomic_store_explicit(&p->preempt, true, memory_order_relaxed);
			if (gort__dbg.hogwarn && !w->hog_reported)
				report_hog(p);
			w->hog_reported = true;
			w->sched_seen = now; /* again in 10 ms if it goes on */
			if (gort__runq_drain(p))
				acted = true;
		}
	}
	return acted;
}

static void *sysmon_main(void *arg)
{
	struct pwatch *pw = arg;
	int64_t delay = DELAY_MIN;
	int quiet = 0;
	for (;;) {
		int64_t now = gort__nanotime();
		int64_t next = gort__monitor_due(now);
		int64_t sleep = delay;
		bool deep = atomic_load(&gort__sched.npidle) == gort__sched.nprocs &&
			    !atomic_load_explicit(&gort__sched.mstarve, memory_order_relaxed);
		if (deep)
			sleep = DEEP_SLEEP;
		if (next && next - now < sleep)
			sleep = next > now ? next - now : 0;
		atomic_store_explicit(&gort__sysmon_deep, deep, memory_order_relaxed);
		struct timespec ts = {.tv_sec = sleep / 1000000000, .tv_nsec = sleep % 1000000000};
		struct pollfd pfd = {.fd = pipe_fd[0], .events = POLLIN};
		int r = ppoll(&pfd, 1, &ts, NULL);
		atomic_store_explicit(&gort__sysmon_deep, false, memory_order_relaxed);
		if (r > 0) {
			char buf[64];
			ssize_t n = read(pipe_fd[0], buf, sizeof buf);
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == 'q')
					return NULL;
				if (buf[i] == 's')
					gort__monitor_signal();
			}
		}
		now = gort__nanotime();
		bool acted = retake(now, pw);
		/* an M could not be made: try again (backing off as when idle) */
		if (atomic_exchange_explicit(&gort__sched.mstarve, false, memory_order_relaxed))
			gort__wakep();
		if (atomic_load_explicit(&gort__netpoll_waiters, memory_order_relaxed) &&
		    now - gort__netpoll_last() > NETPOLL_STALE && gort__netpoll_try_block()) {
			struct gort__waiter *list = gort__netpoll(0);
			gort__netpoll_unblock();
			if (list) {
				gort__waiter_wake_list(list); /* global queue: sysmon has no P */
				acted = true;
			}
		}
		if (acted) {
			delay = DELAY_MIN;
			quiet = 0;
		} else if (++quiet > 50 && delay < DELAY_MAX) {
			delay *= 2;
			if (delay > DELAY_MAX)
				delay = DELAY_MAX;
		}
	}
}

int gort__sysmon_start(void)
{
	pwatch = gort__sys_calloc((size_t)gort__sched.nprocs, sizeof *pwatch);
	if (!pwatch)
		return -ENOMEM;
	if (gort__sys_pipe(pipe_fd) != 0) {
		int e = errno;
		gort__sys_free(pwatch);
		pwatch = NULL;
		return -e;
	}
	int rc = gort__sys_thread_create(&thread, sysmon_main, pwatch);
	if (rc) {
		close(pipe_fd[0]);
		close(pipe_fd[1]);
		pipe_fd[0] = pipe_fd[1] = -1;
		gort__sys_free(pwatch);
		pwatch = NULL;
		return -rc;
	}
	running = true;
	return 0;
}

void gort__sysmon_stop(void)
{
	if (!running)
		return;
	gort__sysmon_wake('q');
	pthread_join(thread, NULL);
	running = false;
	int r = pipe_fd[1], w = pipe_fd[0];
	pipe_fd[0] = pipe_fd[1] = -1;
	close(r);
	close(w);
	gort__sys_free(pwatch);
	pwatch = NULL;
}
