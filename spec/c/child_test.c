/* child_test.c: spawning without a shell, stdin through a pipe, output
 * lines, exit statuses and signals, a clean environment for the child, and
 * children that die with a killed daemon (the trampoline). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "loop.h"
#include "tap.h"

static char   out[1 << 16];
static size_t outlen;
static int    errlines, done, status, signo;

static void on_exit_cb(pid_t pid, int st, int sig, void *ud) { done = 1; status = st; signo = sig; }
static void
on_out(pid_t pid, int stream, const char *line, void *ud)
{
	if (stream == 2) {
		errlines++;
		return;
	}
	size_t n = strlen(line);
	if (outlen + n + 1 < sizeof(out)) {
		memcpy(out + outlen, line, n);
		outlen += n;
		out[outlen++] = '\n';
		out[outlen] = 0;
	}
}
static void on_sig(int s, void *ud) { if (s == SIGCHLD) child_reap(); }

/* Runs argv to completion; returns 0 or -1 if it did not start. */
static int
run(char *const argv[], const char *in, size_t inlen)
{
	outlen = 0; out[0] = 0; errlines = 0; done = 0;
	if (child_spawn(argv, in, inlen) < 0)
		return -1;
	for (int i = 0; i < 1000 && !done; i++) {
		loop_once(10);
		child_reap();
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "__lng_exec"))
		return child_trampoline(argc, argv);
	loop_init(on_sig, NULL);
	child_init(on_exit_cb, on_out, NULL);

	char *a1[] = { "sh", "-c", "cat | wc -l; echo oops >&2; exit 3", NULL };
	run(a1, "a\nb\nc\n", 6);
	ok(done && status == 3 && signo == 0, "exit status 3 is reported (got %d)", status);
	ok(atoi(out) == 3, "stdin text reaches the child (wc -l said %s)", out);
	ok(errlines == 1, "stderr lines are reported as stream 2");

	size_t big = 4 << 20;
	char *blob = malloc(big);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)(i % 7 ? 'x' : 0);
	char *a2[] = { "wc", "-c", NULL };
	run(a2, blob, big);
	ok(strtoul(out, NULL, 10) == big, "4 MiB of stdin with NUL bytes arrive whole (%s)", out);
	free(blob);

	char *a3[] = { "sh", "-c", "kill -TERM $$", NULL };
	run(a3, NULL, 0);
	ok(done && signo == SIGTERM, "a child killed by a signal reports the signal (%d)", signo);

	char *a4[] = { "no-such-program-lng", NULL };
	errno = 0;
	ok(child_spawn(a4, NULL, 0) < 0 && errno == ENOENT, "a missing program fails with ENOENT");

	char *hostile = "$(touch pwned) ;|& 'q' \"d\" \\ \n -rf";
	char *a5[] = { "printf", "%s", hostile, NULL };
	run(a5, NULL, 0);
	ok(!strncmp(out, hostile, strlen(hostile)), "argv reaches the child byte for byte, no shell");

	char *a6[] = { "sh", "-c", "ls /proc/self/fd | wc -l; grep SigBlk /proc/self/status", NULL };
	run(a6, NULL, 0);
	ok(atoi(out) <= 4, "the child has only fds 0-2 open (ls saw %d entries)", atoi(out));
	ok(strstr(out, "SigBlk:\t0000000000000000") != NULL, "the child's signal mask is empty");

	/* The trampoline: a sleep started by a process that is then killed
	 * with SIGKILL must die too. */
	int p[2];
	if (pipe(p) < 0)
		return 1;
	pid_t mid = fork();
	if (mid == 0) {
		loop_shutdown();
		loop_init(NULL, NULL);
		child_init(NULL, NULL, NULL);
		child_set_trampoline("/proc/self/exe");
		char *a7[] = { "sleep", "100", NULL };
		pid_t s = child_spawn(a7, NULL, 0);
		if (write(p[1], &s, sizeof(s)) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	pid_t sleeper = -1;
	if (read(p[0], &sleeper, sizeof(sleeper)) != sizeof(sleeper))
		sleeper = -1;
	usleep(200000);
	ok(sleeper > 0 && kill(sleeper, 0) == 0, "the trampoline started the program");
	kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	int gone = 0;
	for (int i = 0; i < 40 && !gone; i++) {
		usleep(50000);
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d", sleeper);
		gone = access(path, F_OK) != 0;
	}
	ok(gone, "the program died with the killed daemon (PR_SET_PDEATHSIG)");
	if (!gone && sleeper > 0)
		kill(sleeper, SIGKILL);
	return tap_done();
}
