/*
 * fuzz_config.c — libFuzzer target: the configuration parser
 * (runtime/config.c, gort__config_resolve, and the GORT_DEBUG keys of
 * runtime/debug/debug.c) against a reference parser written here.
 *
 * Input encoding: the bytes split on '\n' into up to five pieces (a NUL
 * inside a piece ends that value, as it would in the environment):
 *   1 GORT_PROCS   2 GORT_STACK_SIZE   3 GORT_MAX_THREADS   4 GORT_DEBUG
 *   (a missing piece: the variable is unset; an empty one: set to "",
 *   which counts as unset)
 *   5 optional: a gort_config.  Byte 0: bit 0 pass the struct (else
 *   NULL), bit 1 set .debug to the piece's bytes from byte 9 on; bytes
 *   1-2 .procs (int16, little-endian); bytes 3-5 .max_threads (int24);
 *   bytes 6-7 a mantissa and byte 8 a shift (mod 40) for .stack_size.
 * The target sets the variables, calls gort__config_resolve with stderr
 * sent to a memfd, and checks: no crash or UB (ASan, UBSan); a result
 * within the documented bounds (procs 1..GORT_MAX_PROCS, stack size a
 * whole number of pages in GORT_MIN_STACK_SIZE..GORT_MAX_STACK_SIZE,
 * max_threads procs..1000000, the debug fields in their ranges); every
 * field equal to the reference's (a bad value leaves the default; a
 * variable is read only where its gort_config field is 0; a GORT_DEBUG of
 * 256 bytes or more is ignored whole); a bad gort_config field or .debug
 * option is -EINVAL, quietly; and one line on stderr per bad environment
 * value (README: "A bad value prints one line on stderr and the default
 * is used").
 */
#include <gort.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../runtime/rt.h"

static int memfd = -1, saved_stderr = -1;
static int ncpu;

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;
	if (saved_stderr >= 0)
		dup2(saved_stderr, 2);
	va_start(ap, fmt);
	fprintf(stderr, "\nfuzz_config: MISMATCH: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* ------------------------------------------------------------------ */
/* The reference                                                       */
/* ------------------------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* A decimal integer as strtol reads one, the whole string: leading
 * white space, a sign, at least one digit, nothing after; false on
 * overflow of a long. */
static bool ref_long(const char *s, long *out)
{
	while (is_space(*s))
		s++;
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	const unsigned long long lim = (unsigned long long)LONG_MAX + 1;
	unsigned long long v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (lim - d) / 10)
			return false; /* v * 10 + d > lim */
		v = v * 10 + d;
	}
	if (*s || (!neg && v > LONG_MAX))
		return false;
	*out = neg ? (long)(0 - v) : (long)v;
	return true;
}

static bool ref_int(const char *s, long lo, long hi, int *out)
{
	long v;
	if (!ref_long(s, &v) || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* A size: digits (nothing before them: no blank, no sign), then K, M or
 * G (any case; powers of 1024) and an optional i, then an optional B
 * ("64K", "64Ki", "64KiB", "64KB", "65536B"). */
static bool ref_size(const char *s, size_t *out)
{
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (~0ull - 9) / 10)
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	unsigned long long mul = 1;
	switch (*s) {
	case 'k':
	case 'K':
		mul = 1ull << 10;
		s++;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		s++;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		s++;
		break;
	}
	if (mul > 1 && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s || v > ~0ull / mul)
		return false;
	*out = (size_t)(v * mul);
	return true;
}

static bool ref_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !*v)
		return *out = true;
	if (!strcmp(v, "0"))
		return !(*out = false);
	return false;
}

static int ref_signal(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {{"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
		     {"HUP", SIGHUP},   {"INT", SIGINT},   {"TERM", SIGTERM}};
	const char *n = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(n, names[i].name))
			return names[i].sig;
	long x;
	if (ref_long(v, &x) && x > 0 && x < NSIG && x != SIGKILL && x != SIGSTOP && x != SIGSEGV &&
	    x != SIGBUS && x != SIGFPE)
		return (int)x;
	return 0;
}

