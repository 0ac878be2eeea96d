/*
 * test_examples.c — the examples (examples/panic_*.c, workerpool_*.c,
 * ctx_*.c, errgroup.c, semaphore_bounded.c, deadlock_*.c, schedtrace.c,
 * leakcheck_exit1.c, http_*.c, echo_server.c) run as the programs they are:
 * each built binary is run from $GORT_EXAMPLES_DIR (`make test` sets it to the build's examples folder
 * and builds them first; the tests skip when it is unset) by fork and
 * exec, with stdout and stderr captured apart, and its exit status and the
 * lines that tell its story are checked.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "subprocess.h"

#define example_run subprocess_run

/* Run $GORT_EXAMPLES_DIR/<name> with no arguments; fill *r.  A hung
 * example dies by SIGALRM before the test's .timeout. */
static void run_example(const char *name, struct example_run *r)
{
	const char *dir = getenv("GORT_EXAMPLES_DIR");
	if (dir == NULL || *dir == '\0')
		cr_skip_test("GORT_EXAMPLES_DIR is not set (make test sets it)");
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);
	cr_assert(n > 0 && (size_t)n < sizeof path, "path too long");
	char *argv[] = {(char *)name, NULL};
	subprocess_run(path, argv, 25, r);
}

/* Occurrences of text in s. */
static int count_of(const char *s, const char *text)
{
	int n = 0;
	for (const char *p = strstr(s, text); p != NULL; p = strstr(p + strlen(text), text))
		n++;
	return n;
}

/* The number of seconds printed right after the first marker in s, as
 * "<marker>1.0 s": -1 if the marker or the number is missing. */
static double seconds_after(const char *s, const char *marker)
{
	const char *p = s != NULL ? strstr(s, marker) : NULL;
	double v;
	if (p == NULL || sscanf(p + strlen(marker), "%lf s", &v) != 1)
		return -1;
	return v;
}

/* Does s hold a line "coroutine <digits><tail>" (tail: ` "child" [running]:`)? */
static int has_coroutine_line(const char *s, const char *tail)
{
	for (const char *p = strstr(s, "coroutine "); p != NULL; p = strstr(p + 1, "coroutine ")) {
		if (p != s && p[-1] != '\n')
			continue;
		const char *q = p + strlen("coroutine ");
		if (*q < '0' || *q > '9')
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (strncmp(q, tail, strlen(tail)) == 0)
			return 1;
	}
	return 0;
}

/* The parent's recover does not catch the child's panic: Go's report for the
 * child, then SIGABRT. */
Test(examples, panic_parent_recover, .timeout = 30)
{
	static struct example_run r;
	run_example("panic_parent_recover", &r);
	assert_aborted(&r);
	assert_has(&r, err, "panic: child: index 5 out of range [0, 3)\n");
	assert_has(&r, err, "[running]:");
	cr_assert(has_coroutine_line(r.err, " \"child\" [running]:"),
		  "stderr lacks a line 'coroutine N \"child\" [running]:'\nstderr:\n%s", r.err);
	/* the report comes once, from the child, and names where it was spawned */
	cr_assert_eq(count_of(r.err, "panic: "), 1, "stderr:\n%s", r.err);
	assert_has(&r, err, "panic_parent_recover.c:");
	assert_has(&r, out, "parent: spawning a child under gort_protect\n");
	assert_has(&r, out, "child: looking up index 5\n");
	/* neither the parent's recover nor its gort_protect saw the panic */
	assert_lacks(&r, out, "never");
	assert_lacks(&r, err, "never");
}

/* The child is its own boundary: it recovers, the program exits 0. */
Test(examples, panic_boundary, .timeout = 30)
{
	static struct example_run r;
	run_example("panic_boundary", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "child: recovered \"child: index 5 out of range [0, 3)\" (coroutine ");
	assert_has(&r, out, " \"child\")\n");
	assert_has(&r, out, "parent: child finished; the program goes on\n");
	assert_has(&r, out, "parent: gort_protect returned 0\n");
	assert_lacks(&r, out, "never printed");
	assert_lacks(&r, err, "panic:");
}

