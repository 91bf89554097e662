/*
 * run.c: run one command to completion and capture what it prints, for
 * the operator tools (-init, -check) that work before the event loop
 * exists. No shell: argv is executed as given (PATH lookup). stdout and
 * stderr go to one buffer, of which the first MiB is kept; stdin is the
 * given text or /dev/null. A command that outlives its timeout is killed (its whole process group). It is
 * started the way every child is (child_exec: its own process group,
 * default signals, no inherited fds).
 */
#define _GNU_SOURCE
#include "run.h"
#include "child.h"
#include "clock.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_OUTPUT_CAP (1 << 20)   /* bytes of output kept; the rest is read and dropped */

static void
append(struct run_result *r, const char *buf, size_t n)
{
	if (r->len + n > RUN_OUTPUT_CAP)
		n = r->len < RUN_OUTPUT_CAP ? RUN_OUTPUT_CAP - r->len : 0;
	if (n == 0 && r->out)
		return;
	r->out = xreallocarray(r->out, r->len + n + 1, 1);
	memcpy(r->out + r->len, buf, n);
	r->len += n;
	r->out[r->len] = '\0';
}

/* Feeds stdin and drains the output until both pipes are done or the
 * deadline passes; returns 0, or -1 on timeout. */
static int
pump(int *inp, int *outp, const char *in, size_t inlen, double deadline,
    struct run_result *r)
{
	size_t off = 0;
	char buf[4096];
	int in_w = *inp, out_r = *outp, rc = 0;

	while (out_r >= 0 || in_w >= 0) {
		struct pollfd p[2];
		int n = 0, ms = (int)((deadline - clock_now()) * 1000);

		if (ms <= 0) {
			rc = -1;
			break;
		}
		if (out_r >= 0)
			p[n++] = (struct pollfd){ .fd = out_r, .events = POLLIN };
		if (in_w >= 0)
			p[n++] = (struct pollfd){ .fd = in_w, .events = POLLOUT };
		if (poll(p, n, ms) < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == out_r) {
				ssize_t k = read(out_r, buf, sizeof buf);
				if (k > 0) {
					append(r, buf, (size_t)k);
				} else if (k == 0 || errno != EINTR) {
					close(out_r);
					out_r = -1;
				}
			} else {
				ssize_t k = write(in_w, in + off, inlen - off);
				if (k > 0)
					off += (size_t)k;
				if ((k < 0 && errno != EINTR && errno != EAGAIN) || off >= inlen) {
					close(in_w);
					in_w = -1;
				}
			}
		}
	}
	*inp = in_w;
	*outp = out_r;
	return rc;
}

int
run_command(char *const argv[], const char *in, size_t inlen, double timeout,
    struct run_result *r)
{
	int out[2], inp[2] = { -1, -1 }, st = 0;
	pid_t pid;
	double deadline = clock_now() + timeout;

	memset(r, 0, sizeof *r);
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (in && pipe2(inp, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	/* started as every child is (child-exec.c); stdout and stderr together */
	pid = child_exec(argv, inp[0], out[1], out[1]);
	close(out[1]);
	if (in)
		close(inp[0]);
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		if (in)
			close(inp[1]);
		errno = e;
		return -1;
	}
	if (in)
		fcntl(inp[1], F_SETFL, O_NONBLOCK);
	if (pump(&inp[1], &out[0], in, inlen, deadline, r) < 0) {
		r->timed_out = 1;
		kill(-pid, SIGKILL);
	}
	/* pump closed what it finished; after a timeout close the rest */
	if (out[0] >= 0)
		close(out[0]);
	if (inp[1] >= 0)
		close(inp[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st)) {
		r->signo = WTERMSIG(st);
		r->status = 128 + r->signo;
	} else {
		r->status = WEXITSTATUS(st);
	}
	if (!r->out)
		append(r, "", 0);
	return 0;
}
