/*
 * test_fault.c — fault injection (runtime/inject.h): every failure of
 * memory, threads or the poller's descriptors that the runtime can meet
 * ends in a clear error from the public call (or a named fatal error where
 * Go would crash), never a hang, a silent drop or corruption, and the
 * runtime works again once the failure passes.
 *
 * The walk: for k = 1, 2, ... arm "fail the kth matching call", run an
 * operation, disarm, check what it returned and that the runtime is
 * healthy (a spawn and a channel round trip, the coroutine count back to
 * its baseline); stop at the first k that injects nothing (the operation
 * ran through every point it reaches).  Other threads of the runtime may
 * take the kth call instead (a new M, the poller): their failure must be
 * absorbed just the same.  The report test runs every walk in one process
 * and names the points it made fail.
 */
#include "helpers.h"

#include "../runtime/inject.h"
#include "../runtime/rt.h"

#include <fcntl.h>

#define MAX_STEPS 400

/* What a failed operation may return. */
static bool clear_error(int rc)
{
	return rc == -ENOMEM || rc == -EAGAIN || rc == -EMFILE;
}

static void arm_nth(unsigned kinds, uint64_t k)
{
	struct gort__inject_plan p = {.kinds = kinds, .nth = k};
	gort__inject_arm(&p);
}

/* ------------------------------------------------------------------------ */
/* Health                                                                    */
/* ------------------------------------------------------------------------ */

static void echo_one(void *arg)
{
	gort_chan *c = arg;
	int v = 0;
	bool ok = false;
	gort_chan_recv(c, &v, &ok);
	v++;
	gort_chan_send(c, &v);
	gort_chan_release(c);
}

/* A spawn and an unbuffered round trip work; nothing is left behind.
 * From a coroutine. */
