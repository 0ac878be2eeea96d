/*
 * config.c — resolving the configuration: environment first (GORT_PROCS,
 * GORT_STACK_SIZE, GORT_DEBUG), overridden by the fields of a gort_config.
 * A bad environment value prints one line on stderr and keeps the default;
 * a bad field is -EINVAL.  Runs under the start/stop lock only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

/* Parse a positive size with an optional K/M/G suffix (powers of 1024). */
static bool parse_size(const char *s, size_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false; /* no blank, no sign: strtoull would wrap "-5" or " -5" */
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	unsigned long long mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		mul = 1ull << 10;
		end++;
		break;
	case 'M':
		mul = 1ull << 20;
		end++;
		break;
	case 'G':
		mul = 1ull << 30;
		end++;
		break;
	default:
		break;
	}
	if (mul > 1 && toupper((unsigned char)*end) == 'I')
		end++; /* "64K", "64Ki", "64KiB", "64KB", "65536B" */
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end != 0 || v > (~0ull) / mul)
		return false;
	*out = (size_t)(v * mul);
	return true;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != 0 || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* Apply "key=value,..." debug options; returns false on a bad one (and says
 * why on stderr, naming origin; origin NULL: quietly). */
static bool parse_debug(const char *s, struct gort__config *out, const char *origin)
{
	bool ok = true;
	char buf[256];
	if (strlen(s) >= sizeof buf) { /* not cut short in the middle of an option */
		if (origin)
			fprintf(stderr, "gort: %s: longer than %zu bytes, ignored\n", origin, sizeof buf - 1);
		return false;
	}
	snprintf(buf, sizeof buf, "%s", s);
	char *save = NULL;
	bool good;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;
		if (strcmp(tok, "guard") == 0) {
			if (strcmp(val, "auto") == 0)
				out->guard = GORT__GUARD_AUTO;
			else if (strcmp(val, "madvise") == 0)
				out->guard = GORT__GUARD_MADVISE;
			else if (strcmp(val, "mprotect") == 0)
				out->guard = GORT__GUARD_MPROTECT;
			else if (strcmp(val, "canary") == 0)
				out->guard = GORT__GUARD_CANARY;
			else {
				if (origin)
					fprintf(stderr,
						"gort: %s: guard=%s: expected auto, madvise, mprotect or canary; "
						"option ignored\n",
						origin, val);
				ok = false;
			}
		} else if (strcmp(tok, "sigpanic") == 0) {
			out->sigpanic = strcmp(val, "1") == 0 || strcmp(val, "") == 0;
			if (!out->sigpanic && strcmp(val, "0") != 0) {
				if (origin)
					fprintf(stderr, "gort: %s: sigpanic=%s: expected 0 or 1\n", origin, val);
				ok = false;
			}
		} else if (gort__debug_parse(tok, val, &out->dbg, origin, &good)) {
			ok = ok && good;
		} else if (*tok) {
			if (origin)
				fprintf(stderr, "gort: %s: unknown option '%s' ignored\n", origin, tok);
			ok = false;
		}
	}
	return ok;
}

int gort__config_resolve(const gort_config *cfg, struct gort__config *out)
{
	out->procs = gort__sys_ncpu();
	if (out->procs > GORT_MAX_PROCS)
		out->procs = GORT_MAX_PROCS;
	out->stack_size = GORT_DEFAULT_STACK_SIZE;
	out->guard = GORT__GUARD_AUTO;
	out->sigpanic = false;
	out->max_threads = GORT_DEFAULT_MAX_THREADS;
	memset(&out->dbg, 0, sizeof out->dbg);

	/* an environment value is read (and complained about) only where the
	 * cfg field leaves it to the environment; "" is unset */
	const char *e = cfg && cfg->procs ? NULL : getenv("GORT_PROCS");
	if (e && *e) {
		int v;
		if (parse_int(e, 1, GORT_MAX_PROCS, &v))
			out->procs = v;
		else
			fprintf(stderr,
				"gort: ignoring GORT_PROCS=%s: not an integer in 1..%d; using %d\n", e,
				GORT_MAX_PROCS, out->procs);
	}
	e = cfg && cfg->max_threads ? NULL : getenv("GORT_MAX_THREADS");
	if (e && *e) {
		int v;
		if (parse_int(e, 2, 1000000, &v))
			out->max_threads = v;
		else
			fprintf(stderr,
				"gort: ignoring GORT_MAX_THREADS=%s: not an integer in 2..1000000; using %d\n",
				e, out->max_threads);
	}
	e = cfg && cfg->stack_size ? NULL : getenv("GORT_STACK_SIZE");
	if (e && *e) {
		size_t v;
		if (parse_size(e, &v) && v >= GORT_MIN_STACK_SIZE && v <= GORT_MAX_STACK_SIZE)
			out->stack_size = v;
		else
			fprintf(stderr,
				"gort: ignoring GORT_STACK_SIZE=%s: not a size in %uK..%uM; using %zuK\n",
				e, GORT_MIN_STACK_SIZE / 1024, GORT_MAX_STACK_SIZE >> 20,
				out->stack_size / 1024);
	}
	const char *dbg = cfg && cfg->debug ? cfg->debug : getenv("GORT_DEBUG");
	if (dbg && *dbg) {
		bool ok = parse_debug(dbg, out, cfg && cfg->debug ? "gort_config.debug" : "GORT_DEBUG");
		if (!ok && cfg && cfg->debug)
			return -EINVAL;
	}
	if (cfg) {
		if (cfg->procs < 0 || cfg->procs > GORT_MAX_PROCS)
			return -EINVAL;
		if (cfg->procs > 0)
			out->procs = cfg->procs;
		if (cfg->stack_size) {
			if (cfg->stack_size < GORT_MIN_STACK_SIZE || cfg->stack_size > GORT_MAX_STACK_SIZE)
				return -EINVAL;
			out->stack_size = cfg->stack_size;
		}
		if (cfg->max_threads < 0 || cfg->max_threads == 1 || cfg->max_threads > 1000000)
			return -EINVAL;
		if (cfg->max_threads)
			out->max_threads = cfg->max_threads;
	}
	if (out->max_threads < out->procs)
		out->max_threads = out->procs; /* every P needs an M */
	size_t ps = 4096;
	out->stack_size = (out->stack_size + ps - 1) & ~(ps - 1);
	return 0;
}
