/* Scenario 2, the fix: every coroutine is its own panic boundary.
 *
 * examples/panic_parent_recover.c shows that a parent's recover cannot catch
 * a panic raised in a child coroutine.  The fix is to put the recover where
 * the panic happens: the child wraps its own body in gort_protect with a
 * recovering deferred call.  The child's panic then stops at the child's
 * boundary, gort_protect returns GORT_PANICKED with the panic's record, and
 * the child reports it and ends normally.  The parent and the program go on;
 * the program exits 0 printing what was recovered:
 *
 *   child: recovered "child: index 5 out of range [0, 3)" (coroutine 2 "child")
 *
 * Built and run by `make test`. */
#include <gort.h>
#include <stdio.h>

static gort_wg wg;

/* A deferred call that stops any panic of the region it was registered in;
 * gort_protect then copies the panic's record to its out argument. */
static void recover_any(void *arg)
{
	(void)arg;
	(void)gort_recover();
}

static void child_body(void *arg)
{
	(void)arg;
	GORT_DEFER(recover_any, NULL); /* runs when child_body ends, by panic too */
	int i = 5;
	printf("child: looking up index %d\n", i);
	if (i < 0 || i >= 3)
		gort_panic("child: index %d out of range [0, 3)", i);
	printf("child: never printed\n");
}

/* The boundary: the whole body of the coroutine is a protected region. */
static void child(void *arg)
{
	gort_panic_info info;
	if (gort_protect(child_body, arg, &info) == GORT_PANICKED)
		printf("child: recovered \"%s\" (coroutine %lld \"%s\")\n", info.message,
		       (long long)info.coroutine, info.name);
	gort_wg_done(&wg);
}

static void parent_work(void *arg)
{
	(void)arg;
	GORT_DEFER(recover_any, NULL);
	gort_wg_add(&wg, 1);
	gort_go_with(child, NULL, .name = "child");
	printf("parent: child spawned, waiting\n");
	gort_wg_wait(&wg);
	printf("parent: child finished; the program goes on\n");
}

static int real_main(void *arg)
{
	(void)arg;
	int rc = gort_protect(parent_work, NULL, NULL);
	printf("parent: gort_protect returned %d\n", rc);
	return rc;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
