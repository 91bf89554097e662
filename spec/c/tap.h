/* tap.h: the tiny TAP emitter shared by the C unit tests. */
#ifndef LNG_TAP_H
#define LNG_TAP_H
#include <stdio.h>
#include <stdlib.h>
static int tap_n, tap_failed;
#define ok(cond, ...) do { tap_n++; if (cond) { printf("ok %d - ", tap_n); } \
	else { tap_failed++; printf("not ok %d - ", tap_n); } printf(__VA_ARGS__); printf("\n"); fflush(stdout); } while (0)
#define tap_done() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)
#endif
