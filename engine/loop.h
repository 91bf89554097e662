/*
 * loop.h: the one epoll loop. It owns every fd the daemon waits on, one
 * timerfd (CLOCK_MONOTONIC) for the runner's next alarm and the timers of
 * other files (loop_timer_set), and a signalfd for TERM, INT, HUP, CHLD, USR1 (those signals are
 * blocked in the daemon; children get them back unblocked).
 */
#ifndef LNG_LOOP_H
#define LNG_LOOP_H

#include <stdint.h>

#define LOOP_READ  1
#define LOOP_WRITE 2

typedef void loop_fd_fn(int fd, int mask, void *ud);   /* mask: LOOP_READ|LOOP_WRITE|hangup as READ */
typedef void loop_signal_fn(int signo, void *ud);
typedef void loop_timer_fn(void *ud);

/* A one-shot timer; the caller owns it (zeroed = not armed). */
struct loop_timer {
	double             at;                 /* monotonic seconds */
	loop_timer_fn     *fn;
	void              *ud;
	int                armed;
	struct loop_timer *next;
};

int    loop_init(loop_signal_fn *on_signal, void *ud); /* 0 ok, -1 errno */
/* Adds or changes fd's interest. mask 0 = keep registered, wait for nothing. */
int    loop_watch_fd(int fd, int mask, loop_fd_fn *fn, void *ud);
void   loop_unwatch_fd(int fd);
/* Next wake-up at monotonic time t (seconds); t < 0 clears it. The timer
 * fires once; the caller re-arms it every cycle. */
void   loop_set_alarm(double t);
/* Calls fn(ud) once, from the loop, at monotonic time at; setting an armed
 * timer again moves it; at < 0 (or NaN) disarms it. */
void   loop_timer_set(struct loop_timer *t, double at, loop_timer_fn *fn, void *ud);
/* Runs one round: waits for fds, the alarm or a signal (at most timeout_ms,
 * -1 = forever) and dispatches. Returns 1 if the alarm fired, 0 otherwise,
 * -1 on error. */
int    loop_once(int timeout_ms);
void   loop_shutdown(void);
/* After a fork (daemonizing): a signalfd of our own process. */
int    loop_reopen_signals(void);

#endif
