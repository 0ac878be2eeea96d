/*
 * gort/sync.h — coroutine-aware sync primitives (runtime/sync/): mutex,
 * rwmutex, once, cond, weighted semaphore, and an errgroup-shaped group.
 * Included by <gort.h>; do not include it on its own.
 *
 * Every one works from coroutines (which park: the P runs others) and from
 * plain threads (which sleep on a futex).  Value types (mutex, rwmutex,
 * once, cond) are valid when all zeroes (the _INIT macros, or memset) and
 * need no destroy call; do not copy one in use.  Misuse panics as in Go
 * ("sync: unlock of unlocked mutex", ...).  Blocking calls have a _ctx
 * sibling (see gort/context.h): 0, or the context's error with nothing
 * acquired.
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
 * in Go).  lock_ctx returns 0 if the lock was handed to the caller as its
 * context ended (it then holds it); see docs/sync.md. */
typedef struct gort_mutex {
	GORT_ALIGNAS(8) unsigned char opaque_[32];
} gort_mutex;
#define GORT_MUTEX_INIT {{0}}

GORT_API void gort_mutex_lock_at(gort_mutex *mu, const char *file, int line);
#define gort_mutex_lock(mu) gort_mutex_lock_at((mu), __FILE__, __LINE__)
GORT_API int gort_mutex_lock_ctx_at(gort_ctx *ctx, gort_mutex *mu, const char *file, int line);
#define gort_mutex_lock_ctx(ctx, mu) gort_mutex_lock_ctx_at((ctx), (mu), __FILE__, __LINE__)
/* true if it took the lock.  Never blocks. */
GORT_API bool gort_mutex_trylock(gort_mutex *mu);
/* Panics ("sync: unlock of unlocked mutex") if it is not locked. */
GORT_API void gort_mutex_unlock(gort_mutex *mu);

/* -------------------------------------------------------------- rwmutex */

/* Go's sync.RWMutex: any number of readers or one writer.  A writer that
 * waits blocks new readers (writer preference), so a steady stream of
 * readers never starves a writer; readers that arrived before it proceed.
 * As in Go, a reader must not rlock again while it holds a read lock (a
 * writer waiting in between deadlocks both).  A cancelled lock_ctx lets
 * the readers it held back in. */
typedef struct gort_rwmutex {
	GORT_ALIGNAS(8) unsigned char opaque_[96];
} gort_rwmutex;
#define GORT_RWMUTEX_INIT {{0}}

