/*
 * runner.c — main() of the test binary in the ThreadSanitizer build, in
 * place of Criterion (see criterion/criterion.h beside it).
 *
 * Every test registered by Test() runs in its own forked process (and
 * process group), at most -j N at a time, each with its .timeout: a test
 * still running then is killed and fails.  A test's stdout and stderr go to
 * a file of its own, shown once the test ends, so that the output of tests
 * running side by side does not interleave.  This process starts no thread
 * (forking a threaded process is not supported under TSan).
 *
 *   gort_test [-j N | --jobs=N] [--filter=GLOB] [--list] [--verbose]
 *             [--fail-fast] [--timeout=S] [--timeout-scale=X]
 *
 * --filter matches "suite/name" with fnmatch(3), as Criterion's does.
 * --timeout gives the tests without a .timeout one, as Criterion's does.
 * --timeout-scale multiplies every test's timeout (not in Criterion).
 * The last line has Criterion's form:
 *   [====] Synthesis: Tested: X | Passing: Y | Failing: Z | Crashing: W
 * (Failing counts the crashes too, as Criterion's does).  The exit status
 * is 1 when a test failed, 2 on a usage error, else 0.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

static struct criterion_test *registered;
static size_t num_registered;

void cr_register_test_(struct criterion_test *t)
{
	t->next_ = registered;
	registered = t;
	num_registered++;
}

/* ------------------------------------------------------------------------ */
/* In the test's process                                                     */
/* ------------------------------------------------------------------------ */

/* One per job, in memory shared with the runner: what the test's process
 * found out, read by the runner once the process is reaped. */
struct cr_slot {
	atomic_int failed;  /* an assertion or expectation failed */
	atomic_int first;   /* where[] taken by the first failure */
	atomic_int skipped; /* cr_skip_test */
	char where[256];    /* "file:line" of the first failure; skip reason */
};

static struct cr_slot *cur_slot;
static const struct criterion_test *cur_test;
static atomic_int in_fini;

/* Print "[----] " before every line of text on stderr, in one write. */
static void put_prefixed(const char *head, const char *text)
{
	char buf[8192];
	size_t n = 0;
	int at_line_start = 1;
	n += (size_t)snprintf(buf, sizeof buf, "%s", head);
	for (const char *p = text; *p != '\0' && n + 16 < sizeof buf; p++) {
		if (at_line_start) {
			memcpy(buf + n, "[----]   ", 9);
			n += 9;
		}
		buf[n++] = *p;
		at_line_start = *p == '\n';
	}
	if (!at_line_start)
		buf[n++] = '\n';
	fflush(stdout);
	fwrite(buf, 1, n, stderr);
}

static void report_failure(const char *file, int line, const char *expr, const char *fmt,
			   va_list ap)
{
	char msg[4096];
	char text[4608];
	char head[512];

	vsnprintf(msg, sizeof msg, fmt + 1, ap); /* fmt is " " the caller's */
	text[0] = '\0';
	if (expr != NULL)
		snprintf(text, sizeof text, "The expression %s is false.%s%s", expr,
			 msg[0] != '\0' ? "\n" : "", msg);
	else
		snprintf(text, sizeof text, "%s", msg[0] != '\0' ? msg : "The test failed.");
	snprintf(head, sizeof head, "[----] %s:%d: %s\n", file, line,
		 expr != NULL || fmt[1] != '\0' ? "Assertion Failed" : "Failed");
	put_prefixed(head, text);

	if (cur_slot != NULL) {
		atomic_store(&cur_slot->failed, 1);
		if (atomic_exchange(&cur_slot->first, 1) == 0)
			snprintf(cur_slot->where, sizeof cur_slot->where, "%s:%d", file, line);
	}
}

void cr_assert_failed_(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_failure(file, line, expr, fmt, ap);
	va_end(ap);
	/* Criterion runs .fini after a failed assertion too */
	if (cur_test != NULL && cur_test->data.fini != NULL && atomic_exchange(&in_fini, 1) == 0)
		cur_test->data.fini();
	fflush(NULL);
	_exit(1);
}

void cr_expect_failed_(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_failure(file, line, expr, fmt, ap);
	va_end(ap);
}

void cr_skip_test_(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt + 1, ap);
	va_end(ap);
	if (cur_slot != NULL) {
		atomic_store(&cur_slot->skipped, 1);
		snprintf(cur_slot->where, sizeof cur_slot->where, "%s", msg);
	}
	fflush(NULL);
	_exit(0);
}

void cr_log_(const char *level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "[%s] %s\n", level, msg);
}

