/*
 * leakcheck.c — goleak, built in: wait for coroutines to exit, then report
 * what is left, the contexts whose cancel was dropped, the channels nobody
 * owns any more with coroutines waiting on them, and the wait groups that
 * can no longer reach zero.
 *
 * Owns: the lost-cancel registry (lost_lock guards its list; context.c
 * adds a node when its last handle is released while it is neither done
 * nor cancelled, and removes it when it is cancelled or freed, under the
 * node's own lock, so: node lock -> lost_lock).
 *
 * Method: snapshots of every live coroutine (dump.c) taken until only the
 * caller and the ignored ones are left or the grace period is over; the
 * wait between snapshots doubles from 10 us up to 100 ms (goleak's
 * back-off), parking the caller if it is a coroutine.  Channels and wait
 * groups are judged by the wait objects of the coroutines that leaked, so
 * nothing is dereferenced that no leaked coroutine still waits on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../channel/chan.h"
#include "debug.h"

/* ------------------------------------------------------------------ */
/* Lost-cancel registry                                                */
/* ------------------------------------------------------------------ */

static gort__lock lost_lock = GORT__LOCK_INIT;
static struct gort__lost_ctx *lost_head; /* (lost_lock) */

void gort__lost_ctx_add(struct gort__lost_ctx *l)
{
	gort__lock_acquire(&lost_lock);
	l->prev = NULL;
	l->next = lost_head;
	if (lost_head)
		lost_head->prev = l;
	lost_head = l;
	gort__lock_release(&lost_lock);
}

void gort__lost_ctx_remove(struct gort__lost_ctx *l)
{
	gort__lock_acquire(&lost_lock);
	if (l->prev)
		l->prev->next = l->next;
	else if (lost_head == l)
		lost_head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	l->next = l->prev = NULL;
	gort__lock_release(&lost_lock);
}

void gort__lost_ctx_reset(void)
{
	gort__lock_acquire(&lost_lock);
	struct gort__lost_ctx *l = lost_head;
	lost_head = NULL;
	while (l) {
		struct gort__lost_ctx *n = l->next;
		l->next = l->prev = NULL; /* a later remove finds it unlinked */
		l = n;
	}
	gort__lock_release(&lost_lock);
}

void gort__lost_ctx_each(void (*fn)(const struct gort__lost_ctx *l, void *arg), void *arg)
{
	gort__lock_acquire(&lost_lock);
	for (struct gort__lost_ctx *l = lost_head; l; l = l->next)
		fn(l, arg);
	gort__lock_release(&lost_lock);
}

/* ------------------------------------------------------------------ */
/* Baselines                                                           */
/* ------------------------------------------------------------------ */

struct gort_leak_baseline {
	int64_t n;
	int64_t ids[]; /* sorted */
};

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

gort_leak_baseline *gort_leak_baseline_take(void)
{
	if (!gort_running())
		return NULL;
	int64_t n;
	struct gort__gsnap *s = gort__gsnap_all(&n);
	if (n < 0)
		return NULL;
	gort_leak_baseline *b = gort__sys_malloc(sizeof *b + (size_t)n * sizeof(int64_t));
	if (!b) {
		gort__sys_free(s);
		return NULL;
	}
	gort_id self = gort_self();
	b->n = 0;
	for (int64_t i = 0; i < n; i++)
		if (s[i].id != self)
			b->ids[b->n++] = s[i].id;
	gort__sys_free(s);
	qsort(b->ids, (size_t)b->n, sizeof b->ids[0], cmp_id);
	return b;
}

void gort_leak_baseline_free(gort_leak_baseline *b)
{
	gort__sys_free(b);
}

static bool in_baseline(const gort_leak_baseline *b, int64_t id)
{
	return b && bsearch(&id, b->ids, (size_t)b->n, sizeof id, cmp_id);
}

/* ------------------------------------------------------------------ */
/* Filters                                                             */
/* ------------------------------------------------------------------ */

