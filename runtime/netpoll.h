/*
 * netpoll.h — the network poller (netpoll.c) and the poll descriptor that
 * every gort_fd carries (io.c).
 */
#ifndef GORT_RUNTIME_NETPOLL_H
#define GORT_RUNTIME_NETPOLL_H

#include "park.h"
#include "sync/sema.h"
#include "timer.h"

enum { GORT__PD_READ = 0, GORT__PD_WRITE = 1 };

/*
 * A poll descriptor: one registered file descriptor.  lock guards the
 * wait queues and deadlines and serialises every change of the state a
 * call checks (seq, closing, expired), which is atomic so that a call
 * reads it without the lock on its way to the system call.  seq[d] counts
 * readiness edges in direction d seen by the poller; a waiter reads it
 * before its system call and parks only if it is unchanged under the
 * lock, so an edge between the failed call and the park is never lost
 * (edge-triggered epoll reports each edge once).
 */
struct gort__pd {
	gort__lock lock;
	int fd;                           /* (i) */
	bool socket;                      /* (i) writes use send(MSG_NOSIGNAL) */
	_Atomic int32_t refs;             /* (a) the handle, and each call in progress */
	_Atomic bool closing;             /* (a, set under lock) gort_fd_close began: -EBADF */
	_Atomic uint32_t seq[2];          /* (a, bumped under lock) readiness edges, read, write */
	struct gort__waitq q[2];          /* (lock) parked readers, writers (cwait states) */
	int64_t deadline[2];              /* (lock) absolute ns, 0 none */
	_Atomic bool expired[2];          /* (a, set under lock) that deadline has passed */
	struct gort__timer timer[2];      /* the deadlines' timers (armed outside lock) */
	struct gort__pd *free_next;       /* (the pool's lock) while free */
};

/* Poll descriptors are type-stable: taken from and returned to a pool,
 * never freed while the runtime runs, because an event for a closed
 * descriptor may still sit in a poller's result array (it then only
 * wakes the descriptor's next user spuriously, who retries).  get returns
 * one with its lock intact and every other field zeroed, or NULL. */
struct gort__pd *gort__pd_get(void);
void gort__pd_put(struct gort__pd *pd);

/* pd, about to go back to the pool without gort_fd_close (a failed open,
 * gort_stop): closed, no reference left, so a handle still held says
 * -EBADF. */
static inline void gort__pd_mark_closed(struct gort__pd *pd)
{
	atomic_store_explicit(&pd->closing, true, memory_order_relaxed);
	atomic_store_explicit(&pd->refs, 0, memory_order_release);
}

/* pd's lock held: take every waiter of direction d off its queue
 * (GRANTED), pushing the parked ones onto list (linked by next) for the
 * caller to wake after unlocking; the new list.  The poller, a close and
 * a deadline all end waits this way; each waiter then reads why. */
struct gort__waiter *gort__pd_grant_all(struct gort__pd *pd, int d, struct gort__waiter *list);

/* Set up the poller at gort_start: 0 or a negative errno. */
int gort__netpoll_init(void);
/* Close it at gort_stop (after the Ms are joined). */
void gort__netpoll_fini(void);

/* Register pd->fd (edge-triggered, read and write). */
int gort__netpoll_open(struct gort__pd *pd);
/* Deregister it (before it is closed). */
void gort__netpoll_close(struct gort__pd *pd);

/* How many waiters are parked on descriptors (a, relaxed hint): while
 * zero, nobody needs to poll. */
extern _Atomic int32_t gort__netpoll_waiters;

/*
 * Poll: until deadline (absolute ns), -1 for ever, 0 not at all (just
 * look).  Takes the waiters of every ready descriptor off their queues
 * and returns them as a list linked through next, to be woken by the
 * caller (gort__waiter_wake_list) once it has decided where they run.
 * Only one M blocks in it at a time (gort__netpoll_try_block).
 */
struct gort__waiter *gort__netpoll(int64_t deadline);

/* Claim the right to block in gort__netpoll (one M at a time); release
 * it after. */
bool gort__netpoll_try_block(void);
void gort__netpoll_unblock(void);
/* Wake the M blocked in gort__netpoll, if any (a new earliest timer,
 * gort_stop, a plain thread waiting on a descriptor). */
void gort__netpoll_break(void);
/* ns of gort__nanotime() at the last poll (sysmon polls when stale). */
int64_t gort__netpoll_last(void);
/* A plain thread parks on a descriptor: wake an M to poll (sched.c). */
void gort__netpoll_kick(void);

#endif
