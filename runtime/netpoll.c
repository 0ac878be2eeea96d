/*
 * netpoll.c — the network poller: one edge-triggered epoll instance for
 * the runtime, polled by the scheduler itself, no thread of its own.
 *
 * Owns: the epoll descriptor, the break eventfd, the "one M blocks in
 * epoll" flag and the count of parked I/O waiters.
 *
 * Every gort_fd is registered once, for read and write, edge-triggered
 * (EPOLLET): each edge arrives once, and the poll descriptor counts edges
 * per direction (seq, netpoll.h), so a waiter that misses an edge between
 * its failed system call and its park sees the count move and retries
 * instead of parking.
 *
 * Who polls (sched.c): an M that looks for work polls without blocking
 * when waiters exist; the M that is about to go idle blocks in epoll until
 * the earliest timer, instead of on its futex, if no other M already
 * does (gort__netpoll_try_block); a busy runtime polls every 61st schedule
 * if nobody polled for a millisecond.  The blocked M is woken by the break
 * eventfd: a new earliest timer, gort_stop, a plain thread that starts
 * waiting (it has no M to poll for it).  The eventfd is level-triggered
 * and only a blocking poll drains it: a non-blocking poll by another M
 * (or by the blocker before it blocks) must not swallow the break.
 *
 * Locks: a descriptor's lock is taken with nothing else held, or under a
 * context's lock (a watch) or a timer heap's lock (a deadline): orders
 * context -> pd and heap -> pd.  The poller takes each ready descriptor's
 * lock in turn, alone.
 */
#include "netpoll.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX 128

_Atomic int32_t gort__netpoll_waiters;
static int epfd = -1;               /* (i) while running */
static int breakfd = -1;            /* (i) eventfd in epfd, data.ptr NULL */
static _Atomic bool blocking;       /* (a) an M is blocked in epoll_wait */
static _Atomic bool break_pending;  /* (a) a write to breakfd not yet drained */
static _Atomic int64_t last_poll;   /* (a) relaxed: nanotime of the last poll */
static _Atomic bool no_pwait2;      /* (a) relaxed: epoll_pwait2 said ENOSYS */

/* The pool (pool_lock): free descriptors, and every chunk ever made.
 * Chunks live as long as the process (across gort_stop too), and free
 * descriptors are reused oldest first: a gort_fd handle used after its
 * close (or after gort_stop) finds its descriptor closed (-EBADF) until
 * every other free one has been reused. */
#define PD_CHUNK 64
struct pd_chunk {
	struct pd_chunk *next;
	struct gort__pd pd[PD_CHUNK];
};
static gort__lock pool_lock = GORT__LOCK_INIT;
static struct gort__pd *pool_free;  /* (pool_lock) FIFO: taken at the head */
static struct gort__pd **pool_tail = &pool_free; /* (pool_lock) put at the tail */
static struct pd_chunk *pool_chunks; /* (pool_lock) */

static void pool_put_locked(struct gort__pd *pd)
{
	pd->free_next = NULL;
	*pool_tail = pd;
	pool_tail = &pd->free_next;
}

struct gort__pd *gort__pd_get(void)
{
	gort__lock_acquire(&pool_lock);
	if (!pool_free) {
		struct pd_chunk *c = gort__sys_calloc(1, sizeof *c);
		if (!c) {
			gort__lock_release(&pool_lock);
			return NULL;
		}
		c->next = pool_chunks;
		pool_chunks = c;
		for (int i = 0; i < PD_CHUNK; i++) {
			atomic_init(&c->pd[i].closing, true); /* refs 0, closed: never used */
			pool_put_locked(&c->pd[i]);
		}
	}
	struct gort__pd *pd = pool_free;
	pool_free = pd->free_next;
	if (!pool_free)
		pool_tail = &pool_free;
	gort__lock_release(&pool_lock);
	/* a poller holding a stale event may hold its lock: reset under it */
	gort__lock_acquire(&pd->lock);
	pd->fd = -1;
	atomic_store_explicit(&pd->refs, 1, memory_order_relaxed);
	atomic_store_explicit(&pd->closing, false, memory_order_relaxed);
	for (int d = 0; d < 2; d++) {
		pd->q[d].head = pd->q[d].tail = NULL;
		pd->deadline[d] = 0;
		atomic_store_explicit(&pd->expired[d], false, memory_order_relaxed);
		memset(&pd->timer[d], 0, sizeof pd->timer[d]);
	}
	pd->free_next = NULL;
	gort__lock_release(&pd->lock);
	return pd;
}

void gort__pd_put(struct gort__pd *pd)
{
	gort__lock_acquire(&pool_lock);
	pool_put_locked(pd);
	gort__lock_release(&pool_lock);
}

/* At gort_stop (every M joined): the descriptors still open are closed,
 * as gort_fd_close would (their handles then say -EBADF), and go back to
 * the pool; the pool itself stays (see above). */
static void pool_fini(void)
{
	gort__lock_acquire(&pool_lock);
	for (struct pd_chunk *c = pool_chunks; c; c = c->next) {
		for (int i = 0; i < PD_CHUNK; i++) {
			struct gort__pd *pd = &c->pd[i];
			if (atomic_load_explicit(&pd->refs, memory_order_acquire) <= 0)
				continue; /* free (closed, or never used) */
			gort__pd_mark_closed(pd);
			if (pd->fd >= 0) {
				int e = errno;
				close(pd->fd);
				errno = e;
			}
			pool_put_locked(pd);
		}
	}
	gort__lock_release(&pool_lock);
}

