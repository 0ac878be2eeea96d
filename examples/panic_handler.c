/* A panic handler per coroutine (the article's safeGoroutine).
 *
 * Instead of wrapping every coroutine body in gort_protect by hand, spawn
 * it with a handler:
 *
 *   gort_go_with(worker, arg, .on_panic = alert, .on_panic_ctx = &alerts)
 *
 * A panic that nobody recovers in that coroutine calls the handler (on the
 * panicking coroutine's stack, after its deferred calls have run); then the
 * coroutine ends and every other coroutine runs on.  Here the handler
 * prints the panic with gort_panic_print ("panic: ...", "coroutine N
 * [running]:", the spawn site and a symbolised backtrace) on stderr, and
 * bumps an alert counter, as a service would page someone.  Of WORKERS
 * workers, every third panics; the rest finish.  The program exits 0 and
 * prints on stdout:
 *
 *   workers: 9 spawned, 6 finished, 3 panicked
 *   alerts: 3
 *
 * Built and run by `make test`. */
#include <gort.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

enum { WORKERS = 9 };

struct alerts {
	atomic_int count;
	pthread_mutex_t print_lock; /* one report at a time on stderr */
	gort_wg *done;              /* the handler accounts for its worker */
};

static gort_wg wg;
static atomic_int finished;

/* Called for an unrecovered panic of a worker.  It holds the mutex only
 * around printing, which never blocks in gort. */
static void alert(const gort_panic_info *info, void *ctx)
{
	struct alerts *a = ctx;
	pthread_mutex_lock(&a->print_lock);
	gort_panic_print(STDERR_FILENO, info);
	pthread_mutex_unlock(&a->print_lock);
	atomic_fetch_add(&a->count, 1);
	/* The worker never reaches its own gort_wg_done: signal for it, after
	 * the count, so that main reads a complete count. */
	gort_wg_done(a->done);
}

static void worker(void *arg)
{
	int n = (int)(intptr_t)arg;
	if (n % 3 == 2)
		gort_panic("worker %d: corrupt record", n);
	atomic_fetch_add(&finished, 1);
	gort_wg_done(&wg);
}

static int real_main(void *arg)
{
	(void)arg;
	static struct alerts alerts = {.print_lock = PTHREAD_MUTEX_INITIALIZER, .done = &wg};
	for (int i = 0; i < WORKERS; i++) {
		gort_wg_add(&wg, 1);
		if (gort_go_with(worker, (void *)(intptr_t)i, .name = "worker", .on_panic = alert,
				 .on_panic_ctx = &alerts) < 0)
			return 1;
	}
	gort_wg_wait(&wg);
	int nf = atomic_load(&finished), na = atomic_load(&alerts.count);
	printf("workers: %d spawned, %d finished, %d panicked\n", WORKERS, nf, na);
	printf("alerts: %d\n", na);
	return nf + na == WORKERS ? 0 : 1;
}

int main(void)
{
	return gort_main(real_main, NULL);
}
