/*
 * wait.c — the channel, select and sleep calls with a context.
 *
 * One mechanism: the operation becomes a select with one more case, a
 * receive on the context's done channel (closed when it is done).  A
 * context that is done already fails the call before anything is tried;
 * one that can never be done (no done channel) runs the plain operation;
 * one whose done channel cannot be made fails it with -ENOMEM.
 * (gort__select_extra, shared with the deadline variants.)
 */
#include "context.h"

#include "../channel/chan.h"

int gort_select_ctx_at(gort_ctx *ctx, gort_case *cases, size_t n, const char *file, int line)
{
	int err = gort__select_check(cases, n);
	if (!err)
		err = gort__ctx_wait_err(ctx);
	gort_chan *done = NULL;
	if (!err)
		err = gort__ctx_done_for_wait(ctx, &done);
	if (err)
		return err;
	if (!done)
		return gort_select_at(cases, n, false, file, line);
	bool closed_send;
	int r = gort__select_extra(cases, n, done, NULL, &closed_send, gort__select_reason(cases, n),
				   file, line);
	if (closed_send)
		gort__panic_msg("send on closed channel");
	return (size_t)r == n ? gort_ctx_err(ctx) : r;
}

int gort_chan_send_ctx_at(gort_ctx *ctx, gort_chan *c, const void *elem, const char *file, int line)
{
	gort_case cs = {.chan = c, .dir = GORT_SEND, .elem = (void *)elem};
	int r = gort_select_ctx_at(ctx, &cs, 1, file, line);
	return r < 0 ? r : 0;
}

int gort_chan_recv_ctx_at(gort_ctx *ctx, gort_chan *c, void *elem, bool *ok, const char *file,
			  int line)
{
	gort_case cs = {.chan = c, .dir = GORT_RECV, .elem = elem};
	int r = gort_select_ctx_at(ctx, &cs, 1, file, line);
	if (r < 0)
		return r;
	if (ok)
		*ok = cs.ok;
	return 0;
}

int gort_sleep_ctx_at(gort_ctx *ctx, int64_t ns, const char *file, int line)
{
	gort_chan *done = NULL;
	int err = gort__ctx_wait_err(ctx);
	if (!err)
		err = gort__ctx_done_for_wait(ctx, &done);
	if (err)
		return err;
	if (!done)
		return gort_sleep_at(ns, file, line);
	if (ns <= 0)
		return gort_sleep_at(ns, file, line);
	gort_case cs = {.chan = done, .dir = GORT_RECV};
	int r = gort__select_until(&cs, 1, gort__deadline_after(ns), GORT__WR_SLEEP, file, line);
	if (r == -ETIMEDOUT)
		return 0; /* slept the whole time */
	return r < 0 ? r : gort_ctx_err(ctx);
}
