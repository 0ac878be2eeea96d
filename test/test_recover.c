/*
 * test_recover.c — panic, defer, recover (recover/): Go's semantics.
 *
 *   - deferred calls run last-registered first, when a gort_protect region
 *     returns and when it panics, and at a coroutine's end for those
 *     registered outside any region;
 *   - gort_recover stops a panic only inside a deferred call that runs
 *     because of it; the rest of that region's deferred calls still run and
 *     gort_protect returns GORT_PANICKED with the record;
 *   - re-raised panics, panics through regions nobody recovers in, a panic
 *     inside a deferred call that replaces the one in flight;
 *   - the unrecovered-panic policies: abort (with Go's "[recovered]" chain),
 *     log (a storm of panics while others run), handler and per-spawn
 *     on_panic;
 *   - runtime misuse (a negative WaitGroup) as a recoverable runtime error;
 *   - GORT_DEBUG=sigpanic=1: NULL dereference and division by zero in a
 *     coroutine become recoverable panics; without it a fault is fatal;
 *   - plain threads: gort_defer outside a region is -EPERM, gort_protect
 *     works.
 *
 * Deferred calls and region bodies are written once, as data (struct step,
 * struct region), and every scenario runs in a coroutine and on a plain
 * thread.  Checks made off the test's main thread use CO_CHECK.
 */
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

/* Functions that fault on purpose must not be caught first by UBSan. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define NO_UBSAN __attribute__((no_sanitize("undefined")))
#else
#define NO_UBSAN
#endif

/* ------------------------------------------------------------------------ */
/* Recording what ran                                                        */
/* ------------------------------------------------------------------------ */

#define TRACE_MAX 64

/* One scenario runs in one coroutine (or thread) at a time: no atomics. */
struct trace {
	int order[TRACE_MAX];
	int n;
};

static void trace_push(struct trace *t, int tag)
{
	if (t->n < TRACE_MAX)
		t->order[t->n] = tag;
	t->n++;
}

static void fmt_ints(char *buf, size_t size, const int *v, int n)
{
	size_t off = 0;
	buf[0] = '\0';
	off += (size_t)snprintf(buf + off, size - off, "[");
	for (int i = 0; i < n && i < TRACE_MAX && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, i ? " %d" : "%d", v[i]);
	if (off < size)
		snprintf(buf + off, size - off, "]");
}

static void assert_order_(const struct trace *t, const int *want, int n, const char *what)
{
	char got[512], exp[512];
	fmt_ints(got, sizeof got, t->order, t->n);
	fmt_ints(exp, sizeof exp, want, n);
	cr_assert(t->n == n && memcmp(t->order, want, (size_t)n * sizeof *want) == 0,
		  "%s: ran %s (n=%d), want %s", what, got, t->n, exp);
}

#define assert_order(t, what, ...)                                                    \
	do {                                                                          \
		const int w_[] = {__VA_ARGS__};                                       \
		assert_order_((t), w_, (int)(sizeof w_ / sizeof w_[0]), (what));      \
	} while (0)

/* ------------------------------------------------------------------------ */
/* Deferred calls and regions as data                                        */
/* ------------------------------------------------------------------------ */

struct region;

enum step_action {
	S_RECORD,          /* only record its tag */
	S_RECOVER,         /* gort_recover(); keep the record */
	S_RECOVER_REPANIC, /* gort_recover(), then gort_panic("<msg> (after <old>)") */
	S_PANIC,           /* gort_panic("%s", msg) */
	S_INNER_PROTECT,   /* gort_protect(inner) from inside the deferred call, then gort_recover() */
};

struct step {
	struct trace *t;
	int tag;
	enum step_action action;
	const char *msg;
	struct region *inner;
	/* results */
	int calls;
	int recovered;       /* gort_recover() returned a record */
	int recover_null;    /* gort_recover() returned NULL */
	int inner_rc;
	gort_panic_info got; /* copy of the record */
};

enum body_kind {
	B_RETURN,      /* return normally */
	B_PANIC,       /* gort_panic("%s", msg) */
	B_PANIC_FMT,   /* gort_panic("boom %d %s", 42, "x") */
	B_PANIC_VALUE, /* gort_panic_value(value) */
	B_INNER,       /* gort_protect(inner, inner_out) */
};

struct region {
	struct trace *t;
	struct step *steps; /* deferred in array order: the last runs first */
	int nsteps;
	enum body_kind body;
	const char *msg;
	void *value;
	int tag;       /* recorded when the body starts */
	int after_tag; /* recorded when the body gets to its end */
	struct region *inner;
	gort_panic_info *inner_out;
	/* results */
	int inner_rc;
	gort_id self;
	int defer_errors;   /* gort_defer() != 0 */
	int body_recovered; /* gort_recover() in the body (not a deferred call) returned a record */
};

static void region_fn(void *p);

static void step_fn(void *p)
{
	struct step *s = p;
	s->calls++;
	trace_push(s->t, s->tag);
	const gort_panic_info *i;
	switch (s->action) {
	case S_RECORD:
		break;
	case S_RECOVER:
	case S_RECOVER_REPANIC:
		i = gort_recover();
		if (i != NULL) {
			s->recovered++;
			s->got = *i;
		} else {
			s->recover_null++;
		}
		if (s->action == S_RECOVER_REPANIC)
			gort_panic("%s (after %s)", s->msg, i ? i->message : "nothing");
		break;
	case S_PANIC:
		gort_panic("%s", s->msg);
	case S_INNER_PROTECT:
		s->inner_rc = gort_protect(region_fn, s->inner, NULL);
		i = gort_recover();
		if (i != NULL) {
			s->recovered++;
			s->got = *i;
		} else {
			s->recover_null++;
		}
		break;
	}
}

static void region_fn(void *p)
{
	struct region *r = p;
	r->self = gort_self();
	for (int i = 0; i < r->nsteps; i++)
		if (gort_defer(step_fn, &r->steps[i]) != 0)
			r->defer_errors++;
	trace_push(r->t, r->tag);
	if (gort_recover() != NULL)
		r->body_recovered++;
	switch (r->body) {
	case B_RETURN:
		break;
	case B_PANIC:
		gort_panic("%s", r->msg);
	case B_PANIC_FMT:
		gort_panic("boom %d %s", 42, "x");
	case B_PANIC_VALUE:
		gort_panic_value(r->value);
	case B_INNER:
		r->inner_rc = gort_protect(region_fn, r->inner, r->inner_out);
		break;
	}
	trace_push(r->t, r->after_tag);
}

/* ------------------------------------------------------------------------ */
/* Running a scenario in a coroutine or on the test's own thread             */
/* ------------------------------------------------------------------------ */

enum where { IN_COROUTINE, ON_THREAD };

#define CO_NAME "recoverer"

/* gort_protect(region) from wherever it runs, then record 200. */
struct protect_call {
	struct region *r;
	gort_panic_info *out;
	int rc;
	gort_id self;
};

static void protect_call_fn(void *p)
{
	struct protect_call *c = p;
	c->self = gort_self();
	c->rc = gort_protect(region_fn, c->r, c->out);
	trace_push(c->r->t, 200);
}

struct named_run {
	void (*fn)(void *);
	void *arg;
	gort_wg done;
};

static void named_run_tramp(void *p)
{
	struct named_run *c = p;
	c->fn(c->arg);
	gort_wg_done(&c->done);
}

static int spawn_line; /* the line of the spawn below, for spawn_file/spawn_line checks */

/* Run fn(arg) in a coroutine named name and wait for it; return its id. */
static gort_id co_run_named(void (*fn)(void *), void *arg, const char *name)
{
	struct named_run c = {.fn = fn, .arg = arg, .done = GORT_WG_INIT};
	gort_wg_add(&c.done, 1);
	spawn_line = __LINE__; gort_id id = gort_go_with(named_run_tramp, &c, .name = name);
	cr_assert_gt(id, 0, "gort_go_with = %lld (%s)", (long long)id, gort_strerror((int)id));
	gort_wg_wait(&c.done);
	return id;
}

/* Start the runtime (procs 2) and run c there; the runtime stays up. */
static void run_protect(enum where w, struct protect_call *c)
{
	rt_start(2);
	if (w == IN_COROUTINE) {
		gort_id id = co_run_named(protect_call_fn, c, CO_NAME);
		cr_assert_eq(c->self, id, "gort_self() = %lld in the coroutine, spawn said %lld",
			     (long long)c->self, (long long)id);
	} else {
		protect_call_fn(c);
		cr_assert_eq(c->self, 0);
	}
}

