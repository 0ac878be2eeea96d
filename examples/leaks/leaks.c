/*
 * leaks.c — the leak-scenario runner (`make leaks`; docs/leaks.md).
 *
 * The article's three traps and five more common leak shapes, each as a
 * pair: the broken version and the fixed one.  Every version runs in a
 * fresh runtime (gort_start ... gort_stop): the runner spawns the
 * scenario's function as a coroutine, waits for it to return, then asks
 * gort_leakcheck (100 ms grace) what is left, and prints the report's
 * headline lines — one line per group of the grouped dump, one per lost
 * cancel, orphaned channel or stuck wait group — and the counts.  A broken
 * version must leak; its fix must leave nothing.  The panic scenario's
 * broken version kills its process, as Go's does, so it runs in a forked
 * child and the runner reports how that child ended.
 *
 *   leaks [-v|--verbose] [N ...]     -v: each full report; N: only these
 *
 * Exit status 0 when every broken version leaked (or crashed) and every
 * fix was clean, 1 otherwise: `make test` runs it as a test.
 *
 * Determinism on a loaded machine: a "slow backend" answers only once its
 * caller has given up (the caller opens a gate), so no scenario races a
 * timer against work; the runner waits for events, and the leak check's
 * grace lets leaked coroutines reach the place where they stay.
 */
#include <gort.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS INT64_C(1000000)
#define GRACE (100 * MS)

enum { WORKERS = 4, JOBS = 20, TASKS = 3 };

struct world;

/* A unit of work of scenario 6, handed to one coroutine. */
struct task {
	struct world *w;
	int n;
	int err;
};

/*
 * Everything one run of one scenario uses.  One per run, static: the
 * leaked coroutines of a broken run are discarded by gort_stop, and what
 * they held (a channel, a context, a ticker) stays reachable from here, so
 * LeakSanitizer does not report the memory of a leak the demo made on
 * purpose.
 */
struct world {
	gort_ctx *server;   /* the server's context, parent of every context a
			     * scenario makes; the runner cancels it after the
			     * check, so that the next run starts clean */
	void (*fn)(struct world *w); /* the version being run */
	gort_wg main_done;  /* fn returned */
	char note[GORT_PANIC_MSG_MAX + 32];/* what the fixed version wants said on its line */
	/* 1: worker pool */
	gort_chan *jobs, *results;
	gort_wg workers;
	/* 2: panics */
	gort_wg child_done;
	/* 3, 4, 5: a call with a result */
	gort_ctx *ctx;
	gort_chan *result;
	gort_chan *late;    /* the slow backend's gate: closed once the caller gave up */
	/* 6: wait group */
	gort_wg wg;
	struct task tasks[TASKS];
	int failed;         /* how many tasks failed */
	/* 7: mutex */
	gort_mutex mu;
	int table[4];
	/* 8: ticker */
	gort_timer *ticker;
	gort_chan *polled;  /* closed after the second poll */
	int polls;
};

/* A deferred call that marks a wait group done (Go's defer wg.Done()). */
static void wg_done(void *wg)
{
	gort_wg_done(wg);
}

/* The slow backend of scenarios 3 and 4: it answers once the caller has
 * given up (the caller closes w->late then), so the demo never depends on
 * which of two timers fires first. */
static int slow_backend(struct world *w)
{
	gort_chan_recv(w->late, NULL, NULL);
	return 42;
}

/* ------------------------------------------------------------------------ */
/* 1. Workers ranging over a channel nobody closes (the article's first)     */
/* ------------------------------------------------------------------------ */

/* for job := range jobs { results <- job * job } */
static void worker(void *arg)
{
	struct world *w = arg;
	int job;
	bool ok;
	for (;;) {
		gort_chan_recv(w->jobs, &job, &ok); /* broken: waits here for ever */
		if (!ok)
			break;
		int sq = job * job;
		gort_chan_send(w->results, &sq);
	}
	gort_wg_done(&w->workers);
}

