/*
 * dump.c — counts by state and wait reason, and the coroutine dump (one by
 * one, or grouped).
 *
 * Owns: nothing shared.  Everything here reads the G descriptors while
 * they run (coro.c keeps every descriptor ever allocated in an append-only
 * list, never freed while the runtime runs), so every read is racy by
 * design (the (r) fields of rt.h): a snapshot copies each live G's fields
 * once, and a G that changes state meanwhile shows one state or the other.
 * Strings (__FILE__ of the sites) are static; a name is copied with a
 * bound.  The backtrace of a parked G walks the frame-pointer chain from
 * its saved context, accepting only frames inside its stack that move up
 * it, so a G resumed under our feet yields garbage frames, never a fault.
 * These readers are excluded from ThreadSanitizer and AddressSanitizer
 * (reading another coroutine's stack and racing its owner is the point).
 *
 * Grouping: a hash table on (state, reason, blocked-at site, spawn site),
 * strings hashed by content (two copies of one __FILE__ in different
 * objects are one site); groups are printed largest first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../recover/panic.h"
#include "debug.h"

#define GORT__NO_SAN GORT__NO_TSAN GORT__NO_ASAN
#define BT_MAX 32

const char *gort_wait_reason_name(gort_wait_reason r)
{
	if ((int)r <= GORT_WAIT_NONE || r >= GORT_WAIT_REASONS)
		return "?";
	return gort__wait_reason_name((int)r);
}

_Static_assert((int)GORT_WAIT_REASONS == (int)GORT__WR_COUNT_, "public and internal wait reasons");
_Static_assert((int)GORT_WAIT_IO_WRITE == (int)GORT__WR_IO_WRITE, "public and internal wait reasons");

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

/* Ticks per ns, measured once against the monotonic clock over 5 ms.
 * Each end is the tightest of a few (ticks, ns, ticks) readings, so that
 * a preemption between the paired reads does not skew the rate. */
static _Atomic double tick_rate;

static void clock_pair(uint64_t *ticks, int64_t *ns)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 5; i++) {
		uint64_t a = gort__ticks();
		int64_t n = gort__nanotime();
		uint64_t b = gort__ticks();
		if (b - a < best) {
			best = b - a;
			*ticks = a + (b - a) / 2;
			*ns = n;
		}
	}
}

int64_t gort__ticks_to_ns(uint64_t dt)
{
	double r = atomic_load_explicit(&tick_rate, memory_order_relaxed);
	if (r == 0) {
		uint64_t t0 = 0, t1 = 0;
		int64_t n0 = 0, n1 = 0;
		clock_pair(&t0, &n0);
		while (gort__nanotime() - n0 < 5000000)
			;
		clock_pair(&t1, &n1);
		r = n1 > n0 && t1 > t0 ? (double)(t1 - t0) / (double)(n1 - n0) : 1;
		atomic_store_explicit(&tick_rate, r, memory_order_relaxed);
	}
	return (int64_t)((double)dt / r);
}

static void duration_str(char *buf, size_t len, int64_t ns)
{
	if (ns >= 60 * INT64_C(1000000000))
		snprintf(buf, len, "%lld minutes", (long long)(ns / (60 * INT64_C(1000000000))));
	else if (ns >= INT64_C(1000000000))
		snprintf(buf, len, "%lld s", (long long)(ns / INT64_C(1000000000)));
	else if (ns >= 1000000)
		snprintf(buf, len, "%lld ms", (long long)(ns / 1000000));
	else
		snprintf(buf, len, "%lld us", (long long)(ns / 1000));
}

void gort__print_duration(FILE *f, int64_t ns)
{
	char buf[32];
	duration_str(buf, sizeof buf, ns);
	fputs(buf, f);
}

/* ------------------------------------------------------------------ */
/* Snapshot                                                            */
/* ------------------------------------------------------------------ */

struct snapper {
	struct gort__gsnap *s;
	int64_t n, cap;
	uint64_t now;
	bool oom;
};

static bool live_state(uint32_t st)
{
	return st == GORT__G_RUNNABLE || st == GORT__G_RUNNING || st == GORT__G_WAITING;
}

