/*
 * panic.c — panic, defer, recover, protected regions, and the panic
 * boundary at every coroutine entry.
 *
 * Owns: each coroutine's defer stack, protected regions and panics in
 * flight (struct gort__gx, allocated on first use and kept with the G
 * descriptor), the runtime-wide panic policy, and the Go-style printer.
 *
 * Model.  A protected region is a gort_protect call (or, implicitly, the
 * whole coroutine: its boundary).  gort_defer pushes on the coroutine's
 * defer stack; a region owns the entries pushed since it was entered.  When
 * a region's function returns, its defers run LIFO and it pops.
 *
 * gort_panic builds its record in its own frame and unwinds *without
 * leaving the stack*: it runs the innermost region's defers, LIFO, on top
 * of the panicking frames (as Go runs deferred calls before unwinding).  A
 * deferred call that calls gort_recover marks the panic recovered.  Then
 * the region's remaining defers run normally, the record is copied to the
 * region's out, and longjmp lands in the region's gort_protect, which
 * returns GORT_PANICKED.  The longjmp goes from deeper in the same stack to
 * an outer frame of it: never across stacks (glibc's checked longjmp and
 * TSan allow exactly that).  If the region's defers do not recover, the
 * region is abandoned and the next outer one's defers run.  At the
 * boundary the policy decides: abort (Go's default: print and abort), log
 * (print; the coroutine ends, the rest run), or a handler (per spawn, or
 * runtime-wide), after which the coroutine ends.  The boundary is implicit
 * (a coroutine without regions; its own defers count from 0), so a
 * coroutine that never defers or panics pays nothing for it.
 *
 * A panic raised while another's deferred call runs links to it; if the
 * new one is not recovered, both are printed, Go-style:
 *     panic: A [recovered]
 *         panic: B
 * Recovery in a region drops every panic raised since that region was
 * entered (x->panic goes back to the value saved at entry).
 *
 * gort_recover returns the panic only while one of that panic's deferred
 * calls runs and no region was entered since (C cannot check "called
 * directly by the deferred function" as Go does; this is the closest).
 *
 * Cost: gort_protect is a setjmp plus a few stores (bench=protect);
 * gort_defer is an array push.  Plain threads get the same through a
 * thread-local state, but a panic that reaches a plain thread's outermost
 * region prints and aborts.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "panic.h"

static __thread struct gort__gx plain_x; /* state of a plain thread */

/* One report at a time: coroutines on several Ms may print at once, and a
 * report must come out whole (lines of two reports never interleave). */
static gort__lock print_lock = GORT__LOCK_INIT;

/* runtime-wide policy, read under policy_lock at panic time only */
static gort__lock policy_lock = GORT__LOCK_INIT;
static gort_panic_policy policy = GORT_PANIC_ABORT;
static gort_panic_handler policy_handler;
static void *policy_ctx;

int gort_set_panic_policy(gort_panic_policy p, gort_panic_handler handler, void *ctx)
{
	if ((unsigned)p > GORT_PANIC_HANDLER || (p == GORT_PANIC_HANDLER && !handler))
		return -EINVAL;
	gort__lock_acquire(&policy_lock);
	policy = p;
	policy_handler = handler;
	policy_ctx = ctx;
	gort__lock_release(&policy_lock);
	return 0;
}

/* The running coroutine's state (allocated on first use), or the plain
 * thread's.  NULL only when allocation fails. */
static struct gort__gx *getx(void)
{
	struct gort__g *g = gort__getg();
	if (!g)
		return &plain_x;
	if (!g->x)
		g->x = gort__sys_calloc(1, sizeof *g->x);
	return g->x;
}

int gort__recover_spawn(struct gort__g *g, const gort_spawn_opts *opts)
{
	struct gort__gx *x = g->x;
	bool want = opts && opts->on_panic;
#ifdef GORT__TSAN
	bool need = true; /* gort__recover_run_body's setjmp boundary lives there */
#else
	bool need = want;
#endif
	if (!x && !need)
		return 0;
	if (!x && !(x = g->x = gort__sys_calloc(1, sizeof *x)))
		return -ENOMEM;
	x->ndefer = 0;
	x->region = NULL;
	x->panic = NULL;
	x->in_handler = false;
	x->on_panic = want ? opts->on_panic : NULL;
	x->on_panic_ctx = want ? opts->on_panic_ctx : NULL;
	return 0;
}

