/* errgroup over several tasks where one fails (the article's
 * golang.org/x/sync/errgroup pattern): five "fetches" run as members of a
 * gort_group; the third fails after a short while, which cancels the
 * group's context; the others, still waiting on their slow work with that
 * context, return at once with GORT_CANCELED; gort_group_wait returns the
 * first error.  Then the same with a limit of two members at a time and no
 * failure.  Built and run by `make test`; the output is checked. */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>

enum { TASKS = 5, FAILING = 2, E_FETCH = -1000 };
#define MS (1000 * 1000)

static atomic_int cancelled, finished, running, max_running;

/* A fetch: task FAILING fails after 10 ms; the others would take 5 s. */
static int fetch(gort_ctx *ctx, void *arg)
{
	int task = (int)(intptr_t)arg;
	if (task == FAILING) {
		gort_sleep(10 * MS);
		return E_FETCH;
	}
	int rc = gort_sleep_ctx(ctx, 5000 * (int64_t)MS);
	if (rc == GORT_CANCELED)
		atomic_fetch_add(&cancelled, 1);
	return rc;
}

/* A well-behaved task for the limited group: counts how many run at once. */
static int step(gort_ctx *ctx, void *arg)
{
	(void)arg;
	int now = atomic_fetch_add(&running, 1) + 1;
	int seen = atomic_load(&max_running);
	while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now))
		;
	int rc = gort_sleep_ctx(ctx, 2 * MS);
	atomic_fetch_sub(&running, 1);
	atomic_fetch_add(&finished, 1);
	return rc;
}

static int real_main(void *arg)
{
	(void)arg;
	gort_group *g = gort_group_new(NULL);
	for (int i = 0; i < TASKS; i++)
		gort_group_go(g, fetch, (void *)(intptr_t)i);
	int err = gort_group_wait(g);
	printf("first error: %d (%s), cancelled siblings: %d of %d\n", err,
	       err == E_FETCH ? "the failing fetch" : "unexpected", atomic_load(&cancelled),
	       TASKS - 1);
	printf("group context after wait: %s\n",
	       gort_ctx_err(gort_group_ctx(g)) == GORT_CANCELED ? "cancelled" : "not cancelled");
	gort_group_free(g);

	g = gort_group_new(NULL);
	gort_group_set_limit(g, 2);
	for (int i = 0; i < 10; i++)
		gort_group_go(g, step, NULL);
	err = gort_group_wait(g);
	printf("limited group: error %d, %d finished, at most %d at once (limit 2)\n", err,
	       atomic_load(&finished), atomic_load(&max_running));
	gort_group_free(g);
	return 0;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