static int healthy(int64_t baseline)
{
	gort_chan *c = gort_chan_make(sizeof(int), 0);
	if (!c)
		return -1;
	if (gort_go(echo_one, gort_chan_retain(c)) <= 0)
		return -2;
	int v = 41;
	bool ok = false;
	if (gort_chan_send(c, &v) != 0 || gort_chan_recv(c, &v, &ok) != 0 || !ok || v != 42)
		return -3;
	gort_chan_release(c);
	for (int i = 0; i < 2000 && gort_num_coroutines() > baseline; i++)
		gort_sleep(500 * GORT_US);
	return gort_num_coroutines() <= baseline ? 0 : -4; /* fewer: an earlier one ended */
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                  */
/* ------------------------------------------------------------------------ */

/* op returns 0 when it did its work, a clear error when a failure stopped
 * it (having undone what it started), or something else for a defect
 * (then walk fails, naming the step). */
typedef int (*fault_op)(void *arg);

struct walk {
	const char *name;
	fault_op op;
	void *arg;
	unsigned kinds;
	int steps;    /* out: steps until one injected nothing */
	int failures; /* out: steps whose operation returned an error */
};

static void walk_body(void *p)
{
	struct walk *w = p;
	int64_t baseline = gort_num_coroutines();
	for (int k = 1; k <= MAX_STEPS; k++) {
		arm_nth(w->kinds, (uint64_t)k);
		int rc = w->op(w->arg);
		uint64_t injected = gort__inject_failures();
		gort__inject_disarm();
		w->steps = k;
		CO_CHECK(rc == 0 || clear_error(rc), "%s, step %d: returned %d (%s)", w->name, k, rc,
			 gort_strerror(rc));
		if (rc != 0) {
			w->failures++;
			CO_CHECK(injected > 0, "%s, step %d: failed (%d) with nothing injected", w->name,
				 k, rc);
		}
		int h = healthy(baseline);
		CO_CHECK(h == 0, "%s, step %d: the runtime is not healthy after the failure (%d)",
			 w->name, k, h);
		if (h != 0 || injected == 0)
			return;
	}
	CO_CHECK(false, "%s: still injecting after %d steps", w->name, MAX_STEPS);
}

static void walk(struct walk *w)
{
	co_run(walk_body, w);
	CO_ASSERT_NO_FAILURES();
	cr_assert_gt(w->failures, 0, "%s: no step failed (the walk reached no point)", w->name);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/* ------------------------------------------------------------------------ */

static int op_chan(void *arg)
{
	(void)arg;
	errno = 0;
	gort_chan *c = gort_chan_make(sizeof(int64_t), 4);
	if (!c)
		return errno == ENOMEM ? -ENOMEM : -1000 - errno;
	int64_t v = 7, got = 0;
	bool ok = false;
	int rc = gort_chan_send(c, &v);
	if (rc == 0)
		rc = gort_chan_recv(c, &got, &ok);
	gort_chan_release(c);
	return rc == 0 && got == 7 && ok ? 0 : -2000;
}

/* A select over more cases than fit on the stack (its arrays come from
 * malloc), one of them ready. */
#define BIG_SELECT 80
static int op_select(void *arg)
{
	(void)arg;
	gort_chan *c = gort_chan_make(sizeof(int), 1);
	if (!c)
		return -ENOMEM;
	int v = 5, got = 0;
	gort_chan_send(c, &v);
	gort_case cases[BIG_SELECT];
	for (int i = 0; i < BIG_SELECT; i++)
		cases[i] = (gort_case){.chan = i == BIG_SELECT / 2 ? c : NULL, .dir = GORT_RECV,
				       .elem = &got};
	int rc = gort_select(cases, BIG_SELECT, false);
	if (rc == BIG_SELECT / 2) {
		/* again with a context: one more case, copied to the heap */
		rc = got == 5 ? 0 : -3000;
		got = 0;
		if (rc == 0)
			gort_chan_send(c, &v);
		gort_ctx *ctx = rc == 0 ? gort_ctx_with_cancel(NULL) : NULL;
		if (rc == 0 && !ctx)
			rc = -ENOMEM;
		if (ctx) {
			rc = gort_select_ctx(ctx, cases, BIG_SELECT);
			rc = rc == BIG_SELECT / 2 ? (got == 5 ? 0 : -3003) : rc;
			gort_ctx_cancel(ctx);
			gort_ctx_release(ctx);
		}
	} else if (rc >= 0) {
		rc = -3001;
	}
	if (rc == -ENOMEM && gort_chan_len(c) != 1)
		rc = -3002; /* a failed select took the value */
	gort_chan_release(c);
	return rc;
}

static void after_fn(void *arg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
}

/* The context tree: a cancel, a timeout (its timer), a value, a done
 * channel, an after-func; a cancel reaches all of it. */
static int op_ctx(void *arg)
{
	(void)arg;
	static const int key = 0;
	int rc = 0;
	_Atomic int ran = 0;
	gort_ctx *a = gort_ctx_with_cancel(gort_ctx_background());
	if (!a)
		return -ENOMEM;
	gort_ctx *b = gort_ctx_with_timeout(a, 10 * GORT_SEC);
	gort_ctx *c = b ? gort_ctx_with_value(b, &key, (void *)&key) : NULL;
	gort_chan *done = c ? gort_ctx_done(c) : NULL;
	gort_ctx_after *af = done ? gort_ctx_after_func(c, after_fn, (void *)&ran) : NULL;
	if (!af) {
		rc = -ENOMEM;
	} else {
		gort_ctx_cancel(a);
		bool ok = true;
		gort_chan_recv(done, NULL, &ok);
		for (int i = 0; i < 2000 && atomic_load(&ran) == 0; i++)
			gort_sleep(100 * GORT_US);
		if (ok || gort_ctx_err(c) != GORT_CANCELED || gort_ctx_value(c, &key) != &key ||
		    atomic_load(&ran) != 1)
			rc = -4000;
	}
	gort_ctx_after_func_stop(af);
	gort_ctx_cancel(a);
	if (b)
		gort_ctx_cancel(b);
	if (c)
		gort_ctx_release(c);
	if (b)
		gort_ctx_release(b);
	gort_ctx_release(a);
	return rc;
}

static void sleeper(void *arg)
{
	struct {
		_Atomic int done, nomem;
	} *s = arg;
	int rc = gort_sleep(GORT_MS);
	atomic_fetch_add(rc == 0 ? &s->done : &s->nomem, 1);
}

/* Timers: a timer of its own, and enough sleepers at once to grow the
 * timer heaps. */
static int op_timers(void *arg)
{
	(void)arg;
	gort_timer *t = gort_timer_new(GORT_MS);
	if (!t)
		return -ENOMEM;
	int64_t when = 0;
	bool ok = false;
	gort_chan_recv(gort_timer_chan(t), &when, &ok);
	gort_timer_free(t);
	if (!ok || when <= 0)
		return -5000;
	struct {
		_Atomic int done, nomem;
	} s = {0, 0};
	int n = 200, spawned = 0, rc = 0;
	for (int i = 0; i < n; i++) {
		gort_id id = gort_go(sleeper, &s);
		if (id > 0)
			spawned++;
		else if (clear_error((int)id))
			rc = (int)id;
		else
			return -5001;
	}
	while (atomic_load(&s.done) + atomic_load(&s.nomem) < spawned)
		gort_sleep(GORT_MS);
	return atomic_load(&s.nomem) ? -ENOMEM : rc;
}

/* netpoll: a pipe registered with the poller, a byte through it. */
static int op_fd(void *arg)
{
	(void)arg;
	int p[2];
	if (pipe(p) != 0)
		return -6000;
	gort_fd *r = NULL, *w = NULL;
	int rc = gort_fd_open(p[0], &r);
	if (rc != 0) {
		close(p[0]);
		close(p[1]);
		return rc;
	}
	rc = gort_fd_open(p[1], &w);
	if (rc != 0) {
		close(p[1]);
		gort_fd_close(r);
		return rc;
	}
	char b = 'x', got = 0;
	if (gort_write(w, &b, 1) != 1 || gort_read(r, &got, 1) != 1 || got != 'x')
		rc = -6001;
	gort_fd_close(w);
	gort_fd_close(r);
	return rc;
}

struct spawned {
	gort_chan *c;
	_Atomic int exited;
};

static void blocked(void *arg)
{
	struct spawned *st = arg;
	int v;
	bool ok;
	gort_chan_recv(st->c, &v, &ok);
	atomic_fetch_add(&st->exited, 1);
}

static void on_panic_ignore(const gort_panic_info *info, void *ctx)
{
	(void)info;
	(void)ctx;
}

/* Spawns: many at once (new descriptors, stacks from the caches warmed
 * by a first round without faults: a stack that cannot be mapped is a
 * fatal error, tested on its own below). */
static int op_spawn(void *arg)
{
	int n = *(int *)arg, rc = 0;
	struct spawned st = {.c = gort_chan_make(sizeof(int), 0), .exited = 0};
	if (!st.c)
		return -ENOMEM;
	int spawned = 0;
	for (int i = 0; i < n; i++) {
		/* some with a panic handler of their own (recover state made at
		 * the spawn) */
		gort_id id = i % 8 ? gort_go(blocked, &st)
				   : gort_go_with(blocked, &st, .on_panic = on_panic_ignore);
		if (id > 0) {
			spawned++;
		} else {
			rc = (int)id;
			break;
		}
	}
	gort_chan_close(st.c); /* all of them live at once until now */
	while (atomic_load(&st.exited) < spawned)
		gort_sleep(100 * GORT_US);
	gort_chan_release(st.c);
	return rc;
}

static int member(gort_ctx *ctx, void *arg)
{
	(void)ctx;
	gort_sem *s = arg;
	int rc = gort_sem_acquire(s, 1);
	if (rc == 0)
		gort_sem_release(s, 1);
	return rc;
}

/* The sync toolbox's allocations: a group and its members, a semaphore. */
static int op_group(void *arg)
{
	(void)arg;
	gort_sem *s = gort_sem_new(2);
	if (!s)
		return -ENOMEM;
	gort_group *g = gort_group_new(NULL);
	if (!g) {
		gort_sem_free(s);
		return -ENOMEM;
	}
	int rc = gort_group_set_limit(g, 3);
	for (int i = 0; i < 20 && rc == 0; i++)
		rc = gort_group_go(g, member, s);
	int wrc = gort_group_wait(g);
	gort_group_free(g);
	gort_sem_free(s);
	return rc ? rc : wrc;
}

static void deferred(void *arg)
{
	(*(int *)arg)++;
}

static void recoverer(void *arg)
{
	(void)arg;
	(void)gort_recover();
}

struct defers {
	int ran;
	bool no_recoverer;
};

static void many_defers(void *arg)
{
	struct defers *d = arg;
	if (gort_defer(recoverer, NULL) != 0) {
		d->no_recoverer = true;
		return;
	}
	for (int i = 0; i < 40; i++)
		GORT_DEFER(deferred, &d->ran);
}

/* Defers: registering may need memory; GORT_DEFER panics when it cannot
 * (recovered here), and the defers registered before still run. */
static int op_defer(void *arg)
{
	(void)arg;
	struct defers d = {0, false};
	gort_panic_info pi;
	int rc = gort_protect(many_defers, &d, &pi);
	if (rc == -ENOMEM || d.no_recoverer)
		return d.ran == 0 ? -ENOMEM : -7003; /* nothing registered, nothing ran */
	if (rc == 0)
		return d.ran == 40 ? 0 : -7000;
	if (rc != GORT_PANICKED || !strstr(pi.message, "GORT_DEFER(deferred): not registered")) {
		fprintf(stderr, "defer walk: %d, unexpected panic: %s\n", rc, pi.message);
		return -7001;
	}
	return d.ran < 40 ? -ENOMEM : -7002;
}

/* The debugging tools: a dump, a leak baseline. */
static int op_debug(void *arg)
{
	(void)arg;
	FILE *f = tmpfile();
	if (!f)
		return -8000;
	int64_t n = gort_dump_file(f, GORT_DUMP_GROUPED);
	fclose(f);
	if (n < 0)
		return (int)n;
	gort_leak_baseline *b = gort_leak_baseline_take();
	if (!b)
		return -ENOMEM;
	gort_leak_baseline_free(b);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The walks                                                                 */
/* ------------------------------------------------------------------------ */

#define KINDS_RUN ((1u << GORT__FAULT_ALLOC) | (1u << GORT__FAULT_FD))

static int spawn_n = 600;

static void warm_spawn(void *arg)
{
	CO_CHECK(op_spawn(arg) == 0, "spawning %d without faults failed", *(int *)arg);
}

static struct walk walks[] = {
	{.name = "chan make", .op = op_chan},
	{.name = "select", .op = op_select},
	{.name = "context", .op = op_ctx},
	{.name = "timers", .op = op_timers},
	{.name = "netpoll", .op = op_fd},
	{.name = "spawn", .op = op_spawn, .arg = &spawn_n},
	{.name = "group", .op = op_group},
	{.name = "defer", .op = op_defer},
	{.name = "debug", .op = op_debug},
};
#define NWALKS (sizeof walks / sizeof walks[0])

static struct walk *find_walk(const char *name)
{
	for (size_t i = 0; i < NWALKS; i++)
		if (strcmp(walks[i].name, name) == 0)
			return &walks[i];
	cr_assert_fail("no walk %s", name);
	return NULL;
}

static void run_walk(const char *name, int procs)
{
	rt_start(procs);
	struct walk *w = find_walk(name);
	w->kinds = KINDS_RUN;
	if (w->op == op_spawn)
		co_run(warm_spawn, &spawn_n); /* the stacks and descriptors, cached */
	walk(w);
	rt_stop();
}

#define WALK_TEST(id, name)                                                    \
	Test(fault, id##_procs1, .timeout = 120) { run_walk(name, 1); }        \
	Test(fault, id##_procs2, .timeout = 120) { run_walk(name, 2); }        \
	Test(fault, id##_procs8, .timeout = 120) { run_walk(name, 8); }

WALK_TEST(chan_make, "chan make")
WALK_TEST(select, "select")
WALK_TEST(context, "context")
WALK_TEST(timers, "timers")
WALK_TEST(netpoll, "netpoll")
WALK_TEST(spawn, "spawn")
WALK_TEST(group, "group")
WALK_TEST(defer, "defer")
WALK_TEST(debug, "debug")

/* ------------------------------------------------------------------------ */
/* Starting the runtime                                                      */
/* ------------------------------------------------------------------------ */

static void health_co(void *arg)
{
	int h = healthy(*(int64_t *)arg);
	CO_CHECK(h == 0, "not healthy after a start that met failures (%d)", h);
}

/* gort_start through every failure it can meet (its Ps, the stack
 * allocator's first slab, the poller's descriptors, the first M and its
 * signal stack, sysmon): a clear error and a runtime that is not running,
 * or a runtime that works; either way a clean start afterwards. */
static int walk_start(int procs)
{
	gort_config cfg = {.procs = procs};
	int k, failed = 0;
	for (k = 1; k <= MAX_STEPS; k++) {
		arm_nth(GORT__FAULT_ALL, (uint64_t)k);
		int rc = gort_start(&cfg);
		uint64_t injected = gort__inject_failures();
		gort__inject_disarm();
		if (rc != 0) {
			failed++;
			cr_assert(clear_error(rc), "gort_start, step %d: %d (%s)", k, rc, gort_strerror(rc));
			cr_assert(!gort_running(), "gort_start, step %d: failed but running", k);
			cr_assert_gt(injected, 0, "gort_start, step %d: failed with nothing injected", k);
			cr_assert_eq(gort_start(&cfg), 0, "gort_start after step %d's failure", k);
		}
		int64_t base = 1; /* the checking coroutine */
		co_run(health_co, &base);
		CO_ASSERT_NO_FAILURES();
		cr_assert_eq(gort_stop(), 0);
		if (injected == 0)
			break;
	}
	cr_assert_leq(k, MAX_STEPS, "gort_start: still injecting after %d steps", MAX_STEPS);
	cr_assert_gt(failed, 3, "gort_start: only %d steps failed", failed);
	return k;
}

Test(fault, start_procs1, .timeout = 120) { walk_start(1); }
Test(fault, start_procs2, .timeout = 120) { walk_start(2); }
Test(fault, start_procs8, .timeout = 120) { walk_start(8); }

/* ------------------------------------------------------------------------ */
/* Threads that cannot be created while running                              */
/* ------------------------------------------------------------------------ */

struct mstarve {
	int pipe[2];
	_Atomic int stage;
};

static void syscall_reader(void *arg)
{
	struct mstarve *s = arg;
	char b;
	gort_syscall_enter();
	ssize_t n = read(s->pipe[0], &b, 1); /* holds this M: its P must move */
	gort_syscall_exit();
	CO_CHECK(n == 1, "read: %zd", n);
	atomic_store(&s->stage, 2);
}

static void pipe_writer(void *arg)
{
	struct mstarve *s = arg;
	atomic_store(&s->stage, 1);
	CO_CHECK(write(s->pipe[1], "x", 1) == 1, "write failed");
}

/* One P.  A coroutine blocks in a marked system call that only the
 * coroutine queued behind it can end; the P must go to another M, and
 * thread creation fails meanwhile.  Once threads can be made again, the
 * monitor starts the M (no hang, nothing lost). */
Test(fault, m_creation_fails_then_recovers, .timeout = 60)
{
	rt_start(1);
	struct mstarve s = {.stage = 0};
	cr_assert_eq(pipe(s.pipe), 0);
	struct gort__inject_plan plan = {.kinds = 1u << GORT__FAULT_THREAD, .nth = 1, .every = true};
	gort__inject_arm(&plan);
	cr_assert_gt(gort_go(syscall_reader, &s), 0);
	cr_assert_gt(gort_go(pipe_writer, &s), 0);
	usleep(200 * 1000);
	uint64_t injected = gort__inject_failures();
	int stage = atomic_load(&s.stage);
	gort__inject_disarm();
	cr_assert_gt(injected, 0, "no thread creation was attempted (an idle M took the P?)");
	cr_assert_eq(stage, 0, "the writer ran without a new M");
	for (int i = 0; i < 5000 && atomic_load(&s.stage) != 2; i++)
		usleep(1000);
	cr_assert_eq(atomic_load(&s.stage), 2, "stranded: the queued coroutine never ran");
	CO_ASSERT_NO_FAILURES();
	close(s.pipe[0]);
	close(s.pipe[1]);
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* A stack that cannot be mapped: Go's fatal error                           */
/* ------------------------------------------------------------------------ */

static void nothing(void *arg)
{
	(void)arg;
}

static int stack_child(void *arg)
{
	(void)arg;
	gort_config cfg = {.procs = 1};
	if (gort_start(&cfg) != 0)
		return 3;
	struct gort__inject_plan plan = {.kinds = 1u << GORT__FAULT_MMAP, .nth = 1, .every = true};
	gort__inject_arm(&plan);
	/* a size no stack has had yet: a new slab, mapped at the first run */
	gort_go_with(nothing, NULL, .name = "big", .stack_size = 3 * 1024 * 1024);
	sleep(5);
	return 4; /* not reached */
}

Test(fault, stack_map_failure_is_fatal, .timeout = 60)
{
	struct child_result r;
	char how[64];
	child_run(stack_child, NULL, NULL, &r);
	cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT, "the child %s; stderr:\n%s",
		  child_describe(&r, how, sizeof how), r.err);
	cr_assert(strstr(r.err, "fatal error: out of memory: cannot map a") &&
			  strstr(r.err, "stack for coroutine"),
		  "stderr:\n%s", r.err);
}

/* ------------------------------------------------------------------------ */
/* Contexts while no coroutine can be made                                   */
/* ------------------------------------------------------------------------ */

struct nospawn {
	_Atomic int ran;
	int recv_rc, err, ran_while;
	bool ok;
	uint64_t injected;
};

static void after_mark(void *arg)
{
	atomic_fetch_add(&((struct nospawn *)arg)->ran, 1);
}

static _Atomic int fillers_started;

static void filler(void *arg)
{
	atomic_fetch_add(&fillers_started, 1); /* its stack is mapped */
	gort_chan_recv(arg, NULL, NULL);
}

/* Free G records, on every P's list and the global one (read while the
 * runtime is quiet: only this coroutine runs). */
static int free_gs(void)
{
	int n = gort__sched.ngfree;
	for (int i = 0; i < gort__sched.nprocs; i++)
		n += gort__sched.allp[i]->ngfree;
	return n;
}

/* Every allocation and mapping fails while a deadline passes and an
 * after-func's context is cancelled.  No coroutine can be made then (the
 * free G records are all taken by parked fillers, and a new chunk of them
 * cannot be had), yet the deadline cancels its context (its timer cancels
 * in place, spawning nothing), and the after-func runs once, once memory
 * is back (its start is retried on a timer, not a fatal error). */
static void nospawn_body(void *arg)
{
	struct nospawn *s = arg;
	gort_chan *hold = gort_chan_make(0, 0);
	int fillers = 0;
	while (hold && fillers < 1000 && (fillers == 0 || free_gs() > 0) &&
	       gort_go(filler, hold) > 0)
		fillers++;
	CO_CHECK(free_gs() == 0, "%d fillers left %d free Gs", fillers, free_gs());
	/* every filler has run once (no stack is mapped while memory fails) */
	for (int i = 0; i < 20000 && atomic_load(&fillers_started) < fillers; i++)
		gort_sleep(100 * GORT_US);
	CO_CHECK(atomic_load(&fillers_started) == fillers, "fillers did not start");
	gort_ctx *ctx = gort_ctx_with_cancel(NULL);
	gort_ctx *dl = gort_ctx_with_timeout(NULL, 5 * GORT_MS);
	gort_chan *done = dl ? gort_ctx_done(dl) : NULL;
	gort_ctx_after *af = ctx && done ? gort_ctx_after_func(ctx, after_mark, s) : NULL;
	CO_CHECK(af != NULL, "set-up failed");
	if (!af)
		return;
	struct gort__inject_plan plan = {.kinds = (1u << GORT__FAULT_ALLOC) | (1u << GORT__FAULT_MMAP),
					 .nth = 1, .every = true};
	gort__inject_arm(&plan);
	gort_ctx_cancel(ctx);
	s->ok = true;
	s->recv_rc = gort_chan_recv(done, NULL, &s->ok);
	s->err = gort_ctx_err(dl);
	gort_sleep(5 * GORT_MS);
	s->ran_while = atomic_load(&s->ran);
	s->injected = gort__inject_failures();
	gort__inject_disarm();
	for (int i = 0; i < 5000 && atomic_load(&s->ran) == 0; i++)
		gort_sleep(GORT_MS);
	gort_sleep(20 * GORT_MS); /* would it run twice? */
	gort_ctx_after_func_stop(af);
	gort_ctx_release(dl);
	gort_ctx_release(ctx);
	gort_chan_close(hold);
	gort_chan_release(hold);
}

PROCS_TEST(fault, deadline_and_after_func_without_spawns, 60)
{
	static struct nospawn s;
	rt_start(procs);
	co_run(nospawn_body, &s);
	CO_ASSERT_NO_FAILURES();
	cr_assert_gt(s.injected, 0, "nothing failed: the test did not test");
	cr_assert(s.recv_rc == 0 && !s.ok, "done: %d, ok %d", s.recv_rc, s.ok);
	cr_assert_eq(s.err, GORT_DEADLINE_EXCEEDED, "err %d", s.err);
	cr_assert_eq(s.ran_while, 0, "the after-func ran while no coroutine could be made");
	cr_assert_eq(atomic_load(&s.ran), 1, "the after-func ran %d times", atomic_load(&s.ran));
	rt_stop();
}

/* ------------------------------------------------------------------------ */
/* Failures at random                                                        */
/* ------------------------------------------------------------------------ */

/* Every operation over and over with 2% of the allocations and descriptor
 * calls failing, from a fixed seed: each returns success or a clear error,
 * and the runtime is healthy afterwards. */
static void random_body(void *arg)
{
	uint64_t seed = *(uint64_t *)arg;
	int64_t baseline = gort_num_coroutines();
	struct gort__inject_plan plan = {.kinds = KINDS_RUN, .ppm = 20000, .seed = seed};
	int ok = 0, failed = 0;
	for (int round = 0; round < scaled_min(20, 3); round++) {
		for (size_t i = 0; i < NWALKS; i++) {
			gort__inject_arm(&plan);
			plan.seed++;
			int rc = walks[i].op(walks[i].arg);
			gort__inject_disarm();
			CO_CHECK(rc == 0 || clear_error(rc), "seed %llu, %s: %d",
				 (unsigned long long)seed, walks[i].name, rc);
			rc == 0 ? ok++ : failed++;
		}
	}
	int h = healthy(baseline);
	CO_CHECK(h == 0, "seed %llu: not healthy after random failures (%d)", (unsigned long long)seed,
		 h);
	CO_CHECK(ok > 0 && failed > 0, "seed %llu: %d ok, %d failed", (unsigned long long)seed, ok,
		 failed);
}

static void random_failures(int procs)
{
	rt_start(procs);
	co_run(warm_spawn, &spawn_n);
	uint64_t seed = 12345;
	co_run(random_body, &seed);
	CO_ASSERT_NO_FAILURES();
	rt_stop();
}

Test(fault, random_procs1, .timeout = 120) { random_failures(1); }
Test(fault, random_procs2, .timeout = 120) { random_failures(2); }
Test(fault, random_procs8, .timeout = 120) { random_failures(8); }

/* ------------------------------------------------------------------------ */
/* The report                                                                */
/* ------------------------------------------------------------------------ */

/* Every walk in one process, then the points that failed at least once:
 * printed (docs/reliability.md quotes the count) and checked against a
 * floor, so that a wrapper bypassed by new code shows up here. */
Test(fault, report, .timeout = 300)
{
	gort__inject_points_reset();
	walk_start(2);
	rt_start(2);
	co_run(warm_spawn, &spawn_n);
	for (size_t i = 0; i < NWALKS; i++) {
		walks[i].kinds = KINDS_RUN;
		walks[i].failures = 0;
		walk(&walks[i]);
	}
	rt_stop();
	struct gort__inject_point pts[256];
	int n = gort__inject_points(pts, 256);
	int nfailed = 0;
	for (int i = 0; i < n && i < 256; i++)
		nfailed += pts[i].failed > 0;
	fprintf(stderr, "fault injection: %d points reached, %d of them made to fail:\n", n, nfailed);
	for (int i = 0; i < n && i < 256; i++)
		fprintf(stderr, "  %-28s %5d  calls %6llu  failed %4llu\n", pts[i].file, pts[i].line,
			(unsigned long long)pts[i].calls, (unsigned long long)pts[i].failed);
	cr_assert_geq(nfailed, 25, "only %d points made to fail", nfailed);
}
