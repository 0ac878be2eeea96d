/*
 * monitor.h — the runtime's monitor thread (monitor.c).  Today it drives
 * the scheduler trace, the watchdog and the dump signal; the I/O issue's
 * sysmon joins it.
 */
#ifndef GORT_RUNTIME_DEBUG_MONITOR_H
#define GORT_RUNTIME_DEBUG_MONITOR_H

#include "debug.h"

extern struct gort__debug_cfg gort__dbg;
extern bool gort__dbg_under_main;

/* Start the thread if it is not running: 0 or -EAGAIN.  Idempotent. */
int gort__monitor_start(void);
/* Stop and join it (gort_stop, before the Ms go); restores the dump
 * signal's old action; forgets the watchdog. */
void gort__monitor_stop(void);

/* deadlock.c: forget what the last run saw. */
void gort__deadlock_reset(void);

#endif
