/*
 * traceback.c — capturing and printing backtraces for panics and fatal
 * faults.
 *
 * Capture: inside a coroutine, walk the frame-pointer chain (gort builds
 * with -fno-omit-frame-pointer), accepting a frame only while it lies
 * inside the coroutine's own stack and moves up it, so a missing frame
 * pointer in foreign code ends the walk instead of faulting.  It costs a
 * few ns a frame (the panic-recover bar includes it).  On plain threads,
 * glibc's backtrace() (unwind tables).
 *
 * Print: "  #i 0xADDR function+0xOFF\n        file:line" per frame.  With
 * libdw (elfutils; GORT_HAVE_LIBDW, the default where its headers are
 * installed) names come from each module's symbol table, static functions
 * included, and file:line from its DWARF line table where debug info
 * exists.  Without it, dladdr names exported symbols only.  The libdw
 * session is made on first use and closed by gort_stop (printing happens
 * when a panic reaches a boundary, not on the hot path).  From a signal handler (fatal faults)
 * only dladdr is used: no allocation, little stack.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#ifdef GORT_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#endif

#include "panic.h"

__attribute__((noinline)) int gort__backtrace(void **frames, int max, int skip)
{
	struct gort__g *g = gort__getg();
	if (!g || !g->stack) {
		void *tmp[GORT_PANIC_FRAMES + 8];
		int n = backtrace(tmp, GORT_PANIC_FRAMES + 8);
		int out = 0;
		for (int i = skip + 1; i < n && out < max; i++)
			frames[out++] = tmp[i];
		return out;
	}
	uintptr_t lo = (uintptr_t)g->stack->lo, hi = lo + g->stack->size;
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	int n = 0;
	while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
		uintptr_t next = ((uintptr_t *)fp)[0];
		void *ret = ((void **)fp)[1];
		if (!ret)
			break;
		if (skip > 0)
			skip--;
		else
			frames[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

#ifdef GORT_HAVE_LIBDW
static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_cb = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* One libdw session over the process's modules, made on first use (a few
 * ms), kept for later traces, closed by gort_stop (gort__traceback_fini)
 * so that nothing stays allocated after the runtime.  dwfl_lock guards it
 * and every use. */
static gort__lock dwfl_lock = GORT__LOCK_INIT;
static Dwfl *dwfl;

static Dwfl *dw_open(void)
{
	gort__lock_acquire(&dwfl_lock);
	if (!dwfl) {
		dwfl = dwfl_begin(&dwfl_cb);
		if (dwfl && (dwfl_linux_proc_report(dwfl, getpid()) != 0 ||
			     dwfl_report_end(dwfl, NULL, NULL) != 0)) {
			dwfl_end(dwfl);
			dwfl = NULL;
		}
	}
	return dwfl; /* with dwfl_lock held: dw_close releases it */
}

static void dw_close(void)
{
	gort__lock_release(&dwfl_lock);
}
#endif

void gort__traceback_fini(void)
{
#ifdef GORT_HAVE_LIBDW
	gort__lock_acquire(&dwfl_lock);
	if (dwfl)
		dwfl_end(dwfl);
	dwfl = NULL;
	gort__lock_release(&dwfl_lock);
#endif
}

/* Where frames go: a descriptor (dprintf: what the signal path can use)
 * or a stdio stream (dumps). */
struct wr {
	int fd;
	FILE *f;
};

__attribute__((format(printf, 2, 3))) static void wr_printf(const struct wr *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (w->f)
		vfprintf(w->f, fmt, ap);
	else
		vdprintf(w->fd, fmt, ap);
	va_end(ap);
}

#ifdef GORT_HAVE_LIBDW

/* Print one frame with libdw; false if it knows nothing about pc. */
static bool print_frame_dw(Dwfl *d, const struct wr *w, int i, void *ret, uintptr_t pc)
{
	Dwfl_Module *mod = d ? dwfl_addrmodule(d, pc) : NULL;
	if (!mod)
		return false;
	GElf_Sym sym;
	GElf_Off off = 0;
	const char *name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
	const char *mname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	if (name)
		wr_printf(w, "  #%d %p %s+0x%lx\n", i, ret, name, (unsigned long)off + 1);
	else
		wr_printf(w, "  #%d %p ?? (%s)\n", i, ret, mname ? mname : "?");
	Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
	int lineno = 0;
	const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	if (file)
		wr_printf(w, "        %s:%d\n", file, lineno);
	else if (mname)
		wr_printf(w, "        (%s)\n", mname);
	return true;
}
#endif

static void print_frames(const struct wr *w, void *const *frames, int n, bool in_signal)
{
#ifdef GORT_HAVE_LIBDW
	/* not from a signal handler: libdw allocates, reads files, and needs
	 * more stack than a sigaltstack has */
	Dwfl *d = NULL;
	if (!in_signal)
		d = dw_open();
#else
	(void)in_signal;
#endif
	for (int i = 0; i < n; i++) {
		/* a return address points after the call: look up pc-1 */
		uintptr_t pc = (uintptr_t)frames[i] - 1;
#ifdef GORT_HAVE_LIBDW
		if (print_frame_dw(d, w, i, frames[i], pc))
			continue;
#endif
		Dl_info di;
		if (dladdr((void *)pc, &di) && di.dli_sname) {
			wr_printf(w, "  #%d %p %s+0x%lx (%s)\n", i, frames[i], di.dli_sname,
				  (unsigned long)((char *)frames[i] - (char *)di.dli_saddr),
				  di.dli_fname ? di.dli_fname : "?");
		} else if (dladdr((void *)pc, &di) && di.dli_fname) {
			wr_printf(w, "  #%d %p ?? (%s+0x%lx)\n", i, frames[i], di.dli_fname,
				  (unsigned long)((char *)frames[i] - (char *)di.dli_fbase));
		} else {
			wr_printf(w, "  #%d %p ??\n", i, frames[i]);
		}
	}
#ifdef GORT_HAVE_LIBDW
	if (!in_signal)
		dw_close();
#endif
}

void gort__print_frames(int fd, void *const *frames, int n, bool in_signal)
{
	const struct wr w = {.fd = fd};
	print_frames(&w, frames, n, in_signal);
}

void gort__print_frames_file(FILE *f, void *const *frames, int n)
{
	const struct wr w = {.fd = -1, .f = f};
	print_frames(&w, frames, n, false);
}
