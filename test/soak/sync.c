/*
 * sync.c — the soak's sync traffic: mutex, rwmutex, weighted semaphore,
 * once and errgroup workers, sharing one struct soak_sync per round.
 *
 * Invariants, checked as they run and at the end of the round:
 *   mutex      one holder at a time (an atomic holder count inside the
 *              critical section); a plain counter changed only under the
 *              lock equals the atomic count of increments; a lock_ctx
 *              that failed holds nothing (the holder count would show it,
 *              and the final trylock).  A panic inside the critical
 *              section unlocks through a deferred call.
 *   rwmutex    no reader while a writer holds it, one writer at a time; a
 *              reader reads the writers' plain counter twice and sees one
 *              value; writes counted exactly.
 *   semaphore  the units held (an atomic sum) never exceed its weight; a
 *              request over the weight never succeeds (it times out);
 *              everything is released at the end, a release of more than
 *              held panics.
 *   once       its function ran exactly once, whoever raced.
 *   errgroup   every member ran; at most `limit` at once; gort_group_wait
 *              returns 0, or the planned failure's code (or the round's
 *              cancel, when the round ended under it); its context is done
 *              after the wait.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void once_fn(void *arg)
{
	struct soak_sync *s = arg;
	atomic_fetch_add(&s->once_runs, 1);
}

/* Some work inside a critical section: nothing, a yield, a short sleep. */
static void hold_a_while(soak_rng *rng)
{
	unsigned x = rng_below(rng, 20);
	if (x == 0)
		gort_sleep(rng_range(rng, 0, 20 * GORT_US));
	else if (x < 4)
		gort_yield();
}

/* ---------------------------------------------------------------- mutex */

struct mu_cs {
	struct soak_sync *s;
	soak_rng *rng;
	unsigned pct;
};

static void mu_enter(struct soak_sync *s)
{
	int h = atomic_fetch_add(&s->mu_holders, 1);
	SOAK_CHECK(h == 0, "mutex: %d other holders inside the critical section", h);
	s->mu_plain++;
	atomic_fetch_add(&s->mu_incs, 1);
}

static void mu_leave_defer(void *arg)
{
	struct soak_sync *s = arg;
	atomic_fetch_sub(&s->mu_holders, 1);
	gort_mutex_unlock(&s->mu);
}

static void mu_cs_body(void *arg)
{
	struct mu_cs *c = arg;
	GORT_DEFER(mu_leave_defer, c->s); /* the unlock runs on a panic too */
	mu_enter(c->s);
	hold_a_while(c->rng);
	soak_maybe_panic(c->rng, c->pct, "holding the mutex");
}

static void mutex_worker(void *arg)
{
	struct soak_warg *w = arg;
	struct soak_round *r = w->r;
	struct soak_sync *s = &r->sync;
	while (!soak_stopping(r)) {
		gort_once_do(&s->once, once_fn, s);
		bool got = false;
		switch (rng_below(&w->rng, 4)) {
		case 0:
		case 1:
			gort_mutex_lock(&s->mu);
			got = true;
			break;
		case 2:
			got = gort_mutex_trylock(&s->mu);
			break;
		default: {
			gort_ctx *ctx = soak_ctx_timeout(r->ctx, &w->rng, r->mix.timeout_max);
			int rc = gort_mutex_lock_ctx(ctx, &s->mu);
			SOAK_CHECK(rc == 0 || rc == GORT_CANCELED || rc == GORT_DEADLINE_EXCEEDED,
				   "mutex_lock_ctx returned %d", rc);
			got = rc == 0;
			soak_ctx_done(ctx);
		}
		}
		soak_ops(1);
		if (!got) {
			soak_yield();
			continue;
		}
		if (rng_pct(&w->rng, 30)) {
			struct mu_cs c = {s, &w->rng, (unsigned)r->mix.panic_pct};
			soak_protect(mu_cs_body, &c);
		} else {
			mu_enter(s);
			hold_a_while(&w->rng);
			atomic_fetch_sub(&s->mu_holders, 1);
			gort_mutex_unlock(&s->mu);
		}
	}
	free(w);
}

/* -------------------------------------------------------------- rwmutex */

