/*
 * rt.h — the runtime's internal header: the G (coroutine), P (processor)
 * and M (OS thread) types, the global scheduler state, and the calls the
 * modules make of each other.  Never included from include/.
 *
 * Key to the guard of every field touched by more than one thread:
 *   (i) set before the object is published, read-only afterwards
 *   (o) owned: only the current owner touches it (for a G, see the state
 *       table below; for a P, the M holding it; for an M, its own thread)
 *   (s) guarded by gort__sched.lock
 *   (f) guarded by gort__sched.gflock (global free G list)
 *   (a) atomic; the comment says the orders and what pairs with what
 *   (r) racy by design: written by the owner with relaxed atomics, read
 *       without synchronisation for statistics and dumps only
 *
 * Coroutine states, as ownership rules (who may touch the G's stack and
 * context, and where the G is):
 *   FREE      in a free list (a P's gfree, (o) of that P; or the global
 *             one, (f)).  No stack.  Only the list's owner touches it.
 *   RUNNABLE  on exactly one run queue (a P's runnext or ring, or the
 *             global queue).  Its stack is idle: ctx is saved (or NULL
 *             before the first run).  Whoever takes it off the queue owns
 *             it.
 *   RUNNING   m->curg == g for exactly one M, which owns the stack.  Not
 *             on any queue.
 *   WAITING   parked: ctx is saved, it is on no run queue, and exactly one
 *             party (the holder of the wait queue it sits in, under that
 *             queue's lock) may make it RUNNABLE with gort__ready().
 *   DEAD      returned; its stack is being released by the M that switched
 *             away from it; then FREE.
 * Transitions: FREE->RUNNABLE (spawn), RUNNABLE->RUNNING (an M takes it),
 * RUNNING->RUNNABLE (yield; done by the next context after the switch),
 * RUNNING->WAITING (park; done by the next context after the switch, before
 * the park's unlock callback runs), WAITING->RUNNABLE (gort__ready, by
 * anyone), RUNNING->DEAD->FREE (exit; the next context releases it).
 * Since RUNNABLE and WAITING are entered only after the switch away, no
 * other M can start running a G that is still on its own stack.
 */
#ifndef GORT_RUNTIME_RT_H
#define GORT_RUNTIME_RT_H

#include <gort.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lock.h"
#include "stack.h"
#include "switch.h"
#include "sys.h"

enum gort__gstate {
	GORT__G_FREE = 0,
	GORT__G_RUNNABLE,
	GORT__G_RUNNING,
	GORT__G_WAITING,
	GORT__G_DEAD,
};

/* Why a coroutine waits (shown by dumps). */
enum gort__wait_reason {
	GORT__WR_NONE = 0,
	GORT__WR_WAITGROUP,
	GORT__WR_CHAN_SEND,
	GORT__WR_CHAN_RECV,
	GORT__WR_CHAN_SEND_NIL,
	GORT__WR_CHAN_RECV_NIL,
	GORT__WR_SELECT,
	GORT__WR_SELECT_EMPTY,
	GORT__WR_SLEEP,
	GORT__WR_MUTEX,
	GORT__WR_RWMUTEX_R,
	GORT__WR_RWMUTEX_W,
	GORT__WR_COND,
	GORT__WR_SEMAPHORE,
	GORT__WR_IO_READ,
	GORT__WR_IO_WRITE,
	GORT__WR_COUNT_
};
const char *gort__wait_reason_name(int r);

/*
 * Debug information: counters, and the sites and wait records that dumps
 * and the leak check read.  On by default and meant to stay on (the
 * benchmark suite measures its cost: the *-nodebug rows).  Building the
 * library with -DGORT_NO_DEBUG_INFO compiles it out, for that measurement
 * only: gort_stats, gort_num_coroutines and the deadlock detector then
 * see nothing, and dumps show no sites.
 */
#ifdef GORT_NO_DEBUG_INFO
#define GORT__DEBUG_INFO 0
#else
#define GORT__DEBUG_INFO 1
#endif

