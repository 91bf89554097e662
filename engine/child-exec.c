/*
 * child-exec.c: how child.c's children are started. posix_spawn with the
 * file actions and attributes every child needs (stdio from the given
 * pipes, every other fd closed, empty signal mask, default dispositions,
 * its own process group), and the "__lng_exec" trampoline: our own
 * executable run in between, which sets PR_SET_PDEATHSIG(SIGKILL) so a
 * child dies with a kill -9'd daemon (posix_spawn cannot run prctl itself).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "xmalloc.h"

extern char **environ;

static char *trampoline;        /* our executable, or NULL: spawn directly */

/* Chooses whether children start through the PDEATHSIG trampoline. */
void
child_set_trampoline(const char *self_exe)
{
	free(trampoline);
	trampoline = self_exe ? xstrdup(self_exe) : NULL;
}

/*
 * The "__lng_exec" entry, run by main() before anything else. argv is
 * { self, "__lng_exec", daemon pid, resolved path, the child's argv... }:
 * the path was looked up by the daemon (so a missing program fails in
 * child_spawn), and the child's own argv[0] is passed on untouched.
 */
int
child_trampoline(int argc, char **argv)
{
	char *end;
	long parent;

	if (argc < 5 || strcmp(argv[1], "__lng_exec") != 0) {
		fprintf(stderr, "lsyncd-ng: __lng_exec: bad arguments\n");
		_exit(127);
	}
	parent = strtol(argv[2], &end, 10);
	if (*end || parent <= 0) {
		fprintf(stderr, "lsyncd-ng: __lng_exec: bad parent pid\n");
		_exit(127);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	/* The daemon may have died before prctl took effect. Comparing with
	 * its pid (rather than with 1) still works when we were re-parented
	 * to a subreaper, or when the daemon itself is pid 1 in a container. */
	if (getppid() != (pid_t)parent)
		_exit(255);
	execv(argv[3], argv + 4);
	fprintf(stderr, "lsyncd-ng: cannot execute %s: %s\n", argv[3], strerror(errno));
	_exit(127);
}

/* Tells whether path is a file we may execute: 0, or -1 with errno. */
static int
runnable(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -1;
	/* access(X_OK) alone passes directories, and anything for root
	 * with one x bit: execve would then fail with EACCES. */
	if (!S_ISREG(sb.st_mode) || access(path, X_OK) < 0) {
		errno = EACCES;
		return -1;
	}
	return 0;
}

/*
 * Finds name through PATH as execvp does, so the trampoline can execv a
 * path that exists; returns a malloc'd path, or NULL with errno ENOENT
 * (nothing found) or EACCES (found, but nothing runnable).
 */
static char *
resolve(const char *name)
{
	const char *dirs = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];
	int denied = 0;

	if (!*name) {
		errno = ENOENT;
		return NULL;
	}
	if (strchr(name, '/'))
		return runnable(name) == 0 ? xstrdup(name) : NULL;
	if (!dirs)
		dirs = "/bin:/usr/bin";         /* execvp's default */
	for (p = dirs; ; p = end + 1) {
		int n;

		end = strchrnul(p, ':');
		/* An empty element means the current directory. */
		n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(end - p), p,
		    end == p ? "" : "/", name);
		if (n > 0 && n < (int)sizeof(buf)) {
			if (runnable(buf) == 0)
				return xstrdup(buf);
			if (errno == EACCES)
				denied = 1;
		}
		if (!*end)
			break;
	}
	errno = denied ? EACCES : ENOENT;
	return NULL;
}

/* Builds the trampoline's argv around argv (see child_trampoline). */
static char **
trampoline_argv(char *const argv[], char *path, char *pidbuf)
{
	size_t n = 0;
	char **av;

	while (argv[n])
		n++;
	av = xcalloc(n + 5, sizeof(*av));
	av[0] = (char *)"lsyncd-ng";
	av[1] = (char *)"__lng_exec";
	av[2] = pidbuf;
	av[3] = path;
	memcpy(av + 4, argv, n * sizeof(*av));
	return av;
}

/* Starts argv with the given stdio fds (in_r -1: /dev/null); pid or -1. */
pid_t
child_exec(char *const argv[], int in_r, int out_w, int err_w)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char *path = NULL, **av = NULL, pidbuf[24];
	pid_t pid = -1;
	int rc;

	if (trampoline) {
		if (!(path = resolve(argv[0])))
			return -1;
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		if (!(av = trampoline_argv(argv, path, pidbuf))) {
			free(path);
			errno = ENOMEM;
			return -1;
		}
	}
	posix_spawn_file_actions_init(&fa);
	if (in_r >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_r, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, err_w, 2);
	/* Our fds are close-on-exec, but a library's (libinotifytools') may
	 * not be: close everything above stderr in the child regardless. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	/* Without these the child inherits our blocked TERM/CHLD/... and our
	 * ignored SIGPIPE, and rsync or ssh would misbehave. */
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	/* Its own process group: child_kill reaches ssh under rsync too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP);
	if (trampoline)
		rc = posix_spawn(&pid, trampoline, &fa, &attr, av, environ);
	else
		rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(av);
	free(path);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

