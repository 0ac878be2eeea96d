/*
 * spawn.c — the soak's spawn bursts, panic nests and blocking calls.
 *
 * Spawn bursts: a burst of 1..burst_max coroutines (the round's stack
 * size) that yield, sleep, spawn a grandchild (every 8th), or panic; a panicking
 * child runs under a per-spawn handler (.on_panic), its coroutine-level
 * defers first.  The burst's owner waits (a wait group) and checks that
 * every child ran, every defer of a panicking child ran, and every
 * handler was called (the handler itself calls done, so the wait implies
 * it).
 * Panic nests: nested gort_protect regions (up to 6), each with deferred
 * calls; a panic (a message or a value) at a random level, recovered at a
 * random level at or above it: exactly that region's gort_protect returns
 * GORT_PANICKED with the panic's record, every deferred call runs once and
 * in LIFO order within its region, gort_recover outside a deferred call
 * returns NULL.
 * Blocking calls: gort_syscall_enter, a nanosleep, gort_syscall_exit.
 */
#include "soak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------- spawn bursts */

struct burst {
	struct soak_round *r;
	uint64_t seed;
	gort_wg wg;
	atomic_int ran, defers, handled, grandchildren;
	size_t stack;
};

struct child {
	struct burst *b;
	uint32_t idx;
	bool panics;
};

static void grandchild(void *arg)
{
	struct burst *b = arg;
	atomic_fetch_add(&b->grandchildren, 1);
	gort_yield();
	gort_wg_done(&b->wg);
}

static void child_defer(void *arg)
{
	struct burst *b = arg;
	atomic_fetch_add(&b->defers, 1);
}

static void child_handler(const gort_panic_info *info, void *ctx)
{
	struct burst *b = ctx;
	SOAK_CHECK(strncmp(info->message, "soak panic", 10) == 0,
		   "burst: a child's handler got an unexpected panic: %s", info->message);
	atomic_fetch_add(&b->handled, 1);
	atomic_fetch_add(&b->r->handler_ran, 1);
	gort_wg_done(&b->wg);
}

static void child_fn(void *arg)
{
	struct child *c = arg;
	struct burst *b = c->b;
	soak_rng rng = {soak_mix64(b->seed ^ c->idx)};
	atomic_fetch_add(&b->ran, 1);
	if (c->panics) {
		GORT_DEFER(child_defer, b);
		if (rng_pct(&rng, 50))
			gort_yield();
		gort_panic("soak panic: burst child %u", c->idx);
	}
	/* Every 8th child spawns a grandchild (a fixed share: the burst's
	 * peak number of stacks is the same every time, so the warm-up's
	 * largest bursts reach it). */
	if (c->idx % 8 == 3) {
		gort_wg_add(&b->wg, 1);
		soak_go(b->r, grandchild, b, "burst-grandchild", b->stack);
	}
	switch (rng_below(&rng, 8)) {
	case 0:
	case 1:
		gort_yield();
		break;
	case 2:
		gort_sleep(rng_range(&rng, 0, 50 * GORT_US));
		break;
	default:
		break;
	}
	gort_wg_done(&b->wg);
}

