/*
 * stack.h — coroutine stacks: slabs, guard pages, per-P caches, trimming.
 * See stack.c for the design.
 */
#ifndef GORT_RUNTIME_STACK_H
#define GORT_RUNTIME_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

enum gort__guard_mode {
	GORT__GUARD_AUTO = 0, /* choose at run time (configuration only) */
	GORT__GUARD_MADVISE,  /* MADV_GUARD_INSTALL: no mapping split */
	GORT__GUARD_MPROTECT, /* PROT_NONE page(s): splits the mapping */
	GORT__GUARD_CANARY,   /* a magic word checked at every switch-out */
};

struct gort__stack_class;

/* One stack.  (i): set when carved, never changes; (o): owned by whoever
 * holds the stack (a running coroutine, a P's cache, or a pool under its
 * lock). */
struct gort__stack {
	char *lo;                      /* (i) lowest usable byte; the guard lies below */
	size_t size;                   /* (i) usable bytes */
	struct gort__stack_class *cls; /* (i) */
	struct gort__stack *next;      /* (o) pool link */
	uint8_t guard;                 /* (i) enum gort__guard_mode actually in force */
	uint8_t hot;                   /* (o) pages may be resident (not trimmed since use) */
	unsigned vg_id;                /* (i) Valgrind stack id */
	void *san;                     /* (o) sanitizer state kept with the stack (switch.h) */
};

#define GORT__STACK_CACHE_MAX 64

/* A P's private cache of default-size stacks; only the P's owner touches
 * it. */
struct gort__stack_cache {
	int n;
	struct gort__stack *s[GORT__STACK_CACHE_MAX];
};

/* Bytes of guard below every stack (in madvise and mprotect mode). */
#define GORT__GUARD_SIZE (16u * 1024u)
#define GORT__CANARY 0x676f72742d63616eull /* "gort-can" */

int gort__stack_init(size_t default_size, enum gort__guard_mode mode);
void gort__stack_fini(void);

/* A stack of at least size usable bytes (0: the default size); pc may be
 * NULL (no P).  NULL when memory cannot be mapped. */
struct gort__stack *gort__stack_get(struct gort__stack_cache *pc, size_t size);
void gort__stack_put(struct gort__stack_cache *pc, struct gort__stack *s);
/* Trim up to max free stacks above the pools' watermark, if any: called
 * by an M about to sleep.  True if more remain.  Cheap when there is
 * nothing to do. */
bool gort__stack_scavenge(size_t max);
/* Give back every stack of a P's cache (at shutdown). */
void gort__stack_cache_drain(struct gort__stack_cache *pc);

/* Reads the lowest word of the stack, which ASan may have poisoned as a
 * redzone: not instrumented. */
GORT__NO_ASAN static inline bool gort__stack_canary_ok(const struct gort__stack *s)
{
	return s->guard != GORT__GUARD_CANARY || *(const uint64_t *)(const void *)s->lo == GORT__CANARY;
}

/* Is addr inside s's guard region (or, for canary stacks, below lo)? */
bool gort__stack_in_guard(const struct gort__stack *s, const void *addr);

size_t gort__stack_default_size(void);
enum gort__guard_mode gort__stack_guard_mode(void);
const char *gort__guard_mode_name(enum gort__guard_mode m);

/* Rounds a requested size: 0 -> default; else to pages; 0 if out of range. */
size_t gort__stack_round(size_t size);

#endif
