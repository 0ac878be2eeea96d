/*
 * test_api.c — the API reference's checker (scripts/apidoc.sh --check, run
 * by `make check-api`): it passes on the real headers and docs/api.md, and
 * it fails, naming exactly the culprit, on a temporary copy of the headers
 * with one planted undocumented declaration, one planted incomplete
 * comment, or a comment changed without regenerating the reference.  Also:
 * the error table of docs/api.md says what gort_strerror really returns.
 *
 * The tree comes from $GORT_SRC_DIR (`make test` sets it, in TEST_ENV):
 * the script, include/ and docs/api.md.  The script runs under /bin/sh
 * (subprocess.h: fork and exec, output captured).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gort.h>

#include "subprocess.h"

static struct subprocess_run run;

/* $GORT_SRC_DIR, or a failed test that says how to set it. */
static const char *src_dir(void)
{
	const char *d = getenv("GORT_SRC_DIR");
	if (d == NULL || *d == '\0')
		cr_assert_fail("GORT_SRC_DIR is not set: it must name the source tree (make test sets "
			       "it: GORT_SRC_DIR=$(abspath .) in the Makefile's TEST_ENV)");
	return d;
}

static void path_of(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	cr_assert(n > 0 && (size_t)n < size, "path too long: %s/%s", dir, name);
}

/* The whole file, NUL-terminated (free it). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text), "%s: short write", path);
	cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
}

/* A copy of $GORT_SRC_DIR/include in a new temporary directory: tmp gets
 * the directory, tmp/include the headers. */
static void copy_headers(char *tmp, size_t size)
{
	const char *src = src_dir();
	snprintf(tmp, size, "%s/gort_api_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
	char from[4096], to[4096];
	path_of(to, sizeof to, tmp, "include");
	cr_assert_eq(mkdir(to, 0700), 0);
	path_of(to, sizeof to, tmp, "include/gort");
	cr_assert_eq(mkdir(to, 0700), 0);
	path_of(from, sizeof from, src, "include/gort.h");
	path_of(to, sizeof to, tmp, "include/gort.h");
	char *text = slurp(from);
	spit(to, text);
	free(text);
	char dir[4096];
	path_of(dir, sizeof dir, src, "include/gort");
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
	int nheaders = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
			continue;
		char name[512];
		snprintf(name, sizeof name, "include/gort/%s", e->d_name);
		path_of(from, sizeof from, src, name);
		path_of(to, sizeof to, tmp, name);
		text = slurp(from);
		spit(to, text);
		free(text);
		nheaders++;
	}
	closedir(d);
	cr_assert_gt(nheaders, 0, "no headers in %s", dir);
}

static void remove_tree(const char *tmp)
{
	static struct subprocess_run rm;
	char *argv[] = {"rm", "-rf", (char *)tmp, NULL};
	subprocess_run("/bin/rm", argv, 25, &rm);
}

/* In the copy's header name (under include/), put insert before the first
 * occurrence of anchor. */
static void plant(const char *tmp, const char *name, const char *anchor, const char *insert)
{
	char path[4096], rel[512];
	snprintf(rel, sizeof rel, "include/%s", name);
	path_of(path, sizeof path, tmp, rel);
	char *text = slurp(path);
	char *at = strstr(text, anchor);
	cr_assert_not_null(at, "%s has no \"%s\" to plant before", name, anchor);
	size_t head = (size_t)(at - text);
	char *out = malloc(strlen(text) + strlen(insert) + 1);
	cr_assert_not_null(out);
	memcpy(out, text, head);
	strcpy(out + head, insert);
	strcat(out, at);
	spit(path, out);
	free(out);
	free(text);
}

/* sh scripts/apidoc.sh [--check] -I tmp/include -o tmp/api.md */
static void apidoc(const char *tmp, bool check)
{
	char script[4096], inc[4096], doc[4096];
	path_of(script, sizeof script, src_dir(), "scripts/apidoc.sh");
	path_of(inc, sizeof inc, tmp, "include");
	path_of(doc, sizeof doc, tmp, "api.md");
	char *gen[] = {"sh", script, "-I", inc, "-o", doc, NULL};
	char *chk[] = {"sh", script, "--check", "-I", inc, "-o", doc, NULL};
	subprocess_run("/bin/sh", check ? chk : gen, 25, &run);
}

/* The number of lines of s that report a problem (they start with one of
 * the checker's words); names gets them, one a line. */
