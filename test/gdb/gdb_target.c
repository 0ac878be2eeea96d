/*
 * gdb_target.c — the program test/test_gdb.c debugs with
 * runtime/debug/gort-gdb.py.
 *
 * Under gort_main with 2 Ps it spawns named coroutines that park in
 * distinct ways (channel receive, sleep, mutex, wait group, select), one
 * that spins (running on the other P) and one spawned last that has not run
 * yet (runnable), waits until the five have parked, prints one "expect"
 * line per coroutine (id, name, wait reason in the runtime's own words,
 * blocked-at and spawn sites), and calls gdb_target_ready(), where gdb
 * breaks.  Then it wakes every coroutine but the sleeper (gort_stop
 * discards that one) and exits 0, so it also runs to the end without gdb;
 * with the argument "abort" it aborts there instead (a kernel core dump of
 * that moment).
 *
 * The ids gdb needs are in globals (gdb_target_recv_id, ...): gdb's
 * `coroutine EXPR bt` evaluates them, live or in a core.
 */
#include <gort.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000000)

static gort_chan *recv_ch, *sel_a, *sel_b;
static gort_mutex mu = GORT_MUTEX_INIT;
static gort_wg gate = GORT_WG_INIT; /* count 1 until released: "waiter" parks on it */
static gort_wg done = GORT_WG_INIT; /* the coroutines that end before exit */
static atomic_bool spin_stop;
static bool abort_at_ready; /* argument "abort" */

/* Blocked-at sites, recorded by each coroutine just before it blocks. */
static int recv_line, sleep_line, lock_line, wg_line, select_line;

/* Read by gdb. */
volatile gort_id gdb_target_main_id, gdb_target_recv_id, gdb_target_sleep_id,
	gdb_target_spin_id, gdb_target_fresh_id;

/* Where gdb breaks: every coroutine above is parked, spinning or queued. */
__attribute__((noinline)) void gdb_target_ready(void)
{
	__asm__ volatile("" ::: "memory");
}

/* The frame that calls the receive: `coroutine N bt` must show it. */
__attribute__((noinline)) static int receive_one(gort_chan *c)
{
	int v = 0;
	recv_line = __LINE__ + 1;
	gort_chan_recv(c, &v, NULL);
	__asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
	return v;
}

__attribute__((noinline)) static void receiver_main(void *arg)
{
	(void)arg;
	int v = receive_one(recv_ch);
	if (v != 42)
		abort();
	gort_wg_done(&done);
}

__attribute__((noinline)) static void sleeper_main(void *arg)
{
	(void)arg;
	sleep_line = __LINE__ + 1;
	gort_sleep(3600 * SEC); /* discarded by gort_stop at exit */
	__asm__ volatile("" ::: "memory"); /* not a tail call: keep this frame */
}

__attribute__((noinline)) static void locker_main(void *arg)
{
	(void)arg;
	lock_line = __LINE__ + 1;
	gort_mutex_lock(&mu);
	gort_mutex_unlock(&mu);
	gort_wg_done(&done);
}

__attribute__((noinline)) static void waiter_main(void *arg)
{
	(void)arg;
	wg_line = __LINE__ + 1;
	gort_wg_wait(&gate);
	gort_wg_done(&done);
}

__attribute__((noinline)) static void selector_main(void *arg)
{
	(void)arg;
	int a = 0, b = 0;
	gort_case cases[2] = {{.chan = sel_a, .dir = GORT_RECV, .elem = &a},
			      {.chan = sel_b, .dir = GORT_RECV, .elem = &b}};
	select_line = __LINE__ + 1;
	gort_select(cases, 2, false);
	gort_wg_done(&done);
}

__attribute__((noinline)) static void spinner_main(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&spin_stop, memory_order_acquire))
		__builtin_ia32_pause();
	gort_wg_done(&done);
}

__attribute__((noinline)) static void fresh_main(void *arg)
{
	(void)arg;
	gort_wg_done(&done);
}

/* One line per coroutine, fields split by '|': id, name, state or wait
 * reason (the runtime's words), blocked-at site or "-", spawn site. */
