/*
 * xmalloc.h: allocation that does not fail. Out of memory, the daemon logs
 * one Error line and exits (log.c's fatal): no caller checks for NULL.
 * log.c itself, below this file, allocates on its own.
 */
#ifndef LNG_XMALLOC_H
#define LNG_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
int   xasprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
