/* fsops.h: path operations beneath a root (beneath.c) and default.direct's
 * file operations run as `lsyncd-ng --fsop` (fsops.c). */
#ifndef LNG_FSOPS_H
#define LNG_FSOPS_H
int beneath_opendir(int dfd, const char *rel);   /* fd | -1, errno */
int beneath_parent(const char *root, const char *rel, const char **base);
void beneath_force_walk(int on);                 /* tests: as without openat2 */
int fsop_main(int argc, char **argv);            /* argv: OP ARGS... [-- FALLBACK...] */
#endif
