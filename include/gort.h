/*
 * gort.h — Go's concurrency runtime for C: the one public header.
 *
 * Coroutines ("G"s) with small guarded stacks run on OS threads ("M"s), each
 * of which holds one of a fixed number of logical processors ("P"s, one per
 * CPU by default).  Every P has its own run queue and steals from the others
 * when it runs dry.  See docs/design.md for how it works and docs/api.md for
 * this API as a reference (generated from these comments by
 * scripts/apidoc.sh).
 *
 * Conventions, for every function in this header:
 *   - Errors are returned, never left in errno: 0 (or a non-negative result)
 *     on success, a negative errno-style code on failure.  gort_strerror()
 *     renders any of them ("Errors and panics" below lists them).
 *   - Misuse that Go treats as a panic (a negative WaitGroup counter, ...)
 *     panics in gort too.
 *   - Every function is thread-safe and may be called from a coroutine or
 *     from a plain thread unless its comment says otherwise.
 *   - Blocking functions say so.  From a coroutine they park only that
 *     coroutine; from a plain thread they block the thread.
 *   - Names of blocking calls are macros that record the call site
 *     (__FILE__/__LINE__) for the coroutine dump; the function behind each
 *     has the same name with an _at suffix.
 *   - Each function's comment ends with tagged lines: Returns: (every value
 *     and error code; left out for void functions), Blocks:, Context: (for
 *     blocking calls: the _ctx sibling, or none), Threads: (who may call
 *     it), and Panics: where it can panic.
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

/* The version of this header (and of the library built with it). */
#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Runtime life cycle                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Configuration for gort_start().  Zero in a field means "take it from the
 * environment, else the default"; a non-zero field overrides the
 * environment (which is then not read).  A bad environment value
 * (GORT_PROCS=0, -1, abc, 1e9; GORT_STACK_SIZE=1, 1T, 12Q, -5;
 * GORT_MAX_THREADS=0, abc; an unknown GORT_DEBUG key or a bad value) prints
 * one line on stderr and the default is used; an empty one is unset.  A
 * bad field makes gort_start() return -EINVAL, having started nothing:
 * procs below 0 or above GORT_MAX_PROCS, a stack_size outside
 * GORT_MIN_STACK_SIZE .. GORT_MAX_STACK_SIZE, max_threads below 0, 1, or
 * above 1000000 (nothing printed), a debug string with an unknown key, a
 * bad value, or more than 255 bytes (the bad option is also named on
 * stderr, "gort: gort_config.debug: ...").
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
	 * else GORT_DEFAULT_MAX_THREADS; 2 .. 1000000, raised to procs if
	 * below.  Ms beyond procs
	 * serve blocking calls (gort_syscall_enter); at the limit, a blocking
	 * call keeps its P and gort says so once on stderr. */
	int max_threads;
} gort_config;

/* Limits and defaults of the gort_config fields. */
#define GORT_MAX_PROCS 1024
#define GORT_DEFAULT_MAX_THREADS 10000
#define GORT_DEFAULT_STACK_SIZE (256u * 1024u)
#define GORT_MIN_STACK_SIZE (16u * 1024u)
#define GORT_MAX_STACK_SIZE (1024u * 1024u * 1024u)

/*
 * Starts the runtime: resolves the configuration, creates the Ps, the
 * first M thread and the monitor thread (sysmon).  cfg may be NULL
 * (environment and defaults).  The runtime may be started again after
 * gort_stop.
 * Returns: 0; -EALREADY if the runtime is running; -EDEADLK if called from
 *   a coroutine; -EINVAL for a bad cfg field or a bad option in
 *   cfg->debug; -ENOMEM; -EAGAIN if no thread could be created; the
 *   negative errno of a failed sigaction, epoll_create1, eventfd or pipe2
 *   (-EMFILE, ...).
 * Blocks: no (it creates threads; it waits for nothing they do)
 * Threads: plain threads only; serialised with gort_stop by a lock.
 */
GORT_API int gort_start(const gort_config *cfg);

