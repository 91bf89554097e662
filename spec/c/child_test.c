/* child_test.c: spawning without a shell, stdin through a pipe, output
 * lines (before the exit report, even with a grandchild holding the pipe),
 * exit statuses and signals, a clean environment for the child (fds, signal
 * mask, process group), exactly one report per child, and children that die
 * with a killed daemon. Everything runs twice: spawned directly and through
 * the "__lng_exec" trampoline (this binary's main dispatches it, as the
 * daemon's does). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "loop.h"
#include "tap.h"

#define MAXREC 64

struct rec {
	pid_t  pid;
	char   out[1 << 17];    /* stdout lines, each followed by '\n' */
	size_t outlen;
	char   err[4096];       /* stderr lines */
	size_t errlen;
	int    lines, exits, status, signo, late_lines;
	size_t linelen[8];
	double exit_at;
};

static struct rec recs[MAXREC];
static int        nrec, spawned, exits_total, unknown_exits;
static const char *mode;

/* Finds the record of pid. */
static struct rec *
rec_of(pid_t pid)
{
	for (int i = 0; i < nrec; i++)
		if (recs[i].pid == pid)
			return &recs[i];
	return NULL;
}

/* Appends a line and its '\n' to buf if it fits. */
static void
append(char *buf, size_t size, size_t *len, const char *line)
{
	size_t n = strlen(line);

	if (*len + n + 2 <= size) {
		memcpy(buf + *len, line, n);
		*len += n;
		buf[(*len)++] = '\n';
		buf[*len] = 0;
	}
}

/* Exit callback: counts reports per child. */
static void
on_exit_cb(pid_t pid, int st, int sig, void *ud)
{
	struct rec *r = rec_of(pid);

	(void)ud;
	exits_total++;
	if (!r) {
		unknown_exits++;
		return;
	}
	r->exits++;
	r->status = st;
	r->signo = sig;
	r->exit_at = clock_now();
}

/* Output callback: keeps the lines, notes any that come after the exit. */
static void
on_out(pid_t pid, int stream, const char *line, void *ud)
{
	struct rec *r = rec_of(pid);

	(void)ud;
	if (!r)
		return;
	if (r->exits)
		r->late_lines++;
	if (stream == 2) {
		append(r->err, sizeof(r->err), &r->errlen, line);
		return;
	}
	if (r->lines < 8)
		r->linelen[r->lines] = strlen(line);
	r->lines++;
	append(r->out, sizeof(r->out), &r->outlen, line);
}

/* The daemon reaps on SIGCHLD as a fallback to the pidfds; so do we. */
static void
on_sig(int s, void *ud)
{
	(void)ud;
	if (s == SIGCHLD)
		child_reap();
}

static double spawn_rest;               /* the rest option of every spawn */

/* Spawns argv and gives it a record; NULL (errno kept) if it did not start. */
static struct rec *
spawn(char *const argv[], const char *in, size_t inlen)
{
	pid_t pid = child_spawn(argv, in, inlen, spawn_rest);
	struct rec *r;

	if (pid < 0 || nrec == MAXREC)
		return NULL;
	spawned++;
	r = &recs[nrec++];
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	return r;
}

/* Runs the loop until r is reported (or limit s pass). */
static void
wait_for(struct rec *r, double limit)
{
	double end = clock_now() + limit;

	while (r && !r->exits && clock_now() < end)
		loop_once(50);
}

/* Runs argv to completion. */
static struct rec *
run(char *const argv[], const char *in, size_t inlen)
{
	struct rec *r = spawn(argv, in, inlen);

	wait_for(r, 10);
	return r;
}

/* Tells whether pid is gone (no such process, or a zombie). */
static int
gone(pid_t pid)
{
	char path[64], buf[256], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

/* Waits up to limit s for pid to be gone. */
static int
wait_gone(pid_t pid, double limit)
{
	double end = clock_now() + limit;

	while (!gone(pid) && clock_now() < end)
		usleep(10000);
	return gone(pid);
}

/* Prints each argument after argv[1] as hex, one per line ("__lng_dump"). */
static int
dump_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		printf("x");
		for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
			printf("%02x", *p);
		printf("\n");
	}
	return 0;
}