int gort__netpoll_init(void)
{
	epfd = gort__sys_epoll_create();
	if (epfd < 0)
		return -errno;
	breakfd = gort__sys_eventfd();
	if (breakfd < 0) {
		int e = errno;
		close(epfd);
		epfd = -1;
		return -e;
	}
	/* level-triggered, unlike the descriptors: a break stays pending
	 * until the blocking poller drains it, whoever else polls meanwhile */
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (gort__sys_epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) {
		int e = errno;
		close(breakfd);
		close(epfd);
		epfd = breakfd = -1;
		return -e;
	}
	atomic_store(&gort__netpoll_waiters, 0);
	atomic_store(&blocking, false);
	atomic_store(&break_pending, false);
	atomic_store(&last_poll, gort__nanotime());
#ifdef GORT__TSAN
	/* TSan intercepts epoll_wait, not epoll_pwait2: without it, it misses
	 * the order from a descriptor's registration to its events */
	atomic_store(&no_pwait2, true);
#endif
	return 0;
}

void gort__netpoll_fini(void)
{
	pool_fini();
	if (breakfd >= 0)
		close(breakfd);
	if (epfd >= 0)
		close(epfd);
	epfd = breakfd = -1;
}

int gort__netpoll_open(struct gort__pd *pd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = pd};
	if (gort__sys_epoll_ctl(epfd, EPOLL_CTL_ADD, pd->fd, &ev) != 0)
		return -errno;
	return 0;
}

void gort__netpoll_close(struct gort__pd *pd)
{
	struct epoll_event ev = {0};
	gort__sys_epoll_ctl(epfd, EPOLL_CTL_DEL, pd->fd, &ev);
}

bool gort__netpoll_try_block(void)
{
	bool f = false;
	return atomic_compare_exchange_strong(&blocking, &f, true);
}

void gort__netpoll_unblock(void)
{
	atomic_store(&blocking, false);
}

void gort__netpoll_break(void)
{
	if (!atomic_load(&blocking) || atomic_exchange(&break_pending, true))
		return;
	uint64_t one = 1;
	int e = errno;
	ssize_t r = write(breakfd, &one, sizeof one);
	(void)r; /* a full counter already wakes it */
	errno = e;
}

int64_t gort__netpoll_last(void)
{
	return atomic_load_explicit(&last_poll, memory_order_relaxed);
}

struct gort__waiter *gort__pd_grant_all(struct gort__pd *pd, int d, struct gort__waiter *list)
{
	struct gort__waiter *w;
	while ((w = gort__waitq_pop(&pd->q[d]))) {
		bool parked = w->state == GORT__WS_PARKED;
		w->state = GORT__WS_GRANTED;
		if (parked) {
			w->next = list;
			list = w;
		}
	}
	return list;
}

/* Readiness in direction d: count the edge, take the parked waiters. */
static struct gort__waiter *ready_dir(struct gort__pd *pd, int d, struct gort__waiter *list)
{
	atomic_fetch_add_explicit(&pd->seq[d], 1, memory_order_release);
	return gort__pd_grant_all(pd, d, list);
}

struct gort__waiter *gort__netpoll(int64_t deadline)
{
	if (epfd < 0)
		return NULL;
	struct epoll_event ev[EVENTS_MAX];
	struct timespec ts, *tsp = NULL;
	if (deadline >= 0) {
		int64_t d = deadline ? deadline - gort__nanotime() : 0;
		if (d < 0)
			d = 0;
		ts.tv_sec = d / 1000000000;
		ts.tv_nsec = d % 1000000000;
		tsp = &ts;
	}
	int e = errno;
	int n = -1;
	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		n = epoll_pwait2(epfd, ev, EVENTS_MAX, tsp, NULL);
		if (n < 0 && errno == ENOSYS)
			atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
	}
	if (atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		/* before Linux 5.11 (or under Valgrind): milliseconds, rounded up */
		int ms = tsp ? (int)(tsp->tv_sec * 1000 + (tsp->tv_nsec + 999999) / 1000000) : -1;
		n = epoll_wait(epfd, ev, EVENTS_MAX, ms);
	}
	errno = e;
	atomic_store_explicit(&last_poll, gort__nanotime(), memory_order_relaxed);
	struct gort__waiter *list = NULL;
	for (int i = 0; i < n; i++) {
		struct gort__pd *pd = ev[i].data.ptr;
		if (!pd) {
			/* a break: only the blocking poller (the one it is for)
			 * drains it; the others leave it pending for that one */
			if (deadline != 0) {
				uint64_t v;
				ssize_t r = read(breakfd, &v, sizeof v);
				(void)r;
				atomic_store(&break_pending, false);
			}
			continue;
		}
		uint32_t m = ev[i].events;
		gort__lock_acquire(&pd->lock);
		if (m & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			list = ready_dir(pd, GORT__PD_READ, list);
		if (m & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			list = ready_dir(pd, GORT__PD_WRITE, list);
		gort__lock_release(&pd->lock);
	}
	return list;
}