GORT__NO_SAN static void snap_one(struct gort__g *g, void *arg)
{
	struct snapper *sp = arg;
	uint32_t st = atomic_load_explicit(&g->state, memory_order_acquire);
	if (!live_state(st) || sp->oom)
		return;
	if (sp->n == sp->cap) {
		int64_t nc = sp->cap ? 2 * sp->cap : 1024;
		struct gort__gsnap *ns = gort__sys_realloc(sp->s, (size_t)nc * sizeof *ns);
		if (!ns) {
			sp->oom = true;
			return;
		}
		sp->s = ns;
		sp->cap = nc;
	}
	struct gort__gsnap *o = &sp->s[sp->n++];
	o->g = g;
	o->id = g->id;
	o->parent_id = g->parent_id;
	o->state = st;
	o->spawn_file = g->spawn_file;
	o->spawn_line = g->spawn_line;
	o->reason = GORT__WR_NONE;
	o->wait_file = NULL;
	o->wait_line = 0;
	o->wait_obj = NULL;
	o->waited_ns = 0;
	if (st == GORT__G_WAITING) {
		o->reason = atomic_load_explicit(&g->wait_reason, memory_order_relaxed);
		o->wait_file = g->wait_file;
		o->wait_line = g->wait_line;
		o->wait_obj = g->wait_obj;
		uint64_t since = g->wait_since;
		o->parkseq = g->parkseq;
		o->waited_ns = sp->now > since ? gort__ticks_to_ns(sp->now - since) : 0;
		if (o->reason == GORT__WR_NONE || o->reason >= GORT__WR_COUNT_)
			o->state = GORT__G_RUNNABLE; /* caught between park and its record */
	}
	memcpy(o->name, g->name, GORT_NAME_MAX - 1);
	o->name[GORT_NAME_MAX - 1] = 0;
}

struct gort__gsnap *gort__gsnap_all(int64_t *n)
{
	gort__ticks_to_ns(0); /* calibrate first, outside the walk */
	struct snapper sp = {.now = gort__ticks()};
	gort__allg_each(snap_one, &sp);
	if (sp.oom) {
		gort__sys_free(sp.s);
		*n = -1;
		return NULL;
	}
	*n = sp.n;
	return sp.s;
}

/* The start of the public readers: 0 and a snapshot, or an error. */
static int snapshot(const void *out, struct gort__gsnap **s, int64_t *n)
{
	if (!out)
		return -EINVAL;
	if (!gort_running())
		return -ESRCH;
	*s = gort__gsnap_all(n);
	return *n < 0 ? -ENOMEM : 0;
}

