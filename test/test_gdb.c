/*
 * test_gdb.c — the gdb extension (runtime/debug/gort-gdb.py, docs/gdb.md)
 * over the program test/gdb/gdb_target.c, which parks named coroutines in
 * known ways, prints one "expect|id|name|state|blocked at|spawned at" line
 * for each, and stops in gdb_target_ready().  Three ways in:
 *   live         gdb runs it to the breakpoint and lists its coroutines;
 *   gcore        one gdb writes a core there (generate-core-file), a second
 *                reads the core;
 *   kernel_core  it aborts at that point and gdb reads the kernel's core.
 * Each checks `info coroutines` (every coroutine's line: id, name, state,
 * wait reason in the runtime's words, blocked-at and spawn sites, parent)
 * and `coroutine N bt` (the receiver's frames down to the function that
 * called receive and the coroutine's entry function; the sleeper's; what it
 * says of a running and a not-yet-started coroutine, and of an unknown id).
 *
 * Paths come from $GORT_GDB_TARGET and $GORT_GDB_SCRIPT (`make test` sets
 * them and builds the target); the tests skip when they are unset, when gdb
 * is not installed, when gdb may not trace (ptrace refused), gcore in a
 * sanitizer build (it would copy terabytes of shadow memory) and
 * kernel_core when the kernel writes no core file into the working
 * directory (core_pattern is a pipe, or a hard RLIMIT_CORE of 0).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "subprocess.h"

#define GDB_ALARM_S 150

/* A sanitizer build (the target is built like this file). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#define MAX_EXPECT 16

struct expect {
	long long id;
	char name[64];
	char state[64];   /* running, runnable, or the wait reason's words */
	char at[256];     /* file:line, or "-" */
	char spawned[256]; /* file:line, or "gort_main" */
};

struct env {
	char gdb[4096];
	const char *target;
	const char *script;
};

static struct subprocess_run run_a, run_b;

/* The paths, or skip. */
static void env_get(struct env *e)
{
	e->target = getenv("GORT_GDB_TARGET");
	e->script = getenv("GORT_GDB_SCRIPT");
	if (!e->target || !*e->target || !e->script || !*e->script)
		cr_skip_test("GORT_GDB_TARGET or GORT_GDB_SCRIPT is not set (make test sets them)");
	cr_assert_eq(access(e->target, X_OK), 0, "%s: %s (make test builds it)", e->target,
		     strerror(errno));
	cr_assert_eq(access(e->script, R_OK), 0, "%s: %s", e->script, strerror(errno));
	const char *path = getenv("PATH");
	char buf[8192];
	snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(e->gdb, sizeof e->gdb, "%s/gdb", d);
		if (access(e->gdb, X_OK) == 0)
			return;
	}
	cr_skip_test("gdb is not installed (scripts/deps.sh installs it)");
}

/* argv for `gdb -nx -batch <quiet settings> -ex <source script> <cmds...>
 * <files...>`; strings are kept in store. */
static char **gdb_argv(const struct env *e, const char *const *cmds, const char *const *files)
{
	static char *argv[64];
	static char source[4200];
	int n = 0;
	argv[n++] = "gdb";
	argv[n++] = "-nx";
	argv[n++] = "-batch";
	argv[n++] = "-iex";
	argv[n++] = "set debuginfod enabled off";
	argv[n++] = "-iex";
	argv[n++] = "set startup-with-shell off";
	snprintf(source, sizeof source, "source %s", e->script);
	argv[n++] = "-ex";
	argv[n++] = source;
	for (; *cmds; cmds++) {
		argv[n++] = "-ex";
		argv[n++] = (char *)*cmds;
	}
	for (; *files; files++)
		argv[n++] = (char *)*files;
	cr_assert_lt(n, 64);
	argv[n] = NULL;
	return argv;
}

static void skip_if_no_ptrace(const struct subprocess_run *r)
{
	if (strstr(r->err, "ptrace: Operation not permitted") ||
	    strstr(r->err, "Could not trace the inferior process"))
		cr_skip_test("gdb may not trace processes here (ptrace refused): %s", r->err);
}

