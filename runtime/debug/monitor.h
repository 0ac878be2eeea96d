/*
 * monitor.h — the debug tasks sysmon drives (monitor.c), and the debug
 * options the runtime resolved.
 */
#ifndef GORT_RUNTIME_DEBUG_MONITOR_H
#define GORT_RUNTIME_DEBUG_MONITOR_H

#include "debug.h"

extern struct gort__debug_cfg gort__dbg;
extern bool gort__dbg_under_main;

/* At gort_start: install the dump signal's handler (dumpsig).  0. */
int gort__monitor_start(void);
/* At gort_stop: restore the signal's old action; forget the watchdog. */
void gort__monitor_stop(void);
/* sysmon: run what is due at now (trace, watchdog); the next deadline, or
 * 0 if none. */
int64_t gort__monitor_due(int64_t now);
/* sysmon: the dump signal arrived. */
void gort__monitor_signal(void);

/* deadlock.c: forget what the last run saw. */
void gort__deadlock_reset(void);

#endif