/* After the last call of a public blocking function: keeps the compiler
 * from making it a tail jump, so the function stays in a parked
 * coroutine's backtrace (an empty asm; costs nothing). */
#define GORT__KEEP_FRAME() __asm__ volatile("")

/* Record what the running coroutine is about to wait on (dumps, leak
 * check); call just before parking.  No-op on a plain thread. */
#define gort__set_wait_obj(obj)                                  \
	do {                                                     \
		struct gort__g *g_ = gort__getg();               \
		if (GORT__DEBUG_INFO && g_)                      \
			g_->wait_obj = (obj);                    \
	} while (0)

/* Counter bump for (r) fields: one owner writes with plain increments,
 * anyone reads (gort__stat_read).  Plain, not relaxed atomics: GCC treats
 * every atomic access as a compiler barrier, and around the switch code
 * that cost pingpong 18 ns a round trip (98 vs 79 ns). */
#if GORT__DEBUG_INFO
#define GORT__BUMP(field) ((void)++(field))
#define GORT__ADD(field, n) ((void)((field) += (n)))
#else
#define GORT__BUMP(field) ((void)0)
#define GORT__ADD(field, n) ((void)(n))
#endif
/* Read an (r) counter from any thread: a single aligned 64-bit load (not
 * torn on the 64-bit targets gort supports); functions that do this are
 * GORT__NO_TSAN (sys.h), since the race with the owner's increment is the
 * design. */
#define gort__stat_read(field) (*(volatile const uint64_t *)&(field))

struct gort__m;
struct gort__p;
struct gort__gx;

/* The coroutine descriptor.  Reused through free lists, never freed while
 * the runtime runs (so a dump may walk them all, see allgs in coro.c). */
struct gort__g {
	/* Line 1: everything an M touches to run a G, so that a G spawned on
	 * one P and run on another costs one cache line in transit. */
	_Alignas(GORT__CACHELINE)
	struct gort__g *schedlink;  /* (o) link in a run-queue batch or a free list */
	void (*fn)(void *);         /* (i) */
	void *arg;                  /* (i) */
	gort__fctx ctx;             /* (o) saved context when not RUNNING; NULL before first run */
	struct gort__stack *stack;  /* (o) bound at first run, released at exit */
	struct gort__m *m;          /* (o) the M running it (valid while RUNNING) */
	size_t stack_req;           /* (i) requested usable stack bytes (rounded), 0 default */
	_Atomic uint32_t state;     /* (a) enum gort__gstate; see transitions above.
				     * Stores are release, loads acquire where a
				     * transition is checked. */
	int saved_errno;            /* (o) errno while switched out */

	/* Set by the spawner before the G is published on a run queue (i). */
	int64_t id;
	int64_t parent_id;          /* 0: spawned from a plain thread */
	const char *spawn_file;     /* static string from __FILE__ */
	int spawn_line;

	/* wait information: written by the G itself before it parks (o), read
	 * by dumps racily (r) */
	_Atomic uint8_t wait_reason;
	int wait_line;
	const char *wait_file;
	uint64_t wait_since;        /* when it parked, in gort__ticks(): its P's clock,
				     * which lags by up to 61 schedules of that P */
	uint32_t parkseq;           /* parks so far: tells one wait from the next */
	void *park_fp;              /* gort__park's frame: where a dump's backtrace
				     * of the parked stack starts */
	void *base_fp;              /* the frame below the coroutine's function
				     * (recover/panic.c): where that backtrace ends */
	const void *wait_obj;       /* what it waits on (channel, wait group, ...),
				     * set by the primitive before it parks; only
				     * meaningful with the reason it went with */

	/* On the first G of a batch in a global list (run queue or free list;
	 * guarded by that list's lock): the next batch, this batch's last G and
	 * its length.  Batches let a P move many Gs with O(1) work under the
	 * lock; the walking happens outside it. */
	struct gort__g *batchnext;
	struct gort__g *batchtail;
	int32_t batchn;

	struct gort__fiber fiber;   /* (o) sanitizer view of the context */
	struct gort__gx *x;         /* (o) defer/panic state, allocated on first use
				     * (recover/panic.h); kept with the descriptor */
	char name[GORT_NAME_MAX];   /* (i) */
};

