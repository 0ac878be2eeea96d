/*
 * stack.c — coroutine stacks.
 *
 * Owns: every coroutine stack, the slabs they are carved from, the pools of
 * free stacks, and the guard mode.
 *
 * Layout.  Stacks of one usable size form a class.  A class maps slabs, each
 * a large MAP_NORESERVE anonymous mapping (4 MiB for the first, doubling up
 * to 1 GiB), and carves them into slots of [guard | usable stack], lazily,
 * as stacks are needed.  Memory is committed only as pages are touched, so
 * a coroutine that uses 6 KiB of a 256 KiB stack costs 8 KiB of RSS.
 *
 * Guards.  Below every stack lies a GORT__GUARD_SIZE region that faults on
 * access (16 KiB, so that frames of up to that size cannot jump over it).
 * Three ways, chosen at run time:
 *   madvise   MADV_GUARD_INSTALL (Linux 6.13+): guard markers in the page
 *             tables; no VMA split, so a million guards cost no mappings.
 *   mprotect  PROT_NONE: splits the mapping (+2 VMAs per guard), so it is
 *             used only while under a budget of vm.max_map_count / 4 guards.
 *   canary    a magic word at the lowest usable address, checked when the
 *             coroutine switches out; catches overflows late, but catches
 *             them.
 * A fault in a guard is turned into "fatal: coroutine N ... overflowed its
 * K KiB stack" by recover/fault.c.
 *
 * Pools.  Default-size stacks are cached per P (GORT__STACK_CACHE_MAX, no
 * lock: only the P's owner touches its cache), moved in batches of half a
 * cache to and from the class pool.  A class pool (under its lock) keeps
 * two lists: hot (pages may be resident) and cold (trimmed).  When the hot
 * list passes GORT__STACK_HOT_MAX, the excess is trimmed with MADV_DONTNEED
 * (guards survive it) and moved to the cold list, so a burst of a million
 * coroutines does not pin its memory forever.  Trimming is the kernel's
 * work of freeing pages, and each call is a TLB shootdown on every CPU
 * running the process, so: the excess is sorted by address, neighbouring
 * slots go as one range, ranges go in batches (gort__sys_release_pages);
 * and the work is done by Ms about to go idle, in chunks between which the
 * scheduler checks for work (gort__stack_scavenge, like Go's background
 * scavenger).  A runtime that never idles still trims, paced: every
 * 4,096th schedule of a P trims 32 (sched.c: about 1% of a busy P).  Past
 * GORT__STACK_HOT_HARD hot stacks (a peak of coroutines that just exited,
 * whose pages were resident anyway) whoever gives stacks back trims 8,192
 * at once: a big batch coalesces into few ranges, and the TLB shootdowns,
 * not the page freeing, are what costs.  Never under the class lock.
 * Stacks are handed out hot first.  Slabs are unmapped at shutdown only.
 *
 * Locks: classes_lock guards the class list; each class's lock guards its
 * lists, counters and slabs.  No other lock is taken while holding one.
 */
#include "stack.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gort.h>

#include "lock.h"
#include "switch.h"
#include "sys.h"

#ifdef GORT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif
#ifdef GORT__ASAN
#include <sanitizer/asan_interface.h>
#endif

/* A stack goes back to a pool: under ASan, forget the poison its dead
 * frames left (the next coroutine, or a later mapping at the same address,
 * would trip over it). */