/* GORT_DEBUG: returns the number of bad options (one stderr line each).
 * A string of 256 bytes or more is ignored as a whole (one bad value). */
static int ref_debug(const char *s, struct gort__config *o)
{
	char buf[256];
	if (strlen(s) >= sizeof buf)
		return 1;
	snprintf(buf, sizeof buf, "%s", s);
	int bad = 0;
	char *p = buf;
	while (*p) {
		char *tok = p;
		while (*p && *p != ',')
			p++;
		if (*p)
			*p++ = 0;
		if (!*tok)
			continue; /* empty tokens are skipped */
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;
		bool okv = true;
		if (!strcmp(tok, "guard")) {
			if (!strcmp(val, "auto"))
				o->guard = GORT__GUARD_AUTO;
			else if (!strcmp(val, "madvise"))
				o->guard = GORT__GUARD_MADVISE;
			else if (!strcmp(val, "mprotect"))
				o->guard = GORT__GUARD_MPROTECT;
			else if (!strcmp(val, "canary"))
				o->guard = GORT__GUARD_CANARY;
			else
				okv = false;
		} else if (!strcmp(tok, "sigpanic")) {
			o->sigpanic = !strcmp(val, "1") || !*val;
			okv = o->sigpanic || !strcmp(val, "0");
		} else if (!strcmp(tok, "leakcheck")) {
			okv = ref_bool(val, &o->dbg.leakcheck);
		} else if (!strcmp(tok, "dumpexit")) {
			okv = ref_bool(val, &o->dbg.dumpexit);
		} else if (!strcmp(tok, "hogwarn")) {
			okv = ref_bool(val, &o->dbg.hogwarn);
		} else if (!strcmp(tok, "scheddetail")) {
			okv = ref_bool(val, &o->dbg.scheddetail);
		} else if (!strcmp(tok, "dumpsig")) {
			o->dbg.dumpsig = ref_signal(val);
			okv = o->dbg.dumpsig != 0;
		} else if (!strcmp(tok, "deadlock")) {
			if (!strcmp(val, "abort") || !strcmp(val, "1"))
				o->dbg.deadlock = GORT__DEADLOCK_ABORT;
			else if (!strcmp(val, "report"))
				o->dbg.deadlock = GORT__DEADLOCK_REPORT;
			else if (!strcmp(val, "off") || !strcmp(val, "0"))
				o->dbg.deadlock = GORT__DEADLOCK_OFF;
			else
				okv = false;
		} else if (!strcmp(tok, "schedtrace")) {
			long ms;
			okv = ref_long(val, &ms) && ms >= 0 && ms <= 3600000;
			if (okv)
				o->dbg.schedtrace_ms = (int)ms;
		} else if (*tok) {
			okv = false; /* unknown */
		}
		bad += !okv;
	}
	return bad;
}

