/*
 * gort.h — Go's concurrency runtime for C: the one public header.
 *
 * Coroutines ("G"s) with small guarded stacks run on OS threads ("M"s), each
 * of which holds one of a fixed number of logical processors ("P"s, one per
 * CPU by default).  Every P has its own run queue and steals from the others
 * when it runs dry.  See docs/design.md for how it works and docs/api.md for
 * the conventions below in detail.
 *
 * Conventions, for every function in this header:
 *   - Errors are returned, never left in errno: 0 (or a non-negative result)
 *     on success, a negative errno-style code on failure.  gort_strerror()
 *     renders any of them.
 *   - Misuse that Go treats as a panic (a negative WaitGroup counter, ...)
 *     panics in gort too.
 *   - Every function is thread-safe and may be called from a coroutine or
 *     from a plain thread unless its comment says otherwise.
 *   - Blocking functions say so.  From a coroutine they park only that
 *     coroutine; from a plain thread they block the thread.
 *   - Names of blocking calls are macros that record the call site
 *     (__FILE__/__LINE__) for the coroutine dump; the function behind each
 *     has the same name with an _at suffix.
 *
 * Hazards of M:N scheduling in C (docs/design.md, "Hazards"):
 *   - A coroutine may resume on another OS thread after any blocking call or
 *     gort_yield(): never keep the address of a thread-local variable across
 *     one.  gort saves and restores errno per coroutine.
 *   - Never hold a pthread mutex across a gort blocking call.
 *   - The six sticky floating-point exception flags (FE_ALL_EXCEPT) are
 *     always set inside coroutines: fetestexcept() there reports all of
 *     them.  Clearing them (feclearexcept, fesetenv) is allowed but makes
 *     every switch to and from that coroutine ~14x slower.
 */
#ifndef GORT_H
#define GORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GORT_API __attribute__((visibility("default")))
#else
#define GORT_API
#endif

/* C11 and C++ spellings of what the header needs from both. */
#ifdef __cplusplus
#define GORT_ALIGNAS(n) alignas(n)
#define GORT_NORETURN [[noreturn]]
#else
#define GORT_ALIGNAS(n) _Alignas(n)
#define GORT_NORETURN _Noreturn
#endif

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Runtime life cycle                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Configuration for gort_start().  Zero in a field means "take it from the
 * environment, else the default"; a non-zero field overrides the
 * environment.  Bad environment values print a message on stderr and fall
 * back to the default; bad field values make gort_start() return -EINVAL.
 */
typedef struct gort_config {
	/* Number of Ps (logical processors): GORT_PROCS, else the number of
	 * CPUs this process may run on.  1 .. GORT_MAX_PROCS. */
	int procs;
	/* Default usable stack size of a coroutine in bytes: GORT_STACK_SIZE
	 * (suffixes K, M accepted), else GORT_DEFAULT_STACK_SIZE.  Rounded up
	 * to whole pages; GORT_MIN_STACK_SIZE .. GORT_MAX_STACK_SIZE. */
	size_t stack_size;
	/* Debug options, "key=value,key=value": GORT_DEBUG.  Known keys:
	 *   guard=auto|madvise|mprotect|canary   how stacks are guarded
	 *   (auto: MADV_GUARD_INSTALL where the kernel has it, else mprotect
	 *   while under a budget, else a canary checked at every switch).
	 *   sigpanic=1   SIGSEGV/SIGBUS/SIGFPE raised by a coroutine's own code
	 *   become a recoverable panic in that coroutine (off by default:
	 *   C code may fault with locks held or data half-written).
	 *   leakcheck=1   when gort_main's function returns, run
	 *   gort_leakcheck (gort/debug.h) and exit with status 1 if anything
	 *   leaked.
	 *   dumpsig=QUIT   on this signal (a name such as QUIT or USR1, or a
	 *   number) write the grouped dump to stderr and go on running.
	 *   dumpexit=1   write the grouped dump of what is left to stderr when
	 *   the runtime stops with coroutines still alive.
	 *   deadlock=abort|report|off   when no coroutine can ever run again
	 *   (all parked, no timer pending), print "fatal error: all coroutines
	 *   are asleep - deadlock!" and the grouped dump, then abort (or only
	 *   report, once).  Default: abort under gort_main, off otherwise (a
	 *   plain thread of the embedding program may still wake them).
	 *   schedtrace=MS   every MS milliseconds print a scheduler line
	 *   (Ps, idle Ps, threads, spinning, global queue, each P's queue);
	 *   scheddetail=1 adds a line per P and per M.
	 *   hogwarn=1   the monitor names, once, a coroutine that runs 10 ms
	 *   without a switch (with its spawn site). */
	const char *debug;
	/* The most OS threads (Ms) the runtime may create: GORT_MAX_THREADS,
	 * else GORT_DEFAULT_MAX_THREADS; at least procs.  Ms beyond procs
	 * serve blocking calls (gort_syscall_enter); at the limit, a blocking
	 * call keeps its P and gort says so once on stderr. */
	int max_threads;
} gort_config;