static void san_release(struct gort__stack *s)
{
#ifdef GORT__ASAN
	__asan_unpoison_memory_region(s->lo, s->size);
#else
	(void)s;
#endif
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define SLAB_FIRST (4u << 20)
#define SLAB_MAX (1u << 30)
#define GORT__STACK_HOT_MAX 1024
/* Past this many hot stacks, whoever gives stacks back trims some. */
#define GORT__STACK_HOT_HARD (1 << 20)

struct slab {
	char *base;
	size_t len;
	size_t nslots;
	size_t ncarved; /* slots [0, ncarved) have descriptors */
	struct slab *next;
	struct gort__stack descs[];
};

struct gort__stack_class {
	size_t size;    /* (i) usable bytes */
	size_t slot;    /* (i) guard + usable */
	gort__lock lock;
	struct gort__stack *hot, *cold; /* (l) free lists */
	size_t nhot, ncold;             /* (l) */
	struct slab *slabs;             /* (l) newest first; slabs->ncarved < nslots while carving */
	size_t next_len;                /* (l) length of the next slab */
	struct gort__stack_class *next; /* (c) classes_lock */
};

static gort__lock classes_lock = GORT__LOCK_INIT;
static struct gort__stack_class *classes;         /* (c) */
static struct gort__stack_class *default_class;   /* set at init, read-only while running */
static size_t default_size;                       /* set at init */
static size_t page_size;                          /* set at init */
static _Atomic int guard_mode;                    /* may drop from madvise to mprotect once */
static _Atomic long mprotect_budget;              /* guards mprotect may still make */
static _Atomic bool scavenge_wanted;              /* a class is above its watermark */

const char *gort__guard_mode_name(enum gort__guard_mode m)
{
	switch (m) {
	case GORT__GUARD_MADVISE:
		return "madvise";
	case GORT__GUARD_MPROTECT:
		return "mprotect";
	case GORT__GUARD_CANARY:
		return "canary";
	default:
		return "auto";
	}
}

size_t gort__stack_default_size(void)
{
	return default_size;
}

enum gort__guard_mode gort__stack_guard_mode(void)
{
	return (enum gort__guard_mode)atomic_load_explicit(&guard_mode, memory_order_relaxed);
}

size_t gort__stack_round(size_t size)
{
	if (size == 0)
		return default_size;
	if (size < GORT_MIN_STACK_SIZE || size > GORT_MAX_STACK_SIZE)
		return 0;
	size_t ps = page_size ? page_size : 4096;
	return (size + ps - 1) & ~(ps - 1);
}

static long read_max_map_count(void)
{
	long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

/* Does this kernel have MADV_GUARD_INSTALL?  Try it on a scratch mapping. */
static bool probe_guard_install(void)
{
	size_t len = 4 * page_size;
	char *p = gort__sys_mmap(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	if (!p)
		return false;
	bool ok = madvise(p, page_size, MADV_GUARD_INSTALL) == 0;
	gort__sys_munmap(p, len);
	return ok;
}

int gort__stack_init(size_t dflt, enum gort__guard_mode mode)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	default_size = dflt;
	atomic_store(&mprotect_budget, read_max_map_count() / 4);
	if (mode == GORT__GUARD_AUTO || mode == GORT__GUARD_MADVISE)
		mode = probe_guard_install() ? GORT__GUARD_MADVISE : GORT__GUARD_MPROTECT;
	atomic_store(&guard_mode, (int)mode);
	gort__sys_release_pages_init();
	default_class = NULL;
	struct gort__stack *s = gort__stack_get(NULL, dflt); /* creates the default class */
	if (!s)
		return -ENOMEM;
	gort__stack_put(NULL, s);
	return 0;
}

static struct gort__stack_class *class_for(size_t size)
{
	if (size == default_size && default_class)
		return default_class;
	gort__lock_acquire(&classes_lock);
	struct gort__stack_class *c;
	for (c = classes; c; c = c->next)
		if (c->size == size)
			break;
	if (!c) {
		c = gort__sys_calloc(1, sizeof *c);
		if (c) {
			c->size = size;
			c->slot = size + GORT__GUARD_SIZE;
			c->next_len = SLAB_FIRST;
			c->next = classes;
			classes = c;
			if (size == default_size)
				default_class = c;
		}
	}
	gort__lock_release(&classes_lock);
	return c;
}

/* Install the guard of one freshly carved slot; returns the mode used. */
static uint8_t install_guard(char *slot_base)
{
	int mode = atomic_load_explicit(&guard_mode, memory_order_relaxed);
	if (mode == GORT__GUARD_MADVISE) {
		if (madvise(slot_base, GORT__GUARD_SIZE, MADV_GUARD_INSTALL) == 0)
			return GORT__GUARD_MADVISE;
		atomic_store(&guard_mode, GORT__GUARD_MPROTECT);
		mode = GORT__GUARD_MPROTECT;
	}
	if (mode == GORT__GUARD_MPROTECT) {
		if (atomic_fetch_sub(&mprotect_budget, 1) > 0 &&
		    mprotect(slot_base, GORT__GUARD_SIZE, PROT_NONE) == 0)
			return GORT__GUARD_MPROTECT;
	}
	return GORT__GUARD_CANARY;
}

/* Carve one stack; class lock held.  NULL if a slab cannot be mapped. */
static struct gort__stack *carve(struct gort__stack_class *c)
{
	struct slab *sl = c->slabs;
	if (!sl || sl->ncarved == sl->nslots) {
		size_t nslots = c->next_len / c->slot;
		if (nslots == 0)
			nslots = 1;
		size_t len = nslots * c->slot;
		char *base = gort__sys_mmap(len, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK);
		if (!base)
			return NULL;
		sl = gort__sys_malloc(sizeof *sl + nslots * sizeof(struct gort__stack));
		if (!sl) {
			gort__sys_munmap(base, len);
			return NULL;
		}
		sl->base = base;
		sl->len = len;
		sl->nslots = nslots;
		sl->ncarved = 0;
		sl->next = c->slabs;
		c->slabs = sl;
		if (c->next_len < SLAB_MAX)
			c->next_len *= 2;
	}
	char *slot_base = sl->base + sl->ncarved * c->slot;
	struct gort__stack *s = &sl->descs[sl->ncarved++];
	s->lo = slot_base + GORT__GUARD_SIZE;
	s->size = c->size;
	s->cls = c;
	s->next = NULL;
	s->hot = 0;
	s->san = NULL;
	s->guard = install_guard(slot_base);
#ifdef GORT_HAVE_VALGRIND
	s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
#else
	s->vg_id = 0;
#endif
	return s;
}

/* Take up to n stacks from a class pool into out[]; returns how many. */
static int class_take(struct gort__stack_class *c, struct gort__stack **out, int n)
{
	int got = 0;
	gort__lock_acquire(&c->lock);
	while (got < n && c->hot) {
		struct gort__stack *s = c->hot;
		c->hot = s->next;
		c->nhot--;
		out[got++] = s;
	}
	while (got < n && c->cold) {
		struct gort__stack *s = c->cold;
		c->cold = s->next;
		c->ncold--;
		out[got++] = s;
	}
	while (got < n) {
		struct gort__stack *s = carve(c);
		if (!s)
			break;
		out[got++] = s;
	}
	gort__lock_release(&c->lock);
	return got;
}

/* Merge two address-sorted lists. */
static struct gort__stack *merge_by_address(struct gort__stack *a, struct gort__stack *b)
{
	struct gort__stack head = {0}, *t = &head;
	while (a && b) {
		struct gort__stack **lo = a->lo < b->lo ? &a : &b;
		t->next = *lo;
		t = *lo;
		*lo = (*lo)->next;
	}
	t->next = a ? a : b;
	return head.next;
}

/* Sort a list by address: bottom-up merge sort, O(n log n), no recursion. */
static struct gort__stack *sort_by_address(struct gort__stack *list)
{
	struct gort__stack *bins[64] = {0}; /* bins[i]: a sorted run of 2^i, or NULL */
	while (list) {
		struct gort__stack *one = list;
		list = list->next;
		one->next = NULL;
		int i = 0;
		for (; i < 63 && bins[i]; i++) {
			one = merge_by_address(bins[i], one);
			bins[i] = NULL;
		}
		bins[i] = one;
	}
	struct gort__stack *out = NULL;
	for (int i = 0; i < 64; i++)
		if (bins[i])
			out = merge_by_address(bins[i], out);
	return out;
}

/* Release the pages of a list of free stacks of one class; returns the
 * list sorted by address.  Neighbouring slots are released as one range
 * over [stack | guard | stack ...] (guards survive MADV_DONTNEED), and the
 * ranges go to the kernel in batches (gort__sys_release_pages): each call
 * is a TLB shootdown on every CPU running the process, which costs more
 * than everything else a coroutine's exit does. */
static struct gort__stack *trim(struct gort__stack *list)
{
	enum { BATCH = 64 }; /* 1 KiB of iovecs: this may run on a small stack */
	struct iovec v[BATCH];
	int nv = 0;
	list = sort_by_address(list);
	struct gort__stack *run = list;
	while (run) {
		struct gort__stack *end = run;
		run->hot = 0;
		while (end->next && end->next->lo == end->lo + end->size + GORT__GUARD_SIZE) {
			end = end->next;
			end->hot = 0;
		}
		v[nv++] = (struct iovec){run->lo, (size_t)(end->lo + end->size - run->lo)};
		if (nv == BATCH) {
			gort__sys_release_pages(v, nv);
			nv = 0;
		}
		run = end->next;
	}
	if (nv)
		gort__sys_release_pages(v, nv);
	return list;
}

/* Detach up to max stacks above the watermark from c's hot list, behind
 * the most recently used half of the watermark (kept hot); class lock
 * held, O(watermark + max).  Returns them (NULL if none), their number in
 * *n. */
static struct gort__stack *take_excess(struct gort__stack_class *c, size_t max, size_t *n)
{
	*n = 0;
	if (c->nhot <= GORT__STACK_HOT_MAX || max == 0)
		return NULL;
	size_t keep = GORT__STACK_HOT_MAX / 2;
	size_t take = c->nhot - keep < max ? c->nhot - keep : max;
	struct gort__stack *before = c->hot;
	for (size_t i = 1; i < keep; i++)
		before = before->next;
	struct gort__stack *first = before->next, *last = first;
	for (size_t i = 1; i < take; i++)
		last = last->next;
	before->next = last->next;
	last->next = NULL;
	c->nhot -= take;
	*n = take;
	return first;
}

/* Trim a detached excess list (class lock not held) and file it cold. */
static void trim_excess(struct gort__stack_class *c, struct gort__stack *excess, size_t n)
{
	if (!excess)
		return;
	excess = trim(excess);
	struct gort__stack *last = excess;
	while (last->next)
		last = last->next;
	gort__lock_acquire(&c->lock);
	last->next = c->cold;
	c->cold = excess;
	c->ncold += n;
	gort__lock_release(&c->lock);
}

/* Give n stacks back to their class pool.  Above the watermark the excess
 * is left for idle Ms (gort__stack_scavenge), so that a burst of exits
 * does not pay for the kernel's page freeing; past the hard limit the
 * giver trims a big batch (see the top of the file). */
static void class_give(struct gort__stack_class *c, struct gort__stack **in, int n)
{
	struct gort__stack *excess = NULL;
	size_t nexcess = 0;
	gort__lock_acquire(&c->lock);
	for (int i = 0; i < n; i++) {
		in[i]->next = c->hot;
		c->hot = in[i];
		c->nhot++;
	}
	if (c->nhot > GORT__STACK_HOT_MAX) {
		if (c->nhot > GORT__STACK_HOT_HARD)
			excess = take_excess(c, GORT__STACK_HOT_HARD / 8, &nexcess);
		atomic_store_explicit(&scavenge_wanted, true, memory_order_relaxed);
	}
	gort__lock_release(&c->lock);
	trim_excess(c, excess, nexcess);
}

bool gort__stack_scavenge(size_t max)
{
	if (!atomic_load_explicit(&scavenge_wanted, memory_order_relaxed) ||
	    !atomic_exchange_explicit(&scavenge_wanted, false, memory_order_relaxed))
		return false;
	gort__lock_acquire(&classes_lock);
	struct gort__stack_class *c = classes;
	gort__lock_release(&classes_lock);
	/* Classes are only added (at the head) until shutdown: the list from
	 * c on is stable. */
	bool more = false;
	for (; c; c = c->next) {
		size_t n;
		gort__lock_acquire(&c->lock);
		struct gort__stack *excess = take_excess(c, max, &n);
		more |= c->nhot > GORT__STACK_HOT_MAX;
		gort__lock_release(&c->lock);
		trim_excess(c, excess, n);
		max -= n;
	}
	if (more)
		atomic_store_explicit(&scavenge_wanted, true, memory_order_relaxed);
	return more;
}

static void prepare(struct gort__stack *s)
{
	s->hot = 1;
	if (s->guard == GORT__GUARD_CANARY)
		*(uint64_t *)(void *)s->lo = GORT__CANARY;
}

struct gort__stack *gort__stack_get(struct gort__stack_cache *pc, size_t size)
{
	size = gort__stack_round(size);
	if (!size)
		return NULL;
	struct gort__stack_class *c = class_for(size);
	if (!c)
		return NULL;
	struct gort__stack *s = NULL;
	if (pc && c == default_class) {
		if (pc->n == 0)
			pc->n = class_take(c, pc->s, GORT__STACK_CACHE_MAX / 2);
		if (pc->n > 0)
			s = pc->s[--pc->n];
	} else if (class_take(c, &s, 1) != 1) {
		s = NULL;
	}
	if (s)
		prepare(s);
	return s;
}

void gort__stack_put(struct gort__stack_cache *pc, struct gort__stack *s)
{
	san_release(s);
	if (pc && s->cls == default_class) {
		if (pc->n == GORT__STACK_CACHE_MAX) {
			int half = GORT__STACK_CACHE_MAX / 2;
			pc->n -= half;
			class_give(s->cls, &pc->s[pc->n], half);
		}
		pc->s[pc->n++] = s;
		return;
	}
	class_give(s->cls, &s, 1);
}

void gort__stack_cache_drain(struct gort__stack_cache *pc)
{
	if (pc->n > 0)
		class_give(default_class, pc->s, pc->n);
	pc->n = 0;
}

bool gort__stack_in_guard(const struct gort__stack *s, const void *addr)
{
	const char *a = addr;
	return a < s->lo && a >= s->lo - GORT__GUARD_SIZE;
}

void gort__stack_fini(void)
{
	gort__lock_acquire(&classes_lock);
	struct gort__stack_class *c = classes;
	classes = NULL;
	default_class = NULL;
	gort__lock_release(&classes_lock);
	while (c) {
		struct gort__stack_class *cn = c->next;
		struct slab *sl = c->slabs;
		while (sl) {
			struct slab *sn = sl->next;
			for (size_t i = 0; i < sl->ncarved; i++) {
				san_release(&sl->descs[i]);
				gort__switch_san_release(sl->descs[i].san);
#ifdef GORT_HAVE_VALGRIND
				VALGRIND_STACK_DEREGISTER(sl->descs[i].vg_id);
#endif
			}
			gort__sys_munmap(sl->base, sl->len);
			gort__sys_free(sl);
			sl = sn;
		}
		gort__sys_free(c);
		c = cn;
	}
	gort__sys_release_pages_fini();
}
