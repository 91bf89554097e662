/*
 * fs.h: the file system work of the daemon itself (fs.c): listing a
 * directory with the type of each entry, and the private runtime
 * directories that are removed at exit.
 */
#ifndef LNG_FS_H
#define LNG_FS_H

#include <dirent.h>

/* One entry of a listed directory. */
typedef void fs_entry_fn(const char *name, int isdir, void *ud);

/* 1 if entry de of the open directory dirfd is a directory (a symlink to
 * one is not), asking the file system only when readdir did not say. */
int  fs_entry_isdir(int dirfd, const struct dirent *de);
/* Calls fn for every entry of path ("." and ".." left out) when all is
 * set, else for every subdirectory, in readdir order. 0, or -1 with errno. */
int  fs_list(const char *path, int all, fs_entry_fn *fn, void *ud);
/* Makes path a private (0700) directory of ours (an existing one must be
 * ours and private) and remembers it for fs_rundir_cleanup. 0; -1 with
 * errno; -2 when it exists but is not a private directory of ours. */
int  fs_rundir(const char *path);
/* Removes every directory fs_rundir made, with the files (sockets) in it. */
void fs_rundir_cleanup(void);

#endif
