/*
 * fuzz_chan.c — libFuzzer target: channels, select, close and context
 * cancellation checked against a sequential model of Go's semantics.
 *
 * The runtime is started once per process (LLVMFuzzerInitialize; procs
 * from GORT_PROCS, else 2).  Each input runs as one "driver" coroutine
 * that decodes the bytes into a program, does every operation on the real
 * channels and contexts, and predicts its result with a model: per
 * channel a plain struct (buffer queue, closed flag, FIFO queues of the
 * parked senders and receivers, as (helper, case) entries), per context
 * its kind, parent, err, cause and deadline.  The driver only does what
 * cannot block (try_send/try_recv, non-blocking select, close, the
 * _until forms with a past deadline, and the blocking, _until and _ctx
 * forms when the model says a case is ready or the context is done).
 * Blocking is done by helper coroutines: a helper whose operation the
 * model says parks is waited for until gort_coroutine_counts_read shows
 * it parked; a helper whose operation can proceed at once is joined and
 * checked.  So hand-offs to parked peers (unbuffered and full-buffer
 * FIFO), close with parked receivers (zero value, ok=false) and parked
 * senders (the "send on closed channel" panic, recovered in the helper by
 * gort_protect), and cancellation of a parked _ctx call or of a select
 * over a done channel are all predicted exactly.  Where Go leaves a
 * choice (a select with several ready cases; which done channel of a
 * cancelled subtree wakes a select first) the model accepts any legal
 * outcome and follows the one observed.  Panics Go specifies (send on
 * closed, close of closed, close of nil) are expected by the model and
 * recovered; any other difference calls abort() with the op's index.
 * After every op: len and cap of every channel, err and cause of every
 * context, no parked helper woken, and the count of parked coroutines
 * equal to the model's.  At the end every context is cancelled and every
 * channel closed (the model predicts what that does to the parked
 * helpers), the helpers are joined, everything is released, and the
 * number of coroutines must come back to zero.
 *
 * Input encoding (a byte past the end reads as 0):
 *   byte 0      bits 0-1: channels - 1 (1..4); bits 2-3: contexts (0..3)
 *   per channel bits 0-1: capacity (0..3); bits 2-3: element size
 *               (8, 0, 1, 24 bytes); bits 4-6 == 7: a nil channel
 *   per context bits 0-1: kind (with_cancel; with_deadline in the past;
 *               with_deadline 1..4 h ahead (bits 4-5); with_value, key
 *               bit 6); bits 2-3 mod (index+1): parent (0 background,
 *               j: context j-1)
 *   then ops, up to 256, each an op byte (bits 0-2 the op, bits 3-7 "a")
 *   and its argument bytes:
 *     0 send    x: channel x&3, form (x>>2)&7
 *     1 recv    x: channel x&3, form (x>>2)&7, bit 5: elem NULL
 *     2 close   channel a&3
 *     3 select  x: cases 1+(x&3), form (x>>2)&7; then a byte per case:
 *               bit 0 send, bits 1-3 target (0-3 channel, 4-6 the done
 *               channel of context 0-2 (receive), 7 nil)
 *     4,7 spawn a helper: x: kind (x&7)%6 (send, recv, send_ctx,
 *               recv_ctx, select, select_ctx), context (x>>3)&3 (3 or
 *               past the last: NULL); then y: channel y&3, or for the
 *               selects cases 1+(y&3) and a byte per case as above
 *     5 cancel  context a&3 (past the last: NULL); cause a>>2 (0: plain
 *               gort_ctx_cancel, else gort_ctx_cancel_cause(-cause))
 *     6 yield   a&3 times
 *   forms: 0 try / non-blocking select; 1 the blocking call (only if the
 *   model says ready); 2 _until with a past deadline; 3 _until an hour
 *   ahead (only if ready); 4-7 the _ctx call with context form-4 (past the
 *   last: NULL; only if ready or the context is done).
 *
 * Environment: GORT_PROCS (default 2 here); GORT_FUZZ_TRACE=1 prints each
 * op with the model's prediction (to read a crash input);
 * GORT_FUZZ_STATS=1 prints at exit what the inputs exercised (parks,
 * hand-offs, wakes by close and cancel, expected panics);
 * GORT_FUZZ_PER_INPUT=1 runs each input under its own gort_main (start
 * and stop each time: about 700 exec/s against 3,000-5,000 with one
 * runtime for the process, which is the default).
 */
#include <gort.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXCH 4
#define MAXCTX 3
#define MAXCASES 4
#define MAXPARKED 6 /* helpers parked at once */
#define MAXHELPERS 48 /* helpers per input */
#define MAXOPS 256
#define MAXQ (MAXPARKED * MAXCASES)
#define MAXOUT 16
#define MAXESZ 24
#define HOUR (3600 * GORT_SEC)

#define TGT_NIL (-1)
#define TGT_DONE(k) (4 + (k)) /* the done channel of context k */

enum { F_NB, F_BLOCK, F_UNTIL_PAST, F_UNTIL_FAR, F_CTX };
enum { H_SEND, H_RECV, H_SEND_CTX, H_RECV_CTX, H_SEL, H_SEL_CTX };
enum { K_CANCEL, K_PAST, K_FAR, K_VALUE };
enum { HS_FREE, HS_PARKED, HS_COMPLETED };

/* One case as the model sees it. */
struct mcase {
	int tgt;     /* 0..3 channel, TGT_DONE(k), TGT_NIL */
	int dir;     /* GORT_SEND, GORT_RECV */
	int64_t val; /* the value a send sends */
};

/* An outcome the model allows: rc (case index >= 0, or an error), or a
 * panic ("send on closed channel"); for a receive, ok and the value (0:
 * the zero value). */
struct outcome {
	int rc;
	bool panic;
	bool ok;
	int64_t val;
	bool check_val;
};

