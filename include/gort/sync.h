/*
 * gort/sync.h — coroutine-aware sync primitives (runtime/sync/): mutex,
 * rwmutex, once, cond, weighted semaphore, and an errgroup-shaped group.
 * Included by <gort.h>; do not include it on its own.
 *
 * Every one works from coroutines (which park: the P runs others) and from
 * plain threads (which sleep on a futex), with or without the runtime
 * running (the group excepted: its members are coroutines).  Value types
 * (mutex, rwmutex, once, cond) are valid when all zeroes (the _INIT
 * macros, or memset) and need no destroy call; do not copy one in use.
 * Misuse panics as in Go ("sync: unlock of unlocked mutex", ...).  A NULL
 * object is a bad argument: -EINVAL from the calls that return an int,
 * else a panic naming the call ("gort_mutex_lock: mu is NULL"), as Go's
 * nil pointer dereference.  Blocking calls have a _ctx sibling (see
 * gort/context.h): 0, or the context's error with nothing acquired.
 */
#ifndef GORT_SYNC_H
#define GORT_SYNC_H

#ifndef GORT_H
#error "include <gort.h>, not <gort/sync.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- mutex */

/* Go's sync.Mutex: uncontended lock and unlock are one atomic each;
 * waiters park in FIFO order; a waiter that has waited over 1 ms switches
 * the mutex to starvation mode, where unlock hands it straight to the
 * oldest waiter (no barging) until the queue drains or a waiter gets it
 * within 1 ms.  Not recursive; any coroutine or thread may unlock it (as
 * in Go).  See docs/sync.md. */
typedef struct gort_mutex {
	GORT_ALIGNAS(8) unsigned char opaque_[32];
} gort_mutex;
#define GORT_MUTEX_INIT {{0}}

/*
 * Locks mu (Go's Lock).  Locking a mutex the caller holds deadlocks.
 * Blocks: yes: spins briefly (with more than one P), then parks the
 *   coroutine (a plain thread sleeps) until it gets the lock
 * Context: gort_mutex_lock_ctx
 * Threads: any coroutine or thread.
 * Panics: "gort_mutex_lock: mu is NULL".
 */
GORT_API void gort_mutex_lock_at(gort_mutex *mu, const char *file, int line);
#define gort_mutex_lock(mu) gort_mutex_lock_at((mu), __FILE__, __LINE__)
/*
 * Locks mu, or gives up when ctx is done.  A lock handed to the caller as
 * its context ended is kept: then it returns 0 and holds it.
 * Returns: 0 (the caller holds mu); GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (it does not); -EINVAL if mu is NULL; -ESRCH
 *   or -ENOMEM for a deadline from before a gort_stop (gort/context.h).
 * Blocks: yes: until it gets the lock or ctx is done
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_mutex_lock_ctx_at(gort_ctx *ctx, gort_mutex *mu, const char *file, int line);
#define gort_mutex_lock_ctx(ctx, mu) gort_mutex_lock_ctx_at((ctx), (mu), __FILE__, __LINE__)
/*
 * Takes mu if it is free (never in starvation mode: the waiters go first).
 * Returns: true if it took the lock.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "gort_mutex_trylock: mu is NULL".
 */
GORT_API bool gort_mutex_trylock(gort_mutex *mu);
/*
 * Unlocks mu, waking a waiter if there is one.
 * Blocks: no
 * Threads: any coroutine or thread (not only the one that locked it).
 * Panics: "sync: unlock of unlocked mutex"; "gort_mutex_unlock: mu is
 *   NULL".
 */
GORT_API void gort_mutex_unlock(gort_mutex *mu);

/* -------------------------------------------------------------- rwmutex */

/* Go's sync.RWMutex: any number of readers or one writer.  A writer that
 * waits blocks new readers (writer preference), so a steady stream of
 * readers never starves a writer; readers that arrived before it proceed.
 * As in Go, a reader must not rlock again while it holds a read lock (a
 * writer waiting in between deadlocks both). */
typedef struct gort_rwmutex {
	GORT_ALIGNAS(8) unsigned char opaque_[96];
} gort_rwmutex;
#define GORT_RWMUTEX_INIT {{0}}