int gort_coroutine_counts_read(gort_coroutine_counts *out)
{
	int64_t n;
	struct gort__gsnap *s;
	int rc = snapshot(out, &s, &n);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	for (int64_t i = 0; i < n; i++) {
		out->live++;
		if (s[i].state == GORT__G_RUNNABLE)
			out->runnable++;
		else if (s[i].state == GORT__G_RUNNING)
			out->running++;
		else {
			out->waiting++;
			out->by_reason[s[i].reason]++;
		}
	}
	gort__sys_free(s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

/* The frames of a parked G: the frame-pointer chain from gort__park's
 * frame (so the scheduler's own frames are left out) up to the frame below
 * the coroutine's function (so are the entry trampolines), each frame
 * inside its stack and above the previous one. */
GORT__NO_SAN static int parked_frames(struct gort__g *g, void **frames, int max)
{
	struct gort__stack *st = g->stack;
	if (!st)
		return 0;
	uintptr_t lo = (uintptr_t)st->lo, hi = lo + st->size;
	uintptr_t fp = (uintptr_t)g->park_fp, base = (uintptr_t)g->base_fp;
	if (base < lo || base > hi)
		base = hi;
	int n = 0;
	while (n < max && fp >= lo && fp + 16 <= base && (fp & 7) == 0) {
		void *ret = ((void **)fp)[1];
		uintptr_t next = ((uintptr_t *)fp)[0];
		if (!ret || next >= base)
			break; /* fp is the coroutine function's frame: ret is the trampoline */
		frames[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

static const char *state_name(const struct gort__gsnap *s)
{
	if (s->state == GORT__G_RUNNING)
		return "running";
	if (s->state == GORT__G_RUNNABLE)
		return "runnable";
	return gort__wait_reason_name(s->reason);
}

/* Is the coroutine still in the wait the snapshot saw? */
GORT__NO_SAN static bool same_wait(const struct gort__gsnap *s)
{
	struct gort__g *g = s->g;
	return atomic_load_explicit(&g->state, memory_order_acquire) == GORT__G_WAITING &&
	       g->parkseq == s->parkseq && g->id == s->id;
}

static void print_backtrace(FILE *f, const struct gort__gsnap *s)
{
	if (s->state != GORT__G_WAITING || !same_wait(s))
		return;
	void *frames[BT_MAX];
	int n = parked_frames(s->g, frames, BT_MAX);
	/* frames are copied: if it moved on during the walk, they are not its */
	if (n > 0 && same_wait(s))
		gort__print_frames_file(f, frames, n);
}

static void print_one(FILE *f, const struct gort__gsnap *s, unsigned flags)
{
	fprintf(f, "coroutine %lld", (long long)s->id);
	if (s->name[0])
		fprintf(f, " \"%s\"", s->name);
	fprintf(f, " [%s", state_name(s));
	if (s->state == GORT__G_WAITING) {
		fputs(", ", f);
		gort__print_duration(f, s->waited_ns);
	}
	fputs("]:\n", f);
	if (s->state == GORT__G_WAITING && s->wait_file)
		fprintf(f, "\tblocked at %s:%d\n", s->wait_file, s->wait_line);
	if (!(flags & GORT_DUMP_NO_BACKTRACE))
		print_backtrace(f, s);
	if (s->spawn_line == 0 && s->spawn_file)
		fprintf(f, "created by %s\n\n", s->spawn_file); /* gort_main */
	else if (s->parent_id)
		fprintf(f, "created by coroutine %lld at %s:%d\n\n", (long long)s->parent_id,
			s->spawn_file ? s->spawn_file : "?", s->spawn_line);
	else
		fprintf(f, "created by a plain thread at %s:%d\n\n", s->spawn_file ? s->spawn_file : "?",
			s->spawn_line);
}

/* ------------------------------------------------------------------ */
/* Grouping                                                            */
/* ------------------------------------------------------------------ */

struct group {
	const struct gort__gsnap *rep; /* the first member */
	int64_t count;
	int64_t min_ns, max_ns;
	bool same_name;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
	if (!s)
		return h * 31;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t group_hash(const struct gort__gsnap *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = (h ^ s->state) * 0x100000001b3ull;
	h = (h ^ s->reason) * 0x100000001b3ull;
	h = (h ^ (uint64_t)s->wait_line) * 0x100000001b3ull;
	h = (h ^ (uint64_t)s->spawn_line) * 0x100000001b3ull;
	h = hash_str(h, s->wait_file);
	return hash_str(h, s->spawn_file);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_group(const struct gort__gsnap *a, const struct gort__gsnap *b)
{
	return a->state == b->state && a->reason == b->reason && a->wait_line == b->wait_line &&
	       a->spawn_line == b->spawn_line && same_str(a->wait_file, b->wait_file) &&
	       same_str(a->spawn_file, b->spawn_file);
}

static int by_count_desc(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->rep->id < y->rep->id ? -1 : x->rep->id > y->rep->id;
}

/* Group the snapshot; *ng gets the number of groups.  NULL on ENOMEM. */
static struct group *group_snaps(const struct gort__gsnap *s, int64_t n, int64_t *ng)
{
	size_t cap = 16;
	while (cap < (size_t)n * 2)
		cap *= 2;
	int64_t *slot = gort__sys_malloc(cap * sizeof *slot); /* index into groups, or -1 */
	struct group *gs = gort__sys_malloc((size_t)(n ? n : 1) * sizeof *gs);
	if (!slot || !gs) {
		gort__sys_free(slot);
		gort__sys_free(gs);
		return NULL;
	}
	memset(slot, 0xff, cap * sizeof *slot);
	int64_t k = 0;
	for (int64_t i = 0; i < n; i++) {
		size_t h = (size_t)group_hash(&s[i]) & (cap - 1);
		while (slot[h] >= 0 && !same_group(gs[slot[h]].rep, &s[i]))
			h = (h + 1) & (cap - 1);
		if (slot[h] < 0) {
			slot[h] = k;
			gs[k] = (struct group){.rep = &s[i], .min_ns = s[i].waited_ns, .max_ns = s[i].waited_ns,
					       .same_name = true};
			k++;
		}
		struct group *g = &gs[slot[h]];
		if (g->rep != &s[i]) {
			g->count++;
			if (s[i].waited_ns < g->min_ns)
				g->min_ns = s[i].waited_ns;
			if (s[i].waited_ns > g->max_ns)
				g->max_ns = s[i].waited_ns;
			if (g->same_name && strcmp(g->rep->name, s[i].name) != 0)
				g->same_name = false;
		} else {
			g->count = 1;
		}
	}
	gort__sys_free(slot);
	qsort(gs, (size_t)k, sizeof *gs, by_count_desc);
	*ng = k;
	return gs;
}

static void print_group(FILE *f, const struct group *g, unsigned flags)
{
	const struct gort__gsnap *s = g->rep;
	fprintf(f, "%lld coroutine%s", (long long)g->count, g->count == 1 ? "" : "s");
	if (g->same_name && s->name[0])
		fprintf(f, " \"%s\"", s->name);
	fprintf(f, " [%s", state_name(s));
	if (s->state == GORT__G_WAITING) {
		fputs(", ", f);
		char lo[32], hi[32];
		duration_str(lo, sizeof lo, g->min_ns);
		duration_str(hi, sizeof hi, g->max_ns);
		fputs(lo, f);
		if (strcmp(lo, hi) != 0)
			fprintf(f, " .. %s", hi);
	}
	fputs("]:\n", f);
	if (s->state == GORT__G_WAITING && s->wait_file)
		fprintf(f, "\tblocked at %s:%d\n", s->wait_file, s->wait_line);
	if (!(flags & GORT_DUMP_NO_BACKTRACE))
		print_backtrace(f, s);
	if (s->spawn_line == 0 && s->spawn_file)
		fprintf(f, "created by %s\n\n", s->spawn_file);
	else
		fprintf(f, "created at %s:%d\n\n", s->spawn_file ? s->spawn_file : "?", s->spawn_line);
}

int64_t gort__dump_snaps(FILE *f, struct gort__gsnap *s, int64_t n, unsigned flags)
{
	if (!(flags & GORT_DUMP_GROUPED)) {
		for (int64_t i = 0; i < n; i++)
			print_one(f, &s[i], flags);
		return n;
	}
	int64_t ng;
	struct group *gs = group_snaps(s, n, &ng);
	if (!gs)
		return -ENOMEM;
	for (int64_t i = 0; i < ng; i++)
		print_group(f, &gs[i], flags);
	gort__sys_free(gs);
	return n;
}

static int by_id(const void *a, const void *b)
{
	const struct gort__gsnap *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

int64_t gort_dump_file(FILE *f, unsigned flags)
{
	if (flags & ~(unsigned)(GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE))
		return -EINVAL; /* a flag this version does not know */
	int64_t n;
	struct gort__gsnap *s;
	int rc = snapshot(f, &s, &n);
	if (rc)
		return rc;
	if (!(flags & GORT_DUMP_GROUPED) && n > 1)
		qsort(s, (size_t)n, sizeof *s, by_id);
	int64_t r = gort__dump_snaps(f, s, n, flags);
	gort__sys_free(s);
	if (fflush(f) != 0 && r >= 0)
		r = -errno;
	return r;
}

int64_t gort_dump(int fd, unsigned flags)
{
	if (fd < 0 || (flags & ~(unsigned)(GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE)))
		return -EINVAL;
	int dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	FILE *f = fdopen(dfd, "w");
	if (!f) {
		int e = errno;
		close(dfd);
		return -e;
	}
	int64_t r = gort_dump_file(f, flags);
	if (fclose(f) != 0 && r >= 0)
		r = -errno;
	return r;
}
