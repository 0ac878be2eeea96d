/*
 * list.h — the one intrusive FIFO of gort's wait queues.
 *
 * A queue is any struct with head and tail pointers to its element type;
 * an element is any struct with next and prev pointers of its own type.
 * The two wait queues use it: park.h's queue of waiters (sync, I/O) and
 * the channels' queues of blocked operations (channel/chan.h's sudogs, a
 * select's several on several channels).  Macros rather than a link
 * struct and container_of, so that both keep their typed next pointers
 * (wake lists are built through them).  Guarded by the queue owner's lock.
 */
#ifndef GORT_RUNTIME_LIST_H
#define GORT_RUNTIME_LIST_H

#include <stddef.h>

/* Append e at the tail. */
#define GORT__FIFO_PUSH(q, e)                                                                      \
	do {                                                                                       \
		(e)->next = NULL;                                                                  \
		(e)->prev = (q)->tail;                                                             \
		if ((q)->tail)                                                                     \
			(q)->tail->next = (e);                                                     \
		else                                                                               \
			(q)->head = (e);                                                           \
		(q)->tail = (e);                                                                   \
	} while (0)

/* Insert e at the head. */
#define GORT__FIFO_PUSH_FRONT(q, e)                                                                \
	do {                                                                                       \
		(e)->prev = NULL;                                                                  \
		(e)->next = (q)->head;                                                             \
		if ((q)->head)                                                                     \
			(q)->head->prev = (e);                                                     \
		else                                                                               \
			(q)->tail = (e);                                                           \
		(q)->head = (e);                                                                   \
	} while (0)

/* Unlink e, which is on q, from anywhere in it; its links become NULL. */
#define GORT__FIFO_REMOVE(q, e)                                                                    \
	do {                                                                                       \
		if ((e)->prev)                                                                     \
			(e)->prev->next = (e)->next;                                               \
		else                                                                               \
			(q)->head = (e)->next;                                                     \
		if ((e)->next)                                                                     \
			(e)->next->prev = (e)->prev;                                               \
		else                                                                               \
			(q)->tail = (e)->prev;                                                     \
		(e)->next = (e)->prev = NULL;                                                      \
	} while (0)

#endif