static int problems(const char *s, char *names, size_t size)
{
	static const char *const words[] = {"undocumented: ", "incomplete: ", "stale: ", "missing: "};
	int n = 0;
	size_t used = 0;
	names[0] = '\0';
	for (const char *l = s; *l;) {
		size_t len = strcspn(l, "\n");
		for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
			if (strncmp(l, words[w], strlen(words[w])) != 0)
				continue;
			n++;
			int k = snprintf(names + used, size - used, "%.*s\n", (int)len, l);
			if (k > 0 && (size_t)k < size - used)
				used += (size_t)k;
		}
		l += len;
		if (*l == '\n')
			l++;
	}
	return n;
}

/* The real headers are complete and docs/api.md is what they generate. */
Test(api, real_headers_pass, .timeout = 60)
{
	char script[4096];
	path_of(script, sizeof script, src_dir(), "scripts/apidoc.sh");
	char *argv[] = {"sh", script, "--check", NULL};
	subprocess_run("/bin/sh", argv, 25, &run);
	assert_exit_ok(&run);
	assert_has(&run, out, ": complete; ");
	cr_assert_str_empty(run.err, "the checker complained:\n%s", run.err);
}

/* One declaration without a comment: the check fails and names it, and it
 * alone (the copy's reference is regenerated first, so nothing is stale). */
Test(api, planted_undocumented_declaration_fails, .timeout = 60)
{
	char tmp[4096], names[4096];
	copy_headers(tmp, sizeof tmp);
	plant(tmp, "gort/io.h", "/*\n * A TCP listener on",
	      "GORT_API int gort_planted_undocumented(int fd);\n\n");
	apidoc(tmp, false);
	assert_exit_ok(&run); /* generation only warns */
	assert_has(&run, err, "undocumented: gort_planted_undocumented (gort/io.h:");
	apidoc(tmp, true);
	remove_tree(tmp);
	cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 1,
		  "the check should exit 1 but %s\nstdout:\n%s\nstderr:\n%s", run.what, run.out, run.err);
	int n = problems(run.err, names, sizeof names);
	cr_assert_eq(n, 1, "the check should report exactly one problem, not:\n%s", names);
	cr_assert(strncmp(names, "undocumented: gort_planted_undocumented (gort/io.h:", 51) == 0,
		  "the check should name gort_planted_undocumented, not:\n%s", names);
	assert_lacks(&run, out, "complete");
}

/* A user-facing macro without a comment is caught like a function. */
Test(api, planted_undocumented_macro_fails, .timeout = 60)
{
	char tmp[4096], names[4096];
	copy_headers(tmp, sizeof tmp);
	plant(tmp, "gort/sync.h", "/* ------------------------------------------------------------"
				  "----- once */",
	      "#define gort_planted_macro(mu) gort_mutex_lock_at((mu), __FILE__, __LINE__)\n\n");
	apidoc(tmp, false);
	apidoc(tmp, true);
	remove_tree(tmp);
	assert_exit_status(&run, 1);
	cr_assert_eq(problems(run.err, names, sizeof names), 1, "one problem expected, not:\n%s", names);
	assert_has(&run, err, "undocumented: gort_planted_macro (gort/sync.h:");
}

/* A comment without Blocks: and Threads: is named with what it lacks. */
Test(api, planted_incomplete_comment_fails, .timeout = 60)
{
	char tmp[4096], names[4096];
	copy_headers(tmp, sizeof tmp);
	plant(tmp, "gort.h", "/*\n * The number of Ps of the running runtime.",
	      "/*\n * A planted function whose comment lacks two tags.\n * Returns: 0.\n */\n"
	      "GORT_API int gort_planted_incomplete(void);\n\n");
	apidoc(tmp, false);
	apidoc(tmp, true);
	remove_tree(tmp);
	assert_exit_status(&run, 1);
	cr_assert_eq(problems(run.err, names, sizeof names), 1, "one problem expected, not:\n%s", names);
	assert_has(&run, err, "incomplete: gort_planted_incomplete (gort.h:");
	assert_has(&run, err, "): lacks Blocks:, Threads:\n");
}

/* A comment changed without regenerating the reference: stale, and
 * nothing else. */