/* The panic record names the right panicker. */
static void assert_panicker(enum where w, const gort_panic_info *info, gort_id self,
			    const char *what)
{
	if (w == IN_COROUTINE) {
		cr_assert_gt(self, 0);
		cr_assert_eq(info->coroutine, self, "%s: coroutine %lld, want %lld", what,
			     (long long)info->coroutine, (long long)self);
		cr_assert_str_eq(info->name, CO_NAME, "%s: name \"%s\"", what, info->name);
		cr_assert(info->spawn_file != NULL && strstr(info->spawn_file, "test_recover.c"),
			  "%s: spawn_file %s", what, info->spawn_file ? info->spawn_file : "(null)");
		cr_assert_eq(info->spawn_line, spawn_line, "%s: spawn_line %d, want %d", what,
			     info->spawn_line, spawn_line);
	} else {
		cr_assert_eq(info->coroutine, 0, "%s: coroutine %lld on a plain thread", what,
			     (long long)info->coroutine);
		cr_assert_str_eq(info->name, "", "%s: name \"%s\" on a plain thread", what, info->name);
	}
	cr_assert(info->nframes > 0 && info->nframes <= GORT_PANIC_FRAMES, "%s: nframes %d", what,
		  info->nframes);
	cr_assert_not_null(info->frames[0], "%s: frames[0]", what);
}

