/*
 * soak.h — what the parts of the soak test share (test/soak/soak.c has
 * the design comment): the seeded random streams, the round and its mix,
 * the global tallies, failure reporting, and the entry points of the
 * workload kinds (chan.c, sync.c, ctx.c, spawn.c, io.c; helpers in util.c).
 */
#ifndef SOAK_H
#define SOAK_H

#include <gort.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Built with a sanitizer?  (gcc's macros, clang's __has_feature.) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SOAK_SANITIZED 1
#endif
#endif
#ifndef SOAK_SANITIZED
#define SOAK_SANITIZED 0
#endif

/* ------------------------------------------------------------------ random */

/* splitmix64: one 64-bit state; a stream per worker, seeded from the run's
 * seed, the round, the worker's kind and its index (soak_stream). */
typedef struct soak_rng {
	uint64_t s;
} soak_rng;

static inline uint64_t soak_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static inline uint64_t rng_next(soak_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return soak_mix64(r->s);
}
/* 0 .. n-1 (n > 0) */
static inline uint32_t rng_below(soak_rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}
/* lo .. hi inclusive */
static inline int64_t rng_range(soak_rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}
static inline bool rng_pct(soak_rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* Kinds of worker, for the streams and the counts of the mix. */
enum soak_kind {
	K_MIX = 0, /* the round's mix itself */
	K_CHAN,    /* channel groups: senders, receivers, selects, close */
	K_SPAWN,   /* spawn/exit bursts, per-spawn panic handlers */
	K_CTX,     /* context duels, trees, after-funcs, timers */
	K_MUTEX,   /* mutex-protected counter */
	K_RW,      /* rwmutex readers and writers */
	K_SEM,     /* weighted semaphore */
	K_GROUP,   /* errgroup */
	K_PANIC,   /* nested protect/defer/panic/recover */
	K_IO,      /* loopback TCP echo clients */
	K_SYSCALL, /* blocking calls between gort_syscall_enter and _exit */
	K_KINDS
};

/* ------------------------------------------------------------------- round */

/* What one round runs: how many workers of each kind and their sizes,
 * drawn from the round's stream (soak.c, mix_draw). */
struct soak_mix {
	int count[K_KINDS];  /* workers of each kind (K_CHAN: channel groups) */
	int senders_max;     /* per channel group, 1 .. */
	int receivers_max;
	int burst_max;       /* coroutines per spawn burst */
	size_t burst_stack;  /* their stack size (0: the default), one per round:
			      * the warm-up rounds go through every size at the
			      * largest bursts, so that the stack pools reach
			      * their peaks there */
	int sem_weight;      /* the semaphore's size */
	int panic_pct;       /* chance of a panic at a panic point */
	int64_t timeout_max; /* longest per-operation timeout, ns */
	int io_max_msg;      /* largest echo message, bytes */
};

/* Shared state of one round's sync workers (sync.c). */
struct soak_sync {
	gort_mutex mu;
	long mu_plain;         /* changed only under mu */
	atomic_long mu_incs;   /* successful increments */
	atomic_int mu_holders; /* 1 while someone holds mu */
	gort_rwmutex rw;
	long rw_plain;         /* written only under the write lock */
	atomic_int rw_readers, rw_writers;
	atomic_long rw_writes;
	gort_sem *sem;
	atomic_long sem_in_use;
	gort_once once;
	atomic_int once_runs;
};

/* Shared state of one round's I/O (io.c). */
struct soak_io;

struct soak_round {
	int number;
	bool warmup;
	struct soak_mix mix;
	gort_ctx *ctx;     /* cancelled when the round's slice ends */
	atomic_bool stop;  /* set at the same moment */
	gort_wg workers;   /* every top-level worker of the round */
	struct soak_sync sync;
	struct soak_io *io;
	/* expectations settled at the end of the round (after the join and
	 * the leak check): */
	atomic_long after_expected, after_ran; /* context after-funcs */
	atomic_long handler_expected, handler_ran; /* per-spawn panic handlers */
	atomic_long spawned; /* coroutines this round spawned itself */
};

static inline bool soak_stopping(struct soak_round *r)
{
	return atomic_load_explicit(&r->stop, memory_order_relaxed);
}

/* ----------------------------------------------------------------- tallies */

struct soak_tally {
	atomic_ullong progress; /* bumped by every worker: the hang watchdog reads it */
	atomic_ullong ops;      /* operations done (any kind) */
	atomic_ullong sent, received, drained, withdrawn; /* channel values */
	atomic_ullong spawns, panics, ctx_cancels, io_bytes, io_sessions;
	atomic_long objects;    /* gort objects the soak holds: back to 0 per round */
	atomic_int failures;
	atomic_int round;       /* the round now running */
};
extern struct soak_tally soak_t;
extern uint64_t soak_seed;
extern int soak_procs;
extern int64_t soak_seconds; /* this run's SOAK_SECONDS */

/* Counts n operations (and progress). */
static inline void soak_ops(uint64_t n)
{
	atomic_fetch_add_explicit(&soak_t.ops, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&soak_t.progress, 1, memory_order_relaxed);
}
/* A yield in a loop that may not park otherwise (after a failed try, in a
 * CPU-only loop).  (This soak found that gort_yield did not run its P's
 * due timers, so such a loop kept the P's sleepers asleep for ever; fixed
 * in the runtime, test timer::yield_loop_runs_timers.) */
static inline void soak_yield(void)
{
	gort_yield();
}

/* Gort objects the soak holds (channels, contexts, descriptors, ...): +1
 * on make or retain, -1 on release; zero again at the end of each round. */
static inline void soak_obj(long d)
{
	atomic_fetch_add_explicit(&soak_t.objects, d, memory_order_relaxed);
}

/* The random stream of worker `index` of `kind` in round `round`. */
soak_rng soak_stream(int round, int kind, uint64_t index);

/* A broken invariant: prints the seed, procs and round with the message
 * and counts a failure (the run ends after this round, exit status 1). */
void soak_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define SOAK_FAIL(...) soak_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define SOAK_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			soak_fail_at(__FILE__, __LINE__, __VA_ARGS__);                             \
	} while (0)

