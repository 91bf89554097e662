/*
 * main.c: lsyncd-ng's entry point. Owns all the wiring: the loop's signals,
 * the children's exits and output and the watch layer's events go to the
 * Lua runner from here, and main returns the code core.terminate recorded
 * (the pmain pattern of lua.c).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "child.h"
#include "clock.h"
#include "daemon.h"
#include "fs.h"
#include "fsops.h"
#include "log.h"
#include "loop.h"
#include "watch.h"

/* Stops every child still running: TERM, up to 2 s, then KILL. */
static void
stop_children(void)
{
	if (child_count() == 0)
		return;
	child_kill_all(SIGTERM);
	for (int i = 0; i < 40 && child_count() > 0; i++) {
		usleep(50000);
		child_reap();
	}
	child_kill_all(SIGKILL);
	child_reap();
}

/* The watch layer's events, a batch at a time. */
static void
on_watch_batch(const struct watch_event *evs, size_t n, void *ud)
{
	host_events(evs, n);
}

/* Signals from the loop's signalfd. */
static void
on_signal(int signo, void *ud)
{
	switch (signo) {
	case SIGCHLD: child_reap(); break;
	case SIGTERM: host_signal("TERM"); break;
	case SIGINT:  host_signal("INT"); break;
	case SIGHUP:  host_signal("HUP"); break;
	case SIGUSR1: host_signal("USR1"); break;
	}
}

static void
on_child_exit(pid_t pid, int status, int signo, void *ud)
{
	host_collect(pid, status, signo);
}

static void
on_child_output(pid_t pid, int stream, const char *line, void *ud)
{
	host_child_output(pid, stream, line);
}

/*
 * Runs the runner until it terminates (or a Lua error ends it) and returns
 * the exit code. A reload (HUP) is the runner's own business: it applies
 * the new config in place.
 */
static int
run(int argc, char **argv)
{
	int code;

	if (loop_init(on_signal, NULL) < 0)
		fatal("cannot set up the event loop");
	child_init(on_child_exit, on_child_output, NULL);
	watch_set_handler(on_watch_batch, NULL);
	host_start(argc, argv);
	while ((code = host_exit_code()) < 0) {
		double t = host_get_alarm();
		int timeout = -1;

		if (t >= 0 && t <= clock_now())
			timeout = 0;                   /* something is due already */
		else
			loop_set_alarm(t);
		if (timeout < 0 && child_pending())
			timeout = 100;                 /* an exit waits for its output to end */
		if (loop_once(timeout) < 0)
			fatal("event loop failed");
		/* Exits arrive by pidfd (SIGCHLD without one): only an exited
		 * child waiting out its output needs a look. */
		if (child_pending())
			child_reap();
		host_cycle(clock_now());
	}
	return code;
}

int
main(int argc, char **argv)
{
	int code;

	if (argc > 2 && !strcmp(argv[1], "__lng_exec"))
		return child_trampoline(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "__lng_fsop"))
		return fsop_main(argc - 2, argv + 2);
	child_set_trampoline("/proc/self/exe");
	code = run(argc, argv);
	/* The end: children are stopped, the runtime dirs and the pid file
	 * removed (the Lua state is left to exit, as lsyncd leaves it). */
	stop_children();
	fs_rundir_cleanup();
	daemon_remove_pidfile();
	return code;
}
