/* Scenario 2, the trap: a parent's recover does not catch its child's panic.
 *
 * The parent (the main coroutine) runs its work inside gort_protect with a
 * deferred call that recovers, and spawns a child.  The child panics.  A
 * panic unwinds only the coroutine that raised it: the child has no
 * protected region and no deferred call of its own, so its panic reaches
 * the child's boundary unrecovered, and the default policy
 * (GORT_PANIC_ABORT) prints it in Go's format and aborts the whole
 * process, parent and all:
 *
 *   panic: child: index 5 out of range [0, 3)
 *
 *   coroutine 2 "child" [running]:
 *   ...
 *
 * This program is EXPECTED to die by SIGABRT (`make test` checks that it
 * does).  examples/panic_boundary.c is the fix. */
#include <gort.h>
#include <stdio.h>

static gort_wg wg;

static void child(void *arg)
{
	(void)arg;
	int table[3] = {1, 2, 3};
	int i = 5;
	printf("child: looking up index %d\n", i);
	if (i < 0 || i >= 3)
		gort_panic("child: index %d out of range [0, 3)", i);
	printf("child: never printed %d\n", table[i]);
	gort_wg_done(&wg);
}

/* The parent's recovering deferred call.  It would stop a panic raised by
 * the parent itself; the child's panic never comes here. */
static void parent_recover(void *arg)
{
	(void)arg;
	const gort_panic_info *p = gort_recover();
	if (p != NULL)
		printf("parent: recovered \"%s\" (never happens)\n", p->message);
}

static void parent_work(void *arg)
{
	(void)arg;
	GORT_DEFER(parent_recover, NULL);
	printf("parent: spawning a child under gort_protect\n");
	gort_wg_add(&wg, 1);
	gort_go_with(child, NULL, .name = "child");
	gort_wg_wait(&wg); /* the child panics: the process aborts here */
}

static int real_main(void *arg)
{
	(void)arg;
	gort_panic_info info;
	if (gort_protect(parent_work, NULL, &info) == GORT_PANICKED)
		printf("parent: protect caught \"%s\" (never happens)\n", info.message);
	printf("parent: done (never printed)\n");
	return 0;
}

int main(void)
{
	/* Line-buffered even into a file or pipe: abort() does not flush
	 * stdio, and the lines above should survive it. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return gort_main(real_main, NULL);
}