/* The target's "expect|..." lines. */
static int parse_expects(const char *out, struct expect *ex, int max)
{
	int n = 0;
	for (const char *p = strstr(out, "expect|"); p && n < max; p = strstr(p + 1, "expect|")) {
		if (p != out && p[-1] != '\n')
			continue;
		struct expect *e = &ex[n];
		int k = sscanf(p, "expect|%lld|%63[^|]|%63[^|]|%255[^|]|%255[^\n]", &e->id, e->name,
			       e->state, e->at, e->spawned);
		cr_assert_eq(k, 5, "bad expect line: %.200s", p);
		n++;
	}
	cr_assert_eq(n, 8, "the target printed %d expect lines, not 8\nstdout:\n%s", n, out);
	return n;
}

static const struct expect *expect_named(const struct expect *ex, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ex[i].name, name) == 0)
			return &ex[i];
	cr_assert_fail("no expect line for %s", name);
	return NULL;
}

/* Copy the line of `info coroutines` whose Id column is id into buf. */
static bool listing_line(const char *out, long long id, char *buf, size_t size)
{
	const char *head = strstr(out, "  Id Name");
	if (!head)
		return false;
	for (const char *p = strchr(head, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		const char *line = p + 1;
		if (line[0] != ' ' && line[0] != '*')
			break; /* the count line ends the table */
		char *end;
		long long v = strtoll(line + 1, &end, 10);
		if (v == id && end != line + 1 && *end == ' ') {
			size_t len = strcspn(line, "\n");
			snprintf(buf, size, "%.*s", (int)len, line);
			return true;
		}
	}
	return false;
}

/* Copy the block `coroutine N "name" [...]` ... blank line into buf. */
static bool bt_block(const char *out, const struct expect *e, char *buf, size_t size)
{
	char head[256];
	snprintf(head, sizeof head, "coroutine %lld \"%s\" [%s]:\n", e->id, e->name, e->state);
	const char *p = strstr(out, head);
	if (!p)
		return false;
	const char *end = strstr(p, "\n\n");
	size_t len = end ? (size_t)(end - p + 1) : strlen(p);
	snprintf(buf, size, "%.*s", (int)len, p);
	return true;
}

#define assert_in(hay, needle, what, r)                                                         \
	cr_assert(strstr((hay), (needle)) != NULL, "%s lacks \"%s\":\n%s\n--- gdb stdout:\n%s\n--- gdb stderr:\n%s", \
		  (what), (needle), (hay), (r)->out, (r)->err)

/* The commands every test runs once the program is stopped (or its core
 * loaded), and the checks of their output r against the expectations.
 * (The failing one is not last: gdb -batch exits 1 if the last command
 * failed.) */
#define INSPECT_CMDS                                                                    \
	"info coroutines", "coroutine 999999999 bt", "coroutine gdb_target_recv_id bt",   \
		"coroutine gdb_target_sleep_id bt", "coroutine gdb_target_main_id bt",    \
		"coroutine gdb_target_fresh_id bt"

static void check_inspection(const struct subprocess_run *r, const struct expect *ex, int n)
{
	char line[1024], what[128], cell[300];
	const struct expect *main_e = expect_named(ex, n, "main");
	for (int i = 0; i < n; i++) {
		const struct expect *e = &ex[i];
		cr_assert(listing_line(r->out, e->id, line, sizeof line),
			  "info coroutines has no line for coroutine %lld (%s)\nstdout:\n%s\nstderr:\n%s",
			  e->id, e->name, r->out, r->err);
		snprintf(what, sizeof what, "the line of coroutine %lld", e->id);
		snprintf(cell, sizeof cell, " %s ", e->name);
		assert_in(line, cell, what, r);
		bool waiting = strcmp(e->state, "running") != 0 && strcmp(e->state, "runnable") != 0;
		snprintf(cell, sizeof cell, " %s ", waiting ? "waiting" : e->state);
		assert_in(line, cell, what, r);
		if (waiting) {
			snprintf(cell, sizeof cell, " %s ", e->state);
			assert_in(line, cell, what, r);
			snprintf(cell, sizeof cell, " %s ", e->at);
			assert_in(line, cell, what, r);
		}
		if (strcmp(e->state, "running") == 0)
			assert_in(line, " thread ", what, r);
		snprintf(cell, sizeof cell, " %s ", e->spawned);
		assert_in(line, cell, what, r);
		if (e != main_e) { /* the parent's id ends the line */
			snprintf(cell, sizeof cell, " %lld", main_e->id);
			size_t l = strlen(line), c = strlen(cell);
			cr_assert(l > c && strcmp(line + l - c, cell) == 0,
				  "%s should end with parent id %lld: %s", what, main_e->id, line);
		}
	}
	/* gdb stopped in main's thread: the selected thread's coroutine */
	cr_assert(listing_line(r->out, main_e->id, line, sizeof line));
	cr_assert_eq(line[0], '*', "main's line lacks the * of the selected thread: %s", line);
	assert_in(r->out, "\n8 coroutines: 2 running, 1 runnable, 5 waiting\n", "info coroutines", r);

	static char block[16384];
	const struct expect *rx = expect_named(ex, n, "receiver");
	cr_assert(bt_block(r->out, rx, block, sizeof block),
		  "no backtrace of the receiver\nstdout:\n%s\nstderr:\n%s", r->out, r->err);
	snprintf(cell, sizeof cell, "\tblocked at %s\n", rx->at);
	assert_in(block, cell, "the receiver's bt", r);
	assert_in(block, "\n#0  0x", "the receiver's bt", r);
	assert_in(block, "gort_chan_recv_at ()", "the receiver's bt", r);
	snprintf(cell, sizeof cell, " in receive_one () at %s\n", rx->at);
	assert_in(block, cell, "the receiver's bt", r);
	assert_in(block, " in receiver_main () at test/gdb/gdb_target.c:", "the receiver's bt", r);
	snprintf(cell, sizeof cell, "created by coroutine %lld at %s\n", main_e->id, rx->spawned);
	assert_in(block, cell, "the receiver's bt", r);

	const struct expect *sx = expect_named(ex, n, "sleeper");
	cr_assert(bt_block(r->out, sx, block, sizeof block),
		  "no backtrace of the sleeper\nstdout:\n%s\nstderr:\n%s", r->out, r->err);
	assert_in(block, " in gort_sleep_at () at ", "the sleeper's bt", r);
	snprintf(cell, sizeof cell, " in sleeper_main () at %s\n", sx->at);
	assert_in(block, cell, "the sleeper's bt", r);

	cr_assert(bt_block(r->out, main_e, block, sizeof block),
		  "no bt answer for main\nstdout:\n%s\nstderr:\n%s", r->out, r->err);
	assert_in(block, "\trunning on thread ", "main's bt", r);
	assert_in(block, "created by gort_main\n", "main's bt", r);
	const struct expect *fx = expect_named(ex, n, "fresh");
	cr_assert(bt_block(r->out, fx, block, sizeof block),
		  "no bt answer for fresh\nstdout:\n%s\nstderr:\n%s", r->out, r->err);
	assert_in(block, "not started yet", "fresh's bt", r);

	assert_in(r->err, "no coroutine 999999999", "stderr", r);
	cr_assert(strstr(r->err, "Python Exception") == NULL && strstr(r->err, "Traceback") == NULL,
		  "the extension raised:\n%s", r->err);
}

Test(gdb, live, .timeout = GDB_ALARM_S + 30)
{
	struct env e;
	env_get(&e);
	const char *cmds[] = {"break gdb_target_ready", "run", INSPECT_CMDS, "kill", NULL};
	const char *files[] = {e.target, NULL};
	subprocess_run(e.gdb, gdb_argv(&e, cmds, files), GDB_ALARM_S, &run_a);
	skip_if_no_ptrace(&run_a);
	assert_exit_ok(&run_a);
	assert_has(&run_a, out, "hit Breakpoint 1, gdb_target_ready ()");
	struct expect ex[MAX_EXPECT];
	int n = parse_expects(run_a.out, ex, MAX_EXPECT);
	check_inspection(&run_a, ex, n);
}

/* A fresh directory for core files, under $TMPDIR or /tmp. */
static void temp_dir(char *buf, size_t size)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, size, "%s/gort-gdb-XXXXXX", t && *t ? t : "/tmp");
	cr_assert(mkdtemp(buf) != NULL, "mkdtemp: %s", strerror(errno));
}

