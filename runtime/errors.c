/*
 * errors.c — gort_strerror: one table for every code gort returns.
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
	default:
		return "";
	}
}