static void rw_worker(void *arg)
{
	struct soak_warg *w = arg;
	struct soak_round *r = w->r;
	struct soak_sync *s = &r->sync;
	while (!soak_stopping(r)) {
		bool writer = rng_pct(&w->rng, 25), got = false;
		unsigned form = rng_below(&w->rng, 3);
		if (form == 0) {
			writer ? gort_rwmutex_lock(&s->rw) : gort_rwmutex_rlock(&s->rw);
			got = true;
		} else if (form == 1) {
			got = writer ? gort_rwmutex_trylock(&s->rw) : gort_rwmutex_tryrlock(&s->rw);
		} else {
			gort_ctx *ctx = soak_ctx_timeout(r->ctx, &w->rng, r->mix.timeout_max);
			int rc = writer ? gort_rwmutex_lock_ctx(ctx, &s->rw)
					: gort_rwmutex_rlock_ctx(ctx, &s->rw);
			SOAK_CHECK(rc == 0 || rc == GORT_CANCELED || rc == GORT_DEADLINE_EXCEEDED,
				   "rwmutex %s_ctx returned %d", writer ? "lock" : "rlock", rc);
			got = rc == 0;
			soak_ctx_done(ctx);
		}
		soak_ops(1);
		if (!got) {
			soak_yield();
			continue;
		}
		if (writer) {
			int wr = atomic_fetch_add(&s->rw_writers, 1), rd = atomic_load(&s->rw_readers);
			SOAK_CHECK(wr == 0 && rd == 0, "rwmutex: a writer got in with %d writers, %d readers",
				   wr, rd);
			s->rw_plain++;
			atomic_fetch_add(&s->rw_writes, 1);
			hold_a_while(&w->rng);
			atomic_fetch_sub(&s->rw_writers, 1);
			gort_rwmutex_unlock(&s->rw);
		} else {
			atomic_fetch_add(&s->rw_readers, 1);
			int wr = atomic_load(&s->rw_writers);
			SOAK_CHECK(wr == 0, "rwmutex: a reader got in with %d writers", wr);
			long v1 = s->rw_plain;
			hold_a_while(&w->rng);
			long v2 = s->rw_plain;
			SOAK_CHECK(v1 == v2, "rwmutex: a reader saw the value change (%ld, %ld)", v1, v2);
			atomic_fetch_sub(&s->rw_readers, 1);
			gort_rwmutex_runlock(&s->rw);
		}
	}
	free(w);
}

/* ------------------------------------------------------------ semaphore */

struct sem_cs {
	struct soak_sync *s;
	int64_t n;
	soak_rng *rng;
	unsigned pct;
};

static void sem_hold(struct soak_sync *s, int64_t n, int64_t weight)
{
	long in = atomic_fetch_add(&s->sem_in_use, n) + n;
	SOAK_CHECK(in <= weight, "semaphore: %ld units in use, weight %lld", in, (long long)weight);
}

static void sem_release_defer(void *arg)
{
	struct sem_cs *c = arg;
	atomic_fetch_sub(&c->s->sem_in_use, c->n);
	gort_sem_release(c->s->sem, c->n);
}

static void sem_cs_body(void *arg)
{
	struct sem_cs *c = arg;
	GORT_DEFER(sem_release_defer, c);
	hold_a_while(c->rng);
	soak_maybe_panic(c->rng, c->pct, "holding semaphore units");
}

