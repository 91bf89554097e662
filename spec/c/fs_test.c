/* fs_test.c: directory listings with entry types, and the runtime
 * directories: every one made is removed at cleanup (the registry kept only
 * the first 8), with the files in it; one that is not private is refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "tap.h"

static char seen[64][64];
static int nseen, ndirs;

static void
note(const char *name, int isdir, void *ud)
{
	if (nseen < 64)
		snprintf(seen[nseen++], sizeof(seen[0]), "%s%s", name, isdir ? "/" : "");
	ndirs += isdir;
}

static int
saw(const char *what)
{
	for (int i = 0; i < nseen; i++)
		if (!strcmp(seen[i], what))
			return 1;
	return 0;
}

int
main(void)
{
	char tmpl[] = "/tmp/lng-fs.XXXXXX", path[300];
	const char *root = mkdtemp(tmpl);
	struct stat st;
	int gone = 0, rc;

	snprintf(path, sizeof(path), "%s/d", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/f", root);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/l", root);
	rc = symlink("d", path);
	ok(fs_list(root, 1, note, NULL) == 0 && nseen == 3 && saw("d/") && saw("f") && saw("l"),
	    "a listing names every entry, a dir as one, a symlink to a dir not (%d)", nseen);
	nseen = ndirs = 0;
	ok(fs_list(root, 0, note, NULL) == 0 && nseen == 1 && saw("d/"), "or only the subdirectories");
	errno = 0;
	ok(fs_list("/nonexistent/x", 1, note, NULL) < 0 && errno == ENOENT, "a missing dir: -1, ENOENT");

	for (int i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "%s/run%d", root, i);
		rc = fs_rundir(path);
		snprintf(path, sizeof(path), "%s/run%d/sock", root, i);
		fclose(fopen(path, "w"));
	}
	ok(rc == 0, "twelve runtime dirs are made");
	snprintf(path, sizeof(path), "%s/run0", root);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "private (0700)");
	ok(fs_rundir(path) == 0, "taking one of ours again is fine");
	snprintf(path, sizeof(path), "%s/run0/sock", root);
	ok(access(path, F_OK) == 0, "and keeps what is in it");
	/* left by a killed earlier process of the same pid: emptied */
	snprintf(path, sizeof(path), "%s/stale", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/stale/m1", root);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/stale", root);
	rc = fs_rundir(path);
	snprintf(path, sizeof(path), "%s/stale/m1", root);
	ok(rc == 0 && access(path, F_OK) < 0, "one an earlier process left is taken emptied");
	snprintf(path, sizeof(path), "%s/d", root);
	ok(fs_rundir(path) == -2, "a dir others may read is refused");
	fs_rundir_cleanup();
	for (int i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "%s/run%d", root, i);
		gone += access(path, F_OK) < 0;
	}
	ok(gone == 12, "cleanup removes every one of them with its files (%d of 12)", gone);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	rc = system(path);
	return tap_done();
}
