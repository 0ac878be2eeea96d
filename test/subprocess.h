/*
 * subprocess.h — run a built program as a test does: fork and exec it with
 * stdout and stderr captured apart, no core file, no GORT_* setting
 * inherited from the test's caller, and an alarm so that a hung program
 * dies before Criterion's .timeout; then check its status and output.
 *
 *   static struct subprocess_run r;             (large: keep it static)
 *   subprocess_run("/path/to/prog", argv, 25, &r);
 *   assert_exit_ok(&r);
 *   assert_has(&r, out, "a line it prints\n");
 *
 * Used by test_leaks.c and test_examples.c.
 */
#ifndef GORT_TEST_SUBPROCESS_H
#define GORT_TEST_SUBPROCESS_H

#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct subprocess_run {
	const char *name; /* argv[0], for messages */
	int status;       /* from waitpid */
	char out[65536];  /* stdout, NUL-terminated (cut if longer) */
	char err[65536];  /* stderr, likewise */
	char what[128];   /* the status in words */
};

static inline void subprocess_slurp(FILE *f, char *buf, size_t size)
{
	rewind(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Run path with argv (argv[0] first, NULL-terminated); fill *r.  The
 * program is killed by SIGALRM after alarm_s seconds. */
static inline void subprocess_run(const char *path, char *const argv[], unsigned alarm_s,
				  struct subprocess_run *r)
{
	cr_assert_eq(access(path, X_OK), 0, "%s: %s", path, strerror(errno));
	FILE *out = tmpfile(), *err = tmpfile();
	cr_assert(out != NULL && err != NULL, "tmpfile: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(fileno(out), 1) < 0 || dup2(fileno(err), 2) < 0)
			_exit(120);
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		unsetenv("GORT_PROCS");
		unsetenv("GORT_STACK_SIZE");
		unsetenv("GORT_DEBUG");
		alarm(alarm_s); /* kept across exec */
		execv(path, argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	r->name = argv[0];
	r->status = st;
	subprocess_slurp(out, r->out, sizeof r->out);
	subprocess_slurp(err, r->err, sizeof r->err);
	if (WIFEXITED(st))
		snprintf(r->what, sizeof r->what, "exited with %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(r->what, sizeof r->what, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(r->what, sizeof r->what, "ended with status 0x%x", st);
}

#define assert_exit_ok(r)                                                                  \
	cr_assert(WIFEXITED((r)->status) && WEXITSTATUS((r)->status) == 0,                 \
		  "%s should exit 0 but %s\nstdout:\n%s\nstderr:\n%s", (r)->name, (r)->what, \
		  (r)->out, (r)->err)

#define assert_exit_status(r, code)                                                        \
	cr_assert(WIFEXITED((r)->status) && WEXITSTATUS((r)->status) == (code),            \
		  "%s should exit %d but %s\nstdout:\n%s\nstderr:\n%s", (r)->name, (code),   \
		  (r)->what, (r)->out, (r)->err)

#define assert_aborted(r)                                                                  \
	cr_assert(WIFSIGNALED((r)->status) && WTERMSIG((r)->status) == SIGABRT,            \
		  "%s should die by SIGABRT but %s\nstdout:\n%s\nstderr:\n%s", (r)->name,    \
		  (r)->what, (r)->out, (r)->err)

#define assert_has(r, stream, text)                                                        \
	cr_assert(strstr((r)->stream, (text)) != NULL,                                     \
		  "%s: " #stream " lacks \"%s\"\nstdout:\n%s\nstderr:\n%s", (r)->name, (text), \
		  (r)->out, (r)->err)

#define assert_lacks(r, stream, text)                                                      \
	cr_assert(strstr((r)->stream, (text)) == NULL,                                     \
		  "%s: " #stream " has \"%s\"\nstdout:\n%s\nstderr:\n%s", (r)->name, (text),  \
		  (r)->out, (r)->err)

#endif /* GORT_TEST_SUBPROCESS_H */
