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
 * Print: "  #i 0xADDR function+0xOFF (module)" per frame, from dladdr:
 * exported and dynamic symbols are named (link programs with -rdynamic to
 * name their own functions); file:line needs a debugger or addr2line on
 * the printed module offset.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>

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

void gort__print_frames(int fd, void *const *frames, int n)
{
	for (int i = 0; i < n; i++) {
		Dl_info di;
		/* a return address points after the call: look up pc-1 */
		void *pc = (char *)frames[i] - 1;
		if (dladdr(pc, &di) && di.dli_sname) {
			dprintf(fd, "  #%d %p %s+0x%lx (%s)\n", i, frames[i], di.dli_sname,
				(unsigned long)((char *)frames[i] - (char *)di.dli_saddr),
				di.dli_fname ? di.dli_fname : "?");
		} else if (dladdr(pc, &di) && di.dli_fname) {
			dprintf(fd, "  #%d %p ?? (%s+0x%lx)\n", i, frames[i], di.dli_fname,
				(unsigned long)((char *)frames[i] - (char *)di.dli_fbase));
		} else {
			dprintf(fd, "  #%d %p ??\n", i, frames[i]);
		}
	}
}
