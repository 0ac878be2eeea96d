/*
 * test_leaks.c — the leak-scenario runner (examples/leaks/leaks.c) run as
 * the program it is, from $GORT_LEAKS_BIN (`make test` builds it and sets
 * that; the tests skip when it is unset): it must exit 0 (every broken
 * version leaked or crashed, every fix was clean), and each scenario must
 * show what the leak check found in it.  Durations and addresses vary from
 * run to run; the checks stop before them.
 */
#include "subprocess.h"

static const char *leaks_bin(void)
{
	const char *bin = getenv("GORT_LEAKS_BIN");
	if (bin == NULL || *bin == '\0')
		cr_skip_test("GORT_LEAKS_BIN is not set (make test sets it)");
	return bin;
}

/* Does s hold a line that starts with `head` and, further on the same
 * line, has `tail`? */
static int has_line(const char *s, const char *head, const char *tail)
{
	for (const char *p = strstr(s, head); p != NULL; p = strstr(p + 1, head)) {
		if (p != s && p[-1] != '\n')
			continue;
		const char *eol = strchr(p, '\n');
		const char *t = strstr(p + strlen(head), tail);
		if (t != NULL && (eol == NULL || t < eol))
			return 1;
	}
	return 0;
}

#define assert_line(r, head, tail)                                                         \
	cr_assert(has_line((r)->out, (head), (tail)),                                      \
		  "stdout lacks a line \"%s...%s\"\nstdout:\n%s\nstderr:\n%s", (head), (tail), \
		  (r)->out, (r)->err)

#define LEAK "   [leak]  "
#define MORE "           "
#define SITE "blocked at examples/leaks/leaks.c:"

Test(leaks, every_scenario_leaks_broken_and_is_clean_fixed, .timeout = 60)
{
	static struct subprocess_run r;
	const char *bin = leaks_bin();
	char *argv[] = {"leaks", NULL};
	subprocess_run(bin, argv, 50, &r);
	assert_exit_ok(&r);

	assert_has(&r, out, "\n1. workers ranging over a never-closed channel\n");
	assert_line(&r, LEAK "4 coroutines \"worker\" [chan receive, ", SITE);
	assert_line(&r, MORE "channel 0x", "was released by every owner while 4 coroutines wait on it");
	assert_has(&r, out, MORE "gort_leakcheck: 5 (4 coroutines, 1 orphaned channel)\n");
	assert_has(&r, out, "   [clean] fixed: close(jobs) after the last job, wait for the workers\n");

	assert_has(&r, out, "\n2. a panic in a child, a recover in its parent\n");
	assert_has(&r, out,
		   "   [crash] the parent's recover did not stop it: the process died by SIGABRT\n"
		   MORE "panic: child: index 5 out of range [0, 3)\n");
	assert_line(&r, MORE "coroutine ", " \"child\" [running]:");
	assert_has(&r, out,
		   "   [clean] fixed: the child is its own boundary (.on_panic), its done deferred; its "
		   "handler caught \"child: index 5 out of range [0, 3)\"\n");

	assert_has(&r, out, "\n3. a timeout the callee ignores\n");
	assert_line(&r, LEAK "1 coroutine \"fetch\" [chan send, ", SITE);
	assert_has(&r, out, MORE "gort_leakcheck: 1 (1 coroutine)\n");
	assert_has(&r, out, "   [clean] fixed: the callee sends with gort_chan_send_ctx(ctx, ...)\n");

	assert_has(&r, out, "\n4. a sender with no receiver after a select timed out\n");
	assert_line(&r, LEAK "1 coroutine \"compute\" [chan send, ", SITE);
	assert_has(&r, out,
		   "   [clean] fixed: the result channel has room for the late answer (capacity 1)\n");

	assert_has(&r, out, "\n5. a forgotten cancel\n");
	assert_line(&r, LEAK "context created at examples/leaks/leaks.c:",
		    " was released without gort_ctx_cancel and is not done (lostcancel): its parent "
		    "keeps it until its deadline, in ");
	assert_has(&r, out, MORE "gort_leakcheck: 1 (1 lost-cancel context)\n");
	assert_has(&r, out, "   [clean] fixed: gort_ctx_cancel(ctx) before gort_ctx_release(ctx)\n");

	assert_has(&r, out, "\n6. a WaitGroup Add without its Done\n");
	assert_line(&r, LEAK "1 coroutine \"handler\" [waitgroup wait, ", SITE);
	assert_line(&r, MORE "wait group 0x", " has counter 1 and 1 waiter, all leaked");
	assert_has(&r, out, MORE "gort_leakcheck: 2 (1 coroutine, 1 stuck wait group)\n");
	assert_has(&r, out, "   [clean] fixed: GORT_DEFER(wg_done, &wg) first thing in the task\n");

	assert_has(&r, out, "\n7. a mutex never unlocked on an error path\n");
	assert_line(&r, LEAK "1 coroutine \"request\" [sync.Mutex.Lock, ", SITE);
	assert_has(&r, out, "   [clean] fixed: one exit that unlocks (goto out)\n");

	/* the poller wakes every 10 ms: caught parked (the usual) or between
	 * two ticks, it is the one coroutine left either way */
	assert_has(&r, out, "\n8. a ticker never stopped\n");
	assert_has(&r, out, LEAK "1 coroutine \"poller\" [");
	assert_has(&r, out,
		   "   [clean] fixed: select on the ticker and ctx done; gort_timer_free on the way out\n");

	assert_has(&r, out,
		   "\n8 scenarios: every broken version leaked (or crashed), every fix was clean\n");
	assert_lacks(&r, out, "[FAIL]");
}

/* -v and a scenario number: only that scenario, with the leak check's
 * whole report (the grouped dump with its backtrace). */
Test(leaks, verbose_single_scenario, .timeout = 60)
{
	static struct subprocess_run r;
	const char *bin = leaks_bin();
	char *argv[] = {"leaks", "-v", "6", NULL};
	subprocess_run(bin, argv, 50, &r);
	assert_exit_ok(&r);
	assert_has(&r, out, "\n6. a WaitGroup Add without its Done\n");
	assert_lacks(&r, out, "\n1. ");
	assert_has(&r, out, MORE "| gort: leak check: 1 coroutine still alive after ");
	assert_has(&r, out, MORE "| 1 coroutine \"handler\" [waitgroup wait, ");
	assert_has(&r, out, MORE "| \tblocked at examples/leaks/leaks.c:");
	assert_has(&r, out, MORE "| created at examples/leaks/leaks.c:");
	assert_has(&r, out, "\n1 scenario: every broken version leaked (or crashed), every fix was clean\n");
}

Test(leaks, bad_argument_is_a_usage_error, .timeout = 30)
{
	static struct subprocess_run r;
	const char *bin = leaks_bin();
	char *argv[] = {"leaks", "9", NULL};
	subprocess_run(bin, argv, 25, &r);
	assert_exit_status(&r, 2);
	assert_has(&r, err, "usage: leaks [-v|--verbose] [1..8 ...]\n");
}
