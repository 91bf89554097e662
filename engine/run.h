/*
 * run.h: run a command to completion, capturing its output (run.c).
 */
#ifndef LNG_RUN_H
#define LNG_RUN_H

#include <stddef.h>

struct run_result {
	char  *out;        /* stdout and stderr together (the first MiB), NUL-terminated; free() it */
	size_t len;
	int    status;     /* exit code, or 128 + signal */
	int    signo;      /* killing signal, 0 if it exited */
	int    timed_out;  /* killed because it outlived the timeout */
};

/* Runs argv (PATH lookup, no shell) with stdin from `in` (NULL: /dev/null),
 * at most `timeout` seconds. Returns 0, or -1 with errno if it could not
 * be started. */
int run_command(char *const argv[], const char *in, size_t inlen, double timeout,
    struct run_result *r);

#endif