/* Remove dir and the files in it. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		char p[4352];
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* gdb's generate-core-file at the breakpoint, then the core alone.  The
 * program runs with guard=mprotect: on Linux 6.13+ gort's default guard
 * markers (MADV_GUARD_INSTALL) make gdb 13's gcore drop the rest of a
 * stack slab after the first guard page (docs/gdb.md, "gcore and guard
 * pages"); MALLOC_ARENA_MAX=1 keeps the core small (gcore writes every
 * arena's reserved 64 MiB). */
Test(gdb, gcore, .timeout = 2 * GDB_ALARM_S + 30)
{
	struct env e;
	env_get(&e);
#ifdef SANITIZER_BUILD
	cr_skip_test("gcore of a sanitizer build copies its shadow memory (terabytes reserved: "
		     "minutes of writing, and the core is unreadable); live and kernel_core cover "
		     "this build");
#endif
	char dir[4096], core[4200], gen[4300];
	temp_dir(dir, sizeof dir);
	snprintf(core, sizeof core, "%s/core", dir);
	snprintf(gen, sizeof gen, "generate-core-file %s", core);
	const char *cmds_a[] = {"set environment GORT_DEBUG=guard=mprotect",
				"set environment MALLOC_ARENA_MAX=1",
				"break gdb_target_ready",
				"run",
				gen,
				"kill",
				NULL};
	const char *files_a[] = {e.target, NULL};
	subprocess_run(e.gdb, gdb_argv(&e, cmds_a, files_a), GDB_ALARM_S, &run_a);
	bool have_core = access(core, R_OK) == 0;
	if (have_core) {
		const char *cmds_b[] = {INSPECT_CMDS, NULL};
		const char *files_b[] = {e.target, core, NULL};
		subprocess_run(e.gdb, gdb_argv(&e, cmds_b, files_b), GDB_ALARM_S, &run_b);
	}
	remove_dir(dir); /* before any assertion: cores are big */
	skip_if_no_ptrace(&run_a);
	assert_exit_ok(&run_a);
	assert_has(&run_a, out, "Saved corefile ");
	cr_assert(have_core, "no core file at %s\nstdout:\n%s\nstderr:\n%s", core, run_a.out,
		  run_a.err);
	assert_exit_ok(&run_b);
	struct expect ex[MAX_EXPECT];
	int n = parse_expects(run_a.out, ex, MAX_EXPECT);
	check_inspection(&run_b, ex, n);
}

