/* safefile.h: writing files without following symlinks (safefile.c). */
#ifndef LNG_SAFEFILE_H
#define LNG_SAFEFILE_H
#include <stddef.h>
#include <sys/types.h>
int safefile_write(const char *path, const char *text, size_t len, mode_t mode);
int safefile_open(const char *path, int flags, mode_t mode);
#endif
