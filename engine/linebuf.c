/*
 * linebuf.c: cutting a child's output into lines, carriage-return progress
 * displays included (see linebuf.h). child.c reads its children's stdout
 * and stderr through it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linebuf.h"
#include "xmalloc.h"

/*
 * Splits what is buffered into lines, starting the search for terminators
 * at from (bytes before it were searched already); flush also hands on an
 * unfinished last line.
 */
static void
split(struct linebuf *lb, size_t from, int flush, linebuf_fn *fn, void *ud)
{
	size_t start = 0, pend = (size_t)-1;   /* pend: a '\r' line held back */

	for (size_t i = from; i < lb->len; i++) {
		char ch = lb->buf[i];

		if (ch != '\n' && ch != '\r') {
			lb->after_cr = 0;
			continue;
		}
		if (ch == '\n' && lb->after_cr && i == start) {
			lb->after_cr = 0;               /* the '\n' of "\r\n": a whole line */
			if (pend != (size_t)-1)
				fn(lb->buf + pend, ud);
			pend = (size_t)-1;
			start = i + 1;
			continue;
		}
		lb->after_cr = ch == '\r';
		lb->buf[i] = 0;
		if (ch == '\r') {
			pend = start;                   /* overwrites a held-back one */
			lb->saw_cr = 1;
		} else {
			if (pend != (size_t)-1)
				fn(lb->buf + pend, ud);
			pend = (size_t)-1;
			fn(lb->buf + start, ud);
		}
		start = i + 1;
	}
	if (pend != (size_t)-1)
		fn(lb->buf + pend, ud);
	if (lb->len - start >= LINEBUF_CAP || (flush && start < lb->len)) {
		lb->buf[lb->len] = 0;
		fn(lb->buf + start, ud);
		start = lb->len;
	}
	memmove(lb->buf, lb->buf + start, lb->len - start);
	lb->len -= start;
}

/* Reads fd a bounded number of times, handing on whole lines. */
int
linebuf_read(struct linebuf *lb, int fd, int maxreads, linebuf_fn *fn, void *ud)
{
	if (!lb->buf)
		lb->buf = xmalloc(LINEBUF_CAP + 1);
	for (int i = 0; i < maxreads; i++) {
		size_t before = lb->len;
		/* split always leaves room: len < LINEBUF_CAP here. */
		ssize_t n = read(fd, lb->buf + lb->len, LINEBUF_CAP - lb->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return 1;
		lb->len += (size_t)n;
		split(lb, before, 0, fn, ud);
	}
	return 0;
}

/* Hands on what is left. */
void
linebuf_flush(struct linebuf *lb, linebuf_fn *fn, void *ud)
{
	if (lb->buf)
		split(lb, lb->len, 1, fn, ud);
}

/* Frees the buffer (the state is reset). */
void
linebuf_free(struct linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}