/* A per-coroutine panic handler: one report per panicking worker, with the
 * stack, and the alert count; the other workers finish. */
Test(examples, panic_handler, .timeout = 30)
{
	static struct example_run r;
	run_example("panic_handler", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "workers: 9 spawned, 6 finished, 3 panicked\n");
	assert_has(&r, out, "alerts: 3\n");
	cr_assert_eq(count_of(r.err, "panic: worker "), 3, "want 3 reports; stderr:\n%s", r.err);
	cr_assert_eq(count_of(r.err, ": corrupt record\n"), 3, "stderr:\n%s", r.err);
	for (int n = 2; n < 9; n += 3) {
		char line[64];
		snprintf(line, sizeof line, "panic: worker %d: corrupt record\n", n);
		assert_has(&r, err, line);
	}
	cr_assert_eq(count_of(r.err, "[running]:"), 3, "stderr:\n%s", r.err);
	cr_assert(has_coroutine_line(r.err, " \"worker\" [running]:"),
		  "stderr lacks a line 'coroutine N \"worker\" [running]:'\nstderr:\n%s", r.err);
	assert_has(&r, err, "panic_handler.c:"); /* the spawn site */
}

/* Recover, log, re-panic with context; the outer region recovers that. */
Test(examples, panic_repanic, .timeout = 30)
{
	static struct example_run r;
	run_example("panic_repanic", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "log: request 7 failed: parse: unexpected '}' at offset 11\n");
	assert_has(&r, out,
		   "server: recovered \"request 7 (/upload): parse: unexpected '}' at offset 11\"\n");
	/* the log line comes before the server's */
	cr_assert(strstr(r.out, "log: request 7") < strstr(r.out, "server: recovered"),
		  "stdout:\n%s", r.out);
	assert_lacks(&r, out, "never printed");
	assert_lacks(&r, err, "panic:");
}

/* The worker pool whose jobs channel is never closed: the workers leak,
 * blocked in their receive (the example counts them). */
Test(examples, workerpool_leak, .timeout = 30)
{
	static struct example_run r;
	run_example("workerpool_leak", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "sum 10100; leaked: 4 worker coroutines still blocked receiving on jobs\n");
}

/* The fix: close the jobs channel, and close results once every worker is
 * done; nothing is left behind. */
Test(examples, workerpool_fixed, .timeout = 30)
{
	static struct example_run r;
	run_example("workerpool_fixed", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "sum of squares 1..1000 = 333833500 (want 333833500); live coroutines: 1\n");
}

/* The README's example: the 50 ms request loses to the 10 ms timeout. */
Test(examples, readme, .timeout = 30)
{
	static struct example_run r;
	run_example("readme", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "gave up: deadline exceeded\n");
	assert_lacks(&r, out, "answer");
}

/* A fetch with a 50 ms timeout: against the slow server it gives up at the
 * deadline with GORT_DEADLINE_EXCEEDED, and the server, which shares the
 * context, stops too; against the fast one it succeeds; nothing is left. */
Test(examples, ctx_timeout, .timeout = 30)
{
	static struct example_run r;
	run_example("ctx_timeout", &r);
	assert_exit_ok(&r);
	assert_has(&r, out,
		   "fetch /slow (server takes 2000 ms, timeout 50 ms): GORT_DEADLINE_EXCEEDED (context deadline exceeded)\n"
		   "  gave up at the deadline, before the server would have answered: yes\n");
	assert_has(&r, out, "fetch /fast (server takes 5 ms, timeout 50 ms): 200 OK \"hello from /fast\"\n");
	assert_has(&r, out,
		   "server /slow: stopped working on it: GORT_DEADLINE_EXCEEDED (context deadline exceeded)\n");
	assert_has(&r, out, "server /fast: answered\n");
	assert_has(&r, out, "live coroutines: 1\n");
	assert_lacks(&r, err, "panic");
}

/* Retry with back-off 10, 20, 40, 80 ms: success on the third attempt; a
 * cancel by the caller after the third failure; a 110 ms deadline after
 * the fourth.  Either ends the back-off then, not when it would have. */