GORT_API void gort_rwmutex_lock_at(gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_lock(rw) gort_rwmutex_lock_at((rw), __FILE__, __LINE__)
GORT_API int gort_rwmutex_lock_ctx_at(gort_ctx *ctx, gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_lock_ctx(ctx, rw) gort_rwmutex_lock_ctx_at((ctx), (rw), __FILE__, __LINE__)
GORT_API bool gort_rwmutex_trylock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_unlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_rlock_at(gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_rlock(rw) gort_rwmutex_rlock_at((rw), __FILE__, __LINE__)
GORT_API int gort_rwmutex_rlock_ctx_at(gort_ctx *ctx, gort_rwmutex *rw, const char *file, int line);
#define gort_rwmutex_rlock_ctx(ctx, rw) gort_rwmutex_rlock_ctx_at((ctx), (rw), __FILE__, __LINE__)
GORT_API bool gort_rwmutex_tryrlock(gort_rwmutex *rw);
GORT_API void gort_rwmutex_runlock(gort_rwmutex *rw);

/* ----------------------------------------------------------------- once */

/* Go's sync.Once: fn(arg) runs once; concurrent callers wait until it has
 * returned.  A panic in fn counts as done (later calls do not run it) and
 * goes on up the caller that ran it. */
typedef struct gort_once {
	GORT_ALIGNAS(8) unsigned char opaque_[40];
} gort_once;
#define GORT_ONCE_INIT {{0}}

GORT_API void gort_once_do_at(gort_once *o, void (*fn)(void *arg), void *arg, const char *file,
			      int line);
#define gort_once_do(o, fn, arg) gort_once_do_at((o), (fn), (arg), __FILE__, __LINE__)

/* ----------------------------------------------------------------- cond */

/* Go's sync.Cond over a gort_mutex: wait unlocks mu, parks, and locks mu
 * again before it returns (callers re-check their condition in a loop). */
typedef struct gort_cond {
	GORT_ALIGNAS(8) unsigned char opaque_[32];
} gort_cond;
#define GORT_COND_INIT {{0}}

GORT_API void gort_cond_wait_at(gort_cond *c, gort_mutex *mu, const char *file, int line);
#define gort_cond_wait(c, mu) gort_cond_wait_at((c), (mu), __FILE__, __LINE__)
/* As wait, or the context's error (mu is locked again either way). */
GORT_API int gort_cond_wait_ctx_at(gort_ctx *ctx, gort_cond *c, gort_mutex *mu, const char *file,
				   int line);
#define gort_cond_wait_ctx(ctx, c, mu) gort_cond_wait_ctx_at((ctx), (c), (mu), __FILE__, __LINE__)
GORT_API void gort_cond_signal(gort_cond *c);
GORT_API void gort_cond_broadcast(gort_cond *c);

/* ----------------------------------------------------- weighted semaphore */

/* golang.org/x/sync/semaphore.Weighted: acquire n of size units; waiters
 * are served in FIFO order, so a large request is not starved by small
 * ones behind it. */
typedef struct gort_sem gort_sem;
/* NULL if memory is short or size < 0. */
GORT_API gort_sem *gort_sem_new(int64_t size);
GORT_API void gort_sem_free(gort_sem *s);
/* Wait for n units (n > size: waits until ctx is done).  0 or the
 * context's error (nothing acquired); -EINVAL if n < 0. */
GORT_API int gort_sem_acquire_ctx_at(gort_ctx *ctx, gort_sem *s, int64_t n, const char *file,
				     int line);
#define gort_sem_acquire_ctx(ctx, s, n) gort_sem_acquire_ctx_at((ctx), (s), (n), __FILE__, __LINE__)
#define gort_sem_acquire(s, n) gort_sem_acquire_ctx_at(NULL, (s), (n), __FILE__, __LINE__)
/* true if it took n units at once (and nobody waits before it). */
GORT_API bool gort_sem_try_acquire(gort_sem *s, int64_t n);
/* Panics ("semaphore: released more than held") past what is held (or
 * for n < 0); nothing is released then. */
GORT_API void gort_sem_release(gort_sem *s, int64_t n);

/* ---------------------------------------------------------------- group */

/* golang.org/x/sync/errgroup: members run as coroutines with the group's
 * context; the first to return nonzero (or to panic: GORT_PANICKED, the
 * panic printed as the log policy does) cancels that context, and its code
 * is what gort_group_wait returns. */
typedef struct gort_group gort_group;
/* A group whose context derives from parent (NULL: background).  NULL if
 * memory is short. */
GORT_API gort_group *gort_group_new(gort_ctx *parent);
/* The group's context (borrowed; valid until gort_group_free). */
GORT_API gort_ctx *gort_group_ctx(gort_group *g);
/* At most n members run at once (n <= 0: no limit); gort_group_go waits
 * for a free place.  Call while no member runs (else it panics, as Go's
 * SetLimit does). */
GORT_API void gort_group_set_limit(gort_group *g, int n);
/* Spawn fn(ctx, arg) as a member.  0, or -EAGAIN/-ENOMEM if it could not
 * be spawned.  Blocks while the limit is reached. */
GORT_API int gort_group_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
			      const char *file, int line);
#define gort_group_go(g, fn, arg) gort_group_go_at((g), (fn), (arg), __FILE__, __LINE__)
/* Spawn only if under the limit: 0, or -EBUSY. */
GORT_API int gort_group_try_go_at(gort_group *g, int (*fn)(gort_ctx *ctx, void *arg), void *arg,
				  const char *file, int line);
#define gort_group_try_go(g, fn, arg) gort_group_try_go_at((g), (fn), (arg), __FILE__, __LINE__)
/* Wait for every member; cancels the group's context; the first error (0
 * if none).  Blocks. */
GORT_API int gort_group_wait_at(gort_group *g, const char *file, int line);
#define gort_group_wait(g) gort_group_wait_at((g), __FILE__, __LINE__)
/* Free it (after gort_group_wait). */
GORT_API void gort_group_free(gort_group *g);

#ifdef __cplusplus
}
#endif
#endif /* GORT_SYNC_H */