_Static_assert(__builtin_offsetof(struct gort__g, id) == GORT__CACHELINE,
	       "the run path of struct gort__g must fill exactly its first cache line");

struct gort__timer;
/* One P's heap.  lock guards everything; when0 mirrors the earliest
 * deadline (0: empty) for lock-free peeks (relaxed; a stale peek only
 * delays the check to the next schedule or idle wakeup). */
/* A heap entry: the deadline is kept beside the pointer so that sifting
 * reads only the heap's array (the timers themselves live on coroutine
 * stacks and in channels, a cache miss each). */
struct gort__tentry {
	int64_t when;
	struct gort__timer *t;
};

/* A P's timers: a 4-ary min-heap on when.  (h): its lock. */
struct gort__theap {
	gort__lock lock;
	struct gort__tentry *e; /* (h) */
	int n, cap;             /* (h) */
	_Atomic int64_t when0;  /* (a) e[0].when or 0; written under (h), read lock-free */
};

#define GORT__RUNQ_SIZE 256

/* Per-P counters (r): written by the P's owner only (GORT__BUMP), read
 * by anyone (gort__stat_read). */
struct gort__pstats {
	uint64_t spawns, exits, runs, switches, yields, parks, steals, stolen, global_takes,
		global_puts, timers_fired;
};

struct gort__p {
	int id;                      /* (i) */
	_Atomic int status;          /* (a) GORT__P_IDLE/RUNNING; written under (s),
				      * read racily by stealers as a hint */
	struct gort__m *m;           /* (s) M holding it, NULL when idle */
	struct gort__p *link;        /* (s) idle list */

	/* owner-only (o) */
	uint32_t schedtick;          /* schedules since start, for the 1-in-61 global poll */
	uint32_t runnext_streak;     /* schedules served from runnext in a row */
	uint64_t clock;              /* gort__ticks() at the last findrunnable, switch
				      * from g0 or 61st schedule: the cheap "since
				      * when" of a park */
	uint64_t rand;               /* xorshift state */
	struct gort__g *gfree;       /* free G descriptors */
	int ngfree;
	struct gort__stack_cache stacks;
	int64_t idnext, idend;       /* batch of ids reserved from the global counter */
	struct gort__pstats st;      /* (r) */
	struct gort__theap timers;   /* its own lock (timer.c); any M may run it */
	uint32_t syscalltick;        /* (o) syscalls entered on this P */
	/* (a) the syscall protocol's word: syscalltick << 1 | 1 while the
	 * owner's coroutine is inside gort_syscall_enter/exit.  Whoever
	 * clears the low bit by CAS decides: the owner at exit (it keeps the
	 * P), or sysmon (it retakes the P).  The tick makes each syscall's
	 * word unique, so an M back from an old syscall can never CAS the
	 * word of a later syscall on the same P (ABA).  acq_rel. */
	_Atomic uint64_t syscallword;
	_Atomic bool preempt;        /* (a) relaxed: sysmon asks the running coroutine
				      * to yield at its next gort_preempt_point */

	/* The run queue: a ring that only the owner pushes to (at tail) and
	 * that the owner and thieves pop from (at head, by CAS).
	 *   runqhead: (a) loaded acquire by everyone (pairs with the
	 *             CAS-release of the previous consumer, so the slots read
	 *             before the CAS were written before it); advanced only by
	 *             CAS with release order.
	 *   runqtail: (a) stored only by the owner, with release order after it
	 *             wrote the slot; thieves load it acquire.
	 *   runq[]:   (a) relaxed: a thief may read a slot that the owner is
	 *             overwriting, but then its CAS on head fails and it drops
	 *             what it read.
	 *   runnext:  (a) a G readied by the running G, run before the ring.
	 *             Set by the owner (exchange), cleared by the owner or a
	 *             thief with CAS; acq_rel on both sides. */
	_Alignas(GORT__CACHELINE) _Atomic uint32_t runqhead;
	_Alignas(GORT__CACHELINE) _Atomic uint32_t runqtail;
	_Atomic(struct gort__g *) runnext;
	_Atomic(struct gort__g *) runq[GORT__RUNQ_SIZE];
};