static void burst_worker(void *arg)
{
	struct burst *b = arg;
	struct soak_round *r = b->r;
	soak_rng rng = {b->seed};
	uint32_t bursts = 0;
	while (!soak_stopping(r)) {
		int n = r->warmup ? r->mix.burst_max : 1 + (int)rng_below(&rng, (uint32_t)r->mix.burst_max);
		b->stack = r->mix.burst_stack;
		b->seed = rng_next(&rng);
		atomic_store(&b->ran, 0);
		atomic_store(&b->defers, 0);
		atomic_store(&b->handled, 0);
		atomic_store(&b->grandchildren, 0);
		struct child *cs = calloc((size_t)n, sizeof *cs);
		if (cs == NULL) {
			SOAK_FAIL("out of memory");
			break;
		}
		int panickers = 0;
		for (int i = 0; i < n; i++) {
			cs[i] = (struct child){b, (uint32_t)i, rng_pct(&rng, (unsigned)r->mix.panic_pct)};
			panickers += cs[i].panics;
			gort_wg_add(&b->wg, 1);
			if (cs[i].panics) {
				atomic_fetch_add(&r->handler_expected, 1);
				gort_id id = gort_go_with(child_fn, &cs[i], .name = "burst-panicker",
							  .stack_size = b->stack, .on_panic = child_handler,
							  .on_panic_ctx = b);
				SOAK_CHECK(id > 0, "gort_go_with returned %lld", (long long)id);
				atomic_fetch_add(&r->spawned, 1);
				atomic_fetch_add_explicit(&soak_t.spawns, 1, memory_order_relaxed);
			} else {
				soak_go(r, child_fn, &cs[i], "burst-child", b->stack);
			}
		}
		gort_wg_wait(&b->wg);
		SOAK_CHECK(atomic_load(&b->ran) == n && atomic_load(&b->handled) == panickers &&
				   atomic_load(&b->defers) == panickers,
			   "burst %u: %d of %d children ran, %d of %d panic handlers and %d defers ran",
			   bursts, atomic_load(&b->ran), n, atomic_load(&b->handled), panickers,
			   atomic_load(&b->defers));
		atomic_fetch_add_explicit(&soak_t.panics, (unsigned)panickers, memory_order_relaxed);
		free(cs);
		soak_ops((uint64_t)n);
		bursts++;
	}
	free(b);
}


/* ----------------------------------------------------------------- panics */

enum { LEVELS_MAX = 6, LEVEL_DEFERS_MAX = 3 };

struct pnest {
	soak_rng *rng;
	int depth, panic_at, recover_at; /* panic_at -1: no panic */
	bool by_value;
	uint64_t token;
	int expected_defers;
	int defers_ran;
	int next[LEVELS_MAX]; /* per level: the index of the defer due next */
	int recovered_level;
	struct pdefer {
		struct pnest *p;
		int level, index;
	} defers[LEVELS_MAX][LEVEL_DEFERS_MAX];
	struct plevel {
		struct pnest *p;
		int level;
	} levels[LEVELS_MAX];
};

static void count_defer(void *arg)
{
	struct pdefer *d = arg;
	struct pnest *p = d->p;
	SOAK_CHECK(p->next[d->level] == d->index,
		   "panic nest: level %d ran defer %d, expected %d (not LIFO)", d->level, d->index,
		   p->next[d->level]);
	p->next[d->level] = d->index - 1;
	p->defers_ran++;
}

static void recover_defer(void *arg)
{
	struct plevel *l = arg;
	struct pnest *p = l->p;
	const gort_panic_info *i = gort_recover();
	SOAK_CHECK(i != NULL, "panic nest: nothing to recover at level %d", l->level);
	if (i == NULL)
		return;
	char want[64];
	snprintf(want, sizeof want, "soak panic: nest %llx", (unsigned long long)p->token);
	SOAK_CHECK(p->by_value ? i->value == &soak_panic_token : strcmp(i->message, want) == 0,
		   "panic nest: recovered \"%s\" (value %p)", i->message, i->value);
	p->recovered_level = l->level;
}

static void level_fn(void *arg)
{
	struct plevel *l = arg;
	struct pnest *p = l->p;
	int L = l->level;
	SOAK_CHECK(gort_recover() == NULL, "gort_recover outside a deferred call returned a record");
	int k = 1 + (int)rng_below(p->rng, LEVEL_DEFERS_MAX);
	for (int i = 0; i < k; i++) {
		p->defers[L][i] = (struct pdefer){p, L, i};
		GORT_DEFER(count_defer, &p->defers[L][i]);
	}
	p->next[L] = k - 1;
	p->expected_defers += k;
	if (L == p->recover_at)
		GORT_DEFER(recover_defer, l);
	if (L + 1 < p->depth) {
		gort_panic_info info;
		int rc = gort_protect(level_fn, &p->levels[L + 1], &info);
		int want = p->recover_at == L + 1 ? GORT_PANICKED : 0;
		SOAK_CHECK(rc == want, "panic nest: region %d returned %d, expected %d (panic at %d, "
				       "recover at %d)",
			   L + 1, rc, want, p->panic_at, p->recover_at);
	}
	if (L == p->panic_at) {
		if (p->by_value)
			gort_panic_value(&soak_panic_token);
		gort_panic("soak panic: nest %llx", (unsigned long long)p->token);
	}
}

