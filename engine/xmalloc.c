/*
 * xmalloc.c: malloc, calloc, realloc, strdup and asprintf that never
 * return NULL: running out of memory ends the daemon with one Error line
 * (fatal, log.c), which is all a daemon can do then.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

/* Allocates size bytes (at least one). */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		fatal("out of memory (%zu bytes)", size);
	return p;
}

/* Allocates n zeroed elements of size bytes. */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* Resizes p to n elements of size bytes; n * size must not overflow. */
void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > (size_t)-1 / size)
		fatal("allocation of %zu x %zu bytes overflows", n, size);
	if (!(q = realloc(p, n && size ? n * size : 1)))
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return q;
}

/* Copies s. */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		fatal("out of memory (a string of %zu bytes)", strlen(s) + 1);
	return p;
}

/* Formats into a new string (*out); returns its length. */
int
xasprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(out, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory (formatting a string)");
	return n;
}