static void start_pool(struct world *w)
{
	w->jobs = gort_chan_make(sizeof(int), 0);
	w->results = gort_chan_make(sizeof(int), JOBS);
	gort_wg_add(&w->workers, WORKERS);
	for (int i = 0; i < WORKERS; i++)
		gort_go_with(worker, w, .name = "worker");
	for (int j = 1; j <= JOBS; j++)
		gort_chan_send(w->jobs, &j);
}

static void pool_broken(struct world *w)
{
	start_pool(w);
	/* the bug: no gort_chan_close(w->jobs) */
	int sq;
	for (int j = 0; j < JOBS; j++)
		gort_chan_recv(w->results, &sq, NULL); /* all results are in: done, it seems */
	gort_chan_release(w->jobs);
	gort_chan_release(w->results);
}

static void pool_fixed(struct world *w)
{
	start_pool(w);
	gort_chan_close(w->jobs); /* the fix: no more jobs, every worker's loop ends */
	int sq;
	for (int j = 0; j < JOBS; j++)
		gort_chan_recv(w->results, &sq, NULL);
	gort_wg_wait(&w->workers); /* and they are gone before the channels go */
	gort_chan_release(w->jobs);
	gort_chan_release(w->results);
}

/* ------------------------------------------------------------------------ */
/* 2. A panic in a child, a recover in the parent (the article's second)     */
/* ------------------------------------------------------------------------ */

static int lookup(int i)
{
	static const int table[3] = {1, 2, 3};
	if (i < 0 || i >= 3)
		gort_panic("child: index %d out of range [0, 3)", i);
	return table[i];
}

static void child_broken(void *arg)
{
	struct world *w = arg;
	lookup(5);
	gort_wg_done(&w->child_done);
}

static void child_fixed(void *arg)
{
	struct world *w = arg;
	GORT_DEFER(wg_done, &w->child_done); /* runs before the on_panic handler */
	lookup(5);
}

/* The child's own boundary: a per-spawn handler (the article's
 * safeGoroutine).  It only records what it caught. */
static void on_child_panic(const gort_panic_info *info, void *ctx)
{
	struct world *w = ctx;
	snprintf(w->note, sizeof w->note, "; its handler caught \"%s\"", info->message);
}

/* The parent's deferred recover: it would catch the parent's own panic,
 * never the child's. */
static void parent_recover(void *arg)
{
	(void)arg;
	(void)gort_recover();
}

static void parent_broken(void *arg)
{
	struct world *w = arg;
	GORT_DEFER(parent_recover, NULL);
	gort_wg_add(&w->child_done, 1);
	gort_go_with(child_broken, w, .name = "child");
	gort_wg_wait(&w->child_done);
}

static void parent_fixed(void *arg)
{
	struct world *w = arg;
	GORT_DEFER(parent_recover, NULL);
	gort_wg_add(&w->child_done, 1);
	gort_go_with(child_fixed, w, .name = "child", .on_panic = on_child_panic, .on_panic_ctx = w);
	gort_wg_wait(&w->child_done);
}

static void panic_broken(struct world *w)
{
	gort_protect(parent_broken, w, NULL);
}

static void panic_fixed(struct world *w)
{
	gort_protect(parent_fixed, w, NULL);
}

/* ------------------------------------------------------------------------ */
/* 3. A timeout the callee ignores (the article's third)                    */
/* ------------------------------------------------------------------------ */

/* The callee is handed the caller's context and ignores it: once its answer
 * is ready it sends on an unbuffered channel that nobody receives from any
 * more. */
static void fetch_broken(void *arg)
{
	struct world *w = arg;
	int v = slow_backend(w);
	gort_chan_send(w->result, &v); /* broken: the caller left; waits for ever */
	gort_chan_release(w->result);
	gort_ctx_release(w->ctx);
}

