/*
 * panic.h — the recover module's internal types: per-coroutine defer and
 * panic state.  See panic.c for the design.
 */
#ifndef GORT_RECOVER_PANIC_H
#define GORT_RECOVER_PANIC_H

#include <setjmp.h>
#include <stdio.h>

#include "../runtime/rt.h"

struct gort__defer {
	void (*fn)(void *);
	void *arg;
};

struct gort__panic;

/* A protected region (gort_protect's frame, or a coroutine's boundary).
 * Lives on the stack of the code that entered it. */
struct gort__region {
	jmp_buf env;                     /* where a recovered panic lands */
	struct gort__region *outer;
	int defer_base;                  /* defers [defer_base, ndefer) are ours */
	struct gort__panic *panic_at_entry; /* x->panic when entered */
	gort_panic_info *out;
};

/* One panic in flight.  Lives in the frame of the gort_panic call that
 * raised it, which stays on the stack while its deferred calls run. */
struct gort__panic {
	gort_panic_info info;
	struct gort__panic *link;          /* the panic this one interrupted, if any */
	struct gort__region *defer_region; /* x->region while its defer runs */
	bool running_defer;                /* a deferred call of ours is running */
	bool recovered;
	const char *signal_line;           /* "[signal SIGSEGV: ...]" for signal panics */
};

/* Per-coroutine (or per plain thread) state.  (o): only the coroutine
 * itself touches it, on whatever M it runs. */
struct gort__gx {
	struct gort__defer *defers; /* a stack: [0, ndefer) */
	int ndefer, cap;
	struct gort__region *region; /* innermost protected region */
	struct gort__panic *panic;   /* innermost panic in flight */
	gort_panic_handler on_panic; /* spawn option, NULL: runtime-wide policy */
	void *on_panic_ctx;
	bool in_handler;             /* a panic handler is running: a panic now aborts */
#ifdef GORT__TSAN
	jmp_buf boundary; /* how a panic-ended coroutine leaves (panic.c) */
#endif
};

/* Capture up to max return addresses of the caller's stack (frame
 * pointers within the coroutine's stack; glibc's backtrace() elsewhere). */
int gort__backtrace(void **frames, int max, int skip);
/* Print "  #i 0x... function+0xoff" lines (and file:line) for frames;
 * in_signal: from a signal handler (dladdr only). */
void gort__print_frames(int fd, void *const *frames, int n, bool in_signal);
/* The same to a stdio stream (never from a signal handler). */
void gort__print_frames_file(FILE *f, void *const *frames, int n);


#endif