/*
 * Locks rw for writing (Go's Lock): first against other writers, then it
 * blocks new readers and waits for the active ones to leave.
 * Blocks: yes: until no writer and no reader holds it
 * Context: gort_rwmutex_lock_ctx
 * Threads: any coroutine or thread.
 * Panics: "gort_rwmutex_lock: rw is NULL".
 */
GORT_API void gort_rwmutex_lock_at(gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_lock(rw) gort_rwmutex_lock_at((rw), __FILE__, __LINE__)
/*
 * Locks rw for writing, or gives up when ctx is done; a writer that gives
 * up lets the readers it held back in.
 * Returns: 0 (the caller holds the write lock); GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (it holds nothing); -EINVAL if rw is NULL;
 *   -ESRCH or -ENOMEM for a deadline from before a gort_stop
 *   (gort/context.h).
 * Blocks: yes: until it holds the lock or ctx is done
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_rwmutex_lock_ctx_at(gort_ctx *ctx, gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_lock_ctx(ctx, rw) gort_rwmutex_lock_ctx_at((ctx), (rw), __FILE__, __LINE__)
/*
 * Takes the write lock if nobody holds rw and no writer waits.
 * Returns: true if it took the write lock.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "gort_rwmutex_trylock: rw is NULL".
 */
GORT_API bool gort_rwmutex_trylock(gort_rwmutex *rw);
/*
 * Releases the write lock and lets the readers that waited in.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "sync: Unlock of unlocked RWMutex"; "gort_rwmutex_unlock: rw is
 *   NULL".
 */
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);
/*
 * Locks rw for reading (Go's RLock): one atomic when no writer holds it or
 * waits.
 * Blocks: yes: while a writer holds rw or waits for it
 * Context: gort_rwmutex_rlock_ctx
 * Threads: any coroutine or thread.
 * Panics: "gort_rwmutex_rlock: rw is NULL".
 */
GORT_API void gort_rwmutex_rlock_at(gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_rlock(rw) gort_rwmutex_rlock_at((rw), __FILE__, __LINE__)
/*
 * Locks rw for reading, or gives up when ctx is done.
 * Returns: 0 (the caller holds a read lock); GORT_CANCELED or
 *   GORT_DEADLINE_EXCEEDED (it holds nothing); -EINVAL if rw is NULL;
 *   -ESRCH or -ENOMEM for a deadline from before a gort_stop
 *   (gort/context.h).
 * Blocks: yes: while a writer holds rw or waits for it, until ctx is done
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_rwmutex_rlock_ctx_at(gort_ctx *ctx, gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_rlock_ctx(ctx, rw) gort_rwmutex_rlock_ctx_at((ctx), (rw), __FILE__, __LINE__)
/*
 * Takes a read lock if no writer holds rw or waits for it.
 * Returns: true if it took a read lock.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "gort_rwmutex_tryrlock: rw is NULL".
 */
GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex *rw);
/*
 * Releases a read lock; the last reader a waiting writer waited for wakes
 * it.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "sync: RUnlock of unlocked RWMutex"; "gort_rwmutex_runlock: rw
 *   is NULL".
 */
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);

/* ----------------------------------------------------------------- once */

/* Go's sync.Once. */
typedef struct gort_once {
	GORT_ALIGNAS(8) unsigned char opaque_[40];
} gort_once;
#define GORT_ONCE_INIT {{0}}

/*
 * Runs fn(arg) if no call on o has run it yet (Go's Once.Do); concurrent
 * callers wait until it has returned, and everything fn wrote is visible
 * to every caller once gort_once_do returns.  A panic in fn counts as done
 * (later calls do not run it) and goes on up the caller that ran it.
 * Calling gort_once_do on o from inside fn deadlocks.
 * Blocks: yes: while another caller runs fn (one atomic load once done)
 * Context: none
 * Threads: any coroutine or thread.
 * Panics: "gort_once_do: o is NULL"; "gort_once_do: fn is NULL" (o is
 *   not marked done).
 */
GORT_API void gort_once_do_at(gort_once *o, void (*fn)(void *arg), void *arg, const char *file,
			      int line);