Test(examples, ctx_retry, .timeout = 30)
{
	static struct example_run r;
	run_example("ctx_retry", &r);
	assert_exit_ok(&r);
	assert_has(&r, out,
		   "flaky server (fails twice), 1 s budget:\n"
		   "  attempt 1: 503 Service Unavailable; retrying in 10 ms\n"
		   "  attempt 2: 503 Service Unavailable; retrying in 20 ms\n"
		   "  attempt 3: 200 OK\n"
		   "  result: ok after 3 attempts\n");
	assert_has(&r, out,
		   "server down, the caller gives up after 3 failed attempts:\n"
		   "  attempt 1: 503 Service Unavailable; retrying in 10 ms\n"
		   "  attempt 2: 503 Service Unavailable; retrying in 20 ms\n"
		   "  attempt 3: 503 Service Unavailable; retrying in 40 ms\n"
		   "  result: GORT_CANCELED (context canceled) after 3 attempts; the back-off was cut short: yes\n");
	assert_has(&r, out,
		   "server down, 110 ms budget:\n"
		   "  attempt 1: 503 Service Unavailable; retrying in 10 ms\n"
		   "  attempt 2: 503 Service Unavailable; retrying in 20 ms\n"
		   "  attempt 3: 503 Service Unavailable; retrying in 40 ms\n"
		   "  attempt 4: 503 Service Unavailable; retrying in 80 ms\n"
		   "  result: GORT_DEADLINE_EXCEEDED (context deadline exceeded) after 4 attempts; the back-off "
		   "was cut short: yes\n");
	cr_assert_eq(count_of(r.out, "attempt "), 10, "stdout:\n%s", r.out);
}

/* The worker pool stopped by a context: 100 results collected, then the
 * cancel stops the four workers and the producer; nothing is left. */
Test(examples, workerpool_ctx, .timeout = 30)
{
	static struct example_run r;
	run_example("workerpool_ctx", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "collected 100 results, all squares of jobs: yes\n");
	assert_has(&r, out,
		   "after the cancel: 4 of 4 workers stopped with GORT_CANCELED; the producer with GORT_CANCELED\n");
	assert_has(&r, out, "results the workers handed over: at least 100: yes\n");
	assert_has(&r, out, "live coroutines: 1\n");
}

/* errgroup: the failing member's error wins and cancels the other four;
 * with a limit of two, never more than two members run at once. */
Test(examples, errgroup, .timeout = 30)
{
	static struct example_run r;
	run_example("errgroup", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "first error: -1000 (the failing fetch), cancelled siblings: 4 of 4\n");
	assert_has(&r, out, "group context after wait: cancelled\n");
	assert_has(&r, out, "limited group: error 0, 10 finished, at most 2 at once (limit 2)\n");
}

/* The semaphore-bounded processor: never more than its capacity in use,
 * every item processed; with a deadline it stops taking items early, and
 * every unit comes back. */
Test(examples, semaphore_bounded, .timeout = 30)
{
	static struct example_run r;
	run_example("semaphore_bounded", &r);
	assert_exit_ok(&r);
	assert_has(&r, out,
		   "all items: 100 started, 100 processed, at most 3 units in use (capacity 3)\n");
	assert_has(&r, out,
		   "with a deadline: stopped early: yes; every started item finished: yes; error "
		   "deadline exceeded\n");
	assert_has(&r, out, "capacity back: yes\n");
}

/* The small HTTP server: the fast request is answered while the slow one
 * (delay=200) waits, 404 and 400 come out right, the server logs each
 * request, and stopping it leaves nothing. */