#define GORT_MAX_PROCS 1024
#define GORT_DEFAULT_MAX_THREADS 10000
#define GORT_DEFAULT_STACK_SIZE (256u * 1024u)
#define GORT_MIN_STACK_SIZE (16u * 1024u)
#define GORT_MAX_STACK_SIZE (1024u * 1024u * 1024u)

/*
 * Start the runtime: create the Ps and the first M thread.  cfg may be NULL
 * (environment and defaults).  Callable from any plain thread, not from a
 * coroutine.  Returns 0, -EALREADY if the runtime is running, -EINVAL for a
 * bad cfg field, -ENOMEM, or -EAGAIN if no thread could be created.
 */
GORT_API int gort_start(const gort_config *cfg);

/*
 * Stop the runtime: every M finishes the coroutine it is running up to its
 * next switch point (a blocking call, gort_yield, or its end), then exits
 * and is joined; coroutines still runnable or blocked are discarded without
 * running further (as Go discards goroutines when main returns), and every
 * stack, descriptor and thread is released.  Objects (wait groups, ...) on
 * which discarded coroutines were blocked must not be used again.  The
 * runtime may be started again afterwards.  Blocks until done.  Returns 0,
 * -ESRCH if the runtime is not running, -EDEADLK if called from a coroutine.
 */
GORT_API int gort_stop(void);

/*
 * Run fn(arg) as the program's main coroutine (named "main"): start the
 * runtime from cfg, wait for fn to return, stop the runtime (see
 * gort_stop), and return fn's value.  If the runtime cannot start, returns
 * gort_start()'s negative code.  Blocks the calling (plain) thread.
 */
GORT_API int gort_main_cfg(const gort_config *cfg, int (*fn)(void *arg), void *arg);
#define gort_main(fn, arg) gort_main_cfg(NULL, (fn), (arg))

/* Is the runtime running? */
GORT_API bool gort_running(void);

/* Number of Ps of the running runtime, or 0 when it is not running. */
GORT_API int gort_procs(void);

/* ------------------------------------------------------------------------ */
/* Coroutines                                                                */
/* ------------------------------------------------------------------------ */

/* A coroutine id: 64-bit, positive, never reused within a process (not even
 * across a stop and restart).  Spawning returns it, or a negative errno. */
typedef int64_t gort_id;

/*
 * Per-spawn options.  A zeroed field means the default.  Use it with
 * designated initialisers (gort_go_with below) so that fields added later
 * keep their defaults.
 */
struct gort_panic_info;

typedef struct gort_spawn_opts {
	/* A name shown in dumps and fatal messages; copied (at most
	 * GORT_NAME_MAX - 1 bytes kept). */
	const char *name;
	/* Usable stack size in bytes (rounded up to pages); 0: the runtime's
	 * default.  GORT_MIN_STACK_SIZE .. GORT_MAX_STACK_SIZE. */
	size_t stack_size;
	/* A panic handler for this coroutine only (the article's
	 * safeGoroutine): an unrecovered panic calls it, then the coroutine
	 * ends and the others run on.  NULL: the runtime-wide policy. */
	void (*on_panic)(const struct gort_panic_info *info, void *ctx);
	void *on_panic_ctx;
} gort_spawn_opts;

#define GORT_NAME_MAX 32