#define SCENARIO(name)                                                              \
	static void sc_##name(enum where w);                                        \
	Test(recover, name##_in_coroutine, .timeout = 10) { sc_##name(IN_COROUTINE); } \
	Test(recover, name##_on_thread, .timeout = 10) { sc_##name(ON_THREAD); }     \
	static void sc_##name(enum where w)

/* ------------------------------------------------------------------------ */
/* Deferred calls: LIFO on return and on panic                               */
/* ------------------------------------------------------------------------ */

SCENARIO(defers_run_lifo_on_return)
{
	static struct trace t;
	struct step s[3] = {
		{.t = &t, .tag = 1}, {.t = &t, .tag = 2}, {.t = &t, .tag = 3},
	};
	struct region r = {.t = &t, .steps = s, .nsteps = 3, .body = B_RETURN, .tag = 100,
			   .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0x5a, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);
	cr_assert_eq(c.rc, 0, "gort_protect = %d after a normal return", c.rc);
	cr_assert_eq(r.defer_errors, 0);
	/* the body ran to its end, then 3, 2, 1, all before gort_protect returned */
	assert_order(&t, "normal return", 100, 101, 3, 2, 1, 200);
	cr_assert_eq(r.body_recovered, 0, "gort_recover() outside a deferred call returned a record");
	rt_stop();
}

SCENARIO(defers_run_lifo_on_panic_and_recover_stops_it)
{
	static struct trace t;
	/* 3 runs first and recovers; 2 then finds no panic; 1 runs last */
	struct step s[3] = {
		{.t = &t, .tag = 1},
		{.t = &t, .tag = 2, .action = S_RECOVER},
		{.t = &t, .tag = 3, .action = S_RECOVER},
	};
	struct region r = {.t = &t, .steps = s, .nsteps = 3, .body = B_PANIC_FMT, .tag = 100,
			   .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);

	cr_assert_eq(c.rc, GORT_PANICKED, "gort_protect = %d after a recovered panic", c.rc);
	/* nothing after the panic ran; every deferred call ran once */
	assert_order(&t, "panic", 100, 3, 2, 1, 200);
	cr_assert_eq(s[0].calls + s[1].calls + s[2].calls, 3);

	cr_assert_eq(s[2].recovered, 1, "the first deferred call did not recover");
	cr_assert_str_eq(s[2].got.message, "boom 42 x");
	cr_assert_null(s[2].got.value);
	cr_assert_not(s[2].got.runtime_error, "a user panic is marked a runtime error");
	cr_assert_eq(s[1].recovered, 0, "gort_recover() found the panic again after it was recovered");
	cr_assert_eq(s[1].recover_null, 1);

	cr_assert_str_eq(out.message, "boom 42 x");
	cr_assert_null(out.value);
	cr_assert_not(out.runtime_error);
	assert_panicker(w, &out, c.self, "gort_protect's record");
	assert_panicker(w, &s[2].got, c.self, "gort_recover's record");
	rt_stop();
}

SCENARIO(remaining_defers_run_after_a_middle_one_recovers)
{
	static struct trace t;
	/* 4 and 3 run while panicking, 2 recovers, 1 runs after the panic is
	 * over and finds nothing to recover */
	struct step s[4] = {
		{.t = &t, .tag = 1, .action = S_RECOVER},
		{.t = &t, .tag = 2, .action = S_RECOVER},
		{.t = &t, .tag = 3},
		{.t = &t, .tag = 4},
	};
	struct region r = {.t = &t, .steps = s, .nsteps = 4, .body = B_PANIC, .msg = "middle",
			   .tag = 100, .after_tag = 101};
	struct protect_call c = {.r = &r, .out = NULL, .rc = -99}; /* out may be NULL */
	run_protect(w, &c);
	cr_assert_eq(c.rc, GORT_PANICKED);
	assert_order(&t, "panic", 100, 4, 3, 2, 1, 200);
	cr_assert_eq(s[1].recovered, 1);
	cr_assert_str_eq(s[1].got.message, "middle");
	cr_assert_eq(s[0].recovered, 0, "recovered twice");
	cr_assert_eq(s[0].recover_null, 1);
	rt_stop();
}

SCENARIO(panic_value_is_recovered)
{
	static struct trace t;
	static int payload = 7;
	struct step s[1] = {{.t = &t, .tag = 1, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_PANIC_VALUE,
			   .value = &payload, .tag = 100, .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);
	cr_assert_eq(c.rc, GORT_PANICKED);
	assert_order(&t, "value panic", 100, 1, 200);
	char want[64];
	snprintf(want, sizeof want, "(value %p)", (void *)&payload);
	cr_assert_eq(s[0].recovered, 1);
	cr_assert_eq(s[0].got.value, &payload);
	cr_assert_str_eq(s[0].got.message, want);
	cr_assert_eq(out.value, &payload);
	cr_assert_str_eq(out.message, want);
	cr_assert_not(out.runtime_error);
	assert_panicker(w, &out, c.self, "value panic");
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* gort_recover returns NULL where it must                                   */
/* ------------------------------------------------------------------------ */

SCENARIO(recover_is_null_outside_a_panicking_deferred_call)
{
	static struct trace t;
	/* Inside the deferred call that the outer panic runs, a new region:
	 * its body (not a deferred call) and its own deferred call (run by a
	 * normal return, not by the panic) both get NULL; only the outer
	 * deferred call itself recovers. */
	struct step in_s[1] = {{.t = &t, .tag = 20, .action = S_RECOVER}};
	struct region in = {.t = &t, .steps = in_s, .nsteps = 1, .body = B_RETURN, .tag = 21,
			    .after_tag = 22};
	struct step s[1] = {{.t = &t, .tag = 10, .action = S_INNER_PROTECT, .inner = &in}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_PANIC, .msg = "outer",
			   .tag = 100, .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};

	if (w == ON_THREAD)
		cr_assert_null(gort_recover(), "gort_recover() on a plain thread, runtime stopped");
	run_protect(w, &c);
	cr_assert_null(gort_recover(), "gort_recover() on the test's thread");
	cr_assert_eq(c.rc, GORT_PANICKED);
	assert_order(&t, "nested region in a deferred call", 100, 10, 21, 22, 20, 200);
	cr_assert_eq(in.body_recovered, 0, "a region's body recovered the outer panic");
	cr_assert_eq(in_s[0].recovered, 0,
		     "a deferred call run by a normal return recovered the outer panic (\"%s\")",
		     in_s[0].got.message);
	cr_assert_eq(s[0].inner_rc, 0, "the inner region returned %d", s[0].inner_rc);
	cr_assert_eq(s[0].recovered, 1, "the outer deferred call did not recover after the inner region");
	cr_assert_str_eq(s[0].got.message, "outer");
	cr_assert_str_eq(out.message, "outer");
	cr_assert_eq(r.body_recovered, 0);
	rt_stop();
}

static void recover_null_fn(void *p)
{
	int *nonnull = p;
	if (gort_recover() != NULL) /* a coroutine's body */
		(*nonnull)++;
}

Test(recover, recover_is_null_in_a_coroutine_body, .timeout = 10)
{
	int nonnull = 0;
	rt_start(2);
	co_run_named(recover_null_fn, &nonnull, "body");
	cr_assert_eq(nonnull, 0);
	recover_null_fn(&nonnull);
	cr_assert_eq(nonnull, 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Re-raised, passed-through and replaced panics                             */
/* ------------------------------------------------------------------------ */

SCENARIO(repanic_after_recover_reaches_the_enclosing_region)
{
	static struct trace t;
	/* inner: 2 recovers "first" and panics "second (after first)"; 1 still runs */
	struct step in_s[2] = {
		{.t = &t, .tag = 1},
		{.t = &t, .tag = 2, .action = S_RECOVER_REPANIC, .msg = "second"},
	};
	gort_panic_info in_out;
	memset(&in_out, 0, sizeof in_out);
	struct region in = {.t = &t, .steps = in_s, .nsteps = 2, .body = B_PANIC, .msg = "first",
			    .tag = 50, .after_tag = 51};
	struct step s[1] = {{.t = &t, .tag = 10, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_INNER, .inner = &in,
			   .inner_out = &in_out, .inner_rc = -99, .tag = 100, .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);

	cr_assert_eq(in_s[1].recovered, 1);
	cr_assert_str_eq(in_s[1].got.message, "first");
	/* the inner gort_protect never returned: the outer body stopped there */
	assert_order(&t, "re-panic", 100, 50, 2, 1, 10, 200);
	cr_assert_eq(r.inner_rc, -99, "the inner gort_protect returned %d", r.inner_rc);
	cr_assert_str_eq(in_out.message, "", "the inner region's record was filled: \"%s\"",
			 in_out.message);
	cr_assert_eq(c.rc, GORT_PANICKED);
	cr_assert_eq(s[0].recovered, 1);
	cr_assert_str_eq(s[0].got.message, "second (after first)");
	cr_assert_str_eq(out.message, "second (after first)");
	assert_panicker(w, &out, c.self, "re-panic");
	rt_stop();
}

SCENARIO(unrecovered_panic_passes_through_inner_regions)
{
	static struct trace t;
	struct step in_s[2] = {{.t = &t, .tag = 1}, {.t = &t, .tag = 2}};
	gort_panic_info in_out, mid_out;
	memset(&in_out, 0, sizeof in_out);
	memset(&mid_out, 0, sizeof mid_out);
	struct region in = {.t = &t, .steps = in_s, .nsteps = 2, .body = B_PANIC, .msg = "deep",
			    .tag = 50, .after_tag = 51};
	struct step mid_s[1] = {{.t = &t, .tag = 5}};
	struct region mid = {.t = &t, .steps = mid_s, .nsteps = 1, .body = B_INNER, .inner = &in,
			     .inner_out = &in_out, .inner_rc = -99, .tag = 60, .after_tag = 61};
	struct step s[2] = {{.t = &t, .tag = 9}, {.t = &t, .tag = 10, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 2, .body = B_INNER, .inner = &mid,
			   .inner_out = &mid_out, .inner_rc = -99, .tag = 100, .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);

	assert_order(&t, "pass-through", 100, 60, 50, 2, 1, 5, 10, 9, 200);
	cr_assert_eq(mid.inner_rc, -99, "the innermost gort_protect returned %d", mid.inner_rc);
	cr_assert_eq(r.inner_rc, -99, "the middle gort_protect returned %d", r.inner_rc);
	cr_assert_str_eq(in_out.message, "");
	cr_assert_str_eq(mid_out.message, "");
	cr_assert_eq(c.rc, GORT_PANICKED);
	cr_assert_str_eq(out.message, "deep");
	cr_assert_eq(s[0].recovered + s[0].recover_null, 0, "step 9 does not call gort_recover");
	assert_panicker(w, &out, c.self, "pass-through");
	rt_stop();
}

SCENARIO(panic_in_a_deferred_call_replaces_the_panic_in_flight)
{
	static struct trace t;
	/* inner: body panics "A"; 2 panics "B" while A runs it; 1 still runs,
	 * for B; the outer region recovers B */
	struct step in_s[2] = {
		{.t = &t, .tag = 1},
		{.t = &t, .tag = 2, .action = S_PANIC, .msg = "B"},
	};
	struct region in = {.t = &t, .steps = in_s, .nsteps = 2, .body = B_PANIC, .msg = "A",
			    .tag = 50, .after_tag = 51};
	struct step s[1] = {{.t = &t, .tag = 10, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_INNER, .inner = &in,
			   .inner_rc = -99, .tag = 100, .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	run_protect(w, &c);

	assert_order(&t, "panic in a deferred call", 100, 50, 2, 1, 10, 200);
	cr_assert_eq(c.rc, GORT_PANICKED);
	cr_assert_eq(s[0].recovered, 1);
	cr_assert_str_eq(s[0].got.message, "B", "recovered \"%s\", want the new panic B",
			 s[0].got.message);
	cr_assert_str_eq(out.message, "B");
	rt_stop();
}

SCENARIO(panic_in_a_deferred_call_is_recovered_by_a_later_one)
{
	static struct trace t;
	/* same, but 1 recovers B inside the inner region itself */
	struct step in_s[2] = {
		{.t = &t, .tag = 1, .action = S_RECOVER},
		{.t = &t, .tag = 2, .action = S_PANIC, .msg = "B"},
	};
	gort_panic_info in_out;
	memset(&in_out, 0, sizeof in_out);
	struct region in = {.t = &t, .steps = in_s, .nsteps = 2, .body = B_PANIC, .msg = "A",
			    .tag = 50, .after_tag = 51};
	struct step s[1] = {{.t = &t, .tag = 10, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_INNER, .inner = &in,
			   .inner_out = &in_out, .inner_rc = -99, .tag = 100, .after_tag = 101};
	struct protect_call c = {.r = &r, .out = NULL, .rc = -99};
	run_protect(w, &c);

	assert_order(&t, "B recovered inside", 100, 50, 2, 1, 101, 10, 200);
	cr_assert_eq(in_s[0].recovered, 1);
	cr_assert_str_eq(in_s[0].got.message, "B");
	cr_assert_eq(r.inner_rc, GORT_PANICKED);
	cr_assert_str_eq(in_out.message, "B");
	cr_assert_eq(c.rc, 0, "the outer region saw a panic");
	cr_assert_eq(s[0].recovered, 0);
	cr_assert_eq(s[0].recover_null, 1);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Deferred calls at coroutine level                                         */
/* ------------------------------------------------------------------------ */

static void wg_done_cb(void *p)
{
	gort_wg_done(p);
}

struct co_level {
	struct trace t;
	struct step s[3];
	gort_wg done;
	int defer_errors;
	bool panic;
	int after;
};

static void co_level_fn(void *p)
{
	struct co_level *c = p;
	/* registered first, runs last: the test's thread wakes only after
	 * every other deferred call */
	if (gort_defer(wg_done_cb, &c->done) != 0)
		c->defer_errors++;
	for (int i = 0; i < 3; i++)
		GORT_DEFER(step_fn, &c->s[i]);
	trace_push(&c->t, 100);
	if (c->panic)
		gort_panic("coroutine-level %d", 5);
	trace_push(&c->t, 101);
}

Test(recover, coroutine_level_defers_run_when_the_function_returns, .timeout = 10)
{
	static struct co_level c;
	for (int i = 0; i < 3; i++)
		c.s[i] = (struct step){.t = &c.t, .tag = i + 1};
	c.s[1].action = S_RECOVER; /* no panic: gets NULL */
	rt_start(2);
	int64_t base = gort_num_coroutines();
	gort_wg_add(&c.done, 1);
	gort_id id = gort_go_with(co_level_fn, &c, .name = "co-level");
	cr_assert_gt(id, 0);
	gort_wg_wait(&c.done);
	cr_assert_eq(c.defer_errors, 0);
	assert_order(&c.t, "coroutine-level defers", 100, 101, 3, 2, 1);
	cr_assert_eq(c.s[1].recover_null, 1, "gort_recover() found a panic during a normal return");
	cr_assert_eq(wait_num_coroutines(base, 5000), base);
	rt_stop();
}

/* Default policy (abort): a coroutine-level deferred call recovers, so the
 * coroutine ends normally and the process lives on. */
Test(recover, coroutine_level_recover_ends_the_coroutine_normally, .timeout = 10)
{
	static struct co_level c;
	for (int i = 0; i < 3; i++)
		c.s[i] = (struct step){.t = &c.t, .tag = i + 1};
	c.s[1].action = S_RECOVER;
	c.panic = true;
	rt_start(2);
	int64_t base = gort_num_coroutines();
	gort_wg_add(&c.done, 1);
	gort_id id = gort_go_with(co_level_fn, &c, .name = "co-level");
	cr_assert_gt(id, 0);
	gort_wg_wait(&c.done);
	assert_order(&c.t, "coroutine-level recover", 100, 3, 2, 1);
	cr_assert_eq(c.s[1].recovered, 1);
	cr_assert_str_eq(c.s[1].got.message, "coroutine-level 5");
	cr_assert_eq(c.s[1].got.coroutine, id);
	cr_assert_str_eq(c.s[1].got.name, "co-level");
	cr_assert_eq(wait_num_coroutines(base, 5000), base);
	gort_stats st;
	wait_stats_settled(&st, 5000);
	cr_assert_eq(st.spawns, st.exits);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Many deferred calls; long messages                                        */
/* ------------------------------------------------------------------------ */

#define MANY_DEFERS 10000
static int many_order[MANY_DEFERS];
static int many_n;
static gort_panic_info many_got;
static int many_recovered;

static void many_cb(void *p)
{
	int i = (int)(intptr_t)p;
	if (many_n < MANY_DEFERS)
		many_order[many_n] = i;
	many_n++;
	if (i == 0) { /* the first registered runs last and recovers */
		const gort_panic_info *info = gort_recover();
		if (info) {
			many_recovered++;
			many_got = *info;
		}
	}
}

static void many_region(void *p)
{
	int *errors = p;
	for (int i = 0; i < MANY_DEFERS; i++)
		if (gort_defer(many_cb, (void *)(intptr_t)i) != 0)
			(*errors)++;
	gort_panic("after %d defers", MANY_DEFERS);
}

static void many_co(void *p)
{
	int *rc = p;
	rc[1] = 0;
	rc[0] = gort_protect(many_region, &rc[1], NULL);
}

static void assert_many(const int *rc)
{
	cr_assert_eq(rc[1], 0, "%d gort_defer calls failed", rc[1]);
	cr_assert_eq(rc[0], GORT_PANICKED);
	cr_assert_eq(many_n, MANY_DEFERS);
	for (int k = 0; k < MANY_DEFERS; k++)
		cr_assert_eq(many_order[k], MANY_DEFERS - 1 - k, "position %d ran defer %d", k,
			     many_order[k]);
	cr_assert_eq(many_recovered, 1);
	char want[64];
	snprintf(want, sizeof want, "after %d defers", MANY_DEFERS);
	cr_assert_str_eq(many_got.message, want);
}

Test(recover, ten_thousand_defers_unwind_in_order, .timeout = 10)
{
	int rc[2] = {-99, -99};
	rt_start(2);
	co_run_named(many_co, rc, "many");
	assert_many(rc);
	many_n = 0;
	many_recovered = 0;
	rc[0] = rc[1] = -99;
	many_co(rc); /* and on a plain thread */
	assert_many(rc);
	rt_stop();
}

static void long_msg_co(void *p)
{
	gort_panic_info *out = p;
	char big[3 * GORT_PANIC_MSG_MAX];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	static struct trace t;
	struct step s[1] = {{.t = &t, .tag = 1, .action = S_RECOVER}};
	struct region rr = {.t = &t, .steps = s, .nsteps = 1, .body = B_PANIC, .msg = big};
	if (gort_protect(region_fn, &rr, out) != GORT_PANICKED)
		out->message[0] = '?';
}

Test(recover, long_message_is_truncated, .timeout = 10)
{
	gort_panic_info out;
	memset(&out, 0x5a, sizeof out);
	rt_start(2);
	co_run_named(long_msg_co, &out, "long");
	cr_assert(memchr(out.message, '\0', sizeof out.message) != NULL, "message not terminated");
	cr_assert_eq(strlen(out.message), (size_t)GORT_PANIC_MSG_MAX - 1, "length %zu",
		     strlen(out.message));
	cr_assert_eq(strspn(out.message, "x"), (size_t)GORT_PANIC_MSG_MAX - 1);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Many coroutines cycling through panics, with yields in bodies and defers  */
/* ------------------------------------------------------------------------ */

struct cyc {
	int cycles;
	gort_wg done;
	atomic_long recovered;
};

struct cyc_state {
	int order[4];
	int n;
	int recovered;
	char got[GORT_PANIC_MSG_MAX];
	gort_id who;
};

static void cyc_yield_defer(void *p)
{
	struct cyc_state *s = p;
	gort_yield(); /* a deferred call may switch, and resume on another M */
	s->order[s->n++ & 3] = 1;
}

static void cyc_recover_defer(void *p)
{
	struct cyc_state *s = p;
	s->order[s->n++ & 3] = 2;
	const gort_panic_info *i = gort_recover();
	if (i) {
		s->recovered++;
		snprintf(s->got, sizeof s->got, "%s", i->message);
		s->who = i->coroutine;
	}
}

struct cyc_arg {
	struct cyc_state *s;
	int round;
};

static void cyc_region(void *p)
{
	struct cyc_arg *a = p;
	GORT_DEFER(cyc_yield_defer, a->s);
	GORT_DEFER(cyc_recover_defer, a->s);
	gort_yield(); /* the panic is raised after a switch */
	if (a->round % 3 != 2)
		gort_panic("cycle %lld/%d", (long long)gort_self(), a->round);
}

static void cyc_fn(void *p)
{
	struct cyc *c = p;
	gort_id self = gort_self();
	for (int round = 0; round < c->cycles; round++) {
		struct cyc_state s = {.n = 0};
		struct cyc_arg a = {.s = &s, .round = round};
		gort_panic_info out;
		int rc = gort_protect(cyc_region, &a, &out);
		bool panicked = round % 3 != 2;
		CO_CHECK(rc == (panicked ? GORT_PANICKED : 0), "round %d: rc %d", round, rc);
		CO_CHECK(s.n == 2 && s.order[0] == 2 && s.order[1] == 1, "round %d: order n=%d %d %d",
			 round, s.n, s.order[0], s.order[1]);
		CO_CHECK(s.recovered == (panicked ? 1 : 0), "round %d: recovered %d", round, s.recovered);
		if (panicked) {
			char want[64];
			snprintf(want, sizeof want, "cycle %lld/%d", (long long)self, round);
			CO_CHECK(strcmp(s.got, want) == 0, "got \"%s\", want \"%s\"", s.got, want);
			CO_CHECK(strcmp(out.message, want) == 0, "out \"%s\", want \"%s\"", out.message,
				 want);
			CO_CHECK(s.who == self && out.coroutine == self, "who %lld, out %lld, self %lld",
				 (long long)s.who, (long long)out.coroutine, (long long)self);
			atomic_fetch_add(&c->recovered, 1);
		}
		CO_CHECK(gort_self() == self, "gort_self changed");
	}
	gort_wg_done(&c->done);
}

PROCS_TEST(recover, many_coroutines_cycle_through_panics, 20)
{
	static struct cyc c;
	long n = scaled_min(200, 10);
	c.cycles = 30;
	rt_start(procs);
	gort_wg_add(&c.done, n);
	for (long i = 0; i < n; i++)
		cr_assert_gt(gort_go(cyc_fn, &c), 0);
	gort_wg_wait(&c.done);
	CO_ASSERT_NO_FAILURES();
	long per = 0;
	for (int r = 0; r < c.cycles; r++)
		per += r % 3 != 2;
	cr_assert_eq(atomic_load(&c.recovered), n * per);
	cr_assert_eq(wait_num_coroutines(0, 5000), 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Shared pieces for the bigger tests                                        */
/* ------------------------------------------------------------------------ */

/* Fill a frame's buffer, recurse, call bottom(arg) at the bottom, then
 * check the buffer on the way back: returns the number of bytes that
 * changed under the coroutine (another coroutine's stack use, a panic's
 * unwinding, a stack handed out twice). */
__attribute__((noinline)) static long stack_check(int depth, unsigned seed, void (*bottom)(void *),
						  void *arg)
{
	volatile unsigned char buf[512];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(seed * 131u + i);
	long bad = 0;
	if (depth > 0)
		bad += stack_check(depth - 1, seed + 1, bottom, arg);
	else if (bottom != NULL)
		bottom(arg);
	for (size_t i = 0; i < sizeof buf; i++)
		if (buf[i] != (unsigned char)(seed * 131u + i))
			bad++;
	return bad;
}

static void yield_cb(void *p)
{
	(void)p;
	gort_yield();
}

static void noop_cb(void *p)
{
	(void)p;
}

/* A deferred call that recovers into a slot. */
struct rec_slot {
	int n;
	gort_panic_info info;
};

static void recover_into_cb(void *p)
{
	struct rec_slot *r = p;
	const gort_panic_info *i = gort_recover();
	if (i != NULL) {
		r->n++;
		r->info = *i;
	}
}

static void set_flag_fn(void *p)
{
	atomic_store((atomic_int *)p, 1);
}

/* After a storm: one more coroutine spawns, runs and is joined. */
static void assert_fresh_spawn_works(void)
{
	static atomic_int ran;
	atomic_store(&ran, 0);
	co_run_named(set_flag_fn, &ran, "fresh");
	cr_assert_eq(atomic_load(&ran), 1, "a fresh coroutine did not run");
}

/* Everything written on fd 2 between begin and end, kept in a memory
 * file (cheaper than a disk file for thousands of small writes). */
struct capture {
	int fd;
	int saved;
	char *text;
	size_t len;
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->fd = memfd_create("gort-test-stderr", 0);
	cr_assert_geq(c->fd, 0, "memfd_create: %s", strerror(errno));
	/* writers on several threads share the offset: append, or lose lines */
	cr_assert_eq(fcntl(c->fd, F_SETFL, O_APPEND), 0, "fcntl: %s", strerror(errno));
	c->saved = dup(2);
	cr_assert_geq(c->saved, 0, "dup: %s", strerror(errno));
	cr_assert_geq(dup2(c->fd, 2), 0, "dup2: %s", strerror(errno));
}

static void capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	off_t end = lseek(c->fd, 0, SEEK_END);
	c->len = end > 0 ? (size_t)end : 0;
	c->text = malloc(c->len + 1);
	cr_assert_not_null(c->text);
	size_t got = 0;
	while (got < c->len) {
		ssize_t n = pread(c->fd, c->text + got, c->len - got, (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	c->text[got] = '\0';
	c->len = got;
	close(c->fd);
}

static long count_substr(const char *hay, const char *needle)
{
	long n = 0;
	size_t k = strlen(needle);
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += k)
		n++;
	return n;
}

/* the first 2,000 bytes of a capture, for failure messages */
static const char *head_of(const struct capture *c)
{
	static char buf[2001];
	snprintf(buf, sizeof buf, "%s", c->text);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Policy: log.  A storm of unrecovered panics while others run              */
/* ------------------------------------------------------------------------ */

struct storm {
	long n;
	atomic_int stop;
	atomic_long steady_iters, steady_bad, steady_ran;
	atomic_long deferred, survived, spawn_fail;
	gort_wg steady_done;
};
static struct storm storm;

static void storm_deferred_cb(void *p)
{
	(void)p;
	atomic_fetch_add(&storm.deferred, 1);
}

static void storm_bottom(void *p)
{
	gort_panic("storm %ld", (long)(intptr_t)p);
}

static void storm_fn(void *p)
{
	GORT_DEFER(storm_deferred_cb, NULL);
	stack_check(1, (unsigned)(intptr_t)p, storm_bottom, p);
	atomic_fetch_add(&storm.survived, 1); /* must not run */
}

static void storm_spawner(void *p)
{
	(void)p;
	for (long i = 0; i < storm.n; i++) {
		if (gort_go_with(storm_fn, (void *)(intptr_t)i, .name = "storm") <= 0)
			atomic_fetch_add(&storm.spawn_fail, 1);
		if (i % 64 == 63)
			gort_yield();
	}
}

/* The steady coroutines pass a row of gates that the test's thread opens
 * one every 5 ms while the storm lasts (then all at once): they keep being
 * woken, run and switched throughout without keeping every P spinning. */
#define STORM_GATES 4096
static gort_wg storm_gates[STORM_GATES];

static void steady_fn(void *p)
{
	(void)p;
	GORT_DEFER(wg_done_cb, &storm.steady_done);
	long it = 0, bad = 0;
	for (int g = 0; g < STORM_GATES; g++) {
		gort_wg_wait(&storm_gates[g]);
		bad += stack_check(0, (unsigned)g, yield_cb, NULL);
		it++;
		if (atomic_load(&storm.stop))
			break;
	}
	atomic_fetch_add(&storm.steady_iters, it);
	atomic_fetch_add(&storm.steady_bad, bad);
	atomic_fetch_add(&storm.steady_ran, 1);
}

PROCS_TEST(recover, log_policy_storm_keeps_the_runtime_healthy, 30)
{
	long nsteady = scaled_min(1000, 50), n = scaled_min(10000, 500);
	storm.n = n;
	rt_start(procs);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_LOG, NULL, NULL), 0);
	int64_t base = gort_num_coroutines();
	gort_stats st0;
	cr_assert_eq(gort_stats_read(&st0), 0);

	for (int g = 0; g < STORM_GATES; g++)
		gort_wg_add(&storm_gates[g], 1);
	struct capture cap;
	capture_begin(&cap);
	gort_wg_add(&storm.steady_done, nsteady);
	for (long i = 0; i < nsteady; i++)
		if (gort_go_with(steady_fn, NULL, .name = "steady") <= 0)
			atomic_fetch_add(&storm.spawn_fail, 1);
	if (gort_go_with(storm_spawner, NULL, .name = "spawner") <= 0)
		atomic_fetch_add(&storm.spawn_fail, 1);
	int64_t deadline = now_ns() + 20 * 1000000000LL;
	int gate = 0;
	while (atomic_load(&storm.deferred) < n && now_ns() < deadline) {
		if (gate < STORM_GATES - 1) /* the last one stays shut until the end */
			gort_wg_done(&storm_gates[gate++]);
		usleep(5000);
	}
	/* the storm is over; the steady ones are all still there */
	int64_t during = wait_num_coroutines(base + nsteady, 10000);
	atomic_store(&storm.stop, 1);
	while (gate < STORM_GATES)
		gort_wg_done(&storm_gates[gate++]);
	gort_wg_wait(&storm.steady_done);
	int64_t after = wait_num_coroutines(base, 10000);
	capture_end(&cap);

	cr_assert_eq(atomic_load(&storm.spawn_fail), 0);
	cr_assert_eq(atomic_load(&storm.deferred), n,
		     "%ld of %ld panicking coroutines ran their deferred call",
		     atomic_load(&storm.deferred), n);
	cr_assert_eq(atomic_load(&storm.survived), 0, "code after gort_panic ran");
	cr_assert_eq(during, base + nsteady, "live coroutines after the storm: %lld, want %lld",
		     (long long)during, (long long)(base + nsteady));
	cr_assert_eq(atomic_load(&storm.steady_ran), nsteady);
	cr_assert_geq(atomic_load(&storm.steady_iters), nsteady);
	cr_assert_eq(atomic_load(&storm.steady_bad), 0, "%ld stack bytes of steady coroutines changed",
		     atomic_load(&storm.steady_bad));
	cr_assert_eq(after, base, "live coroutines at the end: %lld, want %lld", (long long)after,
		     (long long)base);
	gort_stats st;
	wait_stats_settled(&st, 5000);
	cr_assert_eq(st.spawns, st.exits, "spawns %llu, exits %llu", (unsigned long long)st.spawns,
		     (unsigned long long)st.exits);
	cr_assert_eq(st.spawns - st0.spawns, (uint64_t)(n + nsteady + 1));
	/* every panic was logged, once */
	long logged = count_substr(cap.text, "panic: storm ");
	cr_assert_eq(logged, n, "%ld \"panic: storm\" lines logged for %ld panics; stderr begins:\n%s",
		     logged, n, head_of(&cap));
	cr_assert_eq(count_substr(cap.text, "[recovered]"), 0);
	free(cap.text);
	assert_fresh_spawn_works();
	rt_stop();
}

/* A deferred call registered at coroutine level panics, under the log
 * policy: the deferred calls registered before it still run, the
 * coroutine ends, nothing else is disturbed.  Half the coroutines were
 * panicking already (Go prints both panics). */
#define LD_N 20
struct ld {
	struct trace t;
	struct step s[3];
	char msg[32];
	bool body_panics;
	int after;
};
static struct ld ld[LD_N];
static gort_wg ld_done;

static void ld_fn(void *p)
{
	struct ld *c = p;
	GORT_DEFER(wg_done_cb, &ld_done);
	for (int i = 0; i < 3; i++)
		GORT_DEFER(step_fn, &c->s[i]);
	trace_push(&c->t, 100);
	if (c->body_panics)
		gort_panic("body-%d", (int)(c - ld));
	trace_push(&c->t, 101);
}

Test(recover, log_policy_panic_in_a_coroutine_level_deferred_call, .timeout = 15)
{
	rt_start(2);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_LOG, NULL, NULL), 0);
	int64_t base = gort_num_coroutines();
	long fails = 0;
	struct capture cap;
	capture_begin(&cap);
	gort_wg_add(&ld_done, LD_N);
	for (int i = 0; i < LD_N; i++) {
		struct ld *c = &ld[i];
		snprintf(c->msg, sizeof c->msg, "in-defer-%d", i);
		c->body_panics = i % 2;
		c->s[0] = (struct step){.t = &c->t, .tag = 1};
		c->s[1] = (struct step){.t = &c->t, .tag = 2, .action = S_PANIC, .msg = c->msg};
		c->s[2] = (struct step){.t = &c->t, .tag = 3};
		if (gort_go_with(ld_fn, c, .name = "ld") <= 0)
			fails++;
	}
	gort_wg_wait(&ld_done);
	int64_t after = wait_num_coroutines(base, 5000);
	capture_end(&cap);
	cr_assert_eq(fails, 0);
	for (int i = 0; i < LD_N; i++) {
		char what[64];
		snprintf(what, sizeof what, "coroutine %d (body %s)", i,
			 ld[i].body_panics ? "panics" : "returns");
		if (ld[i].body_panics)
			assert_order(&ld[i].t, what, 100, 3, 2, 1);
		else
			assert_order(&ld[i].t, what, 100, 101, 3, 2, 1);
	}
	cr_assert_eq(after, base);
	gort_stats st;
	wait_stats_settled(&st, 5000);
	cr_assert_eq(st.spawns, st.exits);
	long in_defer = count_substr(cap.text, "panic: in-defer-");
	long body = count_substr(cap.text, "panic: body-");
	cr_assert_eq(in_defer, LD_N, "%ld \"panic: in-defer\" logged, want %d; stderr begins:\n%s",
		     in_defer, LD_N, head_of(&cap));
	cr_assert_eq(body, LD_N / 2, "%ld \"panic: body\" logged, want %d; stderr begins:\n%s", body,
		     LD_N / 2, head_of(&cap));
	free(cap.text);
	assert_fresh_spawn_works();
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Policy: handler, and per-spawn on_panic                                   */
/* ------------------------------------------------------------------------ */

#define HP_MAX 1000
struct hslot {
	gort_id self, spawned, seen, seen_self;
	atomic_int calls;
	int via; /* 1: the runtime-wide handler's ctx, 2: the per-spawn ctx */
	char name[GORT_NAME_MAX];
	char msg[GORT_PANIC_MSG_MAX];
	void *value;
	bool runtime_error;
	int after;
};
struct hstate {
	long n;
	struct hslot slot[HP_MAX];
	atomic_long calls_global, calls_own, unknown;
	atomic_int stop;
	atomic_long bystander_bad;
	gort_wg bystanders;
};
static struct hstate hs;
static int ctx_global, ctx_own;

static void hp_handler(const gort_panic_info *info, void *ctx)
{
	long i = -1;
	if (info->value != NULL)
		i = (struct hslot *)info->value - hs.slot;
	else if (sscanf(info->message, "hp-%ld-end", &i) != 1)
		i = -1;
	if (i < 0 || i >= hs.n) {
		atomic_fetch_add(&hs.unknown, 1);
		return;
	}
	struct hslot *s = &hs.slot[i];
	s->via = ctx == &ctx_global ? 1 : ctx == &ctx_own ? 2 : 3;
	s->seen = info->coroutine;
	s->seen_self = gort_self(); /* runs on the panicking coroutine */
	snprintf(s->name, sizeof s->name, "%s", info->name);
	snprintf(s->msg, sizeof s->msg, "%s", info->message);
	s->value = info->value;
	s->runtime_error = info->runtime_error;
	atomic_fetch_add(&s->calls, 1);
	atomic_fetch_add(ctx == &ctx_own ? &hs.calls_own : &hs.calls_global, 1);
}

static void hp_fn(void *p)
{
	struct hslot *s = p;
	long i = s - hs.slot;
	s->self = gort_self();
	stack_check(2, (unsigned)i, NULL, NULL);
	if (i % 4 == 3)
		gort_panic_value(s);
	gort_panic("hp-%ld-end", i);
	s->after++; /* must not run */
}

static void bystander_fn(void *p)
{
	(void)p;
	long bad = 0;
	do
		bad += stack_check(2, 7, yield_cb, NULL);
	while (!atomic_load(&hs.stop));
	atomic_fetch_add(&hs.bystander_bad, bad);
	gort_wg_done(&hs.bystanders);
}

/* own: which coroutines get their own on_panic (the others use the
 * runtime-wide policy, a handler when with_policy) */
static void run_handler_test(int procs, long n, bool with_policy)
{
	hs.n = n;
	rt_start(procs);
	if (with_policy)
		cr_assert_eq(gort_set_panic_policy(GORT_PANIC_HANDLER, hp_handler, &ctx_global), 0);
	int64_t base = gort_num_coroutines();
	const long nby = 4;
	gort_wg_add(&hs.bystanders, nby);
	for (long i = 0; i < nby; i++)
		cr_assert_gt(gort_go_with(bystander_fn, NULL, .name = "bystander"), 0);
	long own = 0;
	for (long i = 0; i < n; i++) {
		char nm[GORT_NAME_MAX];
		snprintf(nm, sizeof nm, "hp-%ld", i);
		gort_id id;
		if (!with_policy || i % 2) {
			id = gort_go_with(hp_fn, &hs.slot[i], .name = nm, .on_panic = hp_handler,
					  .on_panic_ctx = &ctx_own);
			own++;
		} else {
			id = gort_go_with(hp_fn, &hs.slot[i], .name = nm);
		}
		cr_assert_gt(id, 0, "spawn %ld: %lld", i, (long long)id);
		hs.slot[i].spawned = id;
	}
	int64_t deadline = now_ns() + 20 * 1000000000LL;
	while (atomic_load(&hs.calls_global) + atomic_load(&hs.calls_own) < n && now_ns() < deadline)
		usleep(1000);
	int64_t during = wait_num_coroutines(base + nby, 10000);
	cr_assert_eq(during, base + nby, "live: %lld, want %lld (the bystanders)", (long long)during,
		     (long long)(base + nby));
	atomic_store(&hs.stop, 1);
	gort_wg_wait(&hs.bystanders);
	cr_assert_eq(atomic_load(&hs.bystander_bad), 0);

	cr_assert_eq(atomic_load(&hs.unknown), 0, "the handler got a record it cannot place");
	cr_assert_eq(atomic_load(&hs.calls_own), own);
	cr_assert_eq(atomic_load(&hs.calls_global), n - own);
	for (long i = 0; i < n; i++) {
		struct hslot *s = &hs.slot[i];
		cr_assert_eq(atomic_load(&s->calls), 1, "coroutine %ld: handler called %d times", i,
			     atomic_load(&s->calls));
		cr_assert_eq(s->via, (!with_policy || i % 2) ? 2 : 1, "coroutine %ld: wrong handler ctx", i);
		cr_assert_eq(s->self, s->spawned, "coroutine %ld: gort_self %lld, spawn %lld", i,
			     (long long)s->self, (long long)s->spawned);
		cr_assert_eq(s->seen, s->spawned, "coroutine %ld: record says coroutine %lld, want %lld",
			     i, (long long)s->seen, (long long)s->spawned);
		cr_assert_eq(s->seen_self, s->spawned, "coroutine %ld: handler ran in coroutine %lld", i,
			     (long long)s->seen_self);
		char want[GORT_PANIC_MSG_MAX];
		snprintf(want, sizeof want, "hp-%ld", i);
		cr_assert_str_eq(s->name, want);
		if (i % 4 == 3) {
			snprintf(want, sizeof want, "(value %p)", (void *)s);
			cr_assert_eq(s->value, s);
		} else {
			snprintf(want, sizeof want, "hp-%ld-end", i);
			cr_assert_null(s->value);
		}
		cr_assert_str_eq(s->msg, want);
		cr_assert_not(s->runtime_error);
		cr_assert_eq(s->after, 0);
	}
	cr_assert_eq(wait_num_coroutines(base, 5000), base);
	gort_stats st;
	wait_stats_settled(&st, 5000);
	cr_assert_eq(st.spawns, st.exits);
	assert_fresh_spawn_works();
	rt_stop();
}

PROCS_TEST(recover, handler_policy_and_on_panic_called_once_per_panic, 20)
{
	run_handler_test(procs, scaled_min(HP_MAX, 100), true);
}

/* The default policy would abort; each coroutine's own on_panic saves it. */
Test(recover, on_panic_under_the_default_policy, .timeout = 15)
{
	run_handler_test(2, 100, false);
}

Test(recover, set_panic_policy_rejects_bad_arguments, .timeout = 10)
{
	rt_start(1);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_HANDLER, NULL, NULL), -EINVAL);
	cr_assert_eq(gort_set_panic_policy((gort_panic_policy)42, NULL, NULL), -EINVAL);
	cr_assert_eq(gort_set_panic_policy((gort_panic_policy)-1, NULL, NULL), -EINVAL);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_HANDLER, hp_handler, NULL), 0);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_LOG, NULL, NULL), 0);
	cr_assert_eq(gort_set_panic_policy(GORT_PANIC_ABORT, NULL, NULL), 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Runtime misuse panics                                                     */
/* ------------------------------------------------------------------------ */

struct neg {
	struct rec_slot rec;
	gort_panic_info out;
	int rc, after, reuse_ok;
};

static void neg_region(void *p)
{
	struct neg *c = p;
	GORT_DEFER(recover_into_cb, &c->rec);
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, -1);
	c->after++;
}

static void neg_call(void *p)
{
	struct neg *c = p;
	c->rc = gort_protect(neg_region, c, &c->out);
	/* the runtime's wait groups still work afterwards */
	gort_wg wg = GORT_WG_INIT;
	gort_wg_add(&wg, 1);
	gort_wg_done(&wg);
	gort_wg_wait(&wg);
	c->reuse_ok = 1;
}

static void assert_neg(const struct neg *c)
{
	cr_assert_eq(c->rc, GORT_PANICKED, "gort_protect = %d", c->rc);
	cr_assert_eq(c->after, 0);
	cr_assert_eq(c->rec.n, 1);
	cr_assert_str_eq(c->rec.info.message, "sync: negative WaitGroup counter");
	cr_assert(c->rec.info.runtime_error, "runtime_error false in gort_recover's record");
	cr_assert_str_eq(c->out.message, "sync: negative WaitGroup counter");
	cr_assert(c->out.runtime_error, "runtime_error false in gort_protect's record");
	cr_assert_eq(c->reuse_ok, 1);
}

Test(recover, negative_waitgroup_is_a_recoverable_runtime_error, .timeout = 10)
{
	static struct neg co, th;
	rt_start(2);
	gort_id id = co_run_named(neg_call, &co, "misuse");
	assert_neg(&co);
	cr_assert_eq(co.out.coroutine, id);
	neg_call(&th);
	assert_neg(&th);
	cr_assert_eq(th.out.coroutine, 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* gort_panic_print                                                          */
/* ------------------------------------------------------------------------ */

Test(recover, panic_print_writes_gos_format, .timeout = 10)
{
	static struct trace t;
	struct step s[1] = {{.t = &t, .tag = 1, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 1, .body = B_PANIC, .msg = "printed 5"};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out};
	rt_start(2);
	gort_id id = co_run_named(protect_call_fn, &c, "printer");
	cr_assert_eq(c.rc, GORT_PANICKED);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	gort_panic_print(fileno(f), &out);
	char buf[8192];
	ssize_t n = pread(fileno(f), buf, sizeof buf - 1, 0);
	cr_assert_gt(n, 0, "gort_panic_print wrote nothing");
	buf[n] = '\0';
	fclose(f);
	char want[64];
	snprintf(want, sizeof want, "coroutine %lld", (long long)id);
	cr_assert(strstr(buf, "panic: printed 5") != NULL, "output:\n%s", buf);
	cr_assert(strstr(buf, want) != NULL, "no \"%s\"; output:\n%s", want, buf);
	cr_assert(strstr(buf, "[running]:") != NULL, "output:\n%s", buf);
	cr_assert(strstr(buf, "printer") != NULL, "output:\n%s", buf);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Plain threads                                                             */
/* ------------------------------------------------------------------------ */

static void *defer_on_thread(void *p)
{
	int *rc = p;
	rc[0] = gort_defer(noop_cb, NULL);
	rc[1] = gort_recover() == NULL;
	return NULL;
}

Test(recover, defer_outside_a_region_on_a_plain_thread_is_eperm, .timeout = 10)
{
	cr_assert_eq(gort_defer(noop_cb, NULL), -EPERM, "runtime stopped");
	rt_start(2);
	cr_assert_eq(gort_defer(noop_cb, NULL), -EPERM, "runtime running");
	int rc[2] = {-99, 0};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, defer_on_thread, rc), 0);
	pthread_join(th, NULL);
	cr_assert_eq(rc[0], -EPERM, "another thread: %d", rc[0]);
	cr_assert_eq(rc[1], 1);
	rt_stop();
	cr_assert_eq(gort_defer(noop_cb, NULL), -EPERM, "runtime stopped again");
}

/* gort_protect on a plain thread needs no runtime. */
Test(recover, protect_on_a_plain_thread_without_the_runtime, .timeout = 10)
{
	static struct trace t;
	struct step s[2] = {{.t = &t, .tag = 1}, {.t = &t, .tag = 2, .action = S_RECOVER}};
	struct region r = {.t = &t, .steps = s, .nsteps = 2, .body = B_PANIC_FMT, .tag = 100,
			   .after_tag = 101};
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	struct protect_call c = {.r = &r, .out = &out, .rc = -99};
	protect_call_fn(&c);
	cr_assert_eq(r.defer_errors, 0, "gort_defer failed inside gort_protect on a plain thread");
	cr_assert_eq(c.rc, GORT_PANICKED);
	assert_order(&t, "plain thread", 100, 2, 1, 200);
	cr_assert_str_eq(out.message, "boom 42 x");
	assert_panicker(ON_THREAD, &out, 0, "plain thread");
	/* and a normal return */
	t.n = 0;
	r.body = B_RETURN;
	protect_call_fn(&c);
	cr_assert_eq(c.rc, 0);
	assert_order(&t, "plain thread, normal return", 100, 101, 2, 1, 200);
}

struct thread_protect {
	struct trace t;
	struct step s[2];
	struct region r;
	gort_panic_info out;
	struct protect_call c;
};

static void *thread_protect_fn(void *p)
{
	struct thread_protect *x = p;
	protect_call_fn(&x->c);
	return NULL;
}

/* ... and on a thread of the program's own while the runtime runs */
Test(recover, protect_on_another_plain_thread, .timeout = 10)
{
	static struct thread_protect x;
	x.s[0] = (struct step){.t = &x.t, .tag = 1};
	x.s[1] = (struct step){.t = &x.t, .tag = 2, .action = S_RECOVER};
	x.r = (struct region){.t = &x.t, .steps = x.s, .nsteps = 2, .body = B_PANIC, .msg = "thread",
			      .tag = 100, .after_tag = 101};
	x.c = (struct protect_call){.r = &x.r, .out = &x.out, .rc = -99};
	rt_start(2);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, thread_protect_fn, &x), 0);
	pthread_join(th, NULL);
	cr_assert_eq(x.r.defer_errors, 0);
	cr_assert_eq(x.c.rc, GORT_PANICKED);
	assert_order(&x.t, "another thread", 100, 2, 1, 200);
	cr_assert_str_eq(x.out.message, "thread");
	cr_assert_eq(x.out.coroutine, 0);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Fatal panics, in child processes                                          */
/* ------------------------------------------------------------------------ */

/* Position of needle in the child's stderr, or -1. */
static long err_pos(const struct child_result *r, const char *needle)
{
	const char *p = strstr(r->err, needle);
	return p ? (long)(p - r->err) : -1;
}

enum chain_mode { CHAIN_RECOVERED, CHAIN_UNRECOVERED };

static void chain_fn(void *p)
{
	static struct trace t;
	static struct step s;
	s = (struct step){.t = &t, .tag = 1, .msg = "second-B"};
	s.action = *(enum chain_mode *)p == CHAIN_RECOVERED ? S_RECOVER_REPANIC : S_PANIC;
	GORT_DEFER(step_fn, &s);
	gort_panic("first-A");
}

static int chain_child(void *p)
{
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_go_with(chain_fn, p, .name = "chain") > 0, 3, "spawn");
	return child_wait_forever();
}

Test(recover, repanic_after_recover_prints_the_recovered_chain, .timeout = 30)
{
	static struct child_result r;
	static enum chain_mode mode = CHAIN_RECOVERED;
	child_run(chain_child, &mode, NULL, &r);
	assert_child_aborted(&r);
	long a = err_pos(&r, "panic: first-A [recovered]");
	long b = err_pos(&r, "panic: second-B");
	cr_assert(a >= 0, "no \"panic: first-A [recovered]\"; stderr:\n%s", r.err);
	cr_assert(b > a, "\"panic: second-B\" missing or before the first; stderr:\n%s", r.err);
}

Test(recover, panic_during_panic_prints_both, .timeout = 30)
{
	static struct child_result r;
	static enum chain_mode mode = CHAIN_UNRECOVERED;
	child_run(chain_child, &mode, NULL, &r);
	assert_child_aborted(&r);
	long a = err_pos(&r, "panic: first-A");
	long b = err_pos(&r, "panic: second-B");
	cr_assert(a >= 0, "no \"panic: first-A\"; stderr:\n%s", r.err);
	cr_assert(b > a, "\"panic: second-B\" missing or before the first; stderr:\n%s", r.err);
	cr_assert_null(strstr(r.err, "[recovered]"), "A was never recovered; stderr:\n%s", r.err);
}

/* A coroutine's panic is not its parent's: the parent's region, with a
 * deferred call that would recover, does not see it. */
struct kid {
	gort_wg go;
	gort_id id;
};

static void kid_fn(void *p)
{
	struct kid *k = p;
	gort_wg_wait(&k->go);
	gort_panic("kid boom %d", 7);
}

static void parent_recover_cb(void *p)
{
	(void)p;
	const gort_panic_info *i = gort_recover();
	if (i != NULL)
		fprintf(stderr, "parent recovered: %s\n", i->message);
}

static void parent_region(void *p)
{
	struct kid *k = p;
	GORT_DEFER(parent_recover_cb, NULL);
	gort_wg_add(&k->go, 1);
	k->id = gort_go_with(kid_fn, k, .name = "kid");
	fprintf(stderr, "kid-id=%lld\n", (long long)k->id);
	gort_wg_done(&k->go);
	gort_wg never = GORT_WG_INIT;
	gort_wg_add(&never, 1);
	gort_wg_wait(&never);
}

static void parent_fn(void *p)
{
	int rc = gort_protect(parent_region, p, NULL);
	fprintf(stderr, "parent region returned %d\n", rc);
}

static int kid_child(void *p)
{
	(void)p;
	static struct kid k;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_go_with(parent_fn, &k, .name = "parent") > 0, 3, "spawn");
	return child_wait_forever();
}

/* Does some line of s start with "coroutine <id>" (then not a digit) and
 * contain "[running]:"? */
static bool has_running_line(const char *s, long long id)
{
	char head[48];
	int hl = snprintf(head, sizeof head, "coroutine %lld", id);
	for (const char *line = s; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > (size_t)hl && strncmp(line, head, (size_t)hl) == 0 &&
		    !(line[hl] >= '0' && line[hl] <= '9') && memmem(line, len, "[running]:", 10))
			return true;
		if (!eol)
			break;
		line = eol + 1;
	}
	return false;
}

Test(recover, child_coroutine_panic_is_not_caught_by_the_parent, .timeout = 30)
{
	static struct child_result r;
	child_run(kid_child, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "panic: kid boom 7");
	const char *p = strstr(r.err, "kid-id=");
	cr_assert_not_null(p, "stderr:\n%s", r.err);
	long long id = atoll(p + 7);
	cr_assert_gt(id, 0);
	cr_assert(has_running_line(r.err, id), "no \"coroutine %lld ... [running]:\" line; stderr:\n%s",
		  id, r.err);
	cr_assert_null(strstr(r.err, "parent recovered"), "stderr:\n%s", r.err);
	cr_assert_null(strstr(r.err, "parent region returned"), "stderr:\n%s", r.err);
}

/* A plain thread has no policy: outside gort_protect it aborts, even when
 * coroutines are set to log. */
static int plain_panic_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 1});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_set_panic_policy(GORT_PANIC_LOG, NULL, NULL) == 0, 3, "policy");
	gort_panic("plain %d", 3);
}

Test(recover, panic_on_a_plain_thread_outside_a_region_aborts, .timeout = 30)
{
	static struct child_result r;
	child_run(plain_panic_child, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "panic: plain 3");
}

/* A handler that panics itself aborts the process. */
static void giving_up_handler(const gort_panic_info *info, void *ctx)
{
	(void)ctx;
	gort_panic("handler gave up on \"%s\"", info->message);
}

static void original_fn(void *p)
{
	(void)p;
	gort_panic("original");
}

static int handler_panics_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_set_panic_policy(GORT_PANIC_HANDLER, giving_up_handler, NULL) == 0, 3, "policy");
	CHILD_CHECK(gort_go_with(original_fn, NULL, .name = "orig") > 0, 3, "spawn");
	return child_wait_forever();
}

Test(recover, panicking_handler_aborts, .timeout = 30)
{
	static struct child_result r;
	child_run(handler_panics_child, NULL, NULL, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "handler gave up on \"original\"");
}

/* ------------------------------------------------------------------------ */
/* Signals as panics: GORT_DEBUG=sigpanic=1                                  */
/* ------------------------------------------------------------------------ */

static int *volatile null_ptr;          /* always NULL */
static volatile int v_one = 1, v_zero; /* v_zero is always 0 */

struct fault_arg {
	struct rec_slot rec;
	int sink;
	int after;
};

NO_UBSAN __attribute__((noinline)) static void null_deref_region(void *p)
{
	struct fault_arg *a = p;
	GORT_DEFER(recover_into_cb, &a->rec);
	int *q = null_ptr;
	a->sink = *q;
	/* keep the increment after the faulting instruction */
	__asm__ volatile("" : : "r"(a->sink) : "memory");
	a->after++;
}

NO_UBSAN __attribute__((noinline)) static void div_zero_region(void *p)
{
	struct fault_arg *a = p;
	GORT_DEFER(recover_into_cb, &a->rec);
	a->sink = v_one / v_zero;
	__asm__ volatile("" : : "r"(a->sink) : "memory");
	a->after++;
}

/* gort_protect(fn) must recover a runtime error whose message has want. */
static void check_fault_recovered(void (*fn)(void *), const char *want, const char *what)
{
	struct fault_arg a;
	memset(&a, 0, sizeof a);
	gort_panic_info out;
	memset(&out, 0, sizeof out);
	int rc = gort_protect(fn, &a, &out);
	CO_CHECK(rc == GORT_PANICKED, "%s: gort_protect = %d", what, rc);
	CO_CHECK(a.after == 0, "%s: code after the fault ran", what);
	CO_CHECK(a.rec.n == 1, "%s: recovered %d times", what, a.rec.n);
	CO_CHECK(strstr(a.rec.info.message, want) != NULL, "%s: message \"%s\", want \"%s\"", what,
		 a.rec.info.message, want);
	CO_CHECK(strstr(out.message, want) != NULL, "%s: out \"%s\"", what, out.message);
	CO_CHECK(a.rec.info.runtime_error, "%s: not a runtime error", what);
	CO_CHECK(out.coroutine == gort_self(), "%s: coroutine %lld, self %lld", what,
		 (long long)out.coroutine, (long long)gort_self());
}

struct sigw {
	long n;
	atomic_long next, bad, done_ok;
	gort_wg workers, fin;
};
static struct sigw sigw;

static void sig_worker(void *p)
{
	(void)p;
	long i = atomic_fetch_add(&sigw.next, 1);
	long bad = stack_check(6, (unsigned)i, yield_cb, NULL);
	if (i % 10 == 0) /* faults on other Ms too */
		check_fault_recovered(i % 20 ? div_zero_region : null_deref_region,
				      i % 20 ? "integer divide by zero" : "invalid memory address",
				      "worker");
	bad += stack_check(6, (unsigned)i + 1, NULL, NULL);
	atomic_fetch_add(&sigw.bad, bad);
	atomic_fetch_add(&sigw.done_ok, 1);
	gort_wg_done(&sigw.workers);
}

static void faulty_fn(void *p)
{
	(void)p;
	for (int round = 0; round < 10; round++) {
		check_fault_recovered(null_deref_region, "invalid memory address", "NULL dereference");
		check_fault_recovered(div_zero_region, "integer divide by zero", "division by zero");
		gort_yield();
	}
	/* this coroutine keeps working */
	CO_CHECK(stack_check(8, 3, yield_cb, NULL) == 0, "stack changed after recovered faults");
	gort_wg_add(&sigw.workers, sigw.n);
	for (long i = 0; i < sigw.n; i++) {
		gort_id id = gort_go_with(sig_worker, NULL, .name = "after-fault");
		CO_CHECK(id > 0, "spawn %ld: %lld", i, (long long)id);
		if (id <= 0)
			gort_wg_done(&sigw.workers);
	}
	gort_wg_wait(&sigw.workers);
	gort_wg_done(&sigw.fin);
}

static int sigpanic_child(void *p)
{
	(void)p;
	sigw.n = scaled_min(1000, 100);
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	gort_wg_add(&sigw.fin, 1);
	CHILD_CHECK(gort_go_with(faulty_fn, NULL, .name = "faulty") > 0, 3, "spawn");
	gort_wg_wait(&sigw.fin);
	long fails = atomic_load(&co_fail_state()->count);
	CHILD_CHECK(fails == 0, 5, "%ld checks failed; first: %s", fails, co_fail_state()->msg);
	CHILD_CHECK(atomic_load(&sigw.done_ok) == sigw.n, 6, "%ld of %ld workers finished",
		    atomic_load(&sigw.done_ok), sigw.n);
	CHILD_CHECK(atomic_load(&sigw.bad) == 0, 7, "%ld stack bytes changed", atomic_load(&sigw.bad));
	CHILD_CHECK(gort_stop() == 0, 8, "gort_stop");
	return 0;
}

Test(recover, sigpanic_faults_are_recoverable, .timeout = 40)
{
	static struct child_result r;
	const char *env[] = {"GORT_DEBUG=sigpanic=1", NULL};
	child_run(sigpanic_child, NULL, env, &r);
	assert_child_exited_ok(&r);
}

NO_UBSAN static void null_deref_fn(void *p)
{
	(void)p;
	int *q = null_ptr;
	v_zero = *q;
	fprintf(stderr, "survived the NULL dereference\n");
	fflush(stderr);
	_exit(5);
}

static int null_deref_child(void *p)
{
	(void)p;
	int rc = gort_start(&(gort_config){.procs = 2});
	CHILD_CHECK(rc == 0, 2, "gort_start = %d", rc);
	CHILD_CHECK(gort_go_with(null_deref_fn, NULL, .name = "nullderef") > 0, 3, "spawn");
	sleep_ms(20000);
	return 6;
}

/* with sigpanic, an unrecovered fault is an unrecovered panic: abort */
Test(recover, sigpanic_unrecovered_fault_aborts, .timeout = 40)
{
	static struct child_result r;
	const char *env[] = {"GORT_DEBUG=sigpanic=1", NULL};
	child_run(null_deref_child, NULL, env, &r);
	assert_child_aborted(&r);
	assert_stderr_has(&r, "invalid memory address");
	assert_stderr_has(&r, "nullderef");
}

/* without it, the fault is fatal, with the coroutine's traceback */
Test(recover, fault_without_sigpanic_is_fatal, .timeout = 40)
{
	static struct child_result r;
	child_run(null_deref_child, NULL, NULL, &r);
	char d[96];
	child_describe(&r, d, sizeof d);
	cr_assert(WIFSIGNALED(r.status) ||
			  (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0 &&
			   WEXITSTATUS(r.status) != 5 && WEXITSTATUS(r.status) != 6),
		  "child should die of the fault but %s; stderr:\n%s", d, r.err);
	cr_assert(!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGALRM, "child hung; stderr:\n%s",
		  r.err);
	assert_stderr_has(&r, "coroutine");
	cr_assert(strstr(r.err, "[running]") || strstr(r.err, "signal SIGSEGV"),
		  "no traceback (\"[running]\" or \"signal SIGSEGV\"); stderr:\n%s", r.err);
	cr_assert_null(strstr(r.err, "survived"), "stderr:\n%s", r.err);
}
