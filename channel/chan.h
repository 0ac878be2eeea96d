/*
 * chan.h — channel internals shared by chan.c and select.c.
 *
 * A channel (struct gort_chan) is a lock, a ring buffer of cap elements,
 * and two FIFO queues of waiting operations (sudogs): receivers and
 * senders.  Everything but refs is guarded by lock.
 *
 * Lifetime: refs counts handles (gort_chan_retain / release).  The release
 * that drops it to zero frees the channel unless, under the lock, it sees
 * a queued sudog or a select's reference (selrefs): then it marks the
 * channel orphaned, and whoever later leaves it with no sudog queued and
 * no selrefs frees it (gort__chan_orphan_done).  Plain waiters never touch
 * the channel after they are woken, so they need nothing more.
 *
 * A sudog is one blocked operation of one waiter: it sits on one channel's
 * queue and says where the value comes from or goes.  A plain send or
 * receive has one; a select has one per case, all pointing at one shared
 * struct gort__sel.  A waker that dequeues a select's sudog must win the
 * select first (CAS sel->done 0 -> 1): if another channel already woke
 * that select, the sudog is stale and skipped (the select removes its
 * stale sudogs itself once it runs again).
 *
 * Waking: the waker finishes the transfer (copies the value into or out of
 * the sudog's elem) and sets success under the channel lock, releases the
 * lock, and only then wakes the waiter.  Nothing of the sudog is read after
 * the wake: it lives on the waiter's stack.
 */
#ifndef GORT_CHANNEL_CHAN_H
#define GORT_CHANNEL_CHAN_H

#include <string.h>

#include "../runtime/park.h"

struct gort__sel {
	_Atomic uint32_t done;        /* (a) 0 -> 1 by the one waker that wins (acq_rel) */
	int winner;                   /* case index, written by the winner before the wake */
	struct gort__waiter waiter;   /* the one thing to wake */
};

struct gort__sudog {
	struct gort__sudog *next, *prev; /* (l) on one channel's queue */
	struct gort__waiter *wake;       /* what to wake (own waiter, or the select's) */
	struct gort__waiter own;         /* for plain sends/receives */
	struct gort__sel *sel;           /* NULL unless part of a select */
	int caseidx;
	void *elem;                      /* value to send / where to receive (may be NULL) */
	bool success;                    /* (l) true: a value moved; false: the channel closed */
	bool queued;                     /* (l) still on its channel's queue */
};

/* A FIFO of sudogs: the same wait queue as park.h's (runtime/list.h). */
struct gort__sudogq {
	struct gort__sudog *head, *tail;
};

struct gort_chan {
	gort__lock lock;
	size_t elemsize;           /* (i) */
	size_t cap;                /* (i) */
	size_t count;              /* (l) elements in buf */
	size_t sendx, recvx;       /* (l) ring indices */
	/* (a) acq_rel; freed at zero.  Past the first 32 bytes, which free(3)
	 * reuses for its lists: a release after the last one, before the
	 * memory is reused, still reads 0 here and is a fatal error */
	_Atomic int32_t refs;
	bool closed;               /* (l) */
	bool orphaned;             /* (l) released by its last owner while coroutines
				    * waited (see chan.c) */
	int32_t selrefs;           /* (l) cases of parked (or waking) selects on it:
				    * what keeps it alive for their clean-up */
	struct gort__sudogq recvq; /* (l) */
	struct gort__sudogq sendq; /* (l) */
	char *buf;                 /* (i) cap * elemsize bytes after the struct */
	/* the orphan registry (chan.c's orphans_lock): linked in while
	 * orphaned, for the leak check */
	struct gort_chan *orph_next, *orph_prev;
};

void gort__sudogq_push(struct gort__sudogq *q, struct gort__sudog *s);
void gort__sudogq_remove(struct gort__sudogq *q, struct gort__sudog *s);
/* Lock held: is c an orphan that its last user just left?  Then the caller
 * frees it (gort__sys_free) after unlocking. */
static inline bool gort__chan_orphan_done(const struct gort_chan *c)
{
	return c->orphaned && !c->selrefs && !c->recvq.head && !c->sendq.head;
}