static void fetch_fixed(void *arg)
{
	struct world *w = arg;
	int v = slow_backend(w);
	gort_chan_send_ctx(w->ctx, w->result, &v); /* GORT_DEADLINE_EXCEEDED at once */
	gort_chan_release(w->result);
	gort_ctx_release(w->ctx);
}

static void call_with_timeout(struct world *w, void (*callee)(void *))
{
	w->ctx = gort_ctx_with_timeout(w->server, 10 * MS);
	w->result = gort_chan_make(sizeof(int), 0);
	w->late = gort_chan_make(0, 0);
	gort_ctx_retain(w->ctx); /* the callee's references */
	gort_chan_retain(w->result);
	gort_go_with(callee, w, .name = "fetch");
	int v;
	gort_chan_recv_ctx(w->ctx, w->result, &v, NULL); /* GORT_DEADLINE_EXCEEDED */
	gort_chan_close(w->late);
	gort_ctx_cancel(w->ctx);
	gort_ctx_release(w->ctx);
	gort_chan_release(w->result);
	gort_chan_release(w->late);
}

static void ignored_timeout_broken(struct world *w)
{
	call_with_timeout(w, fetch_broken);
}

static void ignored_timeout_fixed(struct world *w)
{
	call_with_timeout(w, fetch_fixed);
}

/* ------------------------------------------------------------------------ */
/* 4. A sender with no receiver after a select timed out                     */
/* ------------------------------------------------------------------------ */

static void compute(void *arg)
{
	struct world *w = arg;
	int v = slow_backend(w);
	gort_chan_send(w->result, &v); /* broken: nobody receives any more */
	gort_chan_release(w->result);
}

/* select { case v := <-result: ...; case <-time.After(10 ms): give up } */
static void select_timeout(struct world *w, size_t result_cap)
{
	w->result = gort_chan_make(sizeof(int), result_cap);
	w->late = gort_chan_make(0, 0);
	gort_chan_retain(w->result); /* compute's reference */
	gort_go_with(compute, w, .name = "compute");
	int v;
	gort_chan *timeout = gort_after(10 * MS);
	gort_case cases[] = {
		{.chan = w->result, .dir = GORT_RECV, .elem = &v},
		{.chan = timeout, .dir = GORT_RECV},
	};
	if (gort_select(cases, 2, false) == 1)
		gort_chan_close(w->late); /* timed out */
	gort_chan_release(timeout);
	gort_chan_release(w->result);
	gort_chan_release(w->late);
}

static void select_timeout_broken(struct world *w)
{
	select_timeout(w, 0);
}

static void select_timeout_fixed(struct world *w)
{
	select_timeout(w, 1); /* room for the one late answer */
}

/* ------------------------------------------------------------------------ */
/* 5. A forgotten cancel                                                     */
/* ------------------------------------------------------------------------ */

static void query(void *arg)
{
	struct world *w = arg;
	int rows = 3;
	gort_chan_send_ctx(w->ctx, w->result, &rows);
	gort_chan_release(w->result);
	gort_ctx_release(w->ctx);
}

static int run_query(struct world *w)
{
	w->ctx = gort_ctx_with_timeout(w->server, 30000 * MS);
	w->result = gort_chan_make(sizeof(int), 1);
	gort_ctx_retain(w->ctx);
	gort_chan_retain(w->result);
	gort_go_with(query, w, .name = "query");
	int rows = 0;
	gort_chan_recv_ctx(w->ctx, w->result, &rows, NULL);
	gort_chan_release(w->result);
	return rows;
}

static void forgotten_cancel_broken(struct world *w)
{
	run_query(w);
	/* the bug: no gort_ctx_cancel(w->ctx) */
	gort_ctx_release(w->ctx);
}

static void forgotten_cancel_fixed(struct world *w)
{
	run_query(w);
	gort_ctx_cancel(w->ctx); /* Go's defer cancel() */
	gort_ctx_release(w->ctx);
}