#define gort_once_do(o, fn, arg) gort_once_do_at((o), (fn), (arg), __FILE__, __LINE__)

/* ----------------------------------------------------------------- cond */

/* Go's sync.Cond over a gort_mutex. */
typedef struct gort_cond {
	GORT_ALIGNAS(8) unsigned char opaque_[32];
} gort_cond;
#define GORT_COND_INIT {{0}}

/*
 * Waits for a signal: unlocks mu (which the caller holds), parks, and
 * locks mu again before it returns.  Callers re-check their condition in
 * a loop.
 * Blocks: yes: until gort_cond_signal or gort_cond_broadcast picks it,
 *   then until it has mu again
 * Context: gort_cond_wait_ctx
 * Threads: any coroutine or thread holding mu.
 * Panics: "gort_cond_wait: c is NULL"; "gort_cond_wait: mu is NULL".
 */
GORT_API void gort_cond_wait_at(gort_cond *c, gort_mutex *mu, const char *file, int line);
#define gort_cond_wait(c, mu) gort_cond_wait_at((c), (mu), __FILE__, __LINE__)
/*
 * As gort_cond_wait, or until ctx is done; mu is locked again either way
 * (a context done at the start: mu is never unlocked).
 * Returns: 0 when signalled; GORT_CANCELED or GORT_DEADLINE_EXCEEDED;
 *   -EINVAL if c or mu is NULL (mu untouched); -ESRCH or -ENOMEM for a
 *   deadline from before a gort_stop (gort/context.h; mu still held).
 * Blocks: yes: until signalled or ctx is done, then until it has mu again
 * Context: takes ctx (NULL: background)
 * Threads: any coroutine or thread holding mu.
 */
GORT_API int gort_cond_wait_ctx_at(gort_ctx *ctx, gort_cond *c, gort_mutex *mu, const char *file,
				   int line);
#define gort_cond_wait_ctx(ctx, c, mu) gort_cond_wait_ctx_at((ctx), (c), (mu), __FILE__, __LINE__)
/*
 * Wakes the longest-waiting waiter (signal) or every waiter (broadcast);
 * nothing if none waits.  The caller need not hold the mutex.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "gort_cond_signal: c is NULL" ("gort_cond_broadcast: ...").
 */
GORT_API void gort_cond_signal(gort_cond *c);
GORT_API void gort_cond_broadcast(gort_cond *c);

/* ----------------------------------------------------- weighted semaphore */

/* golang.org/x/sync/semaphore.Weighted: acquire n of size units; waiters
 * are served in FIFO order, so a large request is not starved by small
 * ones behind it. */
typedef struct gort_sem gort_sem;
/*
 * A semaphore of size units, none held.
 * Returns: the semaphore, or NULL if memory is short or size < 0.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_sem *gort_sem_new(int64_t size);
/*
 * Frees s (NULL is ignored).  Nobody may wait on it or use it afterwards.
 * Blocks: no
 * Threads: any coroutine or thread, once no other uses s.
 */
GORT_API void gort_sem_free(gort_sem *s);
/*
 * Acquires n units, waiting behind earlier waiters (FIFO).
 * gort_sem_acquire(s, n) is the form without a context.  A request for
 * more than size can never be granted: it waits until ctx is done, and
 * forever without a context.
 * Returns: 0 (n units acquired); GORT_CANCELED or GORT_DEADLINE_EXCEEDED
 *   (nothing acquired); -EINVAL if s is NULL or n < 0; -ESRCH or -ENOMEM
 *   for a deadline from before a gort_stop (gort/context.h).
 * Blocks: yes: until the n units are free and every earlier waiter was
 *   served, or ctx is done
 * Context: takes ctx (NULL: none)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_sem_acquire_ctx_at(gort_ctx *ctx, gort_sem *s, int64_t n, const char *file,
				     int line);
#define gort_sem_acquire_ctx(ctx, s, n) gort_sem_acquire_ctx_at((ctx), (s), (n), __FILE__, __LINE__)
#define gort_sem_acquire(s, n) gort_sem_acquire_ctx_at(NULL, (s), (n), __FILE__, __LINE__)
/*
 * Acquires n units only if they are free now and nobody waits.
 * Returns: true if it took them; false if not (also for n < 0).
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "gort_sem_try_acquire: s is NULL".
 */