/* Free an orphan that gort__chan_orphan_done said its caller must free
 * (after unlocking it): it leaves the orphan registry first. */
void gort__chan_orphan_free(struct gort_chan *c);
/* Call fn for every orphaned channel (under the registry's lock: each
 * stays valid during its call; read only its (i) fields). */
void gort__chan_orphans_each(void (*fn)(const struct gort_chan *c, void *arg), void *arg);

/* Pop the first sudog that may be woken (a select's only if it wins that
 * select).  Lock held. */
struct gort__sudog *gort__sudogq_take(struct gort__sudogq *q);

/* The transfers, with the channel locked and a ready counterpart. */
void gort__chan_do_send(struct gort_chan *c, struct gort__sudog *r, const void *elem);
void gort__chan_do_recv(struct gort_chan *c, struct gort__sudog *s, void *elem);
/* Wake a sudog that a transfer or close completed (after unlocking). */
static inline void gort__sudog_wake(struct gort__sudog *s)
{
	gort__waiter_wake(s->wake);
}

static inline void gort__chan_zero(const struct gort_chan *c, void *elem)
{
	if (elem && c->elemsize)
		memset(elem, 0, c->elemsize);
}

static inline void gort__chan_copy(const struct gort_chan *c, void *dst, const void *src)
{
	if (!dst)
		return;
	/* the common sizes as fixed-size copies (a move or two, not a call) */
	switch (c->elemsize) {
	case 0:
		break;
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, c->elemsize);
	}
}

/* Buffer operations; lock held, room / an element there. */
static inline void gort__chan_buf_put(struct gort_chan *c, const void *elem)
{
	gort__chan_copy(c, c->buf + c->sendx * c->elemsize, elem);
	c->sendx = (c->sendx + 1) % c->cap;
	c->count++;
}

static inline void gort__chan_buf_get(struct gort_chan *c, void *elem)
{
	gort__chan_copy(c, elem, c->buf + c->recvx * c->elemsize);
	c->recvx = (c->recvx + 1) % c->cap;
	c->count--;
}

/* gort_select, except that a send case that met a closed channel sets
 * *closed_send (the chosen index is returned) instead of panicking, so
 * the caller can free what it holds first, then panic. */
int gort__select(gort_case *cs, size_t n, bool nonblocking, bool *closed_send, int reason,
		 const char *file, int line);

/* The most cases a select takes (Go's reflect.Select limit). */
#define GORT__SELECT_MAX 65536
/* The arguments of a public select (or of a one-case send or receive with
 * a deadline or context): 0, or -EINVAL for more than GORT__SELECT_MAX
 * cases, cases NULL with n > 0, a dir that is neither GORT_RECV nor
 * GORT_SEND, or a send of a NULL elem on a channel whose elements have a
 * size. */
int gort__select_check(const gort_case *cs, size_t n);

/* A blocking select over cases plus one more, a receive on extra into
 * extra_elem (a deadline timer's channel, a context's done channel): the
 * chosen case's index, n for extra, or -ENOMEM.  ok flags are copied back
 * to cases; a closed-channel send sets *closed_send, as gort__select. */
int gort__select_extra(gort_case *cases, size_t n, gort_chan *extra, void *extra_elem,
		       bool *closed_send, int reason, const char *file, int line);
/* The wait reason a dump shows for a one-case wait on c with a deadline or
 * a context: that channel's send or receive (with n > 1, a select). */
static inline int gort__select_reason(const gort_case *cs, size_t n)
{
	if (n != 1)
		return GORT__WR_SELECT;
	return cs[0].dir == GORT_SEND ? GORT__WR_CHAN_SEND : GORT__WR_CHAN_RECV;
}
/* gort_select_until with the reason a dump shows (sleep_ctx: SLEEP). */
int gort__select_until(gort_case *cases, size_t n, int64_t deadline, int reason, const char *file,
		       int line);

/* Block forever (a nil channel, an empty select). */
_Noreturn void gort__block_forever(int reason, const char *file, int line);

#endif