static void panic_worker(void *arg)
{
	struct soak_warg *w = arg;
	while (!soak_stopping(w->r)) {
		struct pnest *p = calloc(1, sizeof *p);
		if (p == NULL) {
			SOAK_FAIL("out of memory");
			break;
		}
		p->rng = &w->rng;
		p->depth = 1 + (int)rng_below(&w->rng, LEVELS_MAX);
		p->panic_at = rng_pct(&w->rng, 80) ? (int)rng_below(&w->rng, (uint32_t)p->depth) : -1;
		p->recover_at = p->panic_at < 0 ? -1 : (int)rng_below(&w->rng, (uint32_t)p->panic_at + 1);
		p->by_value = rng_pct(&w->rng, 30);
		p->token = rng_next(&w->rng);
		p->recovered_level = -1;
		for (int i = 0; i < LEVELS_MAX; i++)
			p->levels[i] = (struct plevel){p, i};
		int rc = gort_protect(level_fn, &p->levels[0], NULL);
		SOAK_CHECK(rc == (p->recover_at == 0 ? GORT_PANICKED : 0),
			   "panic nest: the outer region returned %d (panic at %d, recover at %d)", rc,
			   p->panic_at, p->recover_at);
		SOAK_CHECK(p->recovered_level == p->recover_at,
			   "panic nest: recovered at level %d, expected %d", p->recovered_level,
			   p->recover_at);
		SOAK_CHECK(p->defers_ran == p->expected_defers, "panic nest: %d of %d defers ran",
			   p->defers_ran, p->expected_defers);
		if (p->panic_at >= 0)
			atomic_fetch_add_explicit(&soak_t.panics, 1, memory_order_relaxed);
		free(p);
		soak_ops(1);
		if (rng_pct(&w->rng, 20))
			soak_yield();
	}
	free(w);
}

/* --------------------------------------------------------------- syscalls */

/* A blocking call marked with gort_syscall_enter/exit: the monitor hands
 * the P to another M after ~20 us.  At their largest (the warm-up) these
 * workers also grow the M pool to its high-water mark (an M per P and
 * per blocking call at once), so that threads made later are rare (each
 * keeps its stack and malloc cache resident). */
static void syscall_worker(void *arg)
{
	struct soak_warg *w = arg;
	while (!soak_stopping(w->r)) {
		int64_t ns = rng_range(&w->rng, 0, 300 * GORT_US);
		struct timespec ts = {0, (long)ns};
		gort_syscall_enter();
		nanosleep(&ts, NULL);
		gort_syscall_exit();
		soak_ops(1);
		if (rng_pct(&w->rng, 20))
			gort_sleep(rng_range(&w->rng, 0, 100 * GORT_US));
	}
	free(w);
}


void spawn_start(struct soak_round *r)
{
	for (int i = 0; i < r->mix.count[K_SPAWN]; i++) {
		struct burst *b = calloc(1, sizeof *b);
		if (b == NULL) {
			SOAK_FAIL("out of memory");
			return;
		}
		b->r = r;
		b->seed = soak_stream(r->number, K_SPAWN, (uint64_t)i).s;
		soak_spawn_worker(r, burst_worker, b, "spawn-burst");
	}
	soak_spawn_kind(r, K_PANIC, panic_worker, "panic");
	soak_spawn_kind(r, K_SYSCALL, syscall_worker, "syscall");
}

/* After the join and the leak check (every coroutine has ended). */
void spawn_check(struct soak_round *r)
{
	SOAK_CHECK(atomic_load(&r->handler_ran) == atomic_load(&r->handler_expected),
		   "panic handlers: %ld ran, %ld expected", atomic_load(&r->handler_ran),
		   atomic_load(&r->handler_expected));
}
