/*
 * fault.c — turning a fault in a coroutine's guard page into a named fatal
 * error ("fatal: coroutine 7 (worker, spawned at main.c:40) overflowed its
 * 256 KiB stack") instead of a bare SIGSEGV.
 *
 * Every M runs with an alternate signal stack (the faulting stack is full),
 * and a process-wide SIGSEGV/SIGBUS handler installed once.  The handler
 * looks at the coroutine this thread is running (gort__tls_m->curg: read
 * on the faulting thread itself, so no race): if the fault address, or the
 * stack pointer, lies in that coroutine's guard region, it reports and
 * aborts.  Otherwise the fault is not ours: it is passed to the handler
 * that was installed before (ASan's, the program's), or, if that was the
 * default, the default action is restored and the faulting instruction
 * re-runs to die as it would have.
 *
 * The overflow report is async-signal-safe (write, abort).  Other faults
 * in a coroutine's own code: with GORT_DEBUG=sigpanic=1 the handler
 * rewrites the faulting context so that, on return, the coroutine "calls"
 * gort__sigpanic on its own stack, which raises a recoverable panic
 * ("runtime error: invalid memory address or nil pointer dereference",
 * "runtime error: integer divide by zero"); without it, the fault is
 * reported with the coroutine's backtrace and the process aborts.  Only
 * faults whose stack pointer lies in the coroutine's stack count: faults
 * in the runtime's scheduler context or on plain threads are not ours.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "panic.h"

#define ALTSTACK_SIZE (64 * 1024)

static struct sigaction old_segv, old_bus, old_fpe;
static _Atomic bool installed;
_Atomic bool gort__sigpanic_enabled; /* GORT_DEBUG=sigpanic=1, set at start */

void gort__sigpanic(int sig, void *addr, void *pc);

static void overflow_line(struct gort__g *g, int canary)
{
	int fd = 2;
	gort__ss_puts(fd, "fatal: coroutine ");
	gort__ss_putu(fd, (uint64_t)g->id);
	gort__ss_puts(fd, " (");
	if (g->name[0]) {
		gort__ss_puts(fd, g->name);
		gort__ss_puts(fd, ", ");
	}
	gort__ss_puts(fd, "spawned at ");
	gort__ss_puts(fd, g->spawn_file ? g->spawn_file : "?");
	gort__ss_puts(fd, ":");
	gort__ss_putu(fd, (uint64_t)g->spawn_line);
	gort__ss_puts(fd, ") overflowed its ");
	gort__ss_putu(fd, g->stack ? g->stack->size / 1024 : 0);
	gort__ss_puts(fd, " KiB stack");
	if (canary)
		gort__ss_puts(fd, " (stack canary overwritten; found at a switch)");
	gort__ss_puts(fd, "\n");
}

static void print_coroutine_trace(struct gort__g *g, uintptr_t pc, uintptr_t fp);

_Noreturn void gort__fatal_overflow(struct gort__g *g, int canary)
{
	overflow_line(g, canary);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	print_coroutine_trace(g, (uintptr_t)__builtin_return_address(0), fp);
	abort();
}

/* "coroutine N "name" [running]:", its spawn site and a backtrace walked
 * from the faulting frame (pc, fp) within the coroutine's stack.  Not
 * async-signal-safe (dladdr, dprintf): only used when the process dies. */