struct qent {
	int h, ci; /* helper, case index */
};

struct mchan {
	gort_chan *c; /* NULL: a nil channel */
	bool nil;
	size_t cap, esz;
	bool closed;
	int64_t buf[4];
	int head, count;
	struct qent rq[MAXQ], sq[MAXQ];
	int nr, ns;
};

struct mctx {
	gort_ctx *c;
	int kind, parent; /* parent -1: background */
	int err, cause;   /* cancel nodes only */
	bool own_dl;
	int64_t dl;
	const void *key;
	void *val;
};

struct helper {
	/* set by the driver before the spawn */
	int kind, ctx, n;
	struct mcase mc[MAXCASES];
	gort_case cs[MAXCASES];
	gort_ctx *cp;
	unsigned char sbuf[MAXCASES][MAXESZ], rbuf[MAXCASES][MAXESZ];
	/* written by the helper, read after done */
	int rc;
	bool ok, panicked, runtime_error;
	char msg[64];
	_Atomic int done;
	/* the model's */
	int state, spawn_op;
	struct outcome exp[MAXOUT];
	int nexp;
};

static struct st {
	const uint8_t *p;
	size_t n, i;
	int op; /* index of the op being run, for messages */
	int nch, nctx;
	int64_t base; /* coroutines before the program (the driver, ...) */
	struct mchan ch[MAXCH];
	struct mctx cx[MAXCTX];
	struct helper h[MAXHELPERS];
	int nh, nparked;
	int pend[MAXHELPERS]; /* completed by the model, to be joined */
	int npend;
	int64_t seq;
} S;

/* What the inputs exercised (GORT_FUZZ_STATS=1 prints it at exit). */
static struct {
	uint64_t inputs, ops, skipped, parks, handoffs, close_wakes, close_panics, cancel_wakes,
		ctx_done_fails, panics, multi_ready, eagain;
} stats;