/* P status: IDLE (on the idle list), RUNNING (held by an M), SYSCALL
 * (its M's coroutine is in gort_syscall_enter/exit: sysmon may retake it
 * with a CAS to IDLE, the M takes it back with a CAS to RUNNING). */
enum { GORT__P_IDLE = 0, GORT__P_RUNNING = 1, GORT__P_SYSCALL = 2 };

/* Free slots in p's ring, for its owner (thieves only make more room). */
static inline int gort__runq_room(struct gort__p *p)
{
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	return GORT__RUNQ_SIZE - (int)(t - h);
}

/* What the context resumed by a switch must do for the one that left. */
enum gort__sw_action {
	GORT__SW_NONE = 0, /* the scheduler context (g0) left */
	GORT__SW_YIELD,    /* put prev at the back of the run queue */
	GORT__SW_PARK,     /* mark prev WAITING, then call unlock(arg) */
	GORT__SW_EXIT,     /* release prev's stack and descriptor */
	GORT__SW_GLOBAL,   /* prev has no P (after a syscall): global queue */
};

typedef bool (*gort__unlock_fn)(void *arg);

/* The switch record: filled by the context that leaves, read by the one
 * that resumes, on the same M.  (o) of the M. */
struct gort__swrec {
	struct gort__m *m;
	struct gort__g *prev; /* NULL: the M's scheduler context */
	int action;
	gort__unlock_fn unlock;
	void *unlock_arg;
};

struct gort__m {
	int id;                      /* (i) */
	pthread_t thread;            /* (i) */
	struct gort__p *p;           /* (o) the P it holds, NULL when none */
	struct gort__p *nextp;       /* (s) P handed over by startm, taken after park wakes */
	bool spinning;               /* (o) counted in gort__sched.nmspinning */
	struct gort__g *curg;        /* (o) running G; read by the fault handler on this
				      * thread and racily by dumps */
	gort__fctx g0ctx;            /* (o) the scheduler loop's context while a G runs */
	struct gort__fiber g0fiber;  /* (o) */
	struct gort__swrec sw;       /* (o) */
	struct gort__g *handoff;     /* (o) G that g0 runs next (see gort__park) */
	int *errnop;                 /* (o) this thread's errno (see sw_finish) */
	struct gort__p *syscallp;    /* (o) the P it held when its coroutine entered a
				      * syscall (gort_syscall_enter) */
	uint64_t syscallword;        /* (o) that P's syscallword at the enter */
	gort__note park;             /* (a) idle Ms sleep here */
	struct gort__m *link;        /* (s) idle list */
	bool idle;                   /* (s) on the idle list */
	bool timer_refill;           /* (o) it left the timer duty (woke at a deadline)
				      * with a P: once it has work, it hands the duty
				      * to another idle M (m_main) */
	int in_timers;               /* (o) running timer callbacks: readied Gs queue
				      * FIFO (deadline order), not in runnext */
	struct gort__m *alllink;     /* (s) list of all Ms */
	uint64_t rand;               /* (o) */
	void *altstack;              /* (o) sigaltstack memory */
	size_t altstack_size;
};