Test(api, stale_reference_fails, .timeout = 60)
{
	char tmp[4096], names[4096];
	copy_headers(tmp, sizeof tmp);
	apidoc(tmp, false);
	assert_exit_ok(&run);
	apidoc(tmp, true);
	assert_exit_ok(&run);
	plant(tmp, "gort.h", "The number of Ps of the running runtime.", "(Planted words.) ");
	apidoc(tmp, true);
	remove_tree(tmp);
	assert_exit_status(&run, 1);
	cr_assert_eq(problems(run.err, names, sizeof names), 1, "one problem expected, not:\n%s", names);
	assert_has(&run, err, "stale: ");
}

/* docs/api.md's error table: every code's text is what gort_strerror
 * returns for it, and the context and panic codes are there. */
static const struct {
	const char *name;
	int value;
} codes[] = {
	{"0", 0},
	{"GORT_CANCELED", GORT_CANCELED},
	{"GORT_DEADLINE_EXCEEDED", GORT_DEADLINE_EXCEEDED},
	{"GORT_PANICKED", GORT_PANICKED},
	{"-EINVAL", -EINVAL},
	{"-ENOMEM", -ENOMEM},
	{"-ESRCH", -ESRCH},
	{"-EALREADY", -EALREADY},
	{"-EDEADLK", -EDEADLK},
	{"-EAGAIN", -EAGAIN},
	{"-EBUSY", -EBUSY},
	{"-EPERM", -EPERM},
	{"-EBADF", -EBADF},
	{"-EHOSTUNREACH", -EHOSTUNREACH},
	{"-ETIMEDOUT", -ETIMEDOUT},
	{"-ECANCELED", -ECANCELED},
	{"-EPIPE", -EPIPE},
	{"-ECONNREFUSED", -ECONNREFUSED},
	{"-EEXIST", -EEXIST},
	{"-EAFNOSUPPORT", -EAFNOSUPPORT},
	{"-EADDRNOTAVAIL", -EADDRNOTAVAIL},
};

Test(api, error_table_matches_strerror, .timeout = 30)
{
	char path[4096];
	path_of(path, sizeof path, src_dir(), "docs/api.md");
	char *doc = slurp(path);
	char *sect = strstr(doc, "\n## Errors\n");
	cr_assert_not_null(sect, "docs/api.md has no \"## Errors\" section");
	char *end = strstr(sect + 1, "\n## ");
	if (end)
		*end = '\0';
	int rows = 0;
	bool seen_canceled = false, seen_deadline = false, seen_panicked = false;
	for (char *l = sect; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, "| `", 3) != 0)
			continue;
		char name[64], text[256];
		const char *p = l + 3, *q = strchr(p, '`');
		cr_assert(q && (size_t)(q - p) < sizeof name, "bad row: %.80s", l);
		memcpy(name, p, (size_t)(q - p));
		name[q - p] = '\0';
		cr_assert(strncmp(q, "` | ", 4) == 0, "bad row: %.80s", l);
		p = q + 4;
		q = strstr(p, " | ");
		cr_assert(q && (size_t)(q - p) < sizeof text, "bad row: %.80s", l);
		memcpy(text, p, (size_t)(q - p));
		text[q - p] = '\0';
		size_t k = 0;
		while (k < sizeof codes / sizeof codes[0] && strcmp(codes[k].name, name) != 0)
			k++;
		cr_assert(k < sizeof codes / sizeof codes[0],
			  "docs/api.md's error table has %s, which test_api.c does not know: add it to codes[]",
			  name);
		const char *s = gort_strerror(codes[k].value);
		cr_assert_not_null(s);
		cr_assert_str_eq(s, text, "gort_strerror(%s) is \"%s\", but docs/api.md says \"%s\"", name, s,
				 text);
		seen_canceled |= codes[k].value == GORT_CANCELED;
		seen_deadline |= codes[k].value == GORT_DEADLINE_EXCEEDED;
		seen_panicked |= codes[k].value == GORT_PANICKED;
		rows++;
	}
	free(doc);
	cr_assert_geq(rows, 10, "the error table has %d rows", rows);
	cr_assert(seen_canceled && seen_deadline && seen_panicked,
		  "the error table lacks GORT_CANCELED, GORT_DEADLINE_EXCEEDED or GORT_PANICKED");
	/* every code has a text, sign or not */
	for (int e = -200; e <= 200; e++)
		cr_assert_not_null(gort_strerror(e));
	cr_assert_str_eq(gort_strerror(-ESRCH), gort_strerror(ESRCH));
}