/*
 * Spawn fn(arg) as a new coroutine, runnable at once; the caller goes on
 * running (the new coroutine is next in line on the caller's P).  Callable
 * from a coroutine or from any plain thread while the runtime runs.  The
 * stack is bound when the coroutine first runs.  Returns the new id, or
 * -ESRCH (runtime not running), -EINVAL (fn NULL, or a bad stack size),
 * -ENOMEM.  Never blocks.  file/line name the spawn site; use the macros.
 */
GORT_API gort_id gort_go_opts(void (*fn)(void *arg), void *arg, const gort_spawn_opts *opts,
			      const char *file, int line);
#define gort_go(fn, arg) gort_go_opts((fn), (arg), NULL, __FILE__, __LINE__)
/* gort_go_with(fn, arg, .name = "worker", .stack_size = 64 * 1024) */
#define gort_go_with(fn, arg, ...) \
	gort_go_opts((fn), (arg), &(const gort_spawn_opts){__VA_ARGS__}, __FILE__, __LINE__)

/*
 * Let the other runnable coroutines of this P run; the caller is put at the
 * back of its P's queue (Go's runtime.Gosched).  Returns at once when
 * nothing else is runnable.  From a plain thread: sched_yield().
 */
GORT_API void gort_yield(void);

/*
 * Mark a stretch of code that may block in the kernel: a blocking system
 * call, or a library call that makes one (getaddrinfo, a disk read, a
 * database driver).  Between enter and exit the coroutine keeps its OS
 * thread, but the monitor hands its P to another thread once the call has
 * lasted ~20 us, so the P's other coroutines keep running (Go's
 * entersyscall/exitsyscall).  exit continues on the old P if it is still
 * free, else on any idle one, else parks the coroutine until a P is free.
 * Between the two, call nothing of gort's that blocks, yields or spawns.
 * No nesting.  From a plain thread both do nothing.  Never fail.
 */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/*
 * A cooperative preemption point for long computations (C code cannot be
 * preempted safely): yields if the monitor found this coroutine running
 * for 10 ms without a switch, else returns at once (one load).  The
 * monitor also moves the waiting coroutines of a hog's P to the other
 * Ps, so a loop without this call starves only its own P's queue for the
 * first 10 ms.  From a plain thread: nothing.
 */
GORT_API void gort_preempt_point(void);

/* The id of the calling coroutine, or 0 from a plain thread. */
GORT_API gort_id gort_self(void);

/* The index (0 .. procs-1) of the P running the caller, or -1 from a plain
 * thread.  The answer may be stale as soon as the caller blocks or yields. */
GORT_API int gort_current_proc(void);

/* Number of live coroutines: spawned and not yet returned (Go's
 * runtime.NumGoroutine).  0 when the runtime is not running. */
GORT_API int64_t gort_num_coroutines(void);

/* ------------------------------------------------------------------------ */
/* Counters                                                                  */
/* ------------------------------------------------------------------------ */

/* Scheduler counters, kept per P (cheap enough to leave on) and summed on
 * read; totals since gort_start(). */
typedef struct gort_stats {
	uint64_t spawns;        /* coroutines spawned */
	uint64_t exits;         /* coroutines that returned */
	uint64_t runs;          /* times a coroutine was given a P (first run or resume) */
	uint64_t switches;      /* context switches (coroutine to coroutine or scheduler) */
	uint64_t yields;        /* gort_yield calls that switched */
	uint64_t parks;         /* coroutines that blocked */
	uint64_t steals;        /* successful steals from another P */
	uint64_t stolen;        /* coroutines taken by those steals */
	uint64_t global_takes;  /* coroutines taken from the global queue */
	uint64_t global_puts;   /* coroutines put on the global queue */
	uint64_t wakeups;       /* idle Ms woken to run a P */
	uint64_t timers_fired;  /* timer callbacks run (sleeps, timers, tickers, deadlines) */
	uint64_t handoffs;      /* Ps handed by one M to another (to run queued work) */
	int procs;              /* number of Ps */
	int threads;            /* Ms (OS threads) created */
	int idle_threads;       /* Ms asleep without a P right now */
	int idle_procs;         /* Ps without an M right now */
	int spinning;           /* Ms looking for work right now */
} gort_stats;

/* Fill *out with the totals.  Returns 0, or -ESRCH (not running), -EINVAL
 * (out NULL). */
GORT_API int gort_stats_read(gort_stats *out);