/* ------------------------------------------------------------------------ */
/* 6. A WaitGroup Add without its Done                                       */
/* ------------------------------------------------------------------------ */

static int process(int n)
{
	return n == 1 ? -EINVAL : 0; /* task 1 fails */
}

static void task_broken(void *arg)
{
	struct task *t = arg;
	t->err = process(t->n);
	if (t->err != 0)
		return; /* the bug: this path skips gort_wg_done */
	gort_wg_done(&t->w->wg);
}

static void task_fixed(void *arg)
{
	struct task *t = arg;
	GORT_DEFER(wg_done, &t->w->wg); /* every path, as Go's defer wg.Done() */
	t->err = process(t->n);
	if (t->err != 0)
		return;
}

/* Run the tasks, wait for all; the number that failed. */
static int fan_out(struct world *w, void (*task)(void *))
{
	gort_wg_add(&w->wg, TASKS);
	for (int i = 0; i < TASKS; i++) {
		w->tasks[i] = (struct task){.w = w, .n = i};
		gort_go_with(task, &w->tasks[i], .name = "task");
	}
	gort_wg_wait(&w->wg); /* broken: the counter stays at 1 */
	int failed = 0;
	for (int i = 0; i < TASKS; i++)
		failed += w->tasks[i].err != 0;
	return failed;
}

static void handler_broken(void *arg)
{
	struct world *w = arg;
	w->failed = fan_out(w, task_broken);
}

static void handler_fixed(void *arg)
{
	struct world *w = arg;
	w->failed = fan_out(w, task_fixed);
}

static void wg_broken(struct world *w)
{
	gort_go_with(handler_broken, w, .name = "handler");
}

static void wg_fixed(struct world *w)
{
	gort_go_with(handler_fixed, w, .name = "handler");
}

/* ------------------------------------------------------------------------ */
/* 7. A mutex never unlocked (on an error path)                              */
/* ------------------------------------------------------------------------ */

static int update_broken(struct world *w, int key, int value)
{
	gort_mutex_lock(&w->mu); /* broken: the second caller waits here for ever */
	if (key < 0 || key >= 4)
		return -EINVAL; /* the bug: returns with the lock held */
	w->table[key] = value;
	gort_mutex_unlock(&w->mu);
	return 0;
}

static int update_fixed(struct world *w, int key, int value)
{
	int err = 0;
	gort_mutex_lock(&w->mu);
	if (key < 0 || key >= 4) {
		err = -EINVAL;
		goto out;
	}
	w->table[key] = value;
out:
	gort_mutex_unlock(&w->mu); /* one exit, which unlocks */
	return err;
}

static void request_broken(void *arg)
{
	update_broken(arg, 2, 20);
}

static void request_fixed(void *arg)
{
	update_fixed(arg, 2, 20);
}

static void mutex_broken(struct world *w)
{
	update_broken(w, 9, 90); /* a bad key */
	gort_go_with(request_broken, w, .name = "request");
}

static void mutex_fixed(struct world *w)
{
	update_fixed(w, 9, 90);
	gort_go_with(request_fixed, w, .name = "request");
}

/* ------------------------------------------------------------------------ */
/* 8. A ticker never stopped                                                 */
/* ------------------------------------------------------------------------ */

static void poll_once(struct world *w)
{
	if (++w->polls == 2)
		gort_chan_close(w->polled);
}

/* for range ticker.C { poll() }: nothing ever ends the loop */
static void poller_broken(void *arg)
{
	struct world *w = arg;
	for (;;) {
		gort_chan_recv(gort_timer_chan(w->ticker), NULL, NULL); /* broken: ticks for ever */
		poll_once(w);
	}
}

/* select { case <-ticker.C: poll(); case <-ctx.Done(): ticker.Stop(); return } */
static void poller_fixed(void *arg)
{
	struct world *w = arg;
	for (;;) {
		gort_case cases[] = {{.chan = gort_timer_chan(w->ticker), .dir = GORT_RECV},
				     {.chan = gort_ctx_done(w->ctx), .dir = GORT_RECV}};
		if (gort_select(cases, 2, false) == 1)
			break;
		poll_once(w);
	}
	gort_timer_free(w->ticker);
	gort_ctx_release(w->ctx);
}

