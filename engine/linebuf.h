/*
 * linebuf.h: a child's output stream cut into lines (linebuf.c).
 *
 * '\n', '\r' and "\r\n" all end a line: rsync's progress output rewrites
 * one line with carriage returns. A line ended by a bare '\r' that another
 * line follows in the same read was overwritten on a terminal and is
 * dropped, so of a progress display only the newest line of each read is
 * handed on. A line longer than LINEBUF_CAP is handed on in pieces.
 */
#ifndef LNG_LINEBUF_H
#define LNG_LINEBUF_H

#include <stddef.h>

#define LINEBUF_CAP 65536

struct linebuf {
	char  *buf;             /* the unfinished line (LINEBUF_CAP + 1), made on first read */
	size_t len;
	int    after_cr;        /* the last terminator was '\r': a '\n' right after it is its pair */
	int    saw_cr;          /* a line ended by a bare '\r' was seen: a progress display */
};

/* One line, without its terminator (NUL-terminated; valid during the call). */
typedef void linebuf_fn(const char *line, void *ud);

/* Reads fd (non-blocking) at most maxreads times and hands on every whole
 * line. Returns 1 at EOF or on a read error, 0 when fd has no more now. */
int  linebuf_read(struct linebuf *lb, int fd, int maxreads, linebuf_fn *fn, void *ud);
/* Hands on an unfinished last line (at EOF). */
void linebuf_flush(struct linebuf *lb, linebuf_fn *fn, void *ud);
void linebuf_free(struct linebuf *lb);

#endif