/* Fill *out with the counters of P number proc only (procs, threads,
 * idle_procs and spinning are the global values).  Returns 0, -ESRCH,
 * -EINVAL (bad proc or out NULL). */
GORT_API int gort_proc_stats_read(int proc, gort_stats *out);

/* ------------------------------------------------------------------------ */
/* WaitGroup (Go's sync.WaitGroup)                                            */
/* ------------------------------------------------------------------------ */

/* A wait group.  All zeroes is a valid empty group (GORT_WG_INIT or
 * memset); no destroy call is needed.  Do not copy one that is in use. */
typedef struct gort_wg {
	GORT_ALIGNAS(8) unsigned char opaque_[40];
} gort_wg;
#define GORT_WG_INIT {{0}}

/* Add delta (may be negative) to the counter; when it reaches zero every
 * waiter is released.  A counter below zero panics ("sync: negative
 * WaitGroup counter").  Never blocks. */
GORT_API void gort_wg_add(gort_wg *wg, int64_t delta);

/* gort_wg_add(wg, -1). */
GORT_API void gort_wg_done(gort_wg *wg);

/* Block until the counter is zero (returns at once if it is).  Blocks.
 * Callable from coroutines and from plain threads. */
GORT_API void gort_wg_wait_at(gort_wg *wg, const char *file, int line);
#define gort_wg_wait(wg) gort_wg_wait_at((wg), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Channels and select (channel/; Go's semantics)                            */
/* ------------------------------------------------------------------------ */

/* A channel of fixed-size elements.  Reference-counted: gort_chan_make
 * returns one reference; every holder releases its own.  A NULL channel is
 * Go's nil channel: sending or receiving on it blocks forever, closing it
 * panics, and a select never chooses its case. */
typedef struct gort_chan gort_chan;

/* A channel of elements of elem_size bytes (0: a signal-only channel) with
 * a buffer of cap elements (0: unbuffered; a send waits for its receiver).
 * NULL if memory is short.  Never blocks. */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);
/* Take and drop references.  The channel is freed when the last is
 * dropped, never while a coroutine waits on it. */
GORT_API gort_chan *gort_chan_retain(gort_chan *c);
GORT_API void gort_chan_release(gort_chan *c);

/* Send *elem (elem_size bytes copied).  Blocks until a receiver takes it or
 * there is room in the buffer.  Panics ("send on closed channel") if the
 * channel is closed, also when it is closed while the sender waits.
 * Returns 0. */
GORT_API int gort_chan_send_at(gort_chan *c, const void *elem, const char *file, int line);
#define gort_chan_send(c, elem) gort_chan_send_at((c), (elem), __FILE__, __LINE__)

/* Receive into *elem (may be NULL to drop the value).  Blocks until a value
 * is there or the channel is closed and drained; then *elem is zeroed and
 * *ok (if ok != NULL) is false.  Returns 0. */
GORT_API int gort_chan_recv_at(gort_chan *c, void *elem, bool *ok, const char *file, int line);
#define gort_chan_recv(c, elem, ok) gort_chan_recv_at((c), (elem), (ok), __FILE__, __LINE__)

/* Non-blocking forms: 0 if done, -EAGAIN if it would block.  try_send on a
 * closed channel panics, as send does. */
GORT_API int gort_chan_try_send(gort_chan *c, const void *elem);
GORT_API int gort_chan_try_recv(gort_chan *c, void *elem, bool *ok);

/* Close: every waiting receiver gets the zero value and ok = false, every
 * waiting sender panics; buffered values can still be received.  Panics on
 * a closed or NULL channel. */
GORT_API void gort_chan_close(gort_chan *c);

/* Elements buffered now, and the buffer's size.  0 for NULL. */
GORT_API size_t gort_chan_len(gort_chan *c);
GORT_API size_t gort_chan_cap(gort_chan *c);

/* One case of a select. */
enum { GORT_RECV = 0, GORT_SEND = 1 };
typedef struct gort_case {
	gort_chan *chan; /* NULL: never chosen */
	int dir;         /* GORT_RECV or GORT_SEND */
	void *elem;      /* value to send, or where to receive (may be NULL) */
	bool ok;         /* out, for a receive: false if the channel was closed */
} gort_case;

