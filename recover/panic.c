/*
 * panic.c — gort_panic, for now: print Go-style and abort.  (The recover
 * issue replaces this with unwinding through deferred calls.)
 *
 *   panic: sync: negative WaitGroup counter
 *
 *   coroutine 7 "worker" [running]:
 *   created by coroutine 1 at main.c:40
 *   <backtrace>
 */
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../runtime/rt.h"

_Noreturn void gort__panic_msg(const char *msg)
{
	struct gort__g *g = gort__getg();
	fprintf(stderr, "panic: %s\n\n", msg);
	if (g) {
		fprintf(stderr, "coroutine %lld", (long long)g->id);
		if (g->name[0])
			fprintf(stderr, " \"%s\"", g->name);
		fprintf(stderr, " [running]:\n");
		if (g->parent_id)
			fprintf(stderr, "created by coroutine %lld at %s:%d\n", (long long)g->parent_id,
				g->spawn_file ? g->spawn_file : "?", g->spawn_line);
		else
			fprintf(stderr, "created by a plain thread at %s:%d\n",
				g->spawn_file ? g->spawn_file : "?", g->spawn_line);
	} else {
		fprintf(stderr, "thread (not a coroutine) [running]:\n");
	}
	fflush(stderr);
	void *frames[64];
	int n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, 2);
	abort();
}

void gort_panic(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	gort__panic_msg(buf);
}