GORT_API bool gort_sem_try_acquire(gort_sem *s, int64_t n);
/*
 * Releases n units and grants waiters, in order, while they fit.
 * Blocks: no
 * Threads: any coroutine or thread.
 * Panics: "semaphore: released more than held" past what is held (or for
 *   n < 0); nothing is released then.  "gort_sem_release: s is NULL".
 */
GORT_API void gort_sem_release(gort_sem *s, int64_t n);

/* ---------------------------------------------------------------- group */

/* golang.org/x/sync/errgroup: members run as coroutines with the group's
 * context; the first to return nonzero (or to panic: GORT_PANICKED, the
 * panic printed as the log policy does) cancels that context, and its code
 * is what gort_group_wait returns. */
typedef struct gort_group gort_group;
/*
 * A group whose context is a gort_ctx_with_cancel child of parent (NULL:
 * background).
 * Returns: the group, or NULL if memory is short.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_group *gort_group_new(gort_ctx *parent);
/*
 * The group's context, which members receive.
 * Returns: a borrowed reference, valid until gort_group_free; NULL if g
 *   is NULL.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API gort_ctx *gort_group_ctx(gort_group *g);
/*
 * At most n members run at once (n <= 0: no limit); gort_group_go waits
 * for a free place, gort_group_try_go fails.  Call while no member runs.
 * Returns: 0; -ENOMEM (the limit is unchanged); -EINVAL if g is NULL.
 * Blocks: no
 * Threads: any coroutine or thread; not concurrently with gort_group_go.
 * Panics: "errgroup: modify limit while members are still active" (as
 *   Go's SetLimit).
 */
GORT_API int gort_group_set_limit(gort_group *g, int n);
/*
 * Spawns fn(ctx, arg) as a member coroutine (ctx: the group's context).
 * A member that returns nonzero or panics cancels the group's context with
 * that code as its cause (the first one only).
 * Returns: 0; -EINVAL if g or fn is NULL; -ESRCH if the runtime is not
 *   running (checked before waiting for a place); -ENOMEM if it could not
 *   be spawned for lack of memory; -EAGAIN if it could not be spawned
 *   otherwise.
 * Blocks: yes: while the limit is reached
 * Context: none (it waits for a free place without a context)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_group_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
			      const char *file, int line);
#define gort_group_go(g, fn, arg) gort_group_go_at((g), (fn), (arg), __FILE__, __LINE__)
/*
 * Spawns fn(ctx, arg) as a member only if the group is under its limit.
 * Returns: 0; -EBUSY at the limit; -EINVAL, -ESRCH, -ENOMEM or -EAGAIN
 *   as gort_group_go.
 * Blocks: no
 * Threads: any coroutine or thread.
 */
GORT_API int gort_group_try_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
				  const char *file, int line);
#define gort_group_try_go(g, fn, arg) gort_group_try_go_at((g), (fn), (arg), __FILE__, __LINE__)
/*
 * Waits for every member, then cancels the group's context (with the
 * first error as its cause).
 * Returns: the first nonzero member result (GORT_PANICKED for a panic;
 *   -ENOMEM for a member that could not set up its recover and did not
 *   run), or 0 if every member returned 0; -EINVAL if g is NULL.
 * Blocks: yes: until every member has returned
 * Context: none (cancel the parent to make members return early)
 * Threads: any coroutine or thread.
 */
GORT_API int gort_group_wait_at(gort_group *g, const char *file, int line);
#define gort_group_wait(g) gort_group_wait_at((g), __FILE__, __LINE__)
/*
 * Cancels the group's context and frees the group (NULL is ignored).
 * Call it after gort_group_wait: members still running would use freed
 * memory.
 * Blocks: no
 * Threads: any coroutine or thread, once.
 */
GORT_API void gort_group_free(gort_group *g);

#ifdef __cplusplus
}
#endif
#endif /* GORT_SYNC_H */