static void start_poller(struct world *w, void (*poller)(void *))
{
	w->ticker = gort_ticker_new(10 * MS);
	w->polled = gort_chan_make(0, 0);
	gort_go_with(poller, w, .name = "poller");
	gort_chan_recv(w->polled, NULL, NULL); /* two polls done */
	gort_chan_release(w->polled);
}

static void ticker_broken(struct world *w)
{
	start_poller(w, poller_broken);
}

static void ticker_fixed(struct world *w)
{
	w->ctx = gort_ctx_with_cancel(w->server);
	gort_ctx_retain(w->ctx); /* the poller's reference */
	start_poller(w, poller_fixed);
	gort_ctx_cancel(w->ctx); /* the poller stops its ticker and returns */
	gort_ctx_release(w->ctx);
}

/* ------------------------------------------------------------------------ */
/* The runner                                                                */
/* ------------------------------------------------------------------------ */

struct scenario {
	const char *title;
	void (*broken)(struct world *w);
	void (*fixed)(struct world *w);
	const char *fix; /* the fix, in words */
	bool forked;     /* the broken version kills its process */
};

static const struct scenario scenarios[] = {
	{"workers ranging over a never-closed channel", pool_broken, pool_fixed,
	 "close(jobs) after the last job, wait for the workers", false},
	{"a panic in a child, a recover in its parent", panic_broken, panic_fixed,
	 "the child is its own boundary (.on_panic), its done deferred", true},
	{"a timeout the callee ignores", ignored_timeout_broken, ignored_timeout_fixed,
	 "the callee sends with gort_chan_send_ctx(ctx, ...)", false},
	{"a sender with no receiver after a select timed out", select_timeout_broken,
	 select_timeout_fixed, "the result channel has room for the late answer (capacity 1)",
	 false},
	{"a forgotten cancel", forgotten_cancel_broken, forgotten_cancel_fixed,
	 "gort_ctx_cancel(ctx) before gort_ctx_release(ctx)", false},
	{"a WaitGroup Add without its Done", wg_broken, wg_fixed,
	 "GORT_DEFER(wg_done, &wg) first thing in the task", false},
	{"a mutex never unlocked on an error path", mutex_broken, mutex_fixed,
	 "one exit that unlocks (goto out)", false},
	{"a ticker never stopped", ticker_broken, ticker_fixed,
	 "select on the ticker and ctx done; gort_timer_free on the way out", false},
};
#define NSCENARIOS (sizeof scenarios / sizeof scenarios[0])

static struct world worlds[NSCENARIOS][2]; /* [scenario][fixed] */
static bool verbose;

static void scenario_main(void *arg)
{
	struct world *w = arg;
	w->fn(w);
	gort_wg_done(&w->main_done);
}

/* Start a runtime, run fn(w) in a coroutine and wait (up to 5 s) for it to
 * return.  false if it did not. */
static bool run_in_runtime(void (*fn)(struct world *), struct world *w)
{
	if (gort_start(NULL) != 0) {
		fprintf(stderr, "leaks: gort_start failed\n");
		exit(2);
	}
	w->server = gort_ctx_with_cancel(NULL);
	w->fn = fn;
	gort_wg_add(&w->main_done, 1);
	gort_go_with(scenario_main, w, .name = "scenario");
	gort_ctx *limit = gort_ctx_with_timeout(NULL, 5000 * MS);
	int err = gort_wg_wait_ctx(limit, &w->main_done);
	gort_ctx_cancel(limit);
	gort_ctx_release(limit);
	return err == 0;
}