static _Noreturn void run_in_child(const struct criterion_test *t, struct cr_slot *slot, int out)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	setpgid(0, 0);
	if (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
		_exit(127);
	close(out);
	setvbuf(stdout, NULL, _IOLBF, 0);
	cur_slot = slot;
	cur_test = t;
	if (t->data.init != NULL)
		t->data.init();
	t->test();
	if (t->data.fini != NULL && atomic_exchange(&in_fini, 1) == 0)
		t->data.fini();
	exit(0);
}

/* ------------------------------------------------------------------------ */
/* The runner                                                                */
/* ------------------------------------------------------------------------ */

struct job {
	const struct criterion_test *test;
	pid_t pid; /* 0: the job is free */
	FILE *out;
	double start;
	double deadline; /* 0: none */
};

static struct {
	long jobs;
	const char *filter;
	int list;
	int verbose;
	int fail_fast;
	double timeout;
	double timeout_scale;
} opt = {.jobs = 2, .timeout_scale = 1.0};

static struct {
	size_t tested, passing, failing, crashing, skipped;
} stats;

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_tests(const void *a, const void *b)
{
	const struct criterion_test *x = *(const struct criterion_test *const *)a;
	const struct criterion_test *y = *(const struct criterion_test *const *)b;
	int c = strcmp(x->suite, y->suite);
	return c != 0 ? c : strcmp(x->name, y->name);
}

static int matches(const struct criterion_test *t)
{
	char full[512];
	if (opt.filter == NULL)
		return 1;
	snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
	return fnmatch(opt.filter, full, 0) == 0;
}

enum { SAID_TSAN = 1, SAID_DEADLY = 2 };

/* Copy the test's output (at most 1 MiB of it) to stderr when show is set
 * or it holds a sanitizer's warning; returns SAID_TSAN when ThreadSanitizer
 * spoke, plus SAID_DEADLY when a sanitizer caught a deadly signal (it then
 * exits with its exitcode, 66, instead of dying by the signal). */
static int show_output(struct job *j, int show)
{
	enum { MAXOUT = 1 << 20 };
	struct stat st;
	int fd = fileno(j->out);
	int said = 0;
	if (fstat(fd, &st) != 0 || st.st_size == 0)
		return 0;
	size_t size = (size_t)st.st_size;
	size_t take = size < MAXOUT ? size : MAXOUT;
	char *buf = malloc(take + 1);
	if (buf == NULL)
		return 0;
	size_t got = 0;
	while (got < take) {
		ssize_t n = pread(fd, buf + got, take - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	said = (strstr(buf, "ThreadSanitizer") != NULL ? SAID_TSAN : 0) |
	       (strstr(buf, "Sanitizer:DEADLYSIGNAL") != NULL ? SAID_DEADLY : 0);
	if ((show || strstr(buf, "Sanitizer") != NULL) && got > 0) {
		fprintf(stderr, "[----] %s::%s: output:\n", j->test->suite, j->test->name);
		fwrite(buf, 1, got, stderr);
		if (buf[got - 1] != '\n')
			fputc('\n', stderr);
		if (got < size)
			fprintf(stderr, "[----] ... %zu more bytes left out\n", size - got);
	}
	free(buf);
	return said;
}

static void finish(struct job *j, struct cr_slot *slot, int status, int timed_out)
{
	const struct criterion_test *t = j->test;
	double secs = now_s() - j->start;
	char why[512];
	int failed = 0, crashed = 0;

	why[0] = '\0';
	if (timed_out) {
		failed = 1;
		snprintf(why, sizeof why, "Timed out.");
	} else if (atomic_load(&slot->failed)) {
		failed = 1;
		snprintf(why, sizeof why, "%s: Assertion failed.", slot->where);
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (sig != t->data.signal) {
			failed = crashed = 1;
			snprintf(why, sizeof why, "CRASH! (signal %d, %s)", sig, strsignal(sig));
		}
	} else if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		if (t->data.signal != 0) {
			failed = 1;
			snprintf(why, sizeof why, "exited with status %d, not killed by signal %d (%s).",
				 code, t->data.signal, strsignal(t->data.signal));
		} else if (code != t->data.exit_code) {
			failed = 1;
			snprintf(why, sizeof why, "exited with status %d, expected %d.", code,
				 t->data.exit_code);
		}
	} else {
		failed = crashed = 1;
		snprintf(why, sizeof why, "CRASH! (wait status 0x%x)", status);
	}

	int skipped = !failed && atomic_load(&slot->skipped);
	int said = show_output(j, failed || opt.verbose);
	if ((said & SAID_DEADLY) && failed && !timed_out && !crashed) {
		crashed = 1;
		snprintf(why, sizeof why, "CRASH! (a sanitizer caught a deadly signal)");
	}
	if ((said & SAID_TSAN) && failed && !timed_out)
		strncat(why, " (see ThreadSanitizer's output above)", sizeof why - strlen(why) - 1);

	if (skipped) {
		stats.skipped++;
		fprintf(stderr, "[SKIP] %s::%s: %s\n", t->suite, t->name,
			slot->where[0] != '\0' ? slot->where : "Test was skipped");
		return;
	}
	stats.tested++;
	if (failed) {
		stats.failing++;
		stats.crashing += (size_t)crashed;
		fprintf(stderr, "[FAIL] %s::%s: %s (%.2fs)\n", t->suite, t->name, why, secs);
	} else {
		stats.passing++;
		if (opt.verbose)
			fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", t->suite, t->name, secs);
	}
}

static void kill_job(struct job *j)
{
	kill(-j->pid, SIGKILL);
	kill(j->pid, SIGKILL);
}

static int start(struct job *j, const struct criterion_test *t, struct cr_slot *slot)
{
	memset(slot, 0, sizeof *slot);
	j->out = tmpfile();
	if (j->out == NULL) {
		fprintf(stderr, "[ERR ] tmpfile: %s\n", strerror(errno));
		return -1;
	}
	if (opt.verbose)
		fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "[ERR ] fork: %s\n", strerror(errno));
		fclose(j->out);
		j->out = NULL;
		return -1;
	}
	if (pid == 0)
		run_in_child(t, slot, fileno(j->out));
	setpgid(pid, pid); /* as the child does: whichever comes first */
	j->test = t;
	j->pid = pid;
	j->start = now_s();
	double tmo = t->data.timeout > 0 ? t->data.timeout : opt.timeout;
	j->deadline = tmo > 0 ? j->start + tmo * opt.timeout_scale : 0;
	return 0;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-j N | --jobs=N] [--filter=GLOB] [--list] [--verbose]\n"
		"          [--fail-fast] [--timeout=S] [--timeout-scale=X]\n"
		"  -j, --jobs N          run N tests at a time (default 2)\n"
		"  --filter GLOB         run the tests whose suite/name matches GLOB\n"
		"  -l, --list            list the tests, run none\n"
		"  --verbose[=N]         show every test, its output and time\n"
		"  --fail-fast           start no test after one fails\n"
		"  --timeout S           a timeout for the tests that set none\n"
		"  --timeout-scale X     multiply every test's timeout by X\n",
		argv0);
}