static void print_coroutine_trace(struct gort__g *g, uintptr_t pc, uintptr_t fp)
{
	dprintf(2, "\ncoroutine %lld", (long long)g->id);
	if (g->name[0])
		dprintf(2, " \"%s\"", g->name);
	dprintf(2, " [running]:\ncreated at %s:%d\n", g->spawn_file ? g->spawn_file : "?",
		g->spawn_line);
	if (!pc || !g->stack)
		return;
	void *frames[GORT_PANIC_FRAMES];
	int n = 0;
	frames[n++] = (void *)(pc + 1); /* printed as a return address */
	uintptr_t lo = (uintptr_t)g->stack->lo, hi = lo + g->stack->size;
	while (n < GORT_PANIC_FRAMES && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
		void *ret = ((void **)fp)[1];
		uintptr_t next = ((uintptr_t *)fp)[0];
		if (!ret)
			break;
		frames[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	gort__print_frames(2, frames, n, true);
}

/* A fatal signal in a coroutine's own code, reported as Go reports one. */
static void report_signal(int sig, siginfo_t *si, struct gort__g *g, uintptr_t pc, uintptr_t fp)
{
	dprintf(2, "fatal: unexpected signal %s in coroutine %lld: addr=%p pc=%p\n",
		sig == SIGFPE ? "SIGFPE" : sig == SIGBUS ? "SIGBUS" : "SIGSEGV", (long long)g->id,
		si->si_addr, (void *)pc);
	print_coroutine_trace(g, pc, fp);
	dprintf(2, "\n(run with GORT_DEBUG=sigpanic=1 to make this a recoverable panic)\n");
}

static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *old = sig == SIGSEGV ? &old_segv : sig == SIGBUS ? &old_bus : &old_fpe;
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* Default action: restore it and let the instruction fault again. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
}

/* Not TSan-instrumented: a fault inside TSan itself must not re-enter it. */
GORT__NO_TSAN static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	struct gort__m *m = gort__tls_m;
	struct gort__g *g = m ? m->curg : NULL;
	if (g && g->stack) {
		const struct gort__stack *s = g->stack;
		uintptr_t sp = 0, pc = 0, fp = 0;
#if defined(__x86_64__)
		ucontext_t *uc = ucv;
		sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
		pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
		fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
#endif
		uintptr_t lo = (uintptr_t)s->lo, hi = lo + s->size;
		bool sp_low = sp && sp < lo + 256 && sp >= lo - GORT__GUARD_SIZE - 64 * 1024;
		if (gort__stack_in_guard(s, si->si_addr) || sp_low) {
			overflow_line(g, 0); /* async-signal-safe, first */
			print_coroutine_trace(g, pc, fp);
			abort();
		}
		bool own_code = sp >= lo + 256 && sp < hi; /* the coroutine's own stack */
		if (own_code && atomic_load_explicit(&gort__sigpanic_enabled, memory_order_relaxed)) {
#if defined(__x86_64__)
			/* Make the faulting instruction "call" gort__sigpanic on
			 * the coroutine's stack: below the red zone, 16-aligned,
			 * with the faulting pc as the return address so the
			 * backtrace starts there.  Returning from this handler
			 * (sigreturn) restores the signal mask. */
			uintptr_t nsp = ((sp - 128) & ~(uintptr_t)15) - 8;
			*(uintptr_t *)nsp = pc;
			uc->uc_mcontext.gregs[REG_RSP] = (greg_t)nsp;
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)gort__sigpanic;
			uc->uc_mcontext.gregs[REG_RDI] = sig;
			uc->uc_mcontext.gregs[REG_RSI] = (greg_t)(uintptr_t)si->si_addr;
			uc->uc_mcontext.gregs[REG_RDX] = (greg_t)pc;
			return;
#endif
		}
		if (own_code) {
			report_signal(sig, si, g, pc, fp);
			struct sigaction *old = sig == SIGSEGV ? &old_segv : sig == SIGBUS ? &old_bus : &old_fpe;
			if (!(old->sa_flags & SA_SIGINFO) &&
			    (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN))
				abort();
		}
	}
	chain(sig, si, ucv);
}

int gort__fault_install(void)
{
	if (atomic_exchange(&installed, true))
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0 ||
	    sigaction(SIGFPE, &sa, &old_fpe) != 0) {
		atomic_store(&installed, false);
		return -errno;
	}
	return 0;
}

int gort__fault_thread_init(struct gort__m *m)
{
	m->altstack_size = ALTSTACK_SIZE;
	m->altstack = gort__sys_mmap(ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (!m->altstack)
		return -ENOMEM;
	stack_t ss = {.ss_sp = m->altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		gort__sys_munmap(m->altstack, ALTSTACK_SIZE);
		m->altstack = NULL;
		return -errno;
	}
	return 0;
}

void gort__fault_thread_fini(struct gort__m *m)
{
	if (!m->altstack)
		return;
	stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
	gort__sys_munmap(m->altstack, m->altstack_size);
	m->altstack = NULL;
}
