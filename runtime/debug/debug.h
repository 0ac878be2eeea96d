/*
 * debug.h — runtime/debug/'s internal interface: the snapshot of
 * coroutines that dumps and the leak check share, the lost-cancel
 * registry that context.c fills, and helpers.  The options and the
 * scheduler's hooks are declared in rt.h.
 */
#ifndef GORT_RUNTIME_DEBUG_H
#define GORT_RUNTIME_DEBUG_H

#include <stdio.h>

#include "../rt.h"

/* One coroutine as a dump sees it: copied out of the live descriptor. */
struct gort__gsnap {
	int64_t id, parent_id;
	uint32_t state;          /* enum gort__gstate */
	uint8_t reason;          /* enum gort__wait_reason */
	int wait_line, spawn_line;
	const char *wait_file, *spawn_file;
	const void *wait_obj;
	int64_t waited_ns;       /* since it parked (WAITING only) */
	uint32_t parkseq;        /* the wait it was in: a backtrace taken later is
				  * kept only if the coroutine is still in it */
	char name[GORT_NAME_MAX];
	struct gort__g *g;       /* the descriptor (for a backtrace) */
};

/* Copy every live coroutine (RUNNABLE, RUNNING, WAITING); *n gets the
 * count.  NULL with *n = 0 when there is none; NULL with *n = -1 when
 * memory is short.  Free with free(). */
struct gort__gsnap *gort__gsnap_all(int64_t *n);

/* Write coroutines (a snapshot) to f: one by one, or grouped.  Returns
 * how many were written or -ENOMEM. */
int64_t gort__dump_snaps(FILE *f, struct gort__gsnap *s, int64_t n, unsigned flags);

/* The lost-cancel registry (context.c fills it; leakcheck.c reads it). */
struct gort__lost_ctx {
	struct gort__lost_ctx *next, *prev; /* (lost_lock) */
	const char *file;                   /* creation site */
	int line;
	bool has_deadline;
	int64_t deadline;
};
void gort__lost_ctx_add(struct gort__lost_ctx *l);
void gort__lost_ctx_remove(struct gort__lost_ctx *l);
/* Call fn for every lost context, under the registry's lock. */
void gort__lost_ctx_each(void (*fn)(const struct gort__lost_ctx *l, void *arg), void *arg);

/* A wait group's counter (waitgroup.c). */
int64_t gort__wg_counter(const void *wg);

/* Convert a gort__ticks() difference to ns. */
int64_t gort__ticks_to_ns(uint64_t dt);

/* Output helpers. */
void gort__print_duration(FILE *f, int64_t ns);

#endif