static bool tracing; /* GORT_FUZZ_TRACE=1: each op on stderr */
#define TRACE(...)                                                                                 \
	do {                                                                                       \
		if (tracing)                                                                       \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

static int64_t t0;      /* base of the far deadlines (one per process) */
static bool per_input;  /* GORT_FUZZ_PER_INPUT=1: gort_main per input */
static const char keys[2] = {0, 0};

/* ------------------------------------------------------------------ */
/* Failing                                                             */
/* ------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "\nfuzz_chan: MISMATCH at op %d: ", S.op);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	gort_dump_file(stderr, GORT_DUMP_GROUPED | GORT_DUMP_NO_BACKTRACE);
	abort();
}

static uint8_t u8(void)
{
	return S.i < S.n ? S.p[S.i++] : 0;
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static void enc(int64_t v, size_t esz, unsigned char *out)
{
	for (size_t i = 0; i < esz; i++)
		out[i] = (unsigned char)(((uint64_t)v >> (8 * (i % 8))) ^ (i / 8) * 0x5b);
}

/* Received bytes equal to v's encoding (v 0: the zero value)? */
static bool val_is(const unsigned char *got, int64_t v, size_t esz)
{
	unsigned char want[MAXESZ];
	if (v)
		enc(v, esz, want);
	else
		memset(want, 0, sizeof want);
	return memcmp(got, want, esz) == 0;
}

/* ------------------------------------------------------------------ */
/* The context model                                                   */
/* ------------------------------------------------------------------ */

static bool is_cancel_node(int k)
{
	return S.cx[k].kind != K_VALUE;
}

/* The nearest cancel node at or above k, or -1. */
static int m_node(int k)
{
	for (; k >= 0; k = S.cx[k].parent)
		if (is_cancel_node(k))
			return k;
	return -1;
}

static int m_err(int k)
{
	int n = k >= 0 ? m_node(k) : -1;
	return n >= 0 ? S.cx[n].err : 0;
}

static int m_cause(int k)
{
	int n = k >= 0 ? m_node(k) : -1;
	return n >= 0 ? S.cx[n].cause : 0;
}

static bool m_deadline(int k, int64_t *dl)
{
	for (; k >= 0; k = S.cx[k].parent)
		if (is_cancel_node(k) && S.cx[k].own_dl) {
			*dl = S.cx[k].dl;
			return true;
		}
	return false;
}

static void *m_value(int k, const void *key)
{
	for (; k >= 0; k = S.cx[k].parent)
		if (S.cx[k].kind == K_VALUE && S.cx[k].key == key)
			return S.cx[k].val;
	return NULL;
}

static bool is_desc(int j, int k) /* j == k or below it */
{
	for (; j >= 0; j = S.cx[j].parent)
		if (j == k)
			return true;
	return false;
}

static gort_ctx *ctxp(int k)
{
	return k >= 0 && k < S.nctx ? S.cx[k].c : NULL;
}

static void make_ctx(int k, uint8_t b)
{
	struct mctx *m = &S.cx[k];
	m->kind = b & 3;
	m->parent = (int)((b >> 2) & 3) % (k + 1) - 1;
	gort_ctx *parent = m->parent >= 0 ? S.cx[m->parent].c : NULL;
	int pn = m->parent >= 0 ? m_node(m->parent) : -1;
	int64_t cur = 0;
	bool has_cur = m->parent >= 0 && m_deadline(m->parent, &cur);
	switch (m->kind) {
	case K_CANCEL:
		m->c = gort_ctx_with_cancel(parent);
		break;
	case K_PAST:
	case K_FAR:
		m->dl = m->kind == K_PAST ? 1 : t0 + (int64_t)(1 + ((b >> 4) & 3)) * HOUR;
		m->c = gort_ctx_with_deadline(parent, m->dl);
		m->own_dl = !(has_cur && cur <= m->dl); /* the parent's comes first */
		break;
	default:
		m->key = &keys[(b >> 6) & 1];
		m->val = (void *)(uintptr_t)(0x1000 + k);
		m->c = gort_ctx_with_value(parent, m->key, m->val);
		break;
	}
	if (!m->c)
		fail("context %d could not be made", k);
	if (m->kind == K_VALUE)
		return;
	if (pn >= 0 && S.cx[pn].err) { /* done at once, with the parent's err */
		m->err = S.cx[pn].err;
		m->cause = S.cx[pn].cause;
	} else if (m->kind == K_PAST) {
		m->err = m->cause = GORT_DEADLINE_EXCEEDED;
	}
}

/* ------------------------------------------------------------------ */
/* The channel model                                                   */
/* ------------------------------------------------------------------ */

/* The runtime channel of a target (NULL for nil and never-done). */
static gort_chan *tgt_chan(int tgt)
{
	if (tgt >= 0 && tgt < MAXCH)
		return S.ch[tgt].c;
	if (tgt >= TGT_DONE(0) && tgt < TGT_DONE(MAXCTX)) {
		int k = tgt - TGT_DONE(0);
		gort_chan *d = gort_ctx_done(ctxp(k));
		if ((d == NULL) != (m_node(k) < 0))
			fail("context %d: done channel %s, the model says it can%s be done", k,
			     d ? "made" : "NULL", m_node(k) < 0 ? " never" : "");
		return d;
	}
	return NULL;
}

static int64_t buf_pop(struct mchan *m)
{
	int64_t v = m->buf[m->head];
	m->head = (m->head + 1) % (int)m->cap;
	m->count--;
	return v;
}

static void buf_push(struct mchan *m, int64_t v)
{
	m->buf[(m->head + m->count) % (int)m->cap] = v;
	m->count++;
}

/* 0: not ready; 1: ready; 2: ready and panics (send on closed). */
static int case_ready(const struct mcase *mc)
{
	if (mc->tgt == TGT_NIL)
		return 0;
	if (mc->tgt >= TGT_DONE(0)) {
		int k = mc->tgt - TGT_DONE(0);
		return k < S.nctx && m_err(k) != 0;
	}
	const struct mchan *m = &S.ch[mc->tgt];
	if (m->nil)
		return 0;
	if (mc->dir == GORT_SEND)
		return m->closed ? 2 : m->nr > 0 || (size_t)m->count < m->cap;
	return m->ns > 0 || m->count > 0 || m->closed;
}

/* Could anything ever wake this case? */
static bool case_live(const struct mcase *mc)
{
	if (mc->tgt == TGT_NIL)
		return false;
	if (mc->tgt >= TGT_DONE(0)) {
		int k = mc->tgt - TGT_DONE(0);
		return k < S.nctx && m_node(k) >= 0;
	}
	return !S.ch[mc->tgt].nil;
}

static void q_remove_helper(struct qent *q, int *n, int h)
{
	int j = 0;
	for (int i = 0; i < *n; i++)
		if (q[i].h != h)
			q[j++] = q[i];
	*n = j;
}

/* The model completes parked helper h: off every queue, to be joined. */
static void complete(int h, const struct outcome *outs, int nouts)
{
	struct helper *x = &S.h[h];
	if (x->state != HS_PARKED)
		fail("model: completing helper %d that is not parked", h);
	for (int c = 0; c < S.nch; c++) {
		q_remove_helper(S.ch[c].rq, &S.ch[c].nr, h);
		q_remove_helper(S.ch[c].sq, &S.ch[c].ns, h);
	}
	memcpy(x->exp, outs, (size_t)nouts * sizeof *outs);
	x->nexp = nouts;
	x->state = HS_COMPLETED;
	S.nparked--;
	S.pend[S.npend++] = h;
}

/* An actor (the driver, or a helper that did not park) does the ready
 * case mc (ready 1, not a panic): the state changes, any parked peer it
 * meets is completed; returns what the actor gets. */
static struct outcome apply(const struct mcase *mc, int ci)
{
	struct outcome o = {.rc = ci, .ok = true, .check_val = true};
	if (mc->tgt >= TGT_DONE(0)) {
		o.ok = false; /* a closed done channel: no element */
		return o;
	}
	struct mchan *m = &S.ch[mc->tgt];
	stats.handoffs += mc->dir == GORT_SEND ? m->nr > 0 : m->ns > 0;
	if (mc->dir == GORT_SEND) {
		o.check_val = false;
		if (m->nr > 0) {
			struct qent e = m->rq[0];
			struct outcome po = {.rc = e.ci, .ok = true, .val = mc->val, .check_val = true};
			complete(e.h, &po, 1);
		} else {
			buf_push(m, mc->val);
		}
		return o;
	}
	if (m->ns > 0) {
		struct qent e = m->sq[0];
		int64_t sv = S.h[e.h].mc[e.ci].val;
		struct outcome po = {.rc = e.ci};
		if (m->cap == 0) {
			o.val = sv;
		} else {
			o.val = buf_pop(m);
			buf_push(m, sv);
		}
		complete(e.h, &po, 1);
	} else if (m->count > 0) {
		o.val = buf_pop(m);
	} else {
		o.ok = false; /* closed and drained */
		o.val = 0;
	}
	return o;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void rescue(void *arg)
{
	(void)arg;
	(void)gort_recover();
}

static void helper_body(void *arg)
{
	struct helper *x = arg;
	GORT_DEFER(rescue, NULL);
	switch (x->kind) {
	case H_SEND:
		x->rc = gort_chan_send(x->cs[0].chan, x->cs[0].elem);
		break;
	case H_RECV:
		x->rc = gort_chan_recv(x->cs[0].chan, x->cs[0].elem, &x->ok);
		break;
	case H_SEND_CTX:
		x->rc = gort_chan_send_ctx(x->cp, x->cs[0].chan, x->cs[0].elem);
		break;
	case H_RECV_CTX:
		x->rc = gort_chan_recv_ctx(x->cp, x->cs[0].chan, x->cs[0].elem, &x->ok);
		break;
	case H_SEL:
		x->rc = gort_select(x->cs, (size_t)x->n, false);
		break;
	default:
		x->rc = gort_select_ctx(x->cp, x->cs, (size_t)x->n);
		break;
	}
	if ((x->kind == H_SEL || x->kind == H_SEL_CTX) && x->rc >= 0 && x->rc < x->n)
		x->ok = x->cs[x->rc].ok;
}

static void helper_main(void *arg)
{
	struct helper *x = arg;
	gort_panic_info pi;
	x->rc = -9999;
	int r = gort_protect(helper_body, x, &pi);
	if (r == GORT_PANICKED) {
		x->panicked = true;
		x->runtime_error = pi.runtime_error;
		snprintf(x->msg, sizeof x->msg, "%s", pi.message);
	} else if (r != 0) {
		snprintf(x->msg, sizeof x->msg, "gort_protect: %d", r);
		x->panicked = true;
	}
	atomic_store_explicit(&x->done, 1, memory_order_release);
}

/* Wait (polling, bounded) for helper h's coroutine to be done. */
static void wait_done(int h)
{
	struct helper *x = &S.h[h];
	int64_t start = gort_now();
	for (int i = 0; !atomic_load_explicit(&x->done, memory_order_acquire); i++) {
		if (i < 1000)
			gort_yield();
		else
			gort_sleep(20 * GORT_US);
		if (gort_now() - start > 10 * GORT_SEC)
			fail("helper %d (spawned at op %d, kind %d) did not finish, as the model says it "
			     "would",
			     h, x->spawn_op, x->kind);
	}
}

static const char *outcome_str(const struct outcome *o, char *buf, size_t n)
{
	if (o->panic)
		snprintf(buf, n, "panic");
	else
		snprintf(buf, n, "rc %d ok %d val %lld", o->rc, o->ok, (long long)o->val);
	return buf;
}

/* Does a result (rc, ok, panic, received bytes of the chosen case) match
 * outcome o?  esz: the element size of the chosen case's channel. */
static bool matches(const struct outcome *o, int rc, bool ok, bool panicked, const unsigned char *got,
		    size_t esz)
{
	if (o->panic || panicked)
		return o->panic && panicked;
	if (rc != o->rc)
		return false;
	if (!o->check_val)
		return true;
	if (ok != o->ok)
		return false;
	return !got || val_is(got, o->ok ? o->val : 0, esz);
}

static size_t case_esz(const struct mcase *mc)
{
	return mc->tgt >= 0 && mc->tgt < MAXCH ? S.ch[mc->tgt].esz : 0;
}

static void check_panic_msg(const char *who, bool runtime_error, const char *msg, const char *want)
{
	if (!runtime_error || strcmp(msg, want) != 0)
		fail("%s panicked with \"%s\" (runtime_error %d), expected \"%s\"", who, msg,
		     runtime_error, want);
}

/* Join helper h (completed by the model) and check its result. */
static void join_check(int h)
{
	struct helper *x = &S.h[h];
	wait_done(h);
	if (x->panicked)
		check_panic_msg("helper", x->runtime_error, x->msg, "send on closed channel");
	for (int i = 0; i < x->nexp; i++) {
		const struct outcome *o = &x->exp[i];
		int ci = o->panic ? -1 : o->rc;
		const unsigned char *got = ci >= 0 && ci < x->n && x->mc[ci].dir == GORT_RECV ? x->rbuf[ci]
											       : NULL;
		if (matches(o, x->rc, x->ok, x->panicked, got, ci >= 0 && ci < x->n ? case_esz(&x->mc[ci]) : 0))
			goto ok;
	}
	char got_s[96], want_s[96];
	if (x->panicked)
		snprintf(got_s, sizeof got_s, "panic");
	else
		snprintf(got_s, sizeof got_s, "rc %d ok %d", x->rc, x->ok);
	fail("helper %d (spawned at op %d, kind %d) got %s, expected %s%s", h, x->spawn_op, x->kind,
	     got_s, x->nexp ? outcome_str(&x->exp[0], want_s, sizeof want_s) : "?",
	     x->nexp > 1 ? " (or another allowed outcome)" : "");
ok:
	x->state = HS_FREE;
}

static void join_pending(void)
{
	for (int i = 0; i < S.npend; i++)
		join_check(S.pend[i]);
	S.npend = 0;
}

static int64_t waiting_now(void)
{
	gort_coroutine_counts cc;
	if (gort_coroutine_counts_read(&cc))
		fail("gort_coroutine_counts_read failed");
	return cc.waiting;
}

/* Wait until the runtime shows as many parked coroutines as the model. */
static void wait_parked(int h)
{
	int64_t start = gort_now();
	for (int i = 0;; i++) {
		if (atomic_load_explicit(&S.h[h].done, memory_order_acquire))
			fail("helper %d (kind %d) finished (rc %d, panic %d \"%s\"); the model says it parks",
			     h, S.h[h].kind, S.h[h].rc, S.h[h].panicked, S.h[h].msg);
		if (waiting_now() == S.nparked)
			return;
		if (i < 1000)
			gort_yield();
		else
			gort_sleep(20 * GORT_US);
		if (gort_now() - start > 10 * GORT_SEC)
			fail("helper %d did not park: %lld coroutines wait, the model says %d", h,
			     (long long)waiting_now(), S.nparked);
	}
}

/* ------------------------------------------------------------------ */
/* Checks after every op                                               */
/* ------------------------------------------------------------------ */

static void check_all(void)
{
	for (int c = 0; c < S.nch; c++) {
		struct mchan *m = &S.ch[c];
		size_t len = gort_chan_len(m->c), cap = gort_chan_cap(m->c);
		if (len != (size_t)m->count || cap != (m->nil ? 0 : m->cap))
			fail("channel %d: len %zu cap %zu, model %d %zu", c, len, cap, m->count,
			     m->nil ? 0 : m->cap);
	}
	for (int k = 0; k < S.nctx; k++) {
		int e = gort_ctx_err(S.cx[k].c), ca = gort_ctx_cause(S.cx[k].c);
		if (e != m_err(k) || ca != m_cause(k))
			fail("context %d: err %d cause %d, model %d %d", k, e, ca, m_err(k), m_cause(k));
	}
	for (int h = 0; h < S.nh; h++)
		if (S.h[h].state == HS_PARKED && atomic_load_explicit(&S.h[h].done, memory_order_acquire))
			fail("helper %d (spawned at op %d) finished (rc %d, panic %d); the model has it parked",
			     h, S.h[h].spawn_op, S.h[h].rc, S.h[h].panicked);
	int64_t w = waiting_now();
	if (w != S.nparked) {
		/* a woken coroutine is never WAITING again; a parked one may be
		 * caught between its park and its wait record for a moment */
		gort_yield();
		w = waiting_now();
		if (w != S.nparked)
			fail("%lld coroutines wait, the model has %d parked", (long long)w, S.nparked);
	}
}

/* ------------------------------------------------------------------ */
/* Driver ops                                                          */
/* ------------------------------------------------------------------ */

struct dexec {
	int single; /* 1: send/recv forms on cs[0]; 0: select */
	int form, n;
	gort_case cs[MAXCASES];
	gort_ctx *ctx;
	int64_t dl;
	int rc;
	bool ok;
	void (*fn)(gort_chan *);
	gort_chan *arg;
};

static void dexec_body(void *arg)
{
	struct dexec *d = arg;
	GORT_DEFER(rescue, NULL);
	d->rc = -9999;
	if (d->fn) {
		d->fn(d->arg);
		d->rc = 0;
		return;
	}
	gort_case *c = &d->cs[0];
	if (d->single && c->dir == GORT_SEND) {
		switch (d->form) {
		case F_NB:
			d->rc = gort_chan_try_send(c->chan, c->elem);
			break;
		case F_BLOCK:
			d->rc = gort_chan_send(c->chan, c->elem);
			break;
		case F_UNTIL_PAST:
		case F_UNTIL_FAR:
			d->rc = gort_chan_send_until(c->chan, c->elem, d->dl);
			break;
		default:
			d->rc = gort_chan_send_ctx(d->ctx, c->chan, c->elem);
		}
		return;
	}
	if (d->single) {
		switch (d->form) {
		case F_NB:
			d->rc = gort_chan_try_recv(c->chan, c->elem, &d->ok);
			break;
		case F_BLOCK:
			d->rc = gort_chan_recv(c->chan, c->elem, &d->ok);
			break;
		case F_UNTIL_PAST:
		case F_UNTIL_FAR:
			d->rc = gort_chan_recv_until(c->chan, c->elem, &d->ok, d->dl);
			break;
		default:
			d->rc = gort_chan_recv_ctx(d->ctx, c->chan, c->elem, &d->ok);
		}
		return;
	}
	switch (d->form) {
	case F_NB:
	case F_BLOCK:
		d->rc = gort_select(d->cs, (size_t)d->n, d->form == F_NB);
		break;
	case F_UNTIL_PAST:
	case F_UNTIL_FAR:
		d->rc = gort_select_until(d->cs, (size_t)d->n, d->dl);
		break;
	default:
		d->rc = gort_select_ctx(d->ctx, d->cs, (size_t)d->n);
	}
	if (d->rc >= 0 && d->rc < d->n)
		d->ok = d->cs[d->rc].ok;
}

/* Run one driver op over cases mc (n of them; single: a send/recv form). */
static void driver_cases(int single, int form, int n, struct mcase *mc, bool null_elem)
{
	struct dexec d = {.single = single, .form = form < F_CTX ? form : F_CTX, .n = n};
	int ctxk = form >= F_CTX ? form - F_CTX : -1;
	if (ctxk >= S.nctx)
		ctxk = -1;
	d.ctx = ctxp(ctxk);
	d.dl = form == F_UNTIL_PAST ? gort_now() - 1 : gort_now() + HOUR;
	unsigned char sbuf[MAXCASES][MAXESZ], rbuf[MAXCASES][MAXESZ];
	for (int i = 0; i < n; i++) {
		d.cs[i].chan = tgt_chan(mc[i].tgt);
		d.cs[i].dir = mc[i].dir;
		if (mc[i].dir == GORT_SEND) {
			mc[i].val = ++S.seq;
			enc(mc[i].val, MAXESZ, sbuf[i]);
			d.cs[i].elem = sbuf[i];
		} else {
			memset(rbuf[i], 0xAA, MAXESZ);
			d.cs[i].elem = null_elem || mc[i].tgt >= TGT_DONE(0) ? NULL : rbuf[i];
		}
	}
	/* the prediction */
	int ready[MAXCASES], nready = 0, npanic = 0;
	for (int i = 0; i < n; i++) {
		int r = case_ready(&mc[i]);
		if (r)
			ready[nready++] = i;
		npanic += r == 2;
	}
	int cerr = d.form == F_CTX ? m_err(ctxk) : 0;
	TRACE("op %d: driver %s form %d ctx %d:", S.op, single ? "single" : "select", form, ctxk);
	for (int i = 0; i < n; i++)
		TRACE(" %s%d", mc[i].dir == GORT_SEND ? "send" : "recv", mc[i].tgt);
	TRACE(" (ready %d, ctx err %d)\n", nready, cerr);
	if (!cerr && !nready && (d.form == F_BLOCK || d.form == F_UNTIL_FAR || d.form == F_CTX)) {
		stats.skipped++;
		return; /* it would block: not run */
	}
	stats.ctx_done_fails += cerr != 0;
	stats.eagain += !cerr && !nready;
	stats.multi_ready += !cerr && nready > 1;
	gort_panic_info pi;
	int pr = gort_protect(dexec_body, &d, &pi);
	if (pr != 0 && pr != GORT_PANICKED)
		fail("gort_protect: %d", pr);
	if (cerr) {
		if (pr || d.rc != cerr)
			fail("a _ctx call on a done context returned %d%s, expected %d", d.rc,
			     pr ? " (panicked)" : "", cerr);
		return;
	}
	if (!nready) {
		int want = d.form == F_NB ? -EAGAIN : -ETIMEDOUT;
		if (pr || d.rc != want)
			fail("nothing ready: returned %d%s, expected %d", d.rc, pr ? " (panicked)" : "", want);
		return;
	}
	if (pr) {
		stats.panics++;
		if (!npanic)
			fail("panicked (\"%s\") with no send case on a closed channel ready", pi.message);
		check_panic_msg("driver op", pi.runtime_error, pi.message, "send on closed channel");
		return;
	}
	int ci = d.rc;
	TRACE("  -> case %d ok %d\n", ci, d.ok);
	int r = ci >= 0 && ci < n ? case_ready(&mc[ci]) : 0;
	if (r != 1)
		fail("returned %d: case %s", d.rc, r == 2 ? "should have panicked" : "not ready in the model");
	struct outcome o = apply(&mc[ci], ci);
	const unsigned char *got = mc[ci].dir == GORT_RECV && d.cs[ci].elem ? rbuf[ci] : NULL;
	if (!matches(&o, d.rc, d.ok, false, got, case_esz(&mc[ci])))
		fail("case %d: got ok %d (value %s), expected ok %d val %lld", ci, d.ok,
		     got && !val_is(got, o.ok ? o.val : 0, case_esz(&mc[ci])) ? "wrong" : "right", o.ok,
		     (long long)o.val);
	join_pending();
}

static void do_close_fn(gort_chan *c)
{
	gort_chan_close(c);
}

static void driver_close(int c)
{
	struct mchan *m = &S.ch[c];
	struct dexec d = {.fn = do_close_fn, .arg = m->c};
	TRACE("op %d: close %d (nil %d closed %d, %d receivers %d senders parked)\n", S.op, c, m->nil,
	      m->closed, m->nr, m->ns);
	gort_panic_info pi;
	int pr = gort_protect(dexec_body, &d, &pi);
	if (m->nil || m->closed) {
		if (pr != GORT_PANICKED)
			fail("close of a %s channel %d did not panic", m->nil ? "nil" : "closed", c);
		stats.panics++;
		check_panic_msg("close", pi.runtime_error, pi.message,
				m->nil ? "close of nil channel" : "close of closed channel");
		return;
	}
	if (pr)
		fail("close of channel %d panicked: %s", c, pi.message);
	m->closed = true;
	/* receivers first (zero value, ok false), then senders (panic) */
	while (m->nr > 0) {
		struct qent e = m->rq[0];
		struct outcome o = {.rc = e.ci, .ok = false, .check_val = true};
		complete(e.h, &o, 1);
		stats.close_wakes++;
	}
	while (m->ns > 0) {
		struct qent e = m->sq[0];
		struct outcome o = {.panic = true};
		complete(e.h, &o, 1);
		stats.close_panics++;
	}
	join_pending();
}

static void driver_cancel(int k, int cause)
{
	if (k >= S.nctx) {
		gort_ctx_cancel(NULL); /* does nothing */
		return;
	}
	TRACE("op %d: cancel context %d cause %d\n", S.op, k, cause);
	if (cause)
		gort_ctx_cancel_cause(S.cx[k].c, -cause);
	else
		gort_ctx_cancel(S.cx[k].c);
	if (!is_cancel_node(k) || S.cx[k].err)
		return; /* nothing happens */
	bool newly[MAXCTX] = {0};
	for (int j = 0; j < S.nctx; j++)
		if (is_cancel_node(j) && !S.cx[j].err && is_desc(j, k)) {
			S.cx[j].err = GORT_CANCELED;
			S.cx[j].cause = cause ? -cause : GORT_CANCELED;
			newly[j] = true;
		}
	/* every parked helper waiting on a done channel that closed */
	for (int h = 0; h < S.nh; h++) {
		struct helper *x = &S.h[h];
		if (x->state != HS_PARKED)
			continue;
		struct outcome outs[MAXOUT];
		int no = 0;
		for (int i = 0; i < x->n; i++) {
			int t = x->mc[i].tgt;
			if (t >= TGT_DONE(0) && t - TGT_DONE(0) < S.nctx) {
				int nd = m_node(t - TGT_DONE(0));
				if (nd >= 0 && newly[nd])
					outs[no++] = (struct outcome){.rc = i, .ok = false, .check_val = true};
			}
		}
		if ((x->kind == H_SEND_CTX || x->kind == H_RECV_CTX || x->kind == H_SEL_CTX) && x->ctx >= 0) {
			int nd = m_node(x->ctx);
			if (nd >= 0 && newly[nd])
				outs[no++] = (struct outcome){.rc = GORT_CANCELED};
		}
		if (no) {
			complete(h, outs, no);
			stats.cancel_wakes++;
		}
	}
	join_pending();
}

/* Decode a case byte. */
static struct mcase decode_case(uint8_t b)
{
	struct mcase mc = {.dir = b & 1 ? GORT_SEND : GORT_RECV};
	int t = (b >> 1) & 7;
	if (t < 4) {
		mc.tgt = t < S.nch ? t : TGT_NIL;
	} else if (t < 7) {
		mc.tgt = t - 4 < S.nctx ? TGT_DONE(t - 4) : TGT_NIL;
		mc.dir = GORT_RECV;
	} else {
		mc.tgt = TGT_NIL;
	}
	return mc;
}

static void driver_spawn(void)
{
	uint8_t x = u8();
	int kind = (x & 7) % 6, ctxk = (x >> 3) & 3;
	struct helper hh = {.kind = kind, .ctx = ctxk < S.nctx ? ctxk : -1};
	uint8_t y = u8();
	if (kind == H_SEL || kind == H_SEL_CTX) {
		hh.n = 1 + (y & 3);
		for (int i = 0; i < hh.n; i++)
			hh.mc[i] = decode_case(u8());
	} else {
		hh.n = 1;
		hh.mc[0] = (struct mcase){.tgt = (y & 3) < S.nch ? (y & 3) : TGT_NIL,
					  .dir = kind == H_SEND || kind == H_SEND_CTX ? GORT_SEND : GORT_RECV};
	}
	bool has_ctx = kind == H_SEND_CTX || kind == H_RECV_CTX || kind == H_SEL_CTX;
	if (!has_ctx)
		hh.ctx = -1;
	if (S.nh == MAXHELPERS || S.nparked == MAXPARKED)
		return;
	/* the prediction */
	int cerr = has_ctx ? m_err(hh.ctx) : 0;
	int ready[MAXCASES], nready = 0, npanic = 0;
	bool live = has_ctx && hh.ctx >= 0 && m_node(hh.ctx) >= 0;
	for (int i = 0; i < hh.n; i++) {
		int r = case_ready(&hh.mc[i]);
		if (r)
			ready[nready++] = i;
		npanic += r == 2;
		live = live || case_live(&hh.mc[i]);
	}
	TRACE("op %d: spawn kind %d ctx %d:", S.op, hh.kind, hh.ctx);
	for (int i = 0; i < hh.n; i++)
		TRACE(" %s%d", hh.mc[i].dir == GORT_SEND ? "send" : "recv", hh.mc[i].tgt);
	TRACE(" (ready %d, ctx err %d, live %d) as helper %d\n", nready, cerr, live, S.nh);
	if (!cerr && !nready && !live)
		return; /* it would block forever */
	int h = S.nh++;
	struct helper *hp = &S.h[h];
	*hp = hh;
	hp->spawn_op = S.op;
	hp->cp = ctxp(hp->ctx);
	for (int i = 0; i < hp->n; i++) {
		hp->cs[i].chan = tgt_chan(hp->mc[i].tgt);
		hp->cs[i].dir = hp->mc[i].dir;
		if (hp->mc[i].dir == GORT_SEND) {
			hp->mc[i].val = ++S.seq;
			enc(hp->mc[i].val, MAXESZ, hp->sbuf[i]);
			hp->cs[i].elem = hp->sbuf[i];
		} else {
			memset(hp->rbuf[i], 0xAA, MAXESZ);
			hp->cs[i].elem = hp->mc[i].tgt >= TGT_DONE(0) ? NULL : hp->rbuf[i];
		}
	}
	atomic_init(&hp->done, 0);
	hp->state = HS_PARKED; /* for complete(); fixed below */
	if (gort_go_with(helper_main, hp, .name = "fuzz-helper") < 0)
		fail("gort_go failed");
	if (cerr) { /* fails at once */
		struct outcome o = {.rc = cerr};
		S.nparked++;
		complete(h, &o, 1);
		join_pending();
		return;
	}
	stats.multi_ready += nready > 1;
	if (nready) {
		wait_done(h);
		hp->state = HS_FREE;
		if (hp->panicked) {
			if (!npanic)
				fail("helper %d panicked (\"%s\") with no closed send case ready", h, hp->msg);
			check_panic_msg("helper", hp->runtime_error, hp->msg, "send on closed channel");
			return;
		}
		int ci = hp->rc;
		int r = ci >= 0 && ci < hp->n ? case_ready(&hp->mc[ci]) : 0;
		if (r != 1)
			fail("helper %d returned %d: case %s", h, hp->rc,
			     r == 2 ? "should have panicked" : "not ready in the model");
		struct outcome o = apply(&hp->mc[ci], ci);
		const unsigned char *got = hp->mc[ci].dir == GORT_RECV ? hp->rbuf[ci] : NULL;
		if (!matches(&o, ci, hp->ok, false, got, case_esz(&hp->mc[ci])))
			fail("helper %d case %d: got ok %d (value %s), expected ok %d val %lld", h, ci,
			     hp->ok,
			     got && !val_is(got, o.ok ? o.val : 0, case_esz(&hp->mc[ci])) ? "wrong" : "right",
			     o.ok, (long long)o.val);
		join_pending();
		return;
	}
	/* it parks: on every channel case, in case order */
	for (int i = 0; i < hp->n; i++) {
		int t = hp->mc[i].tgt;
		if (t < 0 || t >= MAXCH || S.ch[t].nil)
			continue;
		struct mchan *m = &S.ch[t];
		if (hp->mc[i].dir == GORT_SEND)
			m->sq[m->ns++] = (struct qent){h, i};
		else
			m->rq[m->nr++] = (struct qent){h, i};
	}
	S.nparked++;
	stats.parks++;
	wait_parked(h);
}

/* ------------------------------------------------------------------ */
/* One input                                                           */
/* ------------------------------------------------------------------ */

static void run_program(void)
{
	S.base = gort_num_coroutines();
	uint8_t b0 = u8();
	S.nch = 1 + (b0 & 3);
	S.nctx = (b0 >> 2) & 3;
	static const size_t eszs[4] = {8, 0, 1, 24};
	for (int c = 0; c < S.nch; c++) {
		uint8_t b = u8();
		struct mchan *m = &S.ch[c];
		m->cap = b & 3;
		m->esz = eszs[(b >> 2) & 3];
		m->nil = ((b >> 4) & 7) == 7;
		if (!m->nil && !(m->c = gort_chan_make(m->esz, m->cap)))
			fail("gort_chan_make failed");
	}
	for (int k = 0; k < S.nctx; k++)
		make_ctx(k, u8());
	/* what never changes */
	for (int k = 0; k < S.nctx; k++) {
		int64_t dl = 0, mdl = 0;
		bool has = gort_ctx_deadline(S.cx[k].c, &dl), mhas = m_deadline(k, &mdl);
		if (has != mhas || dl != mdl)
			fail("context %d: deadline %d %lld, model %d %lld", k, has, (long long)dl, mhas,
			     (long long)mdl);
		for (int j = 0; j < 2; j++)
			if (gort_ctx_value(S.cx[k].c, &keys[j]) != m_value(k, &keys[j]))
				fail("context %d: value of key %d", k, j);
	}
	S.op = 0;
	check_all();
	for (S.op = 1; S.i < S.n && S.op <= MAXOPS; S.op++) {
		uint8_t b = u8();
		int a = b >> 3;
		stats.ops++;
		switch (b & 7) {
		case 0:
		case 1: {
			uint8_t x = u8();
			struct mcase mc = {.tgt = (x & 3) < S.nch ? (x & 3) : TGT_NIL,
					   .dir = (b & 7) == 0 ? GORT_SEND : GORT_RECV};
			driver_cases(1, (x >> 2) & 7, 1, &mc, (b & 7) == 1 && ((x >> 5) & 1));
			break;
		}
		case 2:
			if ((a & 3) < S.nch)
				driver_close(a & 3);
			break;
		case 3: {
			uint8_t x = u8();
			int n = 1 + (x & 3);
			struct mcase mc[MAXCASES];
			for (int i = 0; i < n; i++)
				mc[i] = decode_case(u8());
			driver_cases(0, (x >> 2) & 7, n, mc, false);
			break;
		}
		case 4:
		case 7:
			driver_spawn();
			break;
		case 5:
			driver_cancel(a & 3, a >> 2);
			break;
		default:
			for (int i = 0; i < (a & 3); i++)
				gort_yield();
			break;
		}
		check_all();
	}
	/* the end: cancel every context, close every channel */
	S.op = -1;
	for (int k = 0; k < S.nctx; k++)
		driver_cancel(k, 0);
	for (int c = 0; c < S.nch; c++)
		if (!S.ch[c].nil && !S.ch[c].closed)
			driver_close(c);
	check_all();
	if (S.nparked)
		fail("model: %d helpers still parked after the end", S.nparked);
	for (int k = S.nctx; k-- > 0;)
		gort_ctx_release(S.cx[k].c);
	for (int c = 0; c < S.nch; c++)
		gort_chan_release(S.ch[c].c);
	/* every helper has set its flag; let them return */
	int64_t start = gort_now();
	while (gort_num_coroutines() != S.base) {
		gort_yield();
		if (gort_now() - start > 10 * GORT_SEC)
			fail("%lld coroutines left after the end, %lld before",
			     (long long)gort_num_coroutines(), (long long)S.base);
	}
}

struct input {
	const uint8_t *p;
	size_t n;
	gort_wg wg;
};

static void driver(void *arg)
{
	struct input *in = arg;
	memset(&S, 0, sizeof S);
	S.p = in->p;
	S.n = in->n;
	stats.inputs++;
	run_program();
}

static void driver_co(void *arg)
{
	struct input *in = arg;
	driver(in);
	gort_wg_done(&in->wg);
}

/* GORT_FUZZ_PER_INPUT=1: the program is gort_main's function itself. */
static int driver_main(void *arg)
{
	driver(arg);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void print_stats(void)
{
	fprintf(stderr,
		"fuzz_chan stats: %llu inputs, %llu ops (%llu not run: would block); %llu helpers "
		"parked; %llu hand-offs to a parked helper; close woke %llu receivers, %llu senders "
		"(panic); cancel woke %llu; %llu _ctx calls on a done context; %llu panics expected by "
		"the driver; %llu ops with several ready cases; %llu nothing-ready results\n",
		(unsigned long long)stats.inputs, (unsigned long long)stats.ops,
		(unsigned long long)stats.skipped, (unsigned long long)stats.parks,
		(unsigned long long)stats.handoffs, (unsigned long long)stats.close_wakes,
		(unsigned long long)stats.close_panics, (unsigned long long)stats.cancel_wakes,
		(unsigned long long)stats.ctx_done_fails, (unsigned long long)stats.panics,
		(unsigned long long)stats.multi_ready, (unsigned long long)stats.eagain);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tr = getenv("GORT_FUZZ_TRACE");
	tracing = tr && strcmp(tr, "1") == 0;
	const char *st = getenv("GORT_FUZZ_STATS");
	if (st && strcmp(st, "1") == 0)
		atexit(print_stats);
	(void)argc;
	(void)argv;
	setenv("GORT_PROCS", "2", 0);
	const char *e = getenv("GORT_FUZZ_PER_INPUT");
	per_input = e && strcmp(e, "1") == 0;
	t0 = gort_now();
	if (!per_input && gort_start(NULL) != 0) {
		fprintf(stderr, "fuzz_chan: gort_start failed\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {.p = data, .n = size};
	if (per_input) {
		if (gort_main(driver_main, &in) != 0)
			abort();
		return 0;
	}
	gort_wg_add(&in.wg, 1);
	if (gort_go_with(driver_co, &in, .name = "fuzz-driver") < 0)
		abort();
	gort_wg_wait(&in.wg);
	/* the driver has signalled; wait for it to return */
	int64_t start = gort_now();
	while (gort_num_coroutines() != 0) {
		gort_yield();
		if (gort_now() - start > 10 * GORT_SEC) {
			fprintf(stderr, "fuzz_chan: %lld coroutines left after an input\n",
				(long long)gort_num_coroutines());
			abort();
		}
	}
	return 0;
}