/*
 * Wait until one of the n cases can proceed and do it; returns its index.
 * When several are ready, one is chosen uniformly at random.  nonblocking:
 * return -EAGAIN at once if none is ready (Go's default case).  A select with
 * no cases (or only NULL channels) and !nonblocking blocks forever.  A send
 * case on a closed channel panics when chosen.  Blocks.
 */
GORT_API int gort_select_at(gort_case *cases, size_t n, bool nonblocking, const char *file, int line);
#define gort_select(cases, n, nonblocking) gort_select_at((cases), (n), (nonblocking), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Time: sleep, timers, tickers, deadlines (runtime/timer.c)                 */
/* ------------------------------------------------------------------------ */

/* The monotonic clock gort's deadlines use (CLOCK_MONOTONIC), in ns. */
GORT_API int64_t gort_now(void);

/* Sleep for ns nanoseconds (<= 0: just yield).  A coroutine parks on a
 * timer; a plain thread sleeps.  Returns 0, or -ENOMEM.  Blocks. */
GORT_API int gort_sleep_at(int64_t ns, const char *file, int line);
#define gort_sleep(ns) gort_sleep_at((ns), __FILE__, __LINE__)

/* A timer or ticker whose channel (elements: int64_t, the gort_now() of the
 * firing; capacity 1) receives a value when it fires.  A ticker that finds
 * its channel full drops that tick (Go's behaviour).  Not thread-safe
 * against itself: one owner stops, resets and frees it. */
typedef struct gort_timer gort_timer;
/* Fire once after ns.  NULL if memory is short or the runtime is not
 * running. */
GORT_API gort_timer *gort_timer_new(int64_t ns);
/* Fire every period_ns (> 0).  NULL as above, or if period_ns <= 0. */
GORT_API gort_timer *gort_ticker_new(int64_t period_ns);
/* Its channel (a borrowed reference, valid until gort_timer_free). */
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
/* Stop it: true if it was armed (so it will not fire), false if it had
 * already fired (a timer) or was stopped.  Afterwards its channel holds no
 * value from before the stop (Go 1.23's guarantee). */
GORT_API bool gort_timer_stop(gort_timer *t);
/* Re-arm to fire after ns (a ticker: every ns), dropping any value from
 * before.  Returns what gort_timer_stop would have. */
GORT_API bool gort_timer_reset(gort_timer *t, int64_t ns);
/* Stop and free it (and its channel reference). */
GORT_API void gort_timer_free(gort_timer *t);
/* A channel that receives one int64_t after ns; release it when done.
 * NULL if memory is short or the runtime is not running. */
GORT_API gort_chan *gort_after(int64_t ns);

/* Deadline variants (deadline: absolute gort_now() ns): as the plain forms,
 * or -ETIMEDOUT once the deadline passes with the operation not done (no
 * value was taken or given).  A deadline already past means "only if ready
 * now". */
GORT_API int gort_chan_send_until_at(gort_chan *c, const void *elem, int64_t deadline,
				    const char *file, int line);
GORT_API int gort_chan_recv_until_at(gort_chan *c, void *elem, bool *ok, int64_t deadline,
				    const char *file, int line);
GORT_API int gort_select_until_at(gort_case *cases, size_t n, int64_t deadline, const char *file,
				 int line);
#define gort_chan_send_until(c, elem, deadline)                                                    \
	gort_chan_send_until_at((c), (elem), (deadline), __FILE__, __LINE__)
#define gort_chan_recv_until(c, elem, ok, deadline)                                                \
	gort_chan_recv_until_at((c), (elem), (ok), (deadline), __FILE__, __LINE__)
