/*
 * fs.c: the file system work the daemon does itself: directory listings
 * for the watch layer and core.readdir, and the runtime directories (the
 * ssh control sockets' home) that are removed again at exit. Writing files
 * is safefile.c's job; default.direct's file operations are fsops.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "xmalloc.h"

/* Tells whether entry de of the directory dirfd is a directory. */
int
fs_entry_isdir(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/* Lists path: every entry (all) or every subdirectory. */
int
fs_list(const char *path, int all, fs_entry_fn *fn, void *ud)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		int isdir;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* a file's type is asked only when the file is wanted */
		if (!all && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		isdir = fs_entry_isdir(dirfd(d), de);
		if (all || isdir)
			fn(de->d_name, isdir, ud);
	}
	closedir(d);
	return 0;
}

/* ---- runtime directories ---- */

static char  **rundirs;
static size_t  nrundirs, caprundirs;

/* Removes every entry of directory path (not below: a runtime directory
 * holds sockets and files only). */
static void
empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* Makes (or takes) a private runtime directory, removed at exit. One that
 * exists already and is not this process's is emptied: named for a pid,
 * it is left by an earlier process of that pid that was killed (a stale
 * ssh control socket in it would pass for a live master's). */
int
fs_rundir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -2;
	for (size_t i = 0; i < nrundirs; i++)
		if (!strcmp(rundirs[i], path))
			return 0;
	empty_dir(path);
	if (nrundirs == caprundirs) {
		caprundirs = caprundirs ? caprundirs * 2 : 4;
		rundirs = xreallocarray(rundirs, caprundirs, sizeof(*rundirs));
	}
	rundirs[nrundirs++] = xstrdup(path);
	return 0;
}

/* Removes every runtime directory fs_rundir made. */
void
fs_rundir_cleanup(void)
{
	for (size_t i = 0; i < nrundirs; i++) {
		empty_dir(rundirs[i]);
		rmdir(rundirs[i]);
		free(rundirs[i]);
	}
	free(rundirs);
	rundirs = NULL;
	nrundirs = caprundirs = 0;
}
