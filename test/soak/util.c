/*
 * util.c — what every part of the soak uses (soak.h says what each is):
 * the tallies and the seed, the random streams, failure reports,
 * spawning workers, contexts with the soak's object count, cancellers,
 * panic points and the protected regions that recover them, and the
 * process's figures from /proc (RSS, descriptors, threads, memory).
 */
#include "soak.h"

#include <dirent.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct soak_tally soak_t;
uint64_t soak_seed;
int soak_procs;
int64_t soak_seconds;
int soak_panic_token;
const struct soak_mix *soak_current_mix;

soak_rng soak_stream(int round, int kind, uint64_t index)
{
	uint64_t a = soak_mix64(soak_seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(round + 1));
	uint64_t b = soak_mix64(((uint64_t)kind << 56) ^ index ^ 0x5eed5eed5eedULL);
	return (soak_rng){a ^ b};
}

void soak_print_mix(FILE *f, const struct soak_mix *m)
{
	fprintf(f,
		"chan groups %d (senders <= %d, receivers <= %d), spawners %d (burst <= %d, stack "
		"%zu K), ctx %d, mutex %d, rwmutex %d, semaphore %d (weight %d), errgroup %d, "
		"panic %d (panic %d%%), io clients %d (msg <= %d), syscall %d, timeouts <= %lld us",
		m->count[K_CHAN], m->senders_max, m->receivers_max, m->count[K_SPAWN], m->burst_max,
		m->burst_stack / 1024, m->count[K_CTX], m->count[K_MUTEX], m->count[K_RW],
		m->count[K_SEM], m->sem_weight, m->count[K_GROUP], m->count[K_PANIC], m->panic_pct,
		m->count[K_IO], m->io_max_msg, m->count[K_SYSCALL],
		(long long)(m->timeout_max / GORT_US));
}

void soak_fail_at(const char *file, int line, const char *fmt, ...)
{
	int n = atomic_fetch_add(&soak_t.failures, 1);
	if (n >= 20)
		return; /* the first ones tell */
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int round = atomic_load(&soak_t.round);
	flockfile(stderr);
	fprintf(stderr, "soak: FAIL [seed %llu, procs %d, round %d] %s:%d: %s\n",
		(unsigned long long)soak_seed, soak_procs, round, file, line, msg);
	if (n == 0) {
		if (soak_current_mix != NULL) {
			fprintf(stderr, "soak: round %d's mix: ", round);
			soak_print_mix(stderr, soak_current_mix);
			fputc('\n', stderr);
		}
		fprintf(stderr, "soak: replay: make soak SOAK_SEED=%llu SOAK_PROCS=%d SOAK_SECONDS=%lld "
				"(SOAK_FROM_ROUND=%d to start at that round)\n",
			(unsigned long long)soak_seed, soak_procs, (long long)soak_seconds, round);
	}
	funlockfile(stderr);
}

struct worker {
	struct soak_round *r;
	void (*fn)(void *);
	void *arg;
};

static void worker_tramp(void *arg)
{
	struct worker w = *(struct worker *)arg;
	free(arg);
	w.fn(w.arg);
	gort_wg_done(&w.r->workers);
}

gort_id soak_go(struct soak_round *r, void (*fn)(void *), void *arg, const char *name,
		size_t stack_size)
{
	gort_id id = gort_go_with(fn, arg, .name = name, .stack_size = stack_size);
	if (id <= 0) {
		SOAK_FAIL("gort_go (%s) returned %lld (%s)", name, (long long)id,
			  gort_strerror((int)id));
		return id;
	}
	atomic_fetch_add(&r->spawned, 1);
	atomic_fetch_add_explicit(&soak_t.spawns, 1, memory_order_relaxed);
	return id;
}

void soak_spawn_worker(struct soak_round *r, void (*fn)(void *), void *arg, const char *name)
{
	struct worker *w = malloc(sizeof *w);
	if (w == NULL) {
		SOAK_FAIL("out of memory");
		return;
	}
	*w = (struct worker){r, fn, arg};
	gort_wg_add(&r->workers, 1);
	if (soak_go(r, worker_tramp, w, name, 0) <= 0) {
		free(w);
		gort_wg_done(&r->workers);
	}
}

gort_ctx *soak_ctx_timeout(gort_ctx *parent, soak_rng *rng, int64_t max)
{
	gort_ctx *c = gort_ctx_with_timeout(parent, rng_range(rng, 0, max));
	if (c == NULL)
		SOAK_FAIL("gort_ctx_with_timeout failed");
	soak_obj(1);
	return c;
}