void gort__recover_free(struct gort__g *g)
{
	if (g->x) {
		gort__sys_free(g->x->defers);
		gort__sys_free(g->x);
		g->x = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Defer                                                               */
/* ------------------------------------------------------------------ */

int gort_defer(void (*fn)(void *), void *arg)
{
	if (!fn)
		return -EINVAL;
	struct gort__gx *x = getx();
	if (!x)
		return -ENOMEM;
	if (x == &plain_x && !x->region)
		return -EPERM; /* a plain thread has no boundary */
	if (x->ndefer == x->cap) {
		int cap = x->cap ? 2 * x->cap : 8;
		struct gort__defer *d = gort__sys_realloc(x->defers, (size_t)cap * sizeof *d);
		if (!d)
			return -ENOMEM;
		x->defers = d;
		x->cap = cap;
	}
	x->defers[x->ndefer].fn = fn;
	x->defers[x->ndefer].arg = arg;
	x->ndefer++;
	return 0;
}

/* Run defers down to base, normally (no panic of theirs). */
static void run_defers(struct gort__gx *x, int base)
{
	while (x->ndefer > base) {
		struct gort__defer d = x->defers[--x->ndefer];
		d.fn(d.arg);
	}
}

/* ------------------------------------------------------------------ */
/* Protected regions                                                   */
/* ------------------------------------------------------------------ */

/* A plain thread left its outermost region: free its defer array (a
 * thread's state lives in TLS and has no other point where it ends). */
static void plain_region_done(struct gort__gx *x)
{
	if (x == &plain_x && !x->region && x->defers) {
		gort__sys_free(x->defers);
		x->defers = NULL;
		x->cap = 0;
	}
}

int gort_protect(void (*fn)(void *), void *arg, gort_panic_info *out)
{
	if (!fn)
		return -EINVAL;
	struct gort__gx *x = getx();
	if (!x)
		return -ENOMEM;
	struct gort__region r;
	r.outer = x->region;
	r.defer_base = x->ndefer;
	r.panic_at_entry = x->panic;
	r.out = out;
	x->region = &r;
	if (setjmp(r.env) == 0) {
		fn(arg);
		run_defers(x, r.defer_base);
		x->region = r.outer;
		plain_region_done(x);
		return 0;
	}
	/* Landed from recovered_jump, which popped the region (the analyzer
	 * cannot follow longjmp: r is no longer referenced). */
	plain_region_done(getx());
	return GORT_PANICKED; // NOLINT(clang-analyzer-core.StackAddressEscape)
}

void gort__recover_fn_returned(struct gort__g *g)
{
	if (g->x && g->x->ndefer)
		run_defers(g->x, 0);
}

/* ------------------------------------------------------------------ */
/* Panic                                                               */
/* ------------------------------------------------------------------ */

const gort_panic_info *gort_recover(void)
{
	struct gort__g *g = gort__getg();
	struct gort__gx *x = g ? g->x : &plain_x;
	if (!x)
		return NULL;
	struct gort__panic *p = x->panic;
	if (!p || p->recovered || !p->running_defer || x->region != p->defer_region)
		return NULL;
	p->recovered = true;
	return &p->info;
}

static void fill_identity(gort_panic_info *info)
{
	struct gort__g *g = gort__getg();
	info->coroutine = g ? g->id : 0;
	if (g) {
		memcpy(info->name, g->name, sizeof info->name);
		info->spawn_file = g->spawn_file;
		info->spawn_line = g->spawn_line;
	} else {
		info->name[0] = 0;
		info->spawn_file = NULL;
		info->spawn_line = 0;
	}
}

static void print_chain(int fd, const struct gort__panic *p)
{
	/* oldest first, as Go prints them */
	const struct gort__panic *chain[16];
	int n = 0;
	for (const struct gort__panic *q = p; q && n < 16; q = q->link)
		chain[n++] = q;
	for (int i = n - 1, depth = 0; i >= 0; i--, depth++) {
		dprintf(fd, "%spanic: %s%s\n", depth ? "\t" : "", chain[i]->info.message,
			chain[i]->recovered ? " [recovered]" : "");
	}
	if (p->signal_line)
		dprintf(fd, "%s\n", p->signal_line);
}

static void print_identity(int fd, const gort_panic_info *info)
{
	if (info->coroutine) {
		dprintf(fd, "\ncoroutine %lld", (long long)info->coroutine);
		if (info->name[0])
			dprintf(fd, " \"%s\"", info->name);
		dprintf(fd, " [running]:\n");
		struct gort__g *g = gort__getg();
		long long parent = g && g->id == info->coroutine ? (long long)g->parent_id : -1;
		if (info->spawn_line == 0 && info->spawn_file)
			dprintf(fd, "created by %s\n", info->spawn_file); /* gort_main */
		else if (parent > 0)
			dprintf(fd, "created by coroutine %lld at %s:%d\n", parent,
				info->spawn_file ? info->spawn_file : "?", info->spawn_line);
		else
			dprintf(fd, "created at %s:%d\n", info->spawn_file ? info->spawn_file : "?",
				info->spawn_line);
	} else {
		dprintf(fd, "\nthread (not a coroutine) [running]:\n");
	}
	gort__print_frames(fd, info->frames, info->nframes, false);
}

void gort_panic_print(int fd, const gort_panic_info *info)
{
	if (!info || fd < 0)
		return;
	/* the caller's record: its strings may lack their NUL, its count may
	 * be out of range */
	gort_panic_info c = *info;
	c.message[sizeof c.message - 1] = 0;
	c.name[sizeof c.name - 1] = 0;
	if (c.nframes < 0)
		c.nframes = 0;
	if (c.nframes > GORT_PANIC_FRAMES)
		c.nframes = GORT_PANIC_FRAMES;
	gort__lock_acquire(&print_lock);
	dprintf(fd, "panic: %s\n", c.message);
	print_identity(fd, &c);
	gort__lock_release(&print_lock);
}

static void print_report(const struct gort__panic *p, const char *tail)
{
	gort__lock_acquire(&print_lock);
	print_chain(2, p);
	print_identity(2, &p->info);
	if (tail)
		dprintf(2, "%s", tail);
	gort__lock_release(&print_lock);
}

/* End the coroutine from inside a panic.  Normally by exiting right here
 * (the stack is abandoned and released by the next context; nothing on it
 * is needed).  Under TSan, by longjmp to the boundary's setjmp, so that TSan
 * sees the frames unwound (its shadow stack is kept with the stack). */
static _Noreturn void end_coroutine(struct gort__g *g, struct gort__gx *x)
{
	x->panic = NULL;
	x->ndefer = 0;
	x->region = NULL;
	x->in_handler = false;
#ifdef GORT__TSAN
	(void)g;
	longjmp(x->boundary, 1);
#else
	gort__exit_current(g);
#endif
}

/* The panic reached the coroutine's boundary (or a plain thread's
 * outermost region) unrecovered. */
static _Noreturn void at_boundary(struct gort__g *g, struct gort__gx *x, struct gort__panic *p)
{
	gort_panic_policy pol;
	gort_panic_handler h;
	void *ctx;
	if (g && x->on_panic) {
		pol = GORT_PANIC_HANDLER;
		h = x->on_panic;
		ctx = x->on_panic_ctx;
	} else {
		gort__lock_acquire(&policy_lock);
		pol = policy;
		h = policy_handler;
		ctx = policy_ctx;
		gort__lock_release(&policy_lock);
	}
	if (!g || x->in_handler)
		pol = GORT_PANIC_ABORT; /* a plain thread cannot just end; a handler
					 * that panics gave up */
	p->running_defer = false;
	if (pol == GORT_PANIC_HANDLER) {
		x->in_handler = true;
		h(&p->info, ctx); /* a recover in it finds nothing: running_defer is off */
		x->in_handler = false;
	} else {
		if (pol == GORT_PANIC_ABORT) {
			print_report(p, NULL);
			fflush(NULL);
			abort();
		}
		char tail[96];
		snprintf(tail, sizeof tail, "coroutine %lld ended by its panic; the others run on\n\n",
			 (long long)p->info.coroutine);
		print_report(p, tail);
	}
	end_coroutine(g, x);
}

static _Noreturn void recovered_jump(struct gort__gx *x, struct gort__region *r,
				     struct gort__panic *p)
{
	/* Go: the function whose deferred call recovered returns normally, its
	 * remaining deferred calls running first. */
	x->panic = r->panic_at_entry;
	run_defers(x, r->defer_base);
	if (r->out)
		*r->out = p->info;
	x->region = r->outer;
	longjmp(r->env, 1);
}

static _Noreturn void panic_start(struct gort__panic *p)
{
	struct gort__g *g = gort__getg();
	struct gort__gx *x = getx();
	if (!x)
		gort__fatal("out of memory while panicking: %s", p->info.message);
	fill_identity(&p->info);
	p->link = x->panic;
	p->recovered = false;
	p->running_defer = false;
	x->panic = p;
	for (;;) {
		/* The innermost region, or (r NULL) the coroutine's boundary,
		 * which owns the defers from 0. */
		struct gort__region *r = x->region;
		int base = r ? r->defer_base : 0;
		while (x->ndefer > base) {
			struct gort__defer d = x->defers[--x->ndefer];
			p->defer_region = r;
			p->running_defer = true;
			d.fn(d.arg);
			p->running_defer = false;
			if (p->recovered) {
				if (r)
					recovered_jump(x, r, p);
				/* recovered at coroutine level: its function
				 * returns, remaining defers first */
				x->panic = NULL;
				run_defers(x, 0);
				end_coroutine(g, x);
			}
		}
		if (!r)
			break;
		x->region = r->outer; /* abandoned: its frames are below us */
	}
	if (!g) {
		print_report(p, NULL);
		fflush(NULL);
		abort();
	}
	at_boundary(g, x, p);
}

/* A panic record in the caller's frame: zeroed, then the fields given. */
static void panic_init(struct gort__panic *p, void *value, bool runtime_error,
		       const char *signal_line)
{
	memset(&p->info, 0, sizeof p->info);
	p->info.value = value;
	p->info.runtime_error = runtime_error;
	p->signal_line = signal_line;
}

/* Capture the backtrace (skipping the runtime's own frames) and raise. */
static _Noreturn void raise_panic(struct gort__panic *p, int skip)
{
	p->info.nframes = gort__backtrace(p->info.frames, GORT_PANIC_FRAMES, skip);
	panic_start(p);
}

/* Format the message into a record in this frame and raise it. */
static _Noreturn void vpanicf(bool runtime_error, const char *signal_line, int skip,
			      const char *fmt, va_list ap)
{
	struct gort__panic p;
	panic_init(&p, NULL, runtime_error, signal_line);
	vsnprintf(p.info.message, sizeof p.info.message, fmt, ap);
	raise_panic(&p, skip + 1);
}

static void panicf(bool runtime_error, const char *signal_line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void panicf(bool runtime_error, const char *signal_line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpanicf(runtime_error, signal_line, 2, fmt, ap);
	va_end(ap); /* not reached; keeps va_start/va_end paired */
}

void gort_panic(const char *fmt, ...)
{
	if (!fmt) /* Go 1.21's panic(nil) */
		panicf(true, NULL, "panic called with nil argument (gort_panic(NULL))");
	va_list ap;
	va_start(ap, fmt);
	vpanicf(false, NULL, 1, fmt, ap);
	va_end(ap); /* not reached; keeps va_start/va_end paired */
}

void gort_panic_value(void *value)
{
	struct gort__panic p;
	panic_init(&p, value, false, NULL);
	snprintf(p.info.message, sizeof p.info.message, "(value %p)", value);
	raise_panic(&p, 1);
}

_Noreturn void gort__panic_msg(const char *msg)
{
	panicf(true, NULL, "%s", msg);
}

/* Entered (by the fault handler rewriting the faulting context) on the
 * coroutine's own stack, as if the faulting instruction had called it. */
void gort__sigpanic(int sig, void *addr, void *pc)
{
	static __thread char line[128];
	const char *what = sig == SIGFPE ? "SIGFPE: floating-point exception"
			   : sig == SIGBUS ? "SIGBUS: bus error"
					   : "SIGSEGV: segmentation violation";
	snprintf(line, sizeof line, "[signal %s addr=%p pc=%p]", what, addr, pc);
	if (sig == SIGFPE)
		panicf(true, line, "runtime error: integer divide by zero");
	panicf(true, line, "runtime error: invalid memory address or nil pointer dereference");
}

/* The coroutine's body, inside its boundary.  The boundary is implicit
 * (no region: defers from 0 are the coroutine's own), so a coroutine that
 * never defers or panics pays nothing here; under TSan, a setjmp gives a
 * panic-ended coroutine a way out that TSan can follow. */
void gort__recover_run_body(struct gort__g *g)
{
#ifdef GORT__TSAN
	gort__assert(g->x); /* made at the spawn (gort__recover_spawn) */
	if (setjmp(g->x->boundary) != 0)
		return;
#endif
	g->base_fp = __builtin_frame_address(0);
	g->fn(g->arg);
	gort__recover_fn_returned(g);
}