/* Global scheduler state. */
struct gort__sched {
	gort__lock lock;
	/* global run queue (s): a FIFO of batches (first Gs, linked by
	 * batchnext); runqsize counts Gs and is also read without the lock as a
	 * hint (a, relaxed), and with seq_cst in the spinning protocol */
	struct gort__g *runqhead, *runqtail;
	_Atomic int32_t runqsize;
	struct gort__p *pidle;       /* (s) idle Ps */
	_Atomic int32_t npidle;      /* (a) changed under (s); read lock-free seq_cst */
	struct gort__m *midle;       /* (s) idle Ms */
	_Atomic int32_t nmidle;      /* (s) written under the lock; read racily by stats */
	/* (s) the one idle M that sleeps until the earliest timer (or the
	 * deadlock check's deadline); the others sleep until handed a P.
	 * NULL when no idle M holds that duty (see stopm in sched.c) */
	struct gort__m *mtimed;
	struct gort__m *allm;        /* (s) */
	_Atomic int32_t mcount;      /* (a) Ms created */
	int32_t maxm;                /* (i) the M pool's limit (GORT_MAX_THREADS) */
	_Atomic uint64_t mlimit_hits; /* (a) relaxed: Ms refused at the limit */
	/* (a) an M could not be created (no thread, no memory) while work
	 * waited for one: sysmon retries (gort__wakep) until one can be */
	_Atomic bool mstarve;
	/* Ms spinning for work (a): seq_cst, see the protocol in sched.c */
	_Atomic int32_t nmspinning;
	_Atomic uint64_t wakeups;    /* (a) relaxed counter: idle Ms woken */
	_Atomic uint64_t handoffs;   /* (a) relaxed counter: Ps handed to another M */

	gort__lock gflock;           /* global free Gs */
	struct gort__g *gfree;       /* (f) a stack of batches (batchnext) */
	int ngfree;                  /* (f) Gs in it */

	int nprocs;                  /* (i) for the life of a run */
	struct gort__p **allp;       /* (i) */
	_Atomic bool stopping;       /* (a) release by gort_stop, acquire by Ms */
	_Atomic bool running;        /* (a) */
	_Atomic uint64_t run_id;     /* (a) bumped by every gort_start: what was made in
				      * one run (a timer's heap) is dead in the next */
	_Atomic uint64_t plain_spawns;  /* (a) relaxed: spawns from plain threads */
	_Atomic uint64_t plain_global_puts; /* (a) relaxed: global puts by no P (plain threads,
					 * sysmon, syscall exits without a P) */
	/* (a) plain-thread calls inside the scheduler: seq_cst increment, then
	 * seq_cst load of stopping; gort_stop stores stopping seq_cst, then
	 * waits for zero before tearing down (Dekker) */
	_Atomic int32_t plain_inflight;
};

extern struct gort__sched gort__sched;
extern __thread struct gort__m *gort__tls_m
	__attribute__((tls_model("initial-exec")));

/* The running G, or NULL on a plain thread or in a scheduler context. */
static inline struct gort__g *gort__getg(void)
{
	struct gort__m *m = gort__tls_m;
	return m ? m->curg : NULL;
}

/* --- sched.c --- */
/* Make a WAITING (or new, RUNNABLE) G runnable; callable from any thread. */
void gort__ready(struct gort__g *g);
/* Put a new RUNNABLE G on a queue (spawn): runnext of the caller's P, or the
 * global queue from a plain thread. */
void gort__sched_put_new(struct gort__g *g);
/* Park the running G: it becomes WAITING, then unlock(arg) runs on another
 * context; if that returns false the G is made runnable again at once.  The
 * G resumes after someone calls gort__ready(g). */
void gort__park(gort__unlock_fn unlock, void *arg, int reason, const char *file, int line);
/* End the running G (after its function returned). */
_Noreturn void gort__exit_current(struct gort__g *g);
/* Run g's first instructions: the context entry. */
void gort__g_entry(gort__xfer t);

/* A plain thread enters the scheduler (spawn, ready): false if the runtime
 * is stopping or stopped.  Call gort__plain_exit() in both cases. */
bool gort__plain_enter(void);
void gort__plain_exit(void);

/* sysmon (sched.c): move v's queued coroutines (ring and runnext) to the
 * global queue and wake an M for them; how many moved.  Only with
 * nprocs > 1 (a single P's queue is not thread-safe). */
int gort__runq_drain(struct gort__p *v);
/* sysmon: hand a P retaken from a syscall to an M if it has work, else
 * put it on the idle list. */
void gort__handoffp(struct gort__p *p);
/* Start an M for queued work if a P is idle and no M is spinning. */
void gort__wakep(void);

/* --- sysmon.c --- */
int gort__sysmon_start(void);
void gort__sysmon_stop(void);
/* Wake sysmon from a deep sleep (a P started running). */
void gort__sysmon_wake(char why);
extern _Atomic bool gort__sysmon_deep;