/*
 * Stops the runtime: every M finishes the coroutine it is running up to its
 * next switch point (a blocking call, gort_yield, or its end), then exits
 * and is joined; coroutines still runnable or blocked are discarded without
 * running further (as Go discards goroutines when main returns), and every
 * stack, descriptor and thread is released.  Objects (wait groups, ...) on
 * which discarded coroutines were blocked must not be used again; gort_fd
 * descriptors still open are closed (their handles then return -EBADF:
 * gort/io.h); the watchdog is turned off; armed timers are dropped (a
 * context's deadline is settled when the context is next used:
 * gort/context.h).  Other objects (channels, contexts, sync values) stay
 * valid, with or without a new start.  The runtime may be started again
 * afterwards.
 * Returns: 0; -ESRCH if the runtime is not running; -EDEADLK if called
 *   from a coroutine.
 * Blocks: yes: until every M has reached a switch point and exited (a
 *   coroutine that never yields holds it up)
 * Context: none
 * Threads: plain threads only; serialised with gort_start by a lock.
 */
GORT_API int gort_stop(void);

/*
 * Runs fn(arg) as the program's main coroutine (named "main"): starts the
 * runtime from cfg (NULL: environment and defaults), waits for fn to
 * return, stops the runtime (see gort_stop), and returns fn's value.
 * gort_main(fn, arg) is gort_main_cfg(NULL, fn, arg).  With
 * GORT_DEBUG=leakcheck=1, a leak found when fn returns makes it exit the
 * process with status 1 instead of returning.
 * Returns: fn's value; -EINVAL if fn is NULL; else, when the runtime
 *   cannot start, gort_start's negative code (-EALREADY, -EDEADLK, ...);
 *   when the main coroutine cannot be spawned, gort_go's (-ENOMEM).
 * Blocks: yes: the calling thread, until fn returns and the runtime has
 *   stopped
 * Context: none
 * Threads: plain threads only (from a coroutine: -EDEADLK).
 */
GORT_API int gort_main_cfg(const gort_config *cfg, int (*fn)(void *arg), void *arg);
#define gort_main(fn, arg) gort_main_cfg(NULL, (fn), (arg))

/*
 * Is the runtime running?  False again from the moment gort_stop begins.
 * Returns: true between a successful gort_start and the start of
 *   gort_stop, else false.
 * Blocks: no
 * Threads: any coroutine or thread (one atomic load).
 */
GORT_API bool gort_running(void);

/*
 * The number of Ps of the running runtime.
 * Returns: 1 .. GORT_MAX_PROCS, or 0 when the runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_procs(void);

/* ------------------------------------------------------------------------ */
/* Coroutines                                                                */
/* ------------------------------------------------------------------------ */

/* A coroutine id: 64-bit, positive, never reused within a process (not even
 * across a stop and restart).  Spawning returns it, or a negative errno. */
typedef int64_t gort_id;

/* Declared with the panic calls below. */
struct gort_panic_info;

/*
 * Per-spawn options.  A zeroed field means the default.  Use it with
 * designated initialisers (gort_go_with below) so that fields added later
 * keep their defaults.
 */
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

/* The size of a coroutine's name buffer, NUL included. */
#define GORT_NAME_MAX 32

/* gort_go_with's body.  C++ has no compound literals: there the options
 * are a local of a lambda; designated initialisers need C++20 (or GNU
 * C++17), and g++ would warn that the fields not named are missing, which
 * they are on purpose. */
#ifndef __cplusplus
#define GORT__GO_WITH(fn, arg, ...) \
	gort_go_opts(fn, arg, &(const gort_spawn_opts){__VA_ARGS__}, __FILE__, __LINE__)