/* Spawns fn(arg) as a top-level worker of r (joined by r->workers). */
void soak_spawn_worker(struct soak_round *r, void (*fn)(void *), void *arg, const char *name);
/* Spawns a coroutine (any level), counting it; failure is a soak failure. */
gort_id soak_go(struct soak_round *r, void (*fn)(void *), void *arg, const char *name,
		size_t stack_size);

/* A context with a timeout of 0 .. max ns (counted as an object); cancel
 * and release it with soak_ctx_done. */
gort_ctx *soak_ctx_timeout(gort_ctx *parent, soak_rng *rng, int64_t max);
gort_ctx *soak_ctx_cancel(gort_ctx *parent);
void soak_ctx_done(gort_ctx *ctx);

/* A coroutine that cancels ctx after delay ns (0: after a yield), for an
 * operation cancelled by someone else in the middle; join it before the
 * context goes. */
struct soak_canceller {
	gort_ctx *ctx;
	int64_t delay;
	gort_wg wg;
};
void soak_cancel_later(struct soak_round *r, struct soak_canceller *c, gort_ctx *ctx,
		       int64_t delay);
void soak_cancel_join(struct soak_canceller *c);

/* A panic point: panics with the given chance, with a message ("soak
 * panic: where") or a value (&soak_panic_token), for soak_protect to
 * recover. */
extern int soak_panic_token;
void soak_maybe_panic(soak_rng *rng, unsigned pct, const char *where);
/* Runs fn(arg) under gort_protect with a deferred recover that accepts
 * only the soak's own panics (any other is a failure, printed).
 * Returns: 0, or GORT_PANICKED after a soak panic was recovered. */
int soak_protect(void (*fn)(void *), void *arg);

/* A worker's argument: its round and its stream (freed by the worker). */
struct soak_warg {
	struct soak_round *r;
	soak_rng rng;
};
/* Spawns r->mix.count[kind] workers fn(struct soak_warg *). */
void soak_spawn_kind(struct soak_round *r, int kind, void (*fn)(void *), const char *name);

/* The round's mix, for failure reports (NULL between rounds). */
extern const struct soak_mix *soak_current_mix;
void soak_print_mix(FILE *f, const struct soak_mix *m);

/* The process, from /proc: RSS in kB after malloc_trim(0) (-1 if
 * unreadable); open descriptors; threads; where the memory is (a line). */
long soak_rss_kb(void);
int soak_open_fds(void);
int soak_count_tasks(void);
void soak_mem_detail(char *buf, size_t n);

/* ------------------------------------------------------- workload kinds */

/* Each starts its workers for round r (joined by r->workers) and, for
 * the kinds with shared state, checks it at the end (after the join and
 * the leak check). */
void chan_start(struct soak_round *r);  /* chan.c */
void sync_start(struct soak_round *r);  /* sync.c: mutex, rwmutex, semaphore, errgroup */
void sync_check(struct soak_round *r);
void ctx_start(struct soak_round *r);   /* ctx.c: contexts and timers */
void ctx_check(struct soak_round *r);
void spawn_start(struct soak_round *r); /* spawn.c: bursts, panics, blocking calls */
void spawn_check(struct soak_round *r);
void io_start(struct soak_round *r);    /* io.c: loopback TCP echo */
void io_check(struct soak_round *r);

#endif /* SOAK_H */
