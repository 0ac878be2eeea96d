/*
 * errors.c — gort_strerror: one table for every code gort returns, and the
 * wait reasons' names.  The codes gort gives a meaning of its own read as
 * Go says them (a done context's two errors); the rest are the C
 * library's errno descriptions.
 */
#include <errno.h>
#include <string.h>

#include "rt.h"

const char *gort_strerror(int err)
{
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

const char *gort__wait_reason_name(int r)
{
	switch (r) {
	case GORT__WR_WAITGROUP:
		return "waitgroup wait";
	case GORT__WR_CHAN_SEND:
		return "chan send";
	case GORT__WR_CHAN_RECV:
		return "chan receive";
	case GORT__WR_CHAN_SEND_NIL:
		return "chan send (nil chan)";
	case GORT__WR_CHAN_RECV_NIL:
		return "chan receive (nil chan)";
	case GORT__WR_SELECT:
		return "select";
	case GORT__WR_SELECT_EMPTY:
		return "select (no cases)";
	case GORT__WR_SLEEP:
		return "sleep";
	case GORT__WR_MUTEX:
		return "sync.Mutex.Lock";
	case GORT__WR_RWMUTEX_R:
		return "sync.RWMutex.RLock";
	case GORT__WR_RWMUTEX_W:
		return "sync.RWMutex.Lock";
	case GORT__WR_COND:
		return "sync.Cond.Wait";
	case GORT__WR_SEMAPHORE:
		return "semaphore acquire";
	case GORT__WR_IO_READ:
		return "IO wait (read)";
	case GORT__WR_IO_WRITE:
		return "IO wait (write)";
	default:
		return "";
	}
}