static void expect(gort_id id, const char *name, const char *state, int line, int spawn_line)
{
	char at[256] = "-", spawned[256] = "gort_main";
	if (line)
		snprintf(at, sizeof at, "%s:%d", __FILE__, line);
	if (spawn_line)
		snprintf(spawned, sizeof spawned, "%s:%d", __FILE__, spawn_line);
	printf("expect|%lld|%s|%s|%s|%s\n", (long long)id, name, state, at, spawned);
}

static int real_main(void *arg)
{
	(void)arg;
	recv_ch = gort_chan_make(sizeof(int), 0);
	sel_a = gort_chan_make(sizeof(int), 0);
	sel_b = gort_chan_make(sizeof(int), 0);
	if (!recv_ch || !sel_a || !sel_b)
		return 2;
	gdb_target_main_id = gort_self();
	gort_mutex_lock(&mu);
	gort_wg_add(&gate, 1);
	gort_wg_add(&done, 5);
	int s_recv = __LINE__ + 1;
	gdb_target_recv_id = gort_go_with(receiver_main, NULL, .name = "receiver");
	int s_sleep = __LINE__ + 1;
	gdb_target_sleep_id = gort_go_with(sleeper_main, NULL, .name = "sleeper");
	int s_lock = __LINE__ + 1;
	gort_id lock_id = gort_go_with(locker_main, NULL, .name = "locker");
	int s_wg = __LINE__ + 1;
	gort_id wg_id = gort_go_with(waiter_main, NULL, .name = "waiter");
	int s_sel = __LINE__ + 1;
	gort_id sel_id = gort_go_with(selector_main, NULL, .name = "selector");
	int s_spin = __LINE__ + 1;
	gdb_target_spin_id = gort_go_with(spinner_main, NULL, .name = "spinner");

	/* Wait for the five to park (and the spinner to start). */
	for (int i = 0;; i++) {
		gort_coroutine_counts c;
		if (gort_coroutine_counts_read(&c) == 0 && c.waiting == 5 && c.running == 2)
			break;
		if (i == 10000) {
			fprintf(stderr, "gdb_target: the coroutines did not park\n");
			return 3;
		}
		gort_sleep(SEC / 1000);
	}
	gort_wg_add(&done, 1);
	int s_fresh = __LINE__ + 1;
	gdb_target_fresh_id = gort_go_with(fresh_main, NULL, .name = "fresh");

	expect(gdb_target_main_id, "main", "running", 0, 0);
	expect(gdb_target_recv_id, "receiver", gort_wait_reason_name(GORT_WAIT_CHAN_RECV), recv_line, s_recv);
	expect(gdb_target_sleep_id, "sleeper", gort_wait_reason_name(GORT_WAIT_SLEEP), sleep_line, s_sleep);
	expect(lock_id, "locker", gort_wait_reason_name(GORT_WAIT_MUTEX), lock_line, s_lock);
	expect(wg_id, "waiter", gort_wait_reason_name(GORT_WAIT_WAITGROUP), wg_line, s_wg);
	expect(sel_id, "selector", gort_wait_reason_name(GORT_WAIT_SELECT), select_line, s_sel);
	expect(gdb_target_spin_id, "spinner", "running", 0, s_spin);
	expect(gdb_target_fresh_id, "fresh", "runnable", 0, s_fresh);
	fflush(stdout);

	gdb_target_ready();
	if (abort_at_ready)
		abort(); /* a kernel core dump of this moment */

	int v = 42;
	gort_chan_send(recv_ch, &v);
	gort_mutex_unlock(&mu);
	gort_wg_done(&gate);
	gort_chan_send(sel_b, &v);
	atomic_store_explicit(&spin_stop, true, memory_order_release);
	gort_wg_wait(&done);
	gort_chan_release(recv_ch);
	gort_chan_release(sel_a);
	gort_chan_release(sel_b);
	printf("gdb_target: done\n");
	return 0;
}

int main(int argc, char **argv)
{
	abort_at_ready = argc > 1 && strcmp(argv[1], "abort") == 0;
	gort_config cfg = {.procs = 2};
	return gort_main_cfg(&cfg, real_main, NULL);
}