/* Does the recorded file `file` match pattern file `pf` (pf_len bytes):
 * equal, or a tail of it that starts after a '/'? */
static bool file_matches(const char *file, const char *pf, size_t pf_len)
{
	if (!file)
		return false;
	size_t fl = strlen(file);
	if (fl < pf_len || memcmp(file + fl - pf_len, pf, pf_len) != 0)
		return false;
	return fl == pf_len || file[fl - pf_len - 1] == '/';
}

static bool site_matches(const char *pattern, const char *file, int line)
{
	const char *colon = strrchr(pattern, ':');
	if (colon && colon[1]) {
		char *end;
		long l = strtol(colon + 1, &end, 10);
		if (*end == 0)
			return l == line && file_matches(file, pattern, (size_t)(colon - pattern));
	}
	return file_matches(file, pattern, strlen(pattern));
}

static bool ignored(const gort_leak_opts *o, const struct gort__gsnap *s, gort_id self)
{
	if (s->id == self || in_baseline(o->baseline, s->id))
		return true;
	if (s->state == GORT__G_WAITING && (o->ignore_reasons & (1u << s->reason)))
		return true;
	for (const char *const *p = o->ignore_sites; p && *p; p++)
		if (site_matches(*p, s->spawn_file, s->spawn_line))
			return true;
	for (const char *const *p = o->ignore_names; p && *p; p++)
		if (strcmp(*p, s->name) == 0)
			return true;
	return false;
}

/* Take a snapshot and keep only what counts as leaked; *n gets how many
 * (-1 if memory is short). */
static struct gort__gsnap *leaked_now(const gort_leak_opts *o, int64_t *n)
{
	struct gort__gsnap *s = gort__gsnap_all(n);
	if (*n <= 0)
		return s;
	gort_id self = gort_self();
	int64_t k = 0;
	for (int64_t i = 0; i < *n; i++)
		if (!ignored(o, &s[i], self))
			s[k++] = s[i];
	*n = k;
	return s;
}