/* "--name=value", "--name value", "-jN", "-j N": the value, or NULL. */
static const char *arg_value(int argc, char **argv, int *i, const char *shrt, const char *lng)
{
	const char *a = argv[*i];
	size_t ln = strlen(lng);
	if (strncmp(a, lng, ln) == 0 && a[ln] == '=')
		return a + ln + 1;
	if (strcmp(a, lng) == 0 || (shrt != NULL && strcmp(a, shrt) == 0)) {
		if (*i + 1 >= argc)
			return NULL;
		return argv[++*i];
	}
	if (shrt != NULL && strncmp(a, shrt, strlen(shrt)) == 0 && a[strlen(shrt)] != '\0')
		return a + strlen(shrt);
	return NULL;
}

static int is_opt(const char *a, const char *shrt, const char *lng)
{
	size_t ln = strlen(lng);
	return (strncmp(a, lng, ln) == 0 && (a[ln] == '\0' || a[ln] == '=')) ||
	       (shrt != NULL && strncmp(a, shrt, strlen(shrt)) == 0);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v;
		char *end;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, argv[0]);
			return 0;
		} else if (is_opt(a, "-j", "--jobs")) {
			v = arg_value(argc, argv, &i, "-j", "--jobs");
			opt.jobs = v != NULL ? strtol(v, &end, 10) : 0;
			if (v == NULL || *end != '\0' || opt.jobs < 1 || opt.jobs > 1024) {
				fprintf(stderr, "%s: -j wants a number from 1 to 1024\n", argv[0]);
				return 2;
			}
		} else if (is_opt(a, NULL, "--filter")) {
			opt.filter = arg_value(argc, argv, &i, NULL, "--filter");
			if (opt.filter == NULL) {
				fprintf(stderr, "%s: --filter wants a pattern\n", argv[0]);
				return 2;
			}
		} else if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
			v = arg_value(argc, argv, &i, NULL, "--timeout");
			opt.timeout = v != NULL ? strtod(v, &end) : 0;
			if (v == NULL || *end != '\0' || !(opt.timeout > 0)) {
				fprintf(stderr, "%s: --timeout wants a number of seconds > 0\n", argv[0]);
				return 2;
			}
		} else if (is_opt(a, NULL, "--timeout-scale")) {
			v = arg_value(argc, argv, &i, NULL, "--timeout-scale");
			opt.timeout_scale = v != NULL ? strtod(v, &end) : 0;
			if (v == NULL || *end != '\0' || !(opt.timeout_scale > 0)) {
				fprintf(stderr, "%s: --timeout-scale wants a number > 0\n", argv[0]);
				return 2;
			}
		} else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
			opt.list = 1;
		} else if (strcmp(a, "--verbose") == 0 || strncmp(a, "--verbose=", 10) == 0) {
			opt.verbose = 1;
		} else if (strcmp(a, "--fail-fast") == 0) {
			opt.fail_fast = 1;
		} else {
			fprintf(stderr, "%s: unknown argument %s\n", argv[0], a);
			usage(stderr, argv[0]);
			return 2;
		}
	}

	/* the tests, sorted by suite and name as Criterion runs them */
	const struct criterion_test **tests = calloc(num_registered + 1, sizeof *tests);
	if (tests == NULL) {
		perror("calloc");
		return 2;
	}
	size_t n = 0;
	for (struct criterion_test *t = registered; t != NULL; t = t->next_)
		tests[n++] = t;
	qsort(tests, n, sizeof *tests, cmp_tests);

	if (opt.list) {
		for (size_t i = 0; i < n; i++)
			if (matches(tests[i]))
				printf("%s/%s%s\n", tests[i]->suite, tests[i]->name,
				       tests[i]->data.disabled ? " (disabled)" : "");
		return 0;
	}

	struct job *jobs = calloc((size_t)opt.jobs, sizeof *jobs);
	struct cr_slot *slots = mmap(NULL, (size_t)opt.jobs * sizeof *slots, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (jobs == NULL || slots == MAP_FAILED) {
		perror("calloc/mmap");
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	size_t next = 0, running = 0;
	int stop_starting = 0, setup_error = 0;
	for (;;) {
		/* start what the free jobs allow */
		while (!stop_starting && !stop_signal && next < n && running < (size_t)opt.jobs) {
			const struct criterion_test *t = tests[next++];
			if (!matches(t))
				continue;
			if (t->data.disabled) {
				stats.skipped++;
				if (opt.verbose)
					fprintf(stderr, "[SKIP] %s::%s: Test is disabled\n", t->suite,
						t->name);
				continue;
			}
			size_t k = 0;
			while (jobs[k].pid != 0)
				k++;
			if (start(&jobs[k], t, &slots[k]) != 0) {
				setup_error = 1;
				stop_starting = 1;
				break;
			}
			running++;
		}
		if (stop_signal) {
			for (long k = 0; k < opt.jobs; k++)
				if (jobs[k].pid != 0)
					kill_job(&jobs[k]);
			stop_starting = 1;
		}
		if (running == 0)
			break;

		/* reap what ended; kill what ran out of time */
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			for (long k = 0; k < opt.jobs; k++) {
				if (jobs[k].pid != pid)
					continue;
				if (!stop_signal)
					finish(&jobs[k], &slots[k], status, 0);
				fclose(jobs[k].out);
				jobs[k].pid = 0;
				running--;
				if (opt.fail_fast && stats.failing > 0)
					stop_starting = 1;
			}
			continue;
		}
		if (pid < 0 && errno != EINTR && errno != ECHILD) {
			perror("waitpid");
			return 2;
		}
		double now = now_s();
		for (long k = 0; k < opt.jobs; k++) {
			struct job *j = &jobs[k];
			if (j->pid == 0 || j->deadline == 0 || now < j->deadline)
				continue;
			kill_job(j);
			while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR) {
			}
			finish(j, &slots[k], status, 1);
			fclose(j->out);
			j->pid = 0;
			running--;
			if (opt.fail_fast)
				stop_starting = 1;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}

	if (stop_signal) {
		fprintf(stderr, "[====] Interrupted by signal %d\n", (int)stop_signal);
		signal((int)stop_signal, SIG_DFL);
		raise((int)stop_signal);
		return 1;
	}
	fprintf(stderr, "[====] Synthesis: Tested: %zu | Passing: %zu | Failing: %zu | Crashing: %zu \n",
		stats.tested, stats.passing, stats.failing, stats.crashing);
	munmap(slots, (size_t)opt.jobs * sizeof *slots);
	free(jobs);
	free(tests);
	return stats.failing > 0 || setup_error ? 1 : 0;
}