/* --- coro.c --- */
struct gort__g *gort__gfget(struct gort__p *p);
void gort__gfput(struct gort__p *p, struct gort__g *g);
void gort__coro_fini(void);
int64_t gort__new_id(struct gort__p *p);
/* Call fn for every G descriptor ever allocated (dumps; shutdown). */
void gort__allg_each(void (*fn)(struct gort__g *g, void *arg), void *arg);

/* --- debug/ --- */
enum gort__deadlock_mode {
	GORT__DEADLOCK_DEFAULT = 0,
	GORT__DEADLOCK_OFF,
	GORT__DEADLOCK_REPORT,
	GORT__DEADLOCK_ABORT
};
/* Debug options (GORT_DEBUG / gort_config.debug), parsed by debug.c. */
struct gort__debug_cfg {
	bool leakcheck;    /* leakcheck=1 */
	bool dumpexit;     /* dumpexit=1 */
	int dumpsig;       /* dumpsig=QUIT: the signal, 0 none */
	int deadlock;      /* enum gort__deadlock_mode */
	int schedtrace_ms; /* schedtrace=MS, 0 off */
	bool scheddetail;  /* scheddetail=1 */
	bool hogwarn;      /* hogwarn=1: sysmon names a coroutine that runs 10 ms */
};
/* Parse one key=value; true if key is a debug/ key (then *ok says whether
 * the value was good; a message naming origin went to stderr if not,
 * unless origin is NULL). */
bool gort__debug_parse(const char *key, const char *val, struct gort__debug_cfg *cfg,
		       const char *origin, bool *ok);
/* Life-cycle hooks (debug.c, deadlock.c). */
int gort__debug_start(const struct gort__debug_cfg *cfg, bool under_main);
void gort__debug_stop(void);          /* before stopping is set */
void gort__debug_main_returned(void); /* gort_main's function returned (leakcheck=1) */
int gort__debug_main_exit_status(void); /* 1 if that leak check found leaks */
extern _Atomic bool gort__dbg_main_done;
/* At gort_stop: forget the lost-cancel contexts (their deadlines died
 * with the runtime's timers; leakcheck.c). */
void gort__lost_ctx_reset(void);
/* Deadlock detector: an M is about to sleep without a P and without a
 * timer: the deadline at which to confirm a deadlock, or 0. */
int64_t gort__deadlock_idle_deadline(void);
/* It slept until then: check again; report or abort. */
void gort__deadlock_check(void);

/* --- config.c --- */
struct gort__config {
	int procs;
	size_t stack_size;
	enum gort__guard_mode guard;
	bool sigpanic; /* GORT_DEBUG=sigpanic=1 */
	int max_threads; /* GORT_MAX_THREADS */
	struct gort__debug_cfg dbg; /* runtime/debug/ keys */
};
int gort__config_resolve(const gort_config *cfg, struct gort__config *out);

/* --- recover/fault.c --- */
extern _Atomic bool gort__sigpanic_enabled;
int gort__fault_install(void);
int gort__fault_thread_init(struct gort__m *m);
void gort__fault_thread_fini(struct gort__m *m);
_Noreturn void gort__fatal_overflow(struct gort__g *g, int canary);

/* --- recover/panic.c --- */
/* A runtime error (misuse Go treats as a panic): a recoverable panic with
 * info.runtime_error set. */
_Noreturn void gort__panic_msg(const char *msg);
/* At spawn: reset g's defer/panic state and apply the spawn options.
 * 0 or -ENOMEM. */
int gort__recover_spawn(struct gort__g *g, const gort_spawn_opts *opts);
/* The coroutine's function returned: run its coroutine-level defers. */
void gort__recover_fn_returned(struct gort__g *g);
/* Run fn(arg) as g's body inside its panic boundary. */
void gort__recover_run_body(struct gort__g *g);
void gort__recover_free(struct gort__g *g);
/* Release the symboliser's cached state (gort_stop). */
void gort__traceback_fini(void);

#endif