static void pause_ns(int64_t ns)
{
	if (gort_self()) {
		gort_sleep(ns);
		return;
	}
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Reports                                                             */
/* ------------------------------------------------------------------ */

struct lost_print {
	FILE *f;
	int64_t n;
	bool quiet;
};

static void lost_one(const struct gort__lost_ctx *l, void *arg)
{
	struct lost_print *lp = arg;
	lp->n++;
	if (lp->quiet)
		return;
	fprintf(lp->f,
		"gort: leak check: context created at %s:%d was released without gort_ctx_cancel and "
		"is not done (lostcancel): its parent keeps it ",
		l->file ? l->file : "?", l->line);
	if (l->has_deadline) {
		fputs("until its deadline, in ", lp->f);
		int64_t left = l->deadline - gort__nanotime();
		gort__print_duration(lp->f, left > 0 ? left : 0);
		fputs("\n", lp->f);
	} else {
		fputs("until the parent is cancelled\n", lp->f);
	}
}

static int by_obj(const void *a, const void *b)
{
	const struct gort__gsnap *x = a, *y = b;
	uintptr_t p = (uintptr_t)x->wait_obj, q = (uintptr_t)y->wait_obj;
	return p < q ? -1 : p > q;
}

static bool is_chan_wait(const struct gort__gsnap *s)
{
	return s->state == GORT__G_WAITING &&
	       (s->reason == GORT__WR_CHAN_SEND || s->reason == GORT__WR_CHAN_RECV);
}

/* Orphaned channels that leaked coroutines wait on (s sorted by
 * wait_obj). */
struct orphan_scan {
	const struct gort__gsnap *s;
	int64_t n;
	FILE *f;
	bool quiet;
	int64_t found;
};

static void orphan_one(const struct gort_chan *c, void *arg)
{
	struct orphan_scan *os = arg;
	int64_t waiters = 0;
	const struct gort__gsnap *first = NULL;
	for (int64_t i = 0; i < os->n; i++)
		if (is_chan_wait(&os->s[i]) && os->s[i].wait_obj == c) {
			waiters++;
			if (!first)
				first = &os->s[i];
		}
	if (!waiters)
		return;
	os->found++;
	if (os->quiet)
		return;
	fprintf(os->f,
		"gort: leak check: channel %p (%zu-byte elements, capacity %zu) was released by every "
		"owner while %lld coroutine%s wait%s on it (first blocked at %s:%d): nothing can ever "
		"wake them\n",
		(const void *)c, c->elemsize, c->cap, (long long)waiters, waiters == 1 ? "" : "s",
		waiters == 1 ? "s" : "", first->wait_file ? first->wait_file : "?", first->wait_line);
}

/* Wait groups whose waiters all leaked (s sorted by wait_obj). */
static int64_t report_waitgroups(struct gort__gsnap *s, int64_t n, FILE *f, bool quiet)
{
	int64_t found = 0;
	for (int64_t i = 0; i < n;) {
		if (s[i].state != GORT__G_WAITING || s[i].reason != GORT__WR_WAITGROUP || !s[i].wait_obj) {
			i++;
			continue;
		}
		int64_t j = i;
		while (j < n && s[j].wait_obj == s[i].wait_obj && s[j].state == GORT__G_WAITING &&
		       s[j].reason == GORT__WR_WAITGROUP)
			j++;
		int64_t counter = gort__wg_counter(s[i].wait_obj);
		if (counter > 0) {
			found++;
			if (!quiet)
				fprintf(f,
					"gort: leak check: wait group %p has counter %lld and %lld waiter%s, "
					"all leaked (first blocked at %s:%d): nothing left calls done, it can "
					"never reach zero\n",
					s[i].wait_obj, (long long)counter, (long long)(j - i),
					j - i == 1 ? "" : "s", s[i].wait_file ? s[i].wait_file : "?",
					s[i].wait_line);
		}
		i = j;
	}
	return found;
}

int64_t gort_leakcheck(const gort_leak_opts *opts)
{
	static const gort_leak_opts none;
	const gort_leak_opts *o = opts ? opts : &none;
	if (!gort_running())
		return -ESRCH;
	FILE *f = o->out ? o->out : stderr;
	int64_t grace = o->grace_ns == 0 ? INT64_C(1000000000) : o->grace_ns < 0 ? 0 : o->grace_ns;
	int64_t start = gort__nanotime(), step = 10000;
	int64_t deadline = grace > INT64_MAX - start ? INT64_MAX : start + grace; /* saturate */
	int64_t n;
	struct gort__gsnap *s;
	for (;;) {
		s = leaked_now(o, &n);
		if (n < 0)
			return -ENOMEM;
		int64_t now = gort__nanotime();
		if (n == 0 || now >= deadline)
			break;
		gort__sys_free(s);
		pause_ns(step < deadline - now ? step : deadline - now);
		if (step < 100000000)
			step *= 2;
	}
	gort_leak_report r = {.coroutines = n};
	if (n && !o->quiet) {
		fprintf(f, "gort: leak check: %lld coroutine%s still alive after ", (long long)n,
			n == 1 ? "" : "s");
		gort__print_duration(f, gort__nanotime() - start);
		fputs(":\n\n", f);
		gort__dump_snaps(f, s, n, GORT_DUMP_GROUPED);
	}
	struct lost_print lp = {.f = f, .quiet = o->quiet};
	gort__lost_ctx_each(lost_one, &lp);
	r.contexts = lp.n;
	if (n) {
		qsort(s, (size_t)n, sizeof *s, by_obj);
		struct orphan_scan os = {.s = s, .n = n, .f = f, .quiet = o->quiet};
		gort__chan_orphans_each(orphan_one, &os);
		r.channels = os.found;
		r.waitgroups = report_waitgroups(s, n, f, o->quiet);
	}
	gort__sys_free(s);
	if (o->report)
		*o->report = r;
	int64_t total = r.coroutines + r.contexts + r.channels + r.waitgroups;
	if (!o->quiet)
		fflush(f);
	return total;
}