/* The tests that run in both modes. */
static void
suite(void)
{
	struct rec *r;
	char want[4096], line[64];
	size_t wl = 0;
	double t0;

	char *a1[] = { "sh", "-c", "cat | wc -l; echo oops >&2; exit 3", NULL };
	r = run(a1, "a\nb\nc\n", 6);
	ok(r && r->exits == 1 && r->status == 3 && r->signo == 0,
	    "%s: exit status 3 is reported once", mode);
	ok(r && atoi(r->out) == 3, "%s: stdin text reaches the child (wc -l said %d)", mode,
	    r ? atoi(r->out) : -1);
	ok(r && !strcmp(r->err, "oops\n"), "%s: stderr lines are reported as stream 2", mode);

	size_t big = 4 << 20;
	char *blob = malloc(big);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)(i % 7 ? 'x' : 0);
	char *a2[] = { "wc", "-c", NULL };
	t0 = clock_now();
	r = spawn(a2, blob, big);
	ok(r && clock_now() - t0 < 0.5, "%s: a 4 MiB stdin does not block the spawn", mode);
	free(blob);                     /* child_spawn keeps its own copy */
	wait_for(r, 10);
	ok(r && strtoul(r->out, NULL, 10) == big, "%s: 4 MiB of stdin with NUL bytes arrive whole (%lu)",
	    mode, r ? strtoul(r->out, NULL, 10) : 0);

	char *a3[] = { "true", NULL };
	blob = calloc(1, 1 << 20);
	r = run(a3, blob, 1 << 20);
	free(blob);
	ok(r && r->exits == 1 && r->status == 0, "%s: a child that never reads its stdin still ends", mode);

	char *a4[] = { "sh", "-c", "kill -TERM $$", NULL };
	r = run(a4, NULL, 0);
	ok(r && r->exits == 1 && r->signo == SIGTERM && r->status == SIGTERM,
	    "%s: a child killed by a signal reports the signal (%d)", mode, r ? r->signo : -1);

	char *a5[] = { "no-such-program-lng", NULL };
	errno = 0;
	ok(child_spawn(a5, NULL, 0, 0) < 0 && errno == ENOENT, "%s: a missing program fails with ENOENT",
	    mode);
	char *a6[] = { "/no/such/dir/prog", NULL };
	errno = 0;
	ok(child_spawn(a6, "x", 1, 0) < 0 && errno == ENOENT, "%s: so does a missing path", mode);
	char *a7[] = { "lng-dir-prog", NULL };
	errno = 0;
	ok(child_spawn(a7, NULL, 0, 0) < 0 && errno == EACCES,
	    "%s: a directory found in PATH fails with EACCES, as with execvp", mode);

	char *hostile[] = { "", " spaced  out ", "new\nline", "$(touch /tmp/lng-pwned)", "`id`",
	    "'single'", "\"double\"", "back\\slash", "-rf", "--", "*", "~", ";|&<>", "\xff\xfe",
	    "tab\there", "%s%n", NULL };
	char *a8[20] = { "/proc/self/exe", "__lng_dump" };
	for (int i = 0; hostile[i]; i++) {
		a8[i + 2] = hostile[i];
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "x");
		for (const unsigned char *p = (const unsigned char *)hostile[i]; *p; p++)
			wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%02x", *p);
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "\n");
	}
	r = run(a8, NULL, 0);
	ok(r && !strcmp(r->out, want), "%s: argv reaches the child byte for byte, no shell", mode);
	ok(access("/tmp/lng-pwned", F_OK) != 0, "%s: nothing in argv was run", mode);

	char *a9[] = { "sh", "-c", "tr '\\0' '\\n' < /proc/$$/cmdline | head -n 1", NULL };
	r = run(a9, NULL, 0);
	ok(r && !strcmp(r->out, "sh\n"), "%s: the child's argv[0] is kept as given", mode);

	/* The glob's own directory fd is closed again by the time [ -e ]
	 * looks, so only fds the shell inherited are listed. */
	char *a10[] = { "sh", "-c", "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo ${f##*/}; done",
	    NULL };
	r = run(a10, NULL, 0);
	ok(r && !strcmp(r->out, "0\n1\n2\n"), "%s: the child has only fds 0-2 open (saw %d lines)",
	    mode, r ? r->lines : -1);

	/* A child given an O_NONBLOCK stdout fails with EAGAIN when we are
	 * slow to read: only our ends of the pipes may be non-blocking. */
	char *a10b[] = { "sh", "-c", "cat /proc/$$/fdinfo/0 /proc/$$/fdinfo/1 /proc/$$/fdinfo/2", NULL };
	r = run(a10b, "in", 2);
	int blocking = 0;
	for (char *f = r ? r->out : NULL; f && (f = strstr(f, "flags:")); f++)
		blocking += (strtoul(f + 6, NULL, 8) & O_NONBLOCK) == 0;
	ok(blocking == 3, "%s: the child's stdin, stdout and stderr are blocking", mode);

	char *a11[] = { "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL };
	r = run(a11, NULL, 0);
	ok(r && strstr(r->out, "SigBlk:\t0000000000000000"), "%s: the child's signal mask is empty",
	    mode);
	/* glibc's posix_spawn leaves its internal signals 32 and 33 ignored;
	 * what matters is that our SIG_IGN for SIGPIPE (and 1-31) is gone. */
	char *ign = r ? strstr(r->out, "SigIgn:\t") : NULL;
	ok(ign && (strtoull(ign + 8, NULL, 16) & 0x7fffffffULL) == 0,
	    "%s: no classic signal (SIGPIPE!) is ignored in the child", mode);

	char *a12[] = { "cut", "-d", " ", "-f", "5", "/proc/self/stat", NULL };
	r = run(a12, NULL, 0);
	ok(r && atoi(r->out) == r->pid, "%s: the child leads its own process group", mode);

	char *a13[] = { "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done", NULL };
	r = run(a13, NULL, 0);
	ok(r && r->lines == 300 && r->late_lines == 0, "%s: all 300 output lines come before the exit",
	    mode);

	char *a14[] = { "printf", "a\\r\\nb\\rc\\n\\nlast", NULL };
	r = run(a14, NULL, 0);
	ok(r && !strcmp(r->out, "a\nb\nc\n\nlast\n"),
	    "%s: \\n, \\r and \\r\\n end lines; a last line without one is kept", mode);

	char *a14b[] = { "printf", "p1\\rp2\\rp3\\rnext\\n", NULL };
	r = run(a14b, NULL, 0);
	ok(r && !strcmp(r->out, "p3\nnext\n"),
	    "%s: of '\\r' lines overwritten within one write only the newest comes", mode);

	/* A progress display (a '\r' line per file, as rsync's progress2) is
	 * read in gulps, not line by line; its newest line and what follows
	 * still come, before the exit. */
	char *a14c[] = { "/proc/self/exe", "__lng_progress", "400", NULL };
	spawn_rest = 0.1;                       /* what the runner asks for rsync */
	r = run(a14c, NULL, 0);
	spawn_rest = 0;
	ok(r && r->lines <= 40 && r->late_lines == 0 && strstr(r->out, "p399\ndone\n") &&
	    !strcmp(r->err, "e0\ne1\n"),
	    "%s: 400 progress lines written 1 ms apart reach the runner in %d callbacks, "
	    "the last one and the line after it included", mode, r ? r->lines : -1);
	/* without the rest asked for, the display is read as it comes */
	r = run(a14c, NULL, 0);
	ok(r && r->lines > 40 && strstr(r->out, "p399\ndone\n"),
	    "%s: without a rest asked for, they come as they are written (%d callbacks)",
	    mode, r ? r->lines : -1);

	char *a15[] = { "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
	r = run(a15, NULL, 0);
	ok(r && r->lines == 2 && r->linelen[0] == 65536 && r->linelen[1] == 100000 - 65536,
	    "%s: a 100000-byte line comes in pieces of at most 64 KiB", mode);

	/* A grandchild that keeps stdout open must not hold the report back. */
	char *a16[] = { "sh", "-c", "sleep 30 & echo started", NULL };
	r = spawn(a16, NULL, 0);
	t0 = clock_now();
	while (r && !r->lines && clock_now() - t0 < 5)
		loop_once(50);
	usleep(100000);
	child_reap();
	ok(r && !r->exits && child_pending() == 1, "%s: the exited child waits for its pipe", mode);
	wait_for(r, 5);
	ok(r && r->exits == 1 && r->exit_at - t0 < 2.0 && r->late_lines == 0 &&
	    !strcmp(r->out, "started\n"),
	    "%s: it is reported after about 1 s anyway (%.2f s), output first", mode,
	    r ? r->exit_at - t0 : -1);
	if (r)
		kill(-r->pid, SIGKILL);         /* the sleep */

	/* child_kill signals the whole group. */
	char *a17[] = { "sh", "-c", "sleep 100 & echo $!; wait", NULL };
	r = spawn(a17, NULL, 0);
	t0 = clock_now();
	while (r && !r->lines && clock_now() - t0 < 5)
		loop_once(50);
	pid_t bg = r ? (pid_t)atoi(r->out) : 0;
	ok(r && bg > 0 && child_kill(r->pid, SIGTERM) == 0, "%s: child_kill signals a child", mode);
	wait_for(r, 5);
	ok(r && r->signo == SIGTERM && bg > 0 && wait_gone(bg, 2),
	    "%s: its whole process group gets the signal", mode);
	if (bg > 0 && !gone(bg))
		kill(bg, SIGKILL);

	/* Many at once: each reported once, with its own output. */
	int first = nrec, good = 0;
	char *a18[] = { "sh", "-c", "echo $$", NULL };
	for (int i = 0; i < 30; i++)
		spawn(a18, i % 2 ? "x" : NULL, 1);
	ok(child_count() == 30, "%s: child_count counts running children (%d)", mode, child_count());
	t0 = clock_now();
	while (child_count() > 0 && clock_now() - t0 < 10)
		loop_once(50);
	for (int i = first; i < nrec; i++) {
		snprintf(line, sizeof(line), "%d\n", (int)recs[i].pid);
		good += recs[i].exits == 1 && !strcmp(recs[i].out, line);
	}
	ok(good == 30, "%s: 30 children at once: each reported once with its own output (%d)", mode,
	    good);

	/* Neither the pidfd nor a later SIGCHLD reports a child twice. */
	for (int i = 0; i < 5; i++) {
		child_reap();
		loop_once(20);
	}
	ok(exits_total == spawned && unknown_exits == 0 && child_count() == 0 && !child_pending(),
	    "%s: one report per spawned child (%d of %d)", mode, exits_total, spawned);
}

/* "__lng_progress N": N progress lines ("\rpI") 1 ms apart on stdout, a
 * line on stderr before and after, then "done". */
static int
progress_lines(int n)
{
	char buf[32];

	if (write(2, "e0\n", 3) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "\rp%d", i);

		if (write(1, buf, (size_t)len) < 0)
			return 1;
		usleep(1000);
	}
	return write(1, "\ndone\n", 6) < 0 || write(2, "e1\n", 3) < 0;
}

