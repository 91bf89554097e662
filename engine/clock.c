/*
 * clock.c: the monotonic clock and its conversion to a timespec, for the
 * loop's timers, child.c's deadlines and run.c's timeouts.
 */
#define _GNU_SOURCE
#include <time.h>

#include "clock.h"

/* Returns the monotonic clock in seconds. */
double
clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Converts monotonic seconds (>= 0) to an absolute timer's timespec. */
struct timespec
clock_timespec(double t)
{
	struct timespec ts;

	/* Converting a huge double (or inf) to time_t is undefined, and
	 * 30 years is "never" enough. */
	if (t > 1e9)
		t = 1e9;
	if (!(t >= 0))
		t = 0;                          /* NaN or negative: at once */
	ts.tv_sec = (time_t)t;                  /* t >= 0: truncation is floor */
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999)
		ts.tv_nsec = 999999999;
	if (ts.tv_sec == 0 && ts.tv_nsec == 0)
		ts.tv_nsec = 1;
	return ts;
}