/* The core the kernel writes when the program aborts at the breakpoint's
 * place (the way a crash is debugged): run in a temporary directory with
 * the core limit raised, then read with gdb. */
Test(gdb, kernel_core, .timeout = GDB_ALARM_S + 60)
{
	struct env e;
	env_get(&e);
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	if (rl.rlim_max == 0)
		cr_skip_test("the hard core-file limit is 0: no kernel core dump possible");
	char pattern[256] = "?";
	FILE *pf = fopen("/proc/sys/kernel/core_pattern", "r");
	if (pf) {
		if (fgets(pattern, sizeof pattern, pf))
			pattern[strcspn(pattern, "\n")] = '\0';
		fclose(pf);
	}
	if (pattern[0] == '|' || pattern[0] == '/')
		cr_skip_test("core_pattern is \"%s\": the kernel does not write the core here", pattern);

	char dir[4096], outp[4200], core[4352] = "";
	temp_dir(dir, sizeof dir);
	snprintf(outp, sizeof outp, "%s/stdout", dir);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || chdir(dir) != 0)
			_exit(120);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
		unsetenv("GORT_PROCS");
		unsetenv("GORT_STACK_SIZE");
		unsetenv("GORT_DEBUG");
		/* the sanitizers turn core dumps off unless told */
		setenv("ASAN_OPTIONS", "disable_coredump=0:abort_on_error=1", 1);
		setenv("TSAN_OPTIONS", "disable_coredump=0", 1);
		setenv("MALLOC_ARENA_MAX", "1", 1);
		alarm(60);
		execl(e.target, e.target, "abort", (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, "core", 4) == 0)
				snprintf(core, sizeof core, "%s/%s", dir, de->d_name);
		closedir(d);
	}
	static char out[65536];
	FILE *f = fopen(outp, "r");
	size_t got = f ? fread(out, 1, sizeof out - 1, f) : 0;
	out[got] = '\0';
	if (f)
		fclose(f);
	if (core[0]) {
		const char *cmds_b[] = {INSPECT_CMDS, NULL};
		const char *files_b[] = {e.target, core, NULL};
		subprocess_run(e.gdb, gdb_argv(&e, cmds_b, files_b), GDB_ALARM_S, &run_b);
	}
	remove_dir(dir);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		  "gdb_target abort should die by SIGABRT, status 0x%x\nstdout:\n%s", st, out);
	if (!core[0])
		cr_skip_test("the kernel wrote no core file into the working directory "
			     "(core_pattern \"%s\", dumped: %d)", pattern, WCOREDUMP(st) ? 1 : 0);
	assert_exit_ok(&run_b);
	struct expect ex[MAX_EXPECT];
	int n = parse_expects(out, ex, MAX_EXPECT);
	check_inspection(&run_b, ex, n);
}