/* A spawn through the trampoline of a program that cannot be executed. */
static void
exec_failure(void)
{
	char *argv[] = { "/tmp/lng-noexec.bin", NULL };
	struct rec *r;
	int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	if (fd < 0 || write(fd, "garbage\n", 8) != 8)
		return;
	close(fd);
	child_set_trampoline(NULL);
	errno = 0;
	ok(child_spawn(argv, NULL, 0, 0) < 0 && errno == ENOEXEC,
	    "direct: an unrunnable file fails at once (ENOEXEC)");
	child_set_trampoline("/proc/self/exe");
	r = run(argv, NULL, 0);
	ok(r && r->status == 127 && strstr(r->err, "lsyncd-ng: cannot execute /tmp/lng-noexec.bin"),
	    "trampoline: it exits 127 and says why on stderr");
	unlink(argv[0]);
}

/* A child spawned by a process that is then killed with SIGKILL. */
static void
pdeathsig(void)
{
	pid_t mid, sleeper = -1;
	int p[2];

	if (pipe(p) < 0)
		return;
	if ((mid = fork()) == 0) {
		loop_shutdown();
		loop_init(NULL, NULL);
		child_init(NULL, NULL, NULL);
		child_set_trampoline("/proc/self/exe");
		char *argv[] = { "sleep", "100", NULL };
		pid_t s = child_spawn(argv, NULL, 0, 0);
		if (write(p[1], &s, sizeof(s)) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	if (read(p[0], &sleeper, sizeof(sleeper)) != sizeof(sleeper))
		sleeper = -1;
	close(p[0]);
	close(p[1]);
	usleep(200000);
	ok(sleeper > 0 && !gone(sleeper), "trampoline: the program started");
	kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	ok(sleeper > 0 && wait_gone(sleeper, 1.0),
	    "trampoline: the program died within 1 s of its SIGKILLed parent");
	if (sleeper > 0 && !gone(sleeper))
		kill(sleeper, SIGKILL);
}

/* pid 0 would signal the daemon's own group */
static void
kill_guard(void)
{
	ok(child_kill(0, SIGTERM) < 0 && errno == EINVAL, "child_kill refuses pid 0");
}

/* Counts this process's open fds. */
static int
count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

int
main(int argc, char **argv)
{
	char path[4096];
	int fds0;
	const char *old = getenv("PATH");

	if (argc > 2 && !strcmp(argv[1], "__lng_exec"))
		return child_trampoline(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "__lng_dump"))
		return dump_args(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "__lng_progress"))
		return progress_lines(atoi(argv[2]));
	/* a directory named like a program, early in PATH (a dir of this run's
	 * own: two runs at once must not remove each other's) */
	char dir[] = "/tmp/lng-child-test.XXXXXX", prog[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(prog, sizeof(prog), "%s/lng-dir-prog", dir);
	mkdir(prog, 0755);
	snprintf(path, sizeof(path), "%s:%s", dir, old ? old : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	/* a stray inheritable fd must not reach children */
	dup2(1, 40);

	loop_init(on_sig, NULL);
	child_init(on_exit_cb, on_out, NULL);
	fds0 = count_fds();
	mode = "direct";
	child_set_trampoline(NULL);
	suite();
	nrec = 0;
	mode = "trampoline";
	child_set_trampoline("/proc/self/exe");
	suite();
	nrec = 0;
	exec_failure();
	pdeathsig();
	kill_guard();
	ok(count_fds() == fds0, "no pipe or pidfd is left open in the parent (%d fds, was %d)",
	    count_fds(), fds0);
	child_set_trampoline(NULL);
	close(40);
	rmdir(prog);
	rmdir(dir);
	loop_shutdown();
	return tap_done();
}