static void end_runtime(struct world *w)
{
	gort_ctx_cancel(w->server); /* cancels what a broken run left (a lost cancel) */
	gort_ctx_release(w->server);
	gort_stop();
}

#define IND "           " /* under the text after "   [leak]  " */

/* Print a report's text behind a bar, for --verbose. */
static void print_indented(const char *text)
{
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		printf("%s%.*s\n", n ? IND "| " : IND "|", (int)n, p);
		p += n + (e != NULL);
	}
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

/* The headline lines of a leak check's report: each group of the grouped
 * dump on one line ("4 coroutines "worker" [chan receive, 100 ms] blocked
 * at file:line"), each other finding without its "gort: leak check: "
 * prefix.  The first after `first`, the rest after `indent`. */
static void print_headlines(const char *rep, const char *first, const char *indent)
{
	static const char pre[] = "gort: leak check: ";
	const char *lead = first;
	for (const char *p = rep; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *next = p + n + (e != NULL);
		if (starts_with(p, n, pre)) {
			const char *body = p + sizeof pre - 1;
			size_t bn = n - (sizeof pre - 1);
			if (!memmem(body, bn, " still alive after ", 18)) {
				printf("%s%.*s\n", lead, (int)bn, body);
				lead = indent;
			}
		} else if (n > 2 && isdigit((unsigned char)p[0]) && memcmp(p + n - 2, "]:", 2) == 0) {
			/* a group: find its "blocked at" (else "created at") line */
			const char *where = NULL;
			size_t wn = 0;
			for (const char *q = next; *q && *q != '\n';) {
				const char *qe = strchr(q, '\n');
				size_t qn = qe ? (size_t)(qe - q) : strlen(q);
				if (starts_with(q, qn, "\tblocked at ") ||
				    (!where && starts_with(q, qn, "created at "))) {
					where = q + (q[0] == '\t');
					wn = qn - (q[0] == '\t');
				}
				q += qn + (qe != NULL);
			}
			printf("%s%.*s%s%.*s\n", lead, (int)(n - 1), p, where ? " " : "", (int)wn,
			       where ? where : "");
			lead = indent;
		}
		p = next;
	}
}

/* "gort_leakcheck: 5 (4 coroutines, 1 orphaned channel)" */
static void print_counts(int64_t total, const gort_leak_report *r, const char *indent)
{
	printf("%sgort_leakcheck: %lld (", indent, (long long)total);
	const char *sep = "";
	const struct {
		int64_t n;
		const char *one, *many;
	} kinds[] = {{r->coroutines, "coroutine", "coroutines"},
		     {r->contexts, "lost-cancel context", "lost-cancel contexts"},
		     {r->channels, "orphaned channel", "orphaned channels"},
		     {r->waitgroups, "stuck wait group", "stuck wait groups"}};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (kinds[i].n == 0)
			continue;
		printf("%s%lld %s", sep, (long long)kinds[i].n,
		       kinds[i].n == 1 ? kinds[i].one : kinds[i].many);
		sep = ", ";
	}
	printf(")\n");
}

/* Run one version in this process; true if it leaked.  *text gets the
 * leak check's report (free it), *total what it returned, *rep its counts. */
static bool run_version(void (*fn)(struct world *), struct world *w, char **text, int64_t *total,
			gort_leak_report *rep)
{
	bool returned = run_in_runtime(fn, w);
	size_t len;
	FILE *out = open_memstream(text, &len);
	if (!out) {
		perror("leaks: open_memstream");
		exit(2);
	}
	*total = gort_leakcheck(&(gort_leak_opts){.grace_ns = GRACE, .out = out, .report = rep});
	fclose(out);
	end_runtime(w);
	if (!returned || *total < 0) {
		fprintf(stderr, "leaks: %s\n",
			!returned ? "the scenario did not return within 5 s" : gort_strerror((int)*total));
		exit(2);
	}
	return *total != 0;
}

/* The broken panic scenario in a child process: true if it died by SIGABRT
 * after Go's report of the child's panic. */