static void sem_worker(void *arg)
{
	struct soak_warg *w = arg;
	struct soak_round *r = w->r;
	struct soak_sync *s = &r->sync;
	int64_t weight = r->mix.sem_weight;
	while (!soak_stopping(r)) {
		int64_t n = 1 + rng_below(&w->rng, (uint32_t)weight);
		bool got = false;
		unsigned form = rng_below(&w->rng, 20);
		if (form < 8) {
			SOAK_CHECK(gort_sem_acquire(s->sem, n) == 0, "sem_acquire failed");
			got = true;
		} else if (form < 12) {
			got = gort_sem_try_acquire(s->sem, n);
		} else {
			bool over = form == 19; /* more than the weight: never granted */
			if (over)
				n = weight + 1;
			gort_ctx *ctx = soak_ctx_timeout(r->ctx, &w->rng, r->mix.timeout_max);
			int rc = gort_sem_acquire_ctx(ctx, s->sem, n);
			SOAK_CHECK(over ? rc != 0 : 1, "semaphore: %lld units of a weight of %lld granted",
				   (long long)n, (long long)weight);
			SOAK_CHECK(rc == 0 || rc == GORT_CANCELED || rc == GORT_DEADLINE_EXCEEDED,
				   "sem_acquire_ctx returned %d", rc);
			got = rc == 0;
			soak_ctx_done(ctx);
		}
		soak_ops(1);
		if (!got) {
			soak_yield();
			continue;
		}
		sem_hold(s, n, weight);
		struct sem_cs c = {s, n, &w->rng, (unsigned)r->mix.panic_pct};
		if (rng_pct(&w->rng, 30)) {
			soak_protect(sem_cs_body, &c);
		} else {
			hold_a_while(&w->rng);
			sem_release_defer(&c);
		}
	}
	free(w);
}

/* ------------------------------------------------------------- errgroup */

struct gstate {
	struct soak_round *r;
	int limit, fail_at, code;
	atomic_int running, max_running, ran;
	int64_t tmax;
};

struct gmember {
	struct gstate *st;
	int idx;
	int64_t work;
};

static int member(gort_ctx *ctx, void *arg)
{
	struct gmember *m = arg;
	struct gstate *st = m->st;
	int now = atomic_fetch_add(&st->running, 1) + 1;
	int seen = atomic_load(&st->max_running);
	while (now > seen && !atomic_compare_exchange_weak(&st->max_running, &seen, now))
		;
	atomic_fetch_add(&st->ran, 1);
	int rc;
	if (m->idx == st->fail_at) {
		gort_sleep(m->work / 4);
		rc = st->code;
	} else {
		rc = gort_sleep_ctx(ctx, m->work);
		SOAK_CHECK(rc == 0 || rc == GORT_CANCELED, "errgroup member: sleep_ctx returned %d", rc);
	}
	atomic_fetch_sub(&st->running, 1);
	soak_ops(1);
	return rc;
}

static void group_worker(void *arg)
{
	struct soak_warg *w = arg;
	struct soak_round *r = w->r;
	enum { MEMBERS_MAX = 8 };
	while (!soak_stopping(r)) {
		gort_group *g = gort_group_new(r->ctx);
		if (g == NULL) {
			SOAK_FAIL("gort_group_new failed");
			break;
		}
		soak_obj(1);
		struct gstate st = {.r = r, .limit = (int)rng_below(&w->rng, 4)};
		int n = 1 + (int)rng_below(&w->rng, MEMBERS_MAX);
		st.fail_at = rng_pct(&w->rng, 30) ? (int)rng_below(&w->rng, (uint32_t)n) : -1;
		st.code = -(1000 + (int)rng_below(&w->rng, 100));
		gort_group_set_limit(g, st.limit);
		struct gmember m[MEMBERS_MAX];
		for (int i = 0; i < n; i++) {
			m[i] = (struct gmember){&st, i, rng_range(&w->rng, 0, r->mix.timeout_max)};
			int rc;
			if (st.limit > 0 && rng_pct(&w->rng, 30)) {
				rc = gort_group_try_go(g, member, &m[i]);
				if (rc == -EBUSY)
					rc = gort_group_go(g, member, &m[i]);
			} else {
				rc = gort_group_go(g, member, &m[i]);
			}
			SOAK_CHECK(rc == 0, "gort_group_go returned %d", rc);
			atomic_fetch_add(&r->spawned, 1);
		}
		int rc = gort_group_wait(g);
		bool round_over = gort_ctx_err(r->ctx) != 0;
		SOAK_CHECK(atomic_load(&st.ran) == n, "errgroup: %d of %d members ran",
			   atomic_load(&st.ran), n);
		SOAK_CHECK(st.limit == 0 || atomic_load(&st.max_running) <= st.limit,
			   "errgroup: %d members at once, limit %d", atomic_load(&st.max_running),
			   st.limit);
		SOAK_CHECK(rc == (st.fail_at >= 0 ? st.code : 0) || (round_over && rc == GORT_CANCELED),
			   "errgroup: wait returned %d, expected %d (%d members, limit %d)", rc,
			   st.fail_at >= 0 ? st.code : 0, n, st.limit);
		SOAK_CHECK(gort_ctx_err(gort_group_ctx(g)) != 0,
			   "errgroup: its context is not done after the wait");
		gort_group_free(g);
		soak_obj(-1);
		soak_ops(1);
	}
	free(w);
}