/* The whole resolution: returns -EINVAL or 0, *lines the stderr lines. */
static int ref_resolve(const char *env_in[4], const gort_config *cfg, struct gort__config *o, int *lines)
{
	const char *env[4] = {env_in[0], env_in[1], env_in[2], env_in[3]};
	memset(o, 0, sizeof *o);
	o->procs = ncpu > GORT_MAX_PROCS ? GORT_MAX_PROCS : ncpu;
	o->stack_size = GORT_DEFAULT_STACK_SIZE;
	o->guard = GORT__GUARD_AUTO;
	o->max_threads = GORT_DEFAULT_MAX_THREADS;
	*lines = 0;
	int v;
	size_t sz;
	/* a variable is read only where the gort_config field is 0 */
	if (cfg && cfg->procs)
		env[0] = NULL;
	if (cfg && cfg->stack_size)
		env[1] = NULL;
	if (cfg && cfg->max_threads)
		env[2] = NULL;
	if (env[0] && *env[0]) {
		if (ref_int(env[0], 1, GORT_MAX_PROCS, &v))
			o->procs = v;
		else
			++*lines;
	}
	if (env[2] && *env[2]) {
		if (ref_int(env[2], 2, 1000000, &v))
			o->max_threads = v;
		else
			++*lines;
	}
	if (env[1] && *env[1]) {
		if (ref_size(env[1], &sz) && sz >= GORT_MIN_STACK_SIZE && sz <= GORT_MAX_STACK_SIZE)
			o->stack_size = sz;
		else
			++*lines;
	}
	const char *dbg = cfg && cfg->debug ? cfg->debug : env[3];
	if (dbg && *dbg) {
		int bad = ref_debug(dbg, o);
		if (!(cfg && cfg->debug))
			*lines += bad; /* gort_config.debug: quiet, -EINVAL says it */
		if (bad && cfg && cfg->debug)
			return -EINVAL;
	}
	if (cfg) {
		if (cfg->procs < 0 || cfg->procs > GORT_MAX_PROCS)
			return -EINVAL;
		if (cfg->procs > 0)
			o->procs = cfg->procs;
		if (cfg->stack_size) {
			if (cfg->stack_size < GORT_MIN_STACK_SIZE || cfg->stack_size > GORT_MAX_STACK_SIZE)
				return -EINVAL;
			o->stack_size = cfg->stack_size;
		}
		if (cfg->max_threads < 0 || cfg->max_threads == 1 || cfg->max_threads > 1000000)
			return -EINVAL;
		if (cfg->max_threads)
			o->max_threads = cfg->max_threads;
	}
	if (o->max_threads < o->procs)
		o->max_threads = o->procs;
	o->stack_size = (o->stack_size + 4095) & ~(size_t)4095;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The target                                                          */
/* ------------------------------------------------------------------ */

static const char *const names[4] = {"GORT_PROCS", "GORT_STACK_SIZE", "GORT_MAX_THREADS",
				     "GORT_DEBUG"};

/* NAME=value in a buffer of our own given to putenv (setenv would keep
 * a copy of every value ever set: gigabytes over a long run). */
static void set_env(int i, const char *val)
{
	static char *buf[4];
	static size_t cap[4];
	size_t nl = strlen(names[i]), vl = strlen(val);
	if (nl + vl + 2 > cap[i]) {
		unsetenv(names[i]); /* environ must not point at the old buffer */
		free(buf[i]);
		cap[i] = nl + vl + 2 > 256 ? 2 * (nl + vl + 2) : 256;
		buf[i] = malloc(cap[i]);
		if (!buf[i])
			abort();
	}
	snprintf(buf[i], cap[i], "%s=%s", names[i], val);
	if (putenv(buf[i]))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ncpu = gort__sys_ncpu();
	memfd = memfd_create("fuzz_config_stderr", 0);
	saved_stderr = dup(2);
	if (memfd < 0 || saved_stderr < 0) {
		perror("fuzz_config: memfd_create/dup");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the pieces, each NUL-terminated (a NUL inside ends it) */
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	const char *piece[5] = {0};
	size_t plen[5] = {0};
	int np = 0;
	char *p = copy, *end = copy + size;
	while (np < 5) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		piece[np] = p;
		plen[np] = (size_t)((nl ? nl : end) - p);
		np++;
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	if (size == 0)
		np = 0;
	const char *env[4] = {0};
	for (int i = 0; i < 4; i++) {
		if (i < np) {
			env[i] = piece[i];
			set_env(i, piece[i]);
		} else {
			unsetenv(names[i]);
		}
	}
	gort_config cfg = {0}, *cfgp = NULL;
	if (np == 5) {
		const unsigned char *c = (const unsigned char *)piece[4];
		unsigned char b[9] = {0};
		memcpy(b, c, plen[4] < 9 ? plen[4] : 9);
		if (b[0] & 1) {
			cfgp = &cfg;
			cfg.procs = (int16_t)(b[1] | b[2] << 8);
			int32_t mt = b[3] | b[4] << 8 | b[5] << 16;
			cfg.max_threads = mt & 0x800000 ? mt - 0x1000000 : mt;
			cfg.stack_size = (size_t)(b[6] | b[7] << 8) << (b[8] % 40);
			if (b[0] & 2)
				cfg.debug = plen[4] > 9 ? piece[4] + 9 : "";
		}
	}

	struct gort__config got, want;
	memset(&got, 0x5a, sizeof got);
	int want_lines;
	int want_rc = ref_resolve(env, cfgp, &want, &want_lines);

	/* stderr to the memfd, for the count of lines */
	if (ftruncate(memfd, 0) || lseek(memfd, 0, SEEK_SET) != 0)
		fail("memfd reset");
	fflush(stderr);
	dup2(memfd, 2);
	int rc = gort__config_resolve(cfgp, &got);
	fflush(stderr);
	dup2(saved_stderr, 2);
	off_t n = lseek(memfd, 0, SEEK_CUR);
	int lines = 0;
	if (n > 0) {
		char *text = malloc((size_t)n + 1);
		if (!text || pread(memfd, text, (size_t)n, 0) != n)
			fail("memfd read");
		text[n] = 0;
		for (off_t i = 0; i < n; i++)
			lines += text[i] == '\n';
		if (text[n - 1] != '\n')
			fail("stderr output does not end in a newline: \"%s\"", text);
		free(text);
	}

	if (rc != want_rc)
		fail("gort__config_resolve returned %d, the reference %d", rc, want_rc);
	if (rc == 0) {
		/* the documented bounds */
		if (got.procs < 1 || got.procs > GORT_MAX_PROCS)
			fail("procs %d out of 1..%d", got.procs, GORT_MAX_PROCS);
		if (got.stack_size < GORT_MIN_STACK_SIZE || got.stack_size > GORT_MAX_STACK_SIZE ||
		    got.stack_size % 4096)
			fail("stack size %zu out of range or not whole pages", got.stack_size);
		if (got.max_threads < got.procs || got.max_threads > 1000000)
			fail("max_threads %d out of procs (%d)..1000000", got.max_threads, got.procs);
		if ((unsigned)got.guard > GORT__GUARD_CANARY)
			fail("guard %d", (int)got.guard);
		if (got.dbg.deadlock < GORT__DEADLOCK_DEFAULT || got.dbg.deadlock > GORT__DEADLOCK_ABORT ||
		    got.dbg.schedtrace_ms < 0 || got.dbg.schedtrace_ms > 3600000 || got.dbg.dumpsig < 0 ||
		    got.dbg.dumpsig >= NSIG)
			fail("debug fields out of range");
		/* equal to the reference */
		if (got.procs != want.procs || got.stack_size != want.stack_size ||
		    got.max_threads != want.max_threads || got.guard != want.guard ||
		    got.sigpanic != want.sigpanic)
			fail("procs %d/%d stack %zu/%zu max_threads %d/%d guard %d/%d sigpanic %d/%d "
			     "(got/reference)",
			     got.procs, want.procs, got.stack_size, want.stack_size, got.max_threads,
			     want.max_threads, (int)got.guard, (int)want.guard, got.sigpanic, want.sigpanic);
		if (got.dbg.leakcheck != want.dbg.leakcheck || got.dbg.dumpexit != want.dbg.dumpexit ||
		    got.dbg.dumpsig != want.dbg.dumpsig || got.dbg.deadlock != want.dbg.deadlock ||
		    got.dbg.schedtrace_ms != want.dbg.schedtrace_ms ||
		    got.dbg.scheddetail != want.dbg.scheddetail || got.dbg.hogwarn != want.dbg.hogwarn)
			fail("debug options differ from the reference (leakcheck %d/%d dumpexit %d/%d "
			     "dumpsig %d/%d deadlock %d/%d schedtrace %d/%d scheddetail %d/%d hogwarn "
			     "%d/%d)",
			     got.dbg.leakcheck, want.dbg.leakcheck, got.dbg.dumpexit, want.dbg.dumpexit,
			     got.dbg.dumpsig, want.dbg.dumpsig, got.dbg.deadlock, want.dbg.deadlock,
			     got.dbg.schedtrace_ms, want.dbg.schedtrace_ms, got.dbg.scheddetail,
			     want.dbg.scheddetail, got.dbg.hogwarn, want.dbg.hogwarn);
		if (lines != want_lines)
			fail("%d lines on stderr, the reference says %d bad values", lines, want_lines);
	}
	free(copy);
	return 0;
}
