/* A concurrent processor bounded by a weighted semaphore (the article's
 * semaphore.NewWeighted pattern): 100 items, each processed in its own
 * coroutine, but at most 3 units of work at once; small items take 1 unit,
 * every tenth item is big and takes 3 (it waits for the whole capacity and
 * is not starved by the small ones behind it: the semaphore is FIFO).  A
 * second run is given a deadline and stops taking new items when it
 * passes.  Built and run by `make test`; the output is checked. */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>

enum { ITEMS = 100, CAPACITY = 3 };
#define MS (1000 * 1000)

static gort_sem *sem;
static gort_wg done;
static atomic_int in_use, max_in_use, processed;

static int64_t weight(int item)
{
	return item % 10 == 9 ? CAPACITY : 1;
}

static void process(void *arg)
{
	int item = (int)(intptr_t)arg;
	int64_t w = weight(item);
	int now = atomic_fetch_add(&in_use, (int)w) + (int)w;
	int seen = atomic_load(&max_in_use);
	while (now > seen && !atomic_compare_exchange_weak(&max_in_use, &seen, now))
		;
	gort_sleep(1 * MS); /* the work */
	atomic_fetch_sub(&in_use, (int)w);
	atomic_fetch_add(&processed, 1);
	gort_sem_release(sem, w);
	gort_wg_done(&done);
}

/* Feed items while ctx allows; returns how many were started. */
static int run(gort_ctx *ctx)
{
	int started = 0;
	for (int i = 0; i < ITEMS; i++) {
		if (gort_sem_acquire_ctx(ctx, sem, weight(i)) != 0)
			break; /* deadline: stop taking new items */
		gort_wg_add(&done, 1);
		gort_go_with(process, (void *)(intptr_t)i, .name = "item");
		started++;
	}
	gort_wg_wait(&done);
	return started;
}

static int real_main(void *arg)
{
	(void)arg;
	sem = gort_sem_new(CAPACITY);
	int started = run(NULL);
	printf("all items: %d started, %d processed, at most %d units in use (capacity %d)\n",
	       started, atomic_load(&processed), atomic_load(&max_in_use), CAPACITY);

	atomic_store(&processed, 0);
	gort_ctx *ctx = gort_ctx_with_timeout(NULL, 15 * MS);
	started = run(ctx);
	printf("with a deadline: stopped early: %s; every started item finished: %s; error %s\n",
	       started < ITEMS ? "yes" : "no", atomic_load(&processed) == started ? "yes" : "no",
	       gort_ctx_err(ctx) == GORT_DEADLINE_EXCEEDED ? "deadline exceeded" : "none");
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	/* everything released: the whole capacity can be taken again */
	printf("capacity back: %s\n", gort_sem_try_acquire(sem, CAPACITY) ? "yes" : "no");
	gort_sem_release(sem, CAPACITY);
	gort_sem_free(sem);
	return 0;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
