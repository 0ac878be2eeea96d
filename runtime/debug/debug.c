/*
 * debug.c — the debug options (GORT_DEBUG keys of runtime/debug/) and the
 * hooks the life cycle calls: start (the dump signal's handler), main
 * returned (leakcheck=1), stop (dumpexit=1; the handler restored).
 *
 * Owns: the resolved options of the running runtime (written by
 * gort_start under its life-cycle mutex before any M runs, read-only
 * until gort_stop) and the leak check's verdict for gort_main.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "debug.h"
#include "monitor.h"

struct gort__debug_cfg gort__dbg;     /* (i) for the life of a run */
bool gort__dbg_under_main;            /* (i) started by gort_main */
static _Atomic int main_status;       /* leakcheck=1's verdict */

static bool parse_bool(const char *val, bool *out)
{
	if (strcmp(val, "1") == 0 || *val == 0) {
		*out = true;
		return true;
	}
	if (strcmp(val, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

static int parse_signal(const char *val)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {{"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
		     {"HUP", SIGHUP},   {"INT", SIGINT},   {"TERM", SIGTERM}};
	const char *v = strncmp(val, "SIG", 3) == 0 ? val + 3 : val;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(v, names[i].name) == 0)
			return names[i].sig;
	char *end;
	long n = strtol(val, &end, 10);
	if (*val && *end == 0 && n > 0 && n < NSIG && n != SIGKILL && n != SIGSTOP && n != SIGSEGV &&
	    n != SIGBUS && n != SIGFPE)
		return (int)n;
	return 0;
}

bool gort__debug_parse(const char *key, const char *val, struct gort__debug_cfg *cfg, const char *origin,
		       bool *ok)
{
	*ok = true;
	if (strcmp(key, "leakcheck") == 0) {
		*ok = parse_bool(val, &cfg->leakcheck);
	} else if (strcmp(key, "dumpexit") == 0) {
		*ok = parse_bool(val, &cfg->dumpexit);
	} else if (strcmp(key, "hogwarn") == 0) {
		*ok = parse_bool(val, &cfg->hogwarn);
	} else if (strcmp(key, "scheddetail") == 0) {
		*ok = parse_bool(val, &cfg->scheddetail);
	} else if (strcmp(key, "dumpsig") == 0) {
		cfg->dumpsig = parse_signal(val);
		*ok = cfg->dumpsig != 0;
	} else if (strcmp(key, "deadlock") == 0) {
		if (strcmp(val, "abort") == 0 || strcmp(val, "1") == 0)
			cfg->deadlock = GORT__DEADLOCK_ABORT;
		else if (strcmp(val, "report") == 0)
			cfg->deadlock = GORT__DEADLOCK_REPORT;
		else if (strcmp(val, "off") == 0 || strcmp(val, "0") == 0)
			cfg->deadlock = GORT__DEADLOCK_OFF;
		else
			*ok = false;
	} else if (strcmp(key, "schedtrace") == 0) {
		char *end;
		long ms = strtol(val, &end, 10);
		*ok = *val && *end == 0 && ms >= 0 && ms <= 3600000;
		if (*ok)
			cfg->schedtrace_ms = (int)ms;
	} else {
		return false;
	}
	if (!*ok && origin) /* origin NULL: quietly */
		fprintf(stderr, "gort: %s: %s=%s: bad value, option ignored\n", origin, key, val);
	return true;
}

int gort__debug_start(const struct gort__debug_cfg *cfg, bool under_main)
{
	gort__dbg = *cfg;
	gort__dbg_under_main = under_main;
	atomic_store(&main_status, 0);
	gort__deadlock_reset();
	return gort__monitor_start();
}

void gort__debug_main_returned(void)
{
	if (!gort__dbg.leakcheck)
		return;
	int64_t n = gort_leakcheck(NULL);
	if (n > 0) {
		fprintf(stderr, "gort: leak check (GORT_DEBUG=leakcheck=1): %lld leak%s; exit status 1\n",
			(long long)n, n == 1 ? "" : "s");
		atomic_store(&main_status, 1);
	}
}

int gort__debug_main_exit_status(void)
{
	return atomic_load(&main_status);
}

void gort__debug_stop(void)
{
	gort__monitor_stop();
	if (gort__dbg.dumpexit && gort_num_coroutines() > 0) {
		fprintf(stderr, "gort: coroutines alive at stop (GORT_DEBUG=dumpexit=1):\n\n");
		gort_dump_file(stderr, GORT_DUMP_GROUPED);
	}
}