#define gort_select_until(cases, n, deadline)                                                      \
	gort_select_until_at((cases), (n), (deadline), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Errors and panics                                                         */
/* ------------------------------------------------------------------------ */

/* A static description of a negative (or positive) errno-style code. */
GORT_API const char *gort_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Panic, defer, recover (recover/; docs/panics.md)                          */
/* ------------------------------------------------------------------------ */

#define GORT_PANIC_MSG_MAX 256
#define GORT_PANIC_FRAMES 32

/* What a panic carries.  Filled by gort_recover() and gort_protect(), and
 * passed to panic handlers. */
typedef struct gort_panic_info {
	char message[GORT_PANIC_MSG_MAX]; /* the formatted message; for a value
					   * panic, "(value 0x...)" */
	void *value;                      /* gort_panic_value's pointer, else NULL */
	bool runtime_error;               /* raised by gort itself (misuse, a
					   * signal turned into a panic) */
	gort_id coroutine;                /* who panicked; 0: a plain thread */
	char name[GORT_NAME_MAX];         /* its name, "" if none */
	const char *spawn_file;           /* where it was spawned */
	int spawn_line;
	int nframes;                      /* backtrace captured at the panic site */
	void *frames[GORT_PANIC_FRAMES];
} gort_panic_info;

/*
 * Panic: run the coroutine's deferred calls, innermost protected region
 * first, until one of them calls gort_recover(); the region it belongs to
 * then returns to its caller (gort_protect returns GORT_PANICKED).  If none
 * recovers, the coroutine's panic policy applies (gort_set_panic_policy).
 * On a plain thread, outside any gort_protect, prints and aborts.  Never
 * returns.
 */
GORT_NORETURN GORT_API void gort_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Panic with an arbitrary value (Go's panic(v)); message is "(value %p)". */
GORT_NORETURN GORT_API void gort_panic_value(void *value);

/*
 * Register fn(arg) to run when the innermost protected region ends, by
 * return or by panic, last registered first (Go's defer).  The region is
 * the innermost gort_protect call, else the coroutine itself (its deferred
 * calls run when its function returns).  Returns 0, -EPERM outside a
 * coroutine and outside gort_protect, -ENOMEM.  Never blocks.
 */
GORT_API int gort_defer(void (*fn)(void *arg), void *arg);
#define GORT_DEFER(fn, arg) ((void)gort_defer((void (*)(void *))(fn), (void *)(arg)))

/*
 * Inside a deferred call that runs because of a panic: stop the panic and
 * return its record (valid until the deferred call returns; copy what you
 * keep).  Anywhere else (no panic, or not directly in a deferred call):
 * NULL.  Go's recover().
 */
GORT_API const gort_panic_info *gort_recover(void);

/*
 * Run fn(arg) as a protected region: its deferred calls run when it ends;
 * a panic inside it that a deferred call recovers makes gort_protect return
 * GORT_PANICKED with the panic copied to *out (out may be NULL).  A panic
 * nobody recovers goes on to the enclosing region.  Returns 0 when fn
 * returned normally.  Works in coroutines and on plain threads.  Costs a
 * setjmp (docs/panics.md).
 */
#define GORT_PANICKED 1
GORT_API int gort_protect(void (*fn)(void *arg), void *arg, gort_panic_info *out);

/* What happens to a panic that reaches a coroutine's boundary unrecovered. */
typedef enum gort_panic_policy {
	GORT_PANIC_ABORT = 0, /* print it (Go's format) and abort the process (default) */
	GORT_PANIC_LOG,       /* print it; the coroutine ends, the others run on */
	GORT_PANIC_HANDLER,   /* call the handler; then the coroutine ends */
} gort_panic_policy;

/* A panic handler: runs on the panicking coroutine's stack with the record.
 * It may log, count, alert, or call gort_panic itself (which then aborts). */
typedef void (*gort_panic_handler)(const gort_panic_info *info, void *ctx);

/*
 * Set the runtime-wide policy (and, for GORT_PANIC_HANDLER, the handler and
 * its ctx) for coroutines spawned without their own.  Takes effect for
 * panics from then on.  Returns 0, or -EINVAL (bad policy, or
 * GORT_PANIC_HANDLER without a handler).  Thread-safe.
 */
GORT_API int gort_set_panic_policy(gort_panic_policy policy, gort_panic_handler handler, void *ctx);

/* Write a panic record in Go's format ("panic: ...", "coroutine N [running]:",
 * spawn site, symbolised backtrace) to fd.  Async-signal-safe it is not. */
GORT_API void gort_panic_print(int fd, const gort_panic_info *info);

#ifdef __cplusplus
}
#endif

#include <gort/context.h> /* contexts; _ctx variants of blocking calls */
#include <gort/sync.h>    /* mutex, rwmutex, once, cond, semaphore, group */
#include <gort/debug.h>   /* counts, dumps, leak check, watchdog */
#include <gort/io.h>      /* descriptors on the netpoller, TCP helpers */

#endif /* GORT_H */
