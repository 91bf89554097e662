/* linebuf_test.c: a stream cut into lines through a real pipe: the three
 * terminators, a progress display's overwritten lines dropped within one
 * read, lines split across reads, an overlong line in pieces, the
 * unfinished last line at EOF. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "linebuf.h"
#include "tap.h"

static char got[64][128];
static size_t gotlen[64];
static int n;

static void
take(const char *line, void *ud)
{
	(void)ud;
	if (n < 64) {
		gotlen[n] = strlen(line);
		snprintf(got[n], sizeof(got[0]), "%s", line);
	}
	n++;
}

/* Writes text into a fresh pipe and reads it all (EOF when closed). */
static int
feed(struct linebuf *lb, int fd[2], const char *text, int close_it)
{
	if (text && write(fd[1], text, strlen(text)) < 0)
		return -1;
	if (close_it)
		close(fd[1]);
	return linebuf_read(lb, fd[0], 16, take, NULL);
}

int
main(void)
{
	struct linebuf lb = { 0 };
	int fd[2], eof;
	static char big[LINEBUF_CAP + 100];

	if (pipe2(fd, O_NONBLOCK) < 0)
		return 1;
	n = 0;
	eof = feed(&lb, fd, "a\nb\r\nc\rd\re\n", 0);
	ok(eof == 0 && n == 4 && !strcmp(got[0], "a") && !strcmp(got[1], "b") &&
	    !strcmp(got[2], "d") && !strcmp(got[3], "e"),
	    "\\n and \\r\\n end lines; of the \\r lines of one read only the newest is handed on (%d)", n);
	ok(lb.saw_cr, "a bare \\r marks the stream as a progress display");

	n = 0;
	feed(&lb, fd, "hal", 0);
	feed(&lb, fd, "f\npart", 0);
	ok(n == 1 && !strcmp(got[0], "half"), "a line split across reads is one line");
	n = 0;
	eof = feed(&lb, fd, NULL, 1);
	ok(eof == 1, "EOF is told");
	linebuf_flush(&lb, take, NULL);
	ok(n == 1 && !strcmp(got[0], "part"), "the unfinished last line comes at the flush");
	linebuf_free(&lb);
	close(fd[0]);

	/* "\r" at the end of one read and "\n" at the start of the next: one line */
	if (pipe2(fd, O_NONBLOCK) < 0)
		return 1;
	n = 0;
	feed(&lb, fd, "x\r", 0);
	feed(&lb, fd, "\ny\n", 0);
	ok(n == 2 && !strcmp(got[0], "x") && !strcmp(got[1], "y"),
	    "a \\r\\n split across reads is one terminator (%d lines)", n);

	fcntl(fd[1], F_SETPIPE_SZ, 1 << 20);   /* the whole line fits the pipe */
	n = 0;
	memset(big, 'L', sizeof(big) - 1);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = 0;
	feed(&lb, fd, big, 1);
	ok(n == 2 && gotlen[0] == LINEBUF_CAP && gotlen[1] == sizeof(big) - 2 - LINEBUF_CAP,
	    "an overlong line comes in pieces (%d: %zu + %zu)", n, gotlen[0], gotlen[1]);
	linebuf_free(&lb);
	close(fd[0]);
	return tap_done();
}