gort_ctx *soak_ctx_cancel(gort_ctx *parent)
{
	gort_ctx *c = gort_ctx_with_cancel(parent);
	if (c == NULL)
		SOAK_FAIL("gort_ctx_with_cancel failed");
	soak_obj(1);
	return c;
}

void soak_ctx_done(gort_ctx *ctx)
{
	gort_ctx_cancel(ctx);
	gort_ctx_release(ctx);
	soak_obj(-1);
}

static void canceller(void *arg)
{
	struct soak_canceller *c = arg;
	if (c->delay > 0)
		gort_sleep(c->delay);
	else
		gort_yield();
	gort_ctx_cancel(c->ctx);
	gort_wg_done(&c->wg);
}

void soak_cancel_later(struct soak_round *r, struct soak_canceller *c, gort_ctx *ctx, int64_t delay)
{
	*c = (struct soak_canceller){.ctx = ctx, .delay = delay};
	gort_wg_add(&c->wg, 1);
	if (soak_go(r, canceller, c, "canceller", 0) <= 0) {
		gort_ctx_cancel(ctx);
		gort_wg_done(&c->wg);
	}
}

void soak_cancel_join(struct soak_canceller *c)
{
	gort_wg_wait(&c->wg);
}

void soak_maybe_panic(soak_rng *rng, unsigned pct, const char *where)
{
	if (!rng_pct(rng, pct))
		return;
	if (rng_pct(rng, 25))
		gort_panic_value(&soak_panic_token);
	gort_panic("soak panic: %s", where);
}

struct prot {
	void (*fn)(void *);
	void *arg;
	bool recovered;
};

static void prot_recover(void *arg)
{
	struct prot *p = arg;
	const gort_panic_info *i = gort_recover();
	if (i == NULL)
		return;
	p->recovered = true;
	if (i->value != &soak_panic_token && strncmp(i->message, "soak panic", 10) != 0) {
		SOAK_FAIL("an unexpected panic was recovered: %s", i->message);
		gort_panic_print(2, i);
	}
}

static void prot_body(void *arg)
{
	struct prot *p = arg;
	GORT_DEFER(prot_recover, p);
	p->fn(p->arg);
}

int soak_protect(void (*fn)(void *), void *arg)
{
	struct prot p = {fn, arg, false};
	int rc = gort_protect(prot_body, &p, NULL);
	SOAK_CHECK(rc == 0 || rc == GORT_PANICKED, "gort_protect returned %d", rc);
	SOAK_CHECK((rc == GORT_PANICKED) == p.recovered, "gort_protect returned %d, recovered %d",
		   rc, p.recovered);
	if (rc == GORT_PANICKED)
		atomic_fetch_add_explicit(&soak_t.panics, 1, memory_order_relaxed);
	return rc;
}

void soak_spawn_kind(struct soak_round *r, int kind, void (*fn)(void *), const char *name)
{
	for (int i = 0; i < r->mix.count[kind]; i++) {
		struct soak_warg *w = malloc(sizeof *w);
		if (w == NULL) {
			SOAK_FAIL("out of memory");
			return;
		}
		*w = (struct soak_warg){r, soak_stream(r->number, kind, (uint64_t)i)};
		soak_spawn_worker(r, fn, w, name);
	}
}

/* ------------------------------------------------------ process figures */

long soak_rss_kb(void)
{
	malloc_trim(0);
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Where the memory is (SOAK_VERBOSE): the allocator's bytes in use, and
 * the RSS of the heap, of anonymous mappings and of the rest. */
void soak_mem_detail(char *buf, size_t n)
{
	struct mallinfo2 mi = mallinfo2();
	long heap = 0, anon = 0, other = 0, rss;
	char line[512], name[256] = "";
	FILE *f = fopen("/proc/self/smaps", "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && strchr(line, ' ') != NULL) {
			name[0] = '\0';
			sscanf(line, "%*s %*s %*s %*s %*s %255s", name);
		} else if (sscanf(line, "Rss: %ld kB", &rss) == 1) {
			if (strcmp(name, "[heap]") == 0)
				heap += rss;
			else if (name[0] == '\0')
				anon += rss;
			else
				other += rss;
		}
	}
	if (f != NULL)
		fclose(f);
	snprintf(buf, n,
		 "malloc in use %zu kB (mmapped %zu kB), rss heap %ld kB, anon %ld kB, other %ld kB",
		 (mi.uordblks + mi.hblkhd) / 1024, mi.hblkhd / 1024, heap, anon, other);
}

/* Entries of a /proc directory, "." and ".." included; -1 if unreadable. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

int soak_count_tasks(void)
{
	int n = count_entries("/proc/self/task");
	return n < 0 ? -1 : n - 2;
}

int soak_open_fds(void)
{
	return count_entries("/proc/self/fd");
}