Test(examples, http_slow_server, .timeout = 30)
{
	static struct example_run r;
	run_example("http_slow_server", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "server: listening on 127.0.0.1:");
	assert_has(&r, out, "  GET /?delay=200 -> 200 OK, 33 bytes after ");
	assert_has(&r, out, " s: \"hello from gort: GET /?delay=200\"\n");
	double slow = seconds_after(r.out, "  GET /?delay=200 -> 200 OK, 33 bytes after ");
	cr_assert(slow >= 0.2 && slow < 10, "the slow answer after %.1f s\nstdout:\n%s", slow, r.out);
	assert_has(&r, out, " s: \"hello from gort: GET /\"\n");
	assert_has(&r, out, "  the fast answer came before the slow one: yes\n");
	assert_has(&r, out, "  GET /nope -> 404 Not Found, 10 bytes after ");
	assert_has(&r, out, "\"GET nowhere\" (no version, no '/') -> 400 Bad Request, 12 bytes after ");
	assert_has(&r, out, "  server: GET / -> 200 OK after ");
	assert_has(&r, out, "  server: GET /?delay=200 -> 200 OK after ");
	assert_has(&r, out, "  server: GET /nope -> 404 Not Found after ");
	assert_has(&r, out, "  server: a malformed request -> 400 Bad Request\n");
	assert_has(&r, out, "server stopped; live coroutines: 1\n");
	assert_lacks(&r, err, "panic");
}

/* Scenario 3, broken: both fetches "have" a 1 s timeout and both come back
 * only with the server's answer, after its 2 s: the timeout was ignored. */
Test(examples, http_fetch_broken, .timeout = 30)
{
	static struct example_run r;
	run_example("http_fetch_broken", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "fetch 1: makes a 1 s context and never passes it down (Go: http.Get(url))\n");
	assert_has(&r, out, "fetch 2: passes the context to a blocking read(2) that cannot see it\n");
	cr_assert_eq(count_of(r.out, " s: \"hello from gort: GET /?delay=2000\"\n"), 2,
		     "stdout:\n%s", r.out);
	cr_assert_eq(count_of(r.out, "  the 1 s timeout was ignored: yes (it returned "), 2,
		     "stdout:\n%s", r.out);
	double t1 = seconds_after(strstr(r.out, "fetch 1:"), "-> 200 OK after ");
	double t2 = seconds_after(strstr(r.out, "fetch 2:"), "-> 200 OK after ");
	cr_assert(t1 >= 1.9 && t1 < 10 && t2 >= 1.9 && t2 < 10,
		  "both fetches should return after the server's 2 s, not at their 1 s timeout: "
		  "%.1f s and %.1f s\nstdout:\n%s",
		  t1, t2, r.out);
	assert_lacks(&r, err, "panic");
}

/* Scenario 3, fixed: the fetch returns GORT_DEADLINE_EXCEEDED at its 1 s
 * timeout, the server's handler notices the closed connection and stops
 * (the leak check finds nothing); the retry with back-off 100, 200 ms
 * succeeds on attempt 3, and a 500 ms budget ends the back-off against a
 * server that is down. */
Test(examples, http_fetch_fixed, .timeout = 30)
{
	static struct example_run r;
	run_example("http_fetch_fixed", &r);
	assert_exit_ok(&r);
	const char *fail = "  -> GORT_DEADLINE_EXCEEDED (context deadline exceeded) after ";
	assert_has(&r, out, fail);
	double t = seconds_after(r.out, fail);
	cr_assert(t >= 0.9 && t <= 2.0, "the fetch gave up after %.1f s, not at its 1 s timeout\nstdout:\n%s",
		  t, r.out);
	assert_has(&r, out, "  server: GET /?delay=2000: the client went away after ");
	assert_has(&r, out, " s; the handler stopped (its context: GORT_CANCELED) instead of answering at 2.0 s\n");
	assert_has(&r, out,
		   "  leak check (the server's accept loop aside): 0 coroutines, 0 contexts left behind\n");
	assert_has(&r, out,
		   "GET /flaky (503 the first 2 times), 2000 ms budget:\n"
		   "  attempt 1: 503 Service Unavailable; retrying in 100 ms\n"
		   "  attempt 2: 503 Service Unavailable; retrying in 200 ms\n"
		   "  attempt 3: 200 OK \"hello from gort: GET /flaky\"\n"
		   "  result: ok after 3 attempts, ");
	assert_has(&r, out,
		   "GET /down (503 always), 500 ms budget:\n"
		   "  attempt 1: 503 Service Unavailable; retrying in 100 ms\n"
		   "  attempt 2: 503 Service Unavailable; retrying in 200 ms\n"
		   "  attempt 3: 503 Service Unavailable; retrying in 400 ms\n"
		   "  result: GORT_DEADLINE_EXCEEDED (context deadline exceeded) after 3 attempts, ");
	assert_has(&r, out, "live coroutines: 1\n");
	assert_lacks(&r, err, "leak check");
	assert_lacks(&r, err, "panic");
}

