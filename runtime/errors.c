/*
 * errors.c — gort_strerror: one table for every code gort returns, and the
 * wait reasons' names.  The codes gort gives a meaning of its own read as
 * Go says them (a done context's two errors); the rest are the C
 * library's errno descriptions.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rt.h"

const char *gort_strerror(int err)
{
	/* GORT_PANICKED is gort's one positive code: read it before the sign
	 * is dropped, or it would be EPERM's 1 (-EPERM keeps glibc's text) */
	if (err == GORT_PANICKED)
		return "panicked (the panic was recovered)";
	if (err == INT_MIN)
		return "unknown error"; /* -INT_MIN does not exist */
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case ESRCH:
		return "the gort runtime is not running";
	case EDEADLK:
		return "not allowed from a coroutine (it would deadlock)";
	case EALREADY:
		return "the gort runtime is already running";
	case ECANCELED: /* GORT_CANCELED */
		return "context canceled";
	case ETIMEDOUT: /* GORT_DEADLINE_EXCEEDED, and a deadline's timeout */
		return "deadline exceeded";
	default:
		break;
	}
	const char *s = strerrordesc_np(err);
	return s ? s : "unknown error";
}

/* The words gort_dump, the leak check and gort-gdb.py (which reads this
 * table from the debug information) print for each wait reason.  `used`:
 * clang would otherwise fold it into a lookup table of its own and drop
 * the symbol gdb looks for. */
__attribute__((used)) static const char *const wait_reason_names[GORT__WR_COUNT_] = {
	[GORT__WR_NONE] = "",
	[GORT__WR_WAITGROUP] = "waitgroup wait",
	[GORT__WR_CHAN_SEND] = "chan send",
	[GORT__WR_CHAN_RECV] = "chan receive",
	[GORT__WR_CHAN_SEND_NIL] = "chan send (nil chan)",
	[GORT__WR_CHAN_RECV_NIL] = "chan receive (nil chan)",
	[GORT__WR_SELECT] = "select",
	[GORT__WR_SELECT_EMPTY] = "select (no cases)",
	[GORT__WR_SLEEP] = "sleep",
	[GORT__WR_MUTEX] = "sync.Mutex.Lock",
	[GORT__WR_RWMUTEX_R] = "sync.RWMutex.RLock",
	[GORT__WR_RWMUTEX_W] = "sync.RWMutex.Lock",
	[GORT__WR_COND] = "sync.Cond.Wait",
	[GORT__WR_SEMAPHORE] = "semaphore acquire",
	[GORT__WR_IO_READ] = "IO wait (read)",
	[GORT__WR_IO_WRITE] = "IO wait (write)",
};

const char *gort__wait_reason_name(int r)
{
	if (r < 0 || r >= GORT__WR_COUNT_ || !wait_reason_names[r])
		return "";
	return wait_reason_names[r];
}
