/*
 * clock.h: the daemon's one clock (clock.c). Every time the engine and the
 * runner deal in is CLOCK_MONOTONIC in seconds, as a double; wall-clock
 * time appears only in log lines and the status file.
 */
#ifndef LNG_CLOCK_H
#define LNG_CLOCK_H

#include <time.h>

/* The monotonic clock in seconds (ns resolution). */
double          clock_now(void);
/* Monotonic time t as a timespec for an absolute timer (timerfd_settime
 * with TFD_TIMER_ABSTIME): far-off times are clamped, and time 0 becomes
 * 1 ns, since an all-zero value would disarm the timer instead. */
struct timespec clock_timespec(double t);

#endif
