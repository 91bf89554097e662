/*
 * main.c: lsyncd-ng's entry point. Wires the loop, the children, the watch
 * layer and the Lua runner together, and runs the loop; a reload (HUP)
 * tears everything down and starts again from the same arguments.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "child.h"
#include "daemon.h"
#include "fsops.h"
#include "log.h"
#include "loop.h"
#include "watch.h"

static int    reload_requested;
static int    reload_argc;
static char **reload_argv;

/* Remembers the arguments a reload starts over with. */
void
engine_set_reload_args(int argc, char **argv)
{
	if (reload_argv) {
		for (int i = 0; i < reload_argc; i++)
			free(reload_argv[i]);
		free(reload_argv);
	}
	reload_argc = argc;
	reload_argv = argv;
}

/* Asks the main loop to re-initialize once the current call returns. */
void
engine_request_reload(void)
{
	reload_requested = 1;
}

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

/* Ends the daemon: children are stopped, the pid file is removed. */
void
engine_terminate(int code)
{
	stop_children();
	api_cleanup();
	daemon_remove_pidfile();
	exit(code);
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

int
main(int argc, char **argv)
{
	int reloading = 0;

	if (argc > 2 && !strcmp(argv[1], "__lng_exec"))
		return child_trampoline(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "__lng_fsop"))
		return fsop_main(argc - 2, argv + 2);
	child_set_trampoline("/proc/self/exe");
	for (;;) {
		if (loop_init(on_signal, NULL) < 0)
			fatal("cannot set up the event loop");
		child_init(on_child_exit, on_child_output, NULL);
		reload_requested = 0;
		if (reloading && reload_argv) {
			argc = reload_argc;
			argv = reload_argv;
		}
		if (host_start(argc, argv, reloading) < 0)
			engine_terminate(255);
		while (!reload_requested) {
			double t = host_get_alarm();
			int timeout = -1;

			if (t >= 0 && t <= loop_now())
				timeout = 0;           /* something is due already */
			else
				loop_set_alarm(t);
			if (timeout < 0 && child_pending())
				timeout = 100;         /* an exit waits for its output to end */
			if (loop_once(timeout) < 0)
				fatal("event loop failed");
			/* Exits arrive by pidfd (SIGCHLD without one): only an
			 * exited child waiting out its output needs a look. */
			if (child_pending())
				child_reap();
			host_cycle(loop_now());
		}
		stop_children();               /* ssh masters and the like */
		api_cleanup();
		host_stop();
		watch_shutdown();
		loop_shutdown();
		reloading = 1;
	}
}