/* ---------------------------------------------------------------- start */

void sync_start(struct soak_round *r)
{
	struct soak_sync *s = &r->sync;
	s->sem = gort_sem_new(r->mix.sem_weight);
	SOAK_CHECK(s->sem != NULL, "gort_sem_new failed");
	soak_obj(1);
	static const struct {
		int kind;
		void (*fn)(void *);
		const char *name;
	} kinds[] = {{K_MUTEX, mutex_worker, "mutex"},
		     {K_RW, rw_worker, "rwmutex"},
		     {K_SEM, sem_worker, "semaphore"},
		     {K_GROUP, group_worker, "errgroup"}};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		soak_spawn_kind(r, kinds[k].kind, kinds[k].fn, kinds[k].name);
}

struct over_release {
	gort_sem *sem;
	char msg[GORT_PANIC_MSG_MAX];
};

static void over_release_recover(void *arg)
{
	struct over_release *o = arg;
	const gort_panic_info *i = gort_recover();
	if (i != NULL)
		snprintf(o->msg, sizeof o->msg, "%s", i->message);
}

static void over_release_body(void *arg)
{
	struct over_release *o = arg;
	GORT_DEFER(over_release_recover, o);
	gort_sem_release(o->sem, 1);
}

/* After the join: the shared state is back where it started. */
void sync_check(struct soak_round *r)
{
	struct soak_sync *s = &r->sync;
	bool any_mutex = r->mix.count[K_MUTEX] > 0;
	SOAK_CHECK(s->mu_plain == atomic_load(&s->mu_incs),
		   "mutex: the protected counter is %ld, %ld increments were made", s->mu_plain,
		   atomic_load(&s->mu_incs));
	SOAK_CHECK(atomic_load(&s->mu_holders) == 0, "mutex: %d holders left",
		   atomic_load(&s->mu_holders));
	SOAK_CHECK(gort_mutex_trylock(&s->mu), "mutex: still locked at the end of the round");
	gort_mutex_unlock(&s->mu);
	SOAK_CHECK(!any_mutex || atomic_load(&s->once_runs) == 1, "once: ran %d times",
		   atomic_load(&s->once_runs));

	SOAK_CHECK(s->rw_plain == atomic_load(&s->rw_writes),
		   "rwmutex: the protected counter is %ld, %ld writes were made", s->rw_plain,
		   atomic_load(&s->rw_writes));
	SOAK_CHECK(atomic_load(&s->rw_readers) == 0 && atomic_load(&s->rw_writers) == 0,
		   "rwmutex: %d readers, %d writers left", atomic_load(&s->rw_readers),
		   atomic_load(&s->rw_writers));
	SOAK_CHECK(gort_rwmutex_trylock(&s->rw), "rwmutex: still held at the end of the round");
	gort_rwmutex_unlock(&s->rw);

	SOAK_CHECK(atomic_load(&s->sem_in_use) == 0, "semaphore: %ld units still in use",
		   atomic_load(&s->sem_in_use));
	SOAK_CHECK(gort_sem_try_acquire(s->sem, r->mix.sem_weight),
		   "semaphore: its %d units are not all free at the end of the round",
		   r->mix.sem_weight);
	gort_sem_release(s->sem, r->mix.sem_weight);
	struct over_release o = {.sem = s->sem};
	int rc = gort_protect(over_release_body, &o, NULL);
	SOAK_CHECK(rc == GORT_PANICKED && strstr(o.msg, "released more than held") != NULL,
		   "semaphore: a release of more than held: gort_protect %d, panic \"%s\"", rc, o.msg);
	gort_sem_free(s->sem);
	s->sem = NULL;
	soak_obj(-1);
}