/* The echo server: 8 clients x 200 round trips of seeded sizes and bytes,
 * every echo intact, the server's byte count equal to the clients'. */
Test(examples, echo_server, .timeout = 30)
{
	static struct example_run r;
	run_example("echo_server", &r);
	assert_exit_ok(&r);
	assert_has(&r, out,
		   "clients: 8 x 200 round trips of 1..4096 bytes at once: 1600 round trips, 3255247 "
		   "bytes each way; every echo intact: yes\n");
	assert_has(&r, out,
		   "server: 8 connections served, 3255247 bytes echoed; the two sides agree: yes\n");
	assert_has(&r, out, "server stopped; live coroutines: 1\n");
	assert_lacks(&r, err, "panic");
}

/* ------------------------------------------------------------------------ */
/* The debug layer under gort_main (the GORT_DEBUG keys, runtime/debug/)     */
/* ------------------------------------------------------------------------ */

/* From a line "<prefix>file:line\n" of text, "file:line" into buf. */
static const char *site_after(const struct example_run *r, const char *text, const char *prefix,
			      char *buf, size_t n)
{
	const char *p = strstr(text, prefix);
	cr_assert_not_null(p, "%s: no \"%s\"\nstdout:\n%s\nstderr:\n%s", r->name, prefix, r->out,
			   r->err);
	p += strlen(prefix);
	size_t len = strcspn(p, "\n");
	cr_assert(len > 0 && len < n);
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/* The entry of a grouped dump whose first line begins with head (up to
 * its blank line) must hold "\tblocked at <site>\n". */
static void assert_group_blocked_at(const struct example_run *r, const char *head, const char *site)
{
	const char *e = strstr(r->err, head);
	cr_assert_not_null(e, "%s: stderr lacks \"%s\"\nstderr:\n%s", r->name, head, r->err);
	const char *end = strstr(e, "\n\n");
	char want[256];
	snprintf(want, sizeof want, "\n\tblocked at %s\n", site);
	const char *b = strstr(e, want);
	cr_assert(b != NULL && (end == NULL || b < end),
		  "%s: the entry \"%s\" lacks \"blocked at %s\"\nstderr:\n%s", r->name, head, site,
		  r->err);
}

/* alice and bob each wait for the other's message, main for both: Go's
 * fatal error, the grouped dump with each one's blocked-at line, abort. */
Test(examples, deadlock_abort, .timeout = 30)
{
	static struct example_run r;
	run_example("deadlock_abort", &r);
	assert_aborted(&r);
	cr_assert(strncmp(r.err, "fatal error: all coroutines are asleep - deadlock!\n\n", 52) == 0,
		  "stderr does not begin with the fatal error\nstderr:\n%s", r.err);
	cr_assert_eq(count_of(r.err, "fatal error: all coroutines are asleep - deadlock!\n"), 1,
		     "stderr:\n%s", r.err);
	char site[128];
	assert_group_blocked_at(&r, "1 coroutine \"alice\" [chan receive, ",
				site_after(&r, r.out, "alice waits for bob at ", site, sizeof site));
	assert_group_blocked_at(&r, "1 coroutine \"bob\" [chan receive, ",
				site_after(&r, r.out, "bob waits for alice at ", site, sizeof site));
	assert_group_blocked_at(&r, "1 coroutine \"main\" [waitgroup wait, ",
				site_after(&r, r.out, "main waits for both at ", site, sizeof site));
	assert_has(&r, err, "\ncreated at examples/deadlock_abort.c:");
	cr_assert_eq(count_of(r.err, "\n1 coroutine \""), 3, "three groups of one\nstderr:\n%s", r.err);
	assert_lacks(&r, out, "never printed");
}

/* Parked behind a sleeping coroutine, then behind a timer: never a
 * deadlock. */
Test(examples, deadlock_none, .timeout = 30)
{
	static struct example_run r;
	run_example("deadlock_none", &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "3 waiters woke after the opener's 300 ms sleep\n");
	assert_has(&r, out, "main woke from its 200 ms timer\n");
	assert_lacks(&r, err, "deadlock");
	assert_lacks(&r, err, "fatal error");
}

/* deadlock=report: everything in the runtime asleep until a plain thread
 * opens the gate 500 ms later; the report comes once, the program goes on
 * and exits 0. */
Test(examples, deadlock_report, .timeout = 30)
{
	static struct example_run r;
	run_example("deadlock_report", &r);
	assert_exit_ok(&r);
	cr_assert_eq(count_of(r.err, "fatal error: all coroutines are asleep - deadlock!\n"), 1,
		     "one report\nstderr:\n%s", r.err);
	assert_has(&r, err, "2 coroutines \"waiter\" [chan receive, ");
	assert_has(&r, err, "1 coroutine \"main\" [waitgroup wait, ");
	assert_has(&r, err, "\tblocked at examples/deadlock_report.c:");
	assert_has(&r, out, "the plain thread opened the gate; 2 waiters and main went on\n");
}

/* schedtrace=50,scheddetail=1: SCHED lines with the Ps' count, a line per
 * P and per M. */
Test(examples, schedtrace, .timeout = 30)
{
	static struct example_run r;
	run_example("schedtrace", &r);
	assert_exit_ok(&r);
	const char *p = strstr(r.out, "procs=");
	cr_assert_not_null(p, "stdout:\n%s", r.out);
	int procs = atoi(p + 6);
	cr_assert_gt(procs, 0);
	assert_has(&r, out, " ping-pong pairs ran for 300 ms under the trace\n");
	cr_assert(strncmp(r.err, "SCHED ", 6) == 0, "stderr does not begin with SCHED\nstderr:\n%s", r.err);
	cr_assert_geq(count_of(r.err, "SCHED "), 2, "stderr:\n%s", r.err);
	char want[64];
	snprintf(want, sizeof want, "ms: procs=%d idleprocs=", procs);
	assert_has(&r, err, want);
	assert_has(&r, err, " threads=");
	assert_has(&r, err, " runqueue=");
	assert_has(&r, err, "\n  P0: status=");
	snprintf(want, sizeof want, "\n  P%d: status=", procs - 1);
	assert_has(&r, err, want);
	snprintf(want, sizeof want, "\n  P%d: ", procs);
	assert_lacks(&r, err, want);
	assert_has(&r, err, "\n  M0: p=");
	/* every line of stderr is a trace line */
	for (const char *l = r.err; *l != '\0';) {
		cr_assert(strncmp(l, "SCHED ", 6) == 0 || strncmp(l, "  P", 3) == 0 ||
				  strncmp(l, "  M", 3) == 0,
			  "not a trace line: %.120s", l);
		const char *nl = strchr(l, '\n');
		if (nl == NULL)
			break;
		l = nl + 1;
	}
}

/* leakcheck=1: main returns 0 with a consumer still ranging over a channel
 * nobody closes; the check names it and the exit status is 1. */
Test(examples, leakcheck_exit1, .timeout = 30)
{
	static struct example_run r;
	run_example("leakcheck_exit1", &r);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1,
		  "leakcheck_exit1 should exit with status 1 but %s\nstdout:\n%s\nstderr:\n%s", r.what,
		  r.out, r.err);
	assert_has(&r, out, "consumer got 3\n");
	assert_has(&r, out, "main returns 0; the leak check turns that into exit status 1\n");
	assert_has(&r, err, "gort: leak check: 1 coroutine still alive after ");
	assert_has(&r, err, "1 coroutine \"consumer\" [chan receive, ");
	assert_has(&r, err, "\tblocked at examples/leakcheck_exit1.c:");
	assert_has(&r, err, "\ncreated at examples/leakcheck_exit1.c:");
	assert_has(&r, err, "gort: leak check (GORT_DEBUG=leakcheck=1): 1 leak; exit status 1\n");
}