static bool run_forked(const struct scenario *s, struct world *w)
{
	FILE *out = tmpfile();
	if (!out) {
		perror("leaks: tmpfile");
		exit(2);
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("leaks: fork");
		exit(2);
	}
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(out), 2);
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		alarm(20);
		bool returned = run_in_runtime(s->broken, w);
		end_runtime(w);
		_exit(returned ? 0 : 3);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	char buf[16384];
	rewind(out);
	size_t n = fread(buf, 1, sizeof buf - 1, out);
	buf[n] = 0;
	fclose(out);

	char how[96];
	if (WIFSIGNALED(st))
		snprintf(how, sizeof how, "died by %s",
			 WTERMSIG(st) == SIGABRT ? "SIGABRT" : strsignal(WTERMSIG(st)));
	else
		snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
	const char *panic_line = strstr(buf, "panic: ");
	bool ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && panic_line != NULL;
	printf("   %s the parent's recover did not stop it: the process %s\n",
	       ok ? "[crash]" : "[FAIL] ", how);
	/* the report's first lines: "panic: ...", then "coroutine N "child" [running]:" */
	for (const char *p = buf; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (verbose || starts_with(p, len, "panic: ") ||
		    (starts_with(p, len, "coroutine ") && isdigit((unsigned char)p[10])))
			printf(IND "%.*s\n", (int)len, p);
		p += len + (e != NULL);
	}
	return ok;
}

int main(int argc, char **argv)
{
	bool want[NSCENARIOS];
	bool any = false;
	memset(want, 0, sizeof want);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			verbose = true;
			continue;
		}
		char *end;
		long k = strtol(argv[i], &end, 10);
		if (*end || k < 1 || k > (long)NSCENARIOS) {
			fprintf(stderr, "usage: %s [-v|--verbose] [1..%zu ...]\n", argv[0], NSCENARIOS);
			return 2;
		}
		want[k - 1] = any = true;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("gort leak scenarios: each broken version, then its fix, under gort_leakcheck "
	       "(grace %lld ms)%s\n",
	       (long long)(GRACE / MS), verbose ? "" : "; -v for the full reports");
	int ran = 0, good = 0;
	for (size_t i = 0; i < NSCENARIOS; i++) {
		if (any && !want[i])
			continue;
		const struct scenario *s = &scenarios[i];
		printf("\n%zu. %s\n", i + 1, s->title);
		ran++;
		bool broken_ok, fixed_ok;
		char *text;
		int64_t total;
		gort_leak_report rep;

		if (s->forked) {
			broken_ok = run_forked(s, &worlds[i][0]);
		} else {
			broken_ok = run_version(s->broken, &worlds[i][0], &text, &total, &rep);
			if (broken_ok) {
				print_headlines(text, "   [leak]  ", IND);
				print_counts(total, &rep, IND);
			} else {
				printf("   [FAIL]  the broken version left nothing behind\n");
			}
			if (verbose)
				print_indented(text);
			free(text);
		}

		struct world *w = &worlds[i][1];
		bool leaked = run_version(s->fixed, w, &text, &total, &rep);
		fixed_ok = !leaked;
		if (fixed_ok) {
			printf("   [clean] fixed: %s%s\n", s->fix, w->note);
		} else {
			printf("   [FAIL]  fixed: %s; still leaks:\n", s->fix);
			print_headlines(text, IND, IND);
			print_counts(total, &rep, IND);
		}
		if (verbose && !fixed_ok)
			print_indented(text);
		free(text);
		good += broken_ok && fixed_ok;
	}
	if (good == ran)
		printf("\n%d scenario%s: every broken version leaked (or crashed), every fix was clean\n",
		       ran, ran == 1 ? "" : "s");
	else
		printf("\nFAIL: %d of %d scenarios did not behave (see [FAIL] above)\n", ran - good,
		       ran);
	return good == ran ? 0 : 1;
}
