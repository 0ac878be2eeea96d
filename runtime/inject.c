/*
 * inject.c — fault injection for tests (see inject.h).
 *
 * Owns the armed plan, its counters and the table of points.  Protocol:
 * gort__inject_armed is set last by arm and cleared first by disarm
 * (relaxed: a wrapper that races with arming may or may not be counted);
 * everything else is under `lock`, a leaf spin lock.
 */
#include "inject.h"

#include <errno.h>
#include <string.h>

#include "lock.h"

#define MAX_POINTS 256

_Atomic bool gort__inject_armed;

static gort__lock lock = GORT__LOCK_INIT;
static struct gort__inject_plan plan; /* (lock) */
static uint64_t matched;              /* (lock) matching calls since arm */
static uint64_t failures;             /* (lock) */
static uint64_t rng;                  /* (lock) xorshift state for ppm */
static struct gort__inject_point points[MAX_POINTS]; /* (lock) */
static int npoints;                                  /* (lock) */

void gort__inject_arm(const struct gort__inject_plan *p)
{
	gort__lock_acquire(&lock);
	plan = *p;
	matched = failures = 0;
	rng = p->seed * 0x9E3779B97F4A7C15ull | 1;
	gort__lock_release(&lock);
	atomic_store_explicit(&gort__inject_armed, true, memory_order_release);
}

void gort__inject_disarm(void)
{
	atomic_store_explicit(&gort__inject_armed, false, memory_order_release);
	gort__lock_acquire(&lock);
	memset(&plan, 0, sizeof plan);
	gort__lock_release(&lock);
}

uint64_t gort__inject_failures(void)
{
	gort__lock_acquire(&lock);
	uint64_t f = failures;
	gort__lock_release(&lock);
	return f;
}

int gort__inject_points(struct gort__inject_point *out, int max)
{
	gort__lock_acquire(&lock);
	int n = npoints;
	for (int i = 0; i < n && i < max; i++)
		out[i] = points[i];
	gort__lock_release(&lock);
	return n;
}

void gort__inject_points_reset(void)
{
	gort__lock_acquire(&lock);
	npoints = 0;
	gort__lock_release(&lock);
}

/* (lock) The point's record, made on first use; NULL when the table is
 * full (the call is still decided, just not recorded). */
static struct gort__inject_point *point(int kind, const char *file, int line)
{
	for (int i = 0; i < npoints; i++)
		if (points[i].line == line && points[i].kind == kind && strcmp(points[i].file, file) == 0)
			return &points[i];
	if (npoints == MAX_POINTS)
		return NULL;
	struct gort__inject_point *pt = &points[npoints++];
	*pt = (struct gort__inject_point){.file = file, .line = line, .kind = kind};
	return pt;
}

bool gort__inject_fail(int kind, const char *file, int line)
{
	static const int err[GORT__FAULT_COUNT_] = {
		[GORT__FAULT_MMAP] = ENOMEM,
		[GORT__FAULT_ALLOC] = ENOMEM,
		[GORT__FAULT_THREAD] = EAGAIN,
		[GORT__FAULT_FD] = EMFILE,
	};
	bool fail = false;
	gort__lock_acquire(&lock);
	if (plan.kinds & (1u << kind)) {
		struct gort__inject_point *pt = point(kind, file, line);
		matched++;
		if (plan.nth && (matched == plan.nth || (plan.every && matched > plan.nth)))
			fail = true;
		if (plan.ppm) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			if (rng % 1000000 < plan.ppm)
				fail = true;
		}
		if (pt) {
			pt->calls++;
			pt->failed += fail;
		}
		failures += fail;
	}
	gort__lock_release(&lock);
	if (fail)
		errno = err[kind];
	return fail;
}