#else
#define GORT__GO_WITH(fn, arg, ...)                                                                \
	([&]() {                                                                                   \
		_Pragma("GCC diagnostic push")                                                     \
		_Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")                 \
		const gort_spawn_opts gort__o{__VA_ARGS__};                                        \
		_Pragma("GCC diagnostic pop")                                                      \
		return gort_go_opts(fn, arg, &gort__o, __FILE__, __LINE__);                        \
	}())
#endif

/*
 * Spawns fn(arg) as a new coroutine, runnable at once; the caller goes on
 * running (from a coroutine, the new one is next in line on the caller's
 * P; from a plain thread, it goes on the global queue).  The stack is
 * mapped when the coroutine first runs: if that fails, the process dies
 * ("fatal error: out of memory").  gort_go(fn, arg) spawns with the
 * defaults; gort_go_with(fn, arg, .name = "worker", .stack_size = 64 *
 * 1024) with designated options; gort_go_opts takes opts (NULL: defaults)
 * and the spawn site (file, line) itself.
 * Returns: the new coroutine's id (> 0); -ESRCH if the runtime is not
 *   running (or is stopping); -EINVAL if fn is NULL or the stack size is
 *   out of range; -ENOMEM.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_id gort_go_opts(void (*fn)(void *arg), void *arg, const gort_spawn_opts *opts,
			      const char *file, int line);
#define gort_go(fn, arg) gort_go_opts((fn), (arg), NULL, __FILE__, __LINE__)
#define gort_go_with(fn, arg, ...) GORT__GO_WITH((fn), (arg), __VA_ARGS__)

/*
 * Lets the other runnable coroutines run (Go's runtime.Gosched): the
 * caller goes to the back of its P's queue.  Returns at once when nothing
 * else is runnable on its P or in the global queue.  From a plain thread:
 * sched_yield().
 * Blocks: no (a switch point: the coroutine may resume on another thread)
 * Threads: any coroutine or thread.
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
 * Nesting (enter twice) is a fatal error; exit without enter does nothing.
 * From a plain thread both do nothing.
 * Blocks: enter: no; exit: only while no P is free (parks the coroutine)
 * Context: none
 * Threads: coroutines (a no-op on a plain thread).
 */
GORT_API void gort_syscall_enter(void);
GORT_API void gort_syscall_exit(void);

/*
 * A cooperative preemption point for long computations (C code cannot be
 * preempted safely): yields if the monitor found this coroutine running
 * for 10 ms without a switch, else returns at once (one load).  The
 * monitor also moves the waiting coroutines of a hog's P to the other
 * Ps, so a loop without this call starves only its own P's queue for the
 * first 10 ms.
 * Blocks: no (a switch point when it yields)
 * Threads: coroutines (a no-op on a plain thread).
 */
GORT_API void gort_preempt_point(void);

/*
 * The id of the calling coroutine.
 * Returns: its id (> 0), or 0 from a plain thread.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_id gort_self(void);

/*
 * The index of the P running the caller.  The answer may be stale as soon
 * as the caller blocks or yields.
 * Returns: 0 .. procs-1, or -1 from a plain thread.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_current_proc(void);

/*
 * Number of live coroutines: spawned and not yet returned (Go's
 * runtime.NumGoroutine), from the counters (gort_stats_read).
 * Returns: the count, or 0 when the runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
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

/*
 * Fills *out with the totals (a racy but safe snapshot: counters move while
 * they are summed).
 * Returns: 0; -EINVAL if out is NULL; -ESRCH if the runtime is not
 *   running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_stats_read(gort_stats *out);

/*
 * Fills *out with the counters of P number proc only; wakeups, handoffs,
 * procs, threads, idle_threads, idle_procs and spinning are the global
 * values.
 * Returns: 0; -EINVAL if out is NULL or proc is not 0 .. procs-1; -ESRCH
 *   if the runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_proc_stats_read(int proc, gort_stats *out);

/* ------------------------------------------------------------------------ */
/* WaitGroup (Go's sync.WaitGroup)                                            */
/* ------------------------------------------------------------------------ */

/* A wait group.  All zeroes is a valid empty group (GORT_WG_INIT or
 * memset); no destroy call is needed.  Do not copy one that is in use.
 * Works with or without the runtime running. */
typedef struct gort_wg {
	GORT_ALIGNAS(8) unsigned char opaque_[40];
} gort_wg;
#define GORT_WG_INIT {{0}}

/*
 * Adds delta (may be negative) to the counter; when it reaches zero every
 * waiter is released.  As in Go, an Add that starts from zero must happen
 * before the Wait it is meant for.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "sync: negative WaitGroup counter"; "sync: WaitGroup delta out
 *   of range" (|delta| > INT32_MAX); "sync: WaitGroup misuse: Add called
 *   concurrently with Wait"; "gort_wg_add: wg is NULL".
 */
GORT_API void gort_wg_add(gort_wg *wg, int64_t delta);

/*
 * gort_wg_add(wg, -1).
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: as gort_wg_add ("sync: negative WaitGroup counter",
 *   "gort_wg_add: wg is NULL").
 */
GORT_API void gort_wg_done(gort_wg *wg);

/*
 * Waits until the counter is zero (returns at once if it is).
 * Blocks: yes: parks the coroutine (a plain thread sleeps) until the
 *   counter reaches zero
 * Context: gort_wg_wait_ctx
 * Threads: any coroutine or thread.
 * Panics: "gort_wg_wait: wg is NULL".
 */
GORT_API void gort_wg_wait_at(gort_wg *wg, const char *file, int line);
#define gort_wg_wait(wg) gort_wg_wait_at((wg), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Channels and select (channel/; Go's semantics)                            */
/* ------------------------------------------------------------------------ */

/* A channel of fixed-size elements.  Reference-counted: gort_chan_make
 * returns one reference; every holder releases its own.  A NULL channel is
 * Go's nil channel: sending or receiving on it blocks forever, closing it
 * panics, and a select never chooses its case.  Channels work with or
 * without the runtime running (plain threads sleep on them). */
typedef struct gort_chan gort_chan;

/*
 * A channel of elements of elem_size bytes (0: a signal-only channel) with
 * a buffer of cap elements (0: unbuffered; a send waits for its receiver).
 * As Go's make, a size that is negative as a signed number (a negative int
 * passed as size_t is above PTRDIFF_MAX) is out of range, never a huge
 * allocation.
 * Returns: the channel (one reference), or NULL if elem_size or cap is
 *   above PTRDIFF_MAX, if the buffer's size (elem_size * cap) overflows
 *   it, or if memory is short (a buffer of 2^60 bytes).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_chan *gort_chan_make(size_t elem_size, size_t cap);
/*
 * Takes (retain) and drops (release) a reference.  The channel is freed
 * when the last is dropped, but never while a coroutine or thread waits on
 * it (it is freed when the last waiter leaves; the leak check reports such
 * orphans).  Both accept NULL and do nothing with it.  A release after
 * the last one uses freed memory, as free(3) twice does: it is a fatal
 * error ("released more times than retained") while that memory has not
 * been reused, undefined after.
 * Returns: retain: c.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_chan *gort_chan_retain(gort_chan *c);
GORT_API void gort_chan_release(gort_chan *c);

/*
 * Sends *elem (elem_size bytes copied): straight to a waiting receiver,
 * else into the buffer if there is room, else waits for either.
 * Returns: 0; -EINVAL if elem is NULL and c's elements have a size (on a
 *   NULL channel elem is not looked at); every other failure panics.
 * Blocks: yes: parks the coroutine (a plain thread sleeps) until a
 *   receiver takes the value or there is room; forever on a NULL channel
 * Context: gort_chan_send_ctx; deadline: gort_chan_send_until
 * Threads: any coroutine or thread.
 * Panics: "send on closed channel" if c is closed, also when it is closed
 *   while the sender waits.
 */
GORT_API int gort_chan_send_at(gort_chan *c, const void *elem, const char *file, int line);
#define gort_chan_send(c, elem) gort_chan_send_at((c), (elem), __FILE__, __LINE__)

/*
 * Receives into *elem (elem may be NULL to drop the value).  When the
 * channel is closed and drained, *elem is zeroed and *ok (if ok != NULL)
 * is false; after a real value *ok is true.
 * Returns: 0 (always).
 * Blocks: yes: parks the coroutine (a plain thread sleeps) until a value
 *   is there or the channel is closed and drained; forever on a NULL
 *   channel
 * Context: gort_chan_recv_ctx; deadline: gort_chan_recv_until
 * Threads: any coroutine or thread.
 */
GORT_API int gort_chan_recv_at(gort_chan *c, void *elem, bool *ok, const char *file, int line);
#define gort_chan_recv(c, elem, ok) gort_chan_recv_at((c), (elem), (ok), __FILE__, __LINE__)

/*
 * Non-blocking send and receive: they do what gort_chan_send and
 * gort_chan_recv would do without waiting, or nothing.  try_recv on a
 * closed, drained channel succeeds with *elem zeroed and *ok false.
 * Returns: 0 if done; -EAGAIN if it would block (also for a NULL
 *   channel); try_send: -EINVAL as gort_chan_send (elem NULL).
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: try_send: "send on closed channel", as send.
 */
GORT_API int gort_chan_try_send(gort_chan *c, const void *elem);
GORT_API int gort_chan_try_recv(gort_chan *c, void *elem, bool *ok);

/*
 * Closes c: every waiting receiver gets the zero value and ok = false,
 * every waiting sender panics; buffered values can still be received.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "close of nil channel" (c NULL); "close of closed channel".
 */
GORT_API void gort_chan_close(gort_chan *c);

/*
 * The number of elements buffered now, and the buffer's size.
 * Returns: len: the count (a snapshot); cap: the capacity; both 0 for
 *   NULL.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
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
 * Waits until one of the n cases can proceed and does it.  When several
 * are ready, one is chosen uniformly at random.  nonblocking: do not wait
 * (Go's default case).  A select with no cases (or only NULL channels)
 * and !nonblocking blocks forever.  cases may be NULL when n is 0.  Out of
 * memory for a select of more than 16 cases is a fatal error.
 * Returns: the index of the case done (a receive sets its ok); -EAGAIN
 *   if nonblocking and no case was ready; -ENOMEM (more than 16 cases
 *   need memory for the select's bookkeeping; nothing was done); -EINVAL
 *   (nothing done) for n above 65536 (Go's reflect.Select limit), cases
 *   NULL with n > 0, a dir other than GORT_RECV and GORT_SEND, or a send
 *   case with elem NULL on a channel whose elements have a size.
 * Blocks: yes unless nonblocking: parks the coroutine (a plain thread
 *   sleeps) until a case is ready
 * Context: gort_select_ctx; deadline: gort_select_until
 * Threads: any coroutine or thread.
 * Panics: "send on closed channel" when a send case on a closed channel is
 *   chosen.
 */
GORT_API int gort_select_at(gort_case *cases, size_t n, bool nonblocking, const char *file, int line);
#define gort_select(cases, n, nonblocking) gort_select_at((cases), (n), (nonblocking), __FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Time: sleep, timers, tickers, deadlines (runtime/timer.c)                 */
/* ------------------------------------------------------------------------ */

/* Durations in nanoseconds, as Go's time.Millisecond and friends:
 * gort_sleep(50 * GORT_MS), gort_ctx_with_timeout(parent, 2 * GORT_SEC). */
#define GORT_NS INT64_C(1)
#define GORT_US INT64_C(1000)
#define GORT_MS INT64_C(1000000)
#define GORT_SEC INT64_C(1000000000)

/*
 * The monotonic clock gort's deadlines use (CLOCK_MONOTONIC).
 * Returns: the time in nanoseconds.
 * Blocks: no
 * Threads: any coroutine or thread; the runtime need not run.
 */
GORT_API int64_t gort_now(void);

/*
 * Sleeps for ns nanoseconds (ns <= 0: just gort_yield; INT64_MAX and
 * other times too large to add to the clock: for ever).  A coroutine parks
 * on a timer; a plain thread sleeps in nanosleep (the runtime need not
 * run).
 * Returns: 0 after the sleep; -ENOMEM if a coroutine's timer could not be
 *   armed (it has not slept).
 * Blocks: yes: for ns
 * Context: gort_sleep_ctx
 * Threads: any coroutine or thread.
 */
GORT_API int gort_sleep_at(int64_t ns, const char *file, int line);
#define gort_sleep(ns) gort_sleep_at((ns), __FILE__, __LINE__)

/* A timer or ticker whose channel (elements: int64_t, the gort_now() of the
 * firing; capacity 1) receives a value when it fires.  A ticker that finds
 * its channel full drops that tick (Go's behaviour).  Not thread-safe
 * against itself: one owner stops, resets and frees it (any coroutine or
 * thread may receive from its channel).  Timers fire only while the
 * runtime runs; gort_stop drops the armed ones. */
typedef struct gort_timer gort_timer;
/*
 * A timer that fires once after ns (ns < 0: 0; too large to add to the
 * clock: never).
 * Returns: the timer, or NULL if memory is short or the runtime is not
 *   running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_timer *gort_timer_new(int64_t ns);
/*
 * A ticker that fires every period_ns, the first time after period_ns.
 * Returns: the ticker, or NULL if memory is short, the runtime is not
 *   running, or period_ns <= 0.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_timer *gort_ticker_new(int64_t period_ns);
/*
 * The channel of t.
 * Returns: a borrowed reference, valid until gort_timer_free(t); NULL if
 *   t is NULL.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_chan *gort_timer_chan(gort_timer *t);
/*
 * Stops t.  Afterwards its channel holds no value from before the stop
 * (Go 1.23's guarantee).
 * Returns: true if it was armed (so it will not fire); false if it had
 *   already fired (a timer), was stopped, or t is NULL.
 * Blocks: no (it waits out a firing in progress)
 * Threads: t's owner only (see gort_timer).
 */
GORT_API bool gort_timer_stop(gort_timer *t);
/*
 * Re-arms t to fire after ns (ns < 0: 0; too large to add to the clock:
 * never; a ticker: every ns, or at its old period if ns is 0), dropping
 * any value from before.  When it cannot be re-armed it is left stopped
 * (its channel drained) and the call says why.
 * Returns: 1 if t was armed, 0 if not (what gort_timer_stop would have
 *   said; 0 for NULL); -ESRCH if the runtime is not running (timers run
 *   only while it does); -ENOMEM if the timer could not be re-armed.
 * Blocks: no
 * Threads: t's owner only (see gort_timer).
 */
GORT_API int gort_timer_reset(gort_timer *t, int64_t ns);
/*
 * Stops t and frees it (and its channel reference; a holder of another
 * reference to the channel keeps it).  NULL is ignored.
 * Blocks: no
 * Threads: t's owner only (see gort_timer).
 */
GORT_API void gort_timer_free(gort_timer *t);
/*
 * A channel that receives one int64_t (the gort_now() of the firing) after
 * ns: Go's time.After.  Release it when done; the timer frees itself when
 * it fires.
 * Returns: the channel (the caller's reference), or NULL if memory is
 *   short or the runtime is not running.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_chan *gort_after(int64_t ns);

/*
 * Deadline variants of send, receive and select (deadline: absolute
 * gort_now() ns): as the plain forms, but they give up once the deadline
 * passes with the operation not done (no value was taken or given).  A
 * deadline already past means "only if ready now".  recv sets *ok as
 * gort_chan_recv does.
 * Returns: send, recv: 0; select: the index of the case done; all three:
 *   -ETIMEDOUT once the deadline passed; -ESRCH if it would have to wait
 *   while the runtime is not running (a deadline needs its timers; what
 *   is ready at once is still done); -ENOMEM if the deadline's timer could
 *   not be made; -EINVAL (nothing done) for bad cases as gort_select (send
 *   and recv: elem as gort_chan_send).
 * Blocks: yes: until done or the deadline
 * Context: gort_chan_send_ctx, gort_chan_recv_ctx, gort_select_ctx (a
 *   context with a deadline does both)
 * Threads: any coroutine or thread.
 * Panics: "send on closed channel", as the plain forms.
 */
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

/*
 * Errors: a function that can fail returns 0 (or a non-negative result: a
 * count, an index, an id) on success and a negative errno-style code on
 * failure (errno is not how gort reports errors: its value after a call
 * means nothing).  Functions that return a pointer return NULL on failure
 * and say why; bool functions say what false means.  The codes gort itself
 * returns, with gort_strerror's text for each (glibc's descriptions, except
 * where gort has its own, as Go words them):
 *
 *   0                       "success"
 *       Success.
 *   -EINVAL                 "Invalid argument"
 *       A bad argument: NULL where an object is needed, a size or an
 *       index out of range, a malformed address, a bad gort_config field.
 *   -ENOMEM                 "Cannot allocate memory"
 *       Memory (or a timer, for a deadline) could not be had.
 *   -ESRCH                  "the gort runtime is not running"
 *       The call needs the runtime and it is not running (or stopping).
 *   -EALREADY               "the gort runtime is already running"
 *       gort_start while it runs.
 *   -EDEADLK                "not allowed from a coroutine (it would deadlock)"
 *       gort_start, gort_stop or gort_main_cfg called from a coroutine.
 *   -EAGAIN                 "Resource temporarily unavailable"
 *       A non-blocking operation would block (try_send, try_recv, a
 *       non-blocking select), no thread could be created, or an errgroup
 *       member could not be spawned.
 *   -EBUSY                  "Device or resource busy"
 *       gort_group_try_go at the group's limit.
 *   -EPERM                  "Operation not permitted"
 *       gort_defer on a plain thread outside gort_protect; gort_fd_open
 *       on a regular file.
 *   GORT_CANCELED           "context canceled"
 *       (-ECANCELED) The context was cancelled: the _ctx call did nothing.
 *   GORT_DEADLINE_EXCEEDED  "deadline exceeded"
 *       (-ETIMEDOUT) The context's deadline passed; the same code is the
 *       -ETIMEDOUT of the _until deadline forms and of a gort_fd deadline.
 *   -EBADF                  "Bad file descriptor"
 *       The gort_fd was closed (also while the call waited).
 *   -EHOSTUNREACH           "No route to host"
 *       gort_dial_tcp or gort_listen_tcp: the name did not resolve.
 *   GORT_PANICKED           "panicked (the panic was recovered)"
 *       (1, positive) gort_protect: a panic was recovered; gort_group_wait:
 *       a member panicked.  gort_strerror reads 1 as this, -1 (-EPERM) as
 *       EPERM.
 *
 * The I/O calls (gort/io.h) also return the negative errno of the failed
 * system call (-ECONNREFUSED, -EPIPE, -EADDRINUSE, ...); gort_strerror
 * gives glibc's description of any errno and "unknown error" for a code
 * it does not know.  Programming errors are not codes but panics, as in
 * Go (a negative WaitGroup counter, a send on a closed channel, unlocking
 * an unlocked mutex: see "Panics:" in each function's comment), and
 * broken invariants of the runtime itself are fatal errors (a message on
 * stderr, then abort).
 */

/*
 * A static description of an error code (see the table above); the sign
 * is ignored, so -EINVAL and EINVAL give the same text, except for 1:
 * GORT_PANICKED, gort's one positive code, reads as a panic and -1
 * (-EPERM) as EPERM.
 * Returns: a static string, never NULL: gort's own text for 0, ESRCH,
 *   EDEADLK, EALREADY, ECANCELED ("context canceled"), ETIMEDOUT
 *   ("deadline exceeded", also for the -ETIMEDOUT of deadlines that are not
 *   a context's) and GORT_PANICKED ("panicked (the panic was
 *   recovered)"); glibc's strerrordesc_np text for other errnos; "unknown
 *   error" for anything else (INT_MIN included).
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API const char *gort_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Panic, defer, recover (recover/; docs/panics.md)                          */
/* ------------------------------------------------------------------------ */

/* The size of a panic message (NUL included; longer ones are cut) and the
 * most backtrace frames a panic record keeps. */
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
 * Panics with a printf-formatted message: runs the coroutine's deferred
 * calls, innermost protected region first, until one of them calls
 * gort_recover(); the region it belongs to then returns to its caller
 * (gort_protect returns GORT_PANICKED; a coroutine whose own deferred call
 * recovers ends normally).  If none recovers, the coroutine's panic policy
 * applies (gort_set_panic_policy).  On a plain thread, outside any
 * gort_protect, prints the panic and aborts.  gort_panic_value panics with
 * an arbitrary value (Go's panic(v)); its message is "(value %p)".  A NULL
 * fmt panics with "panic called with nil argument (gort_panic(NULL))", a
 * runtime error (Go 1.21's panic(nil)).
 * Blocks: no (it never returns: it unwinds, ends the coroutine or aborts)
 * Threads: any coroutine or thread.
 */
GORT_NORETURN GORT_API void gort_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
GORT_NORETURN GORT_API void gort_panic_value(void *value);

/*
 * Registers fn(arg) to run when the innermost protected region ends, by
 * return or by panic, last registered first (Go's defer).  The region is
 * the innermost gort_protect call, else the coroutine itself (its deferred
 * calls run when its function returns).  GORT_DEFER(fn, arg) casts fn and
 * arg, and panics where gort_defer would return an error (a deferred call
 * that was not registered must not pass unnoticed).
 * Returns: 0; -EINVAL if fn is NULL; -EPERM on a plain thread outside
 *   gort_protect; -ENOMEM.
 * Blocks: no
 * Threads: any coroutine, or a plain thread inside gort_protect.
 * Panics: GORT_DEFER, where gort_defer returns an error.
 */
GORT_API int gort_defer(void (*fn)(void *arg), void *arg);
#define GORT_DEFER(fn, arg)                                                                        \
	((void)(gort_defer((void (*)(void *))(fn), (void *)(arg)) == 0 ||                          \
		(gort_panic("GORT_DEFER(%s): not registered (no memory, no function, or a plain "  \
			    "thread outside gort_protect)",                                         \
			    #fn),                                                                   \
		 0)))

/*
 * Stops the panic in progress from inside one of its deferred calls: Go's
 * recover().  The record stays valid until the deferred call returns (copy
 * what you keep).
 * Returns: the panic's record; NULL when there is no panic, when the
 *   caller is not a deferred call run by it (or is inside a gort_protect
 *   entered since), or when it was recovered already.
 * Blocks: no
 * Threads: any coroutine or thread (each has its own panics).
 */
GORT_API const gort_panic_info *gort_recover(void);

/*
 * Runs fn(arg) as a protected region: its deferred calls run when it ends;
 * a panic inside it that a deferred call recovers makes gort_protect return
 * GORT_PANICKED with the panic copied to *out (out may be NULL).  A panic
 * nobody recovers goes on to the enclosing region.  Works in coroutines
 * and on plain threads.  Costs a setjmp (docs/panics.md).
 * Returns: 0 when fn returned normally; GORT_PANICKED (positive) after a
 *   recovered panic; -EINVAL if fn is NULL; -ENOMEM if the coroutine's
 *   panic state could not be allocated (fn has not run).
 * Blocks: no (fn may)
 * Threads: any coroutine or thread.
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
 * Sets the runtime-wide policy (and, for GORT_PANIC_HANDLER, the handler
 * and its ctx) for coroutines spawned without their own on_panic.  Takes
 * effect for panics from then on, survives gort_stop, and does not apply
 * to plain threads (an unrecovered panic there always aborts).
 * Returns: 0; -EINVAL for an unknown policy, or GORT_PANIC_HANDLER without
 *   a handler.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_set_panic_policy(gort_panic_policy policy, gort_panic_handler handler, void *ctx);

/*
 * Writes a panic record in Go's format ("panic: ...", "coroutine N
 * [running]:", spawn site, symbolised backtrace) to fd.  info NULL or fd
 * < 0: nothing.  A record filled by the caller is read within its bounds
 * (message and name up to their last byte, at most GORT_PANIC_FRAMES
 * frames).  Reports never interleave (a lock).
 * Blocks: no (but the writes to fd may)
 * Threads: any coroutine or thread; not async-signal-safe.
 */
GORT_API void gort_panic_print(int fd, const gort_panic_info *info);

#ifdef __cplusplus
}
#endif

#include <gort/context.h> /* contexts; _ctx variants of blocking calls */
#include <gort/sync.h>    /* mutex, rwmutex, once, cond, semaphore, group */
#include <gort/debug.h>   /* counts, dumps, leak check, watchdog */
#include <gort/io.h>      /* descriptors on the netpoller, TCP helpers */

#endif /* GORT_H */
