/* beneath_test.c: resolving beneath a root with no symlink on the way,
 * with openat2 and with the O_NOFOLLOW walk used without it: plain
 * directories open, a symlinked component, a file component and ".."
 * out of the root are refused, the last component is only named. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsops.h"
#include "tap.h"

static char root[64];

/* Opens the parent of rel beneath root: fd closed, errno kept, base checked. */
static int
parent(const char *rel, const char *want_base)
{
	const char *base = NULL;
	int fd = beneath_parent(root, rel, &base), e = errno;

	if (fd >= 0) {
		close(fd);
		if (want_base && strcmp(base, want_base))
			return -2;
		return 0;
	}
	errno = e;
	return -1;
}

int
main(void)
{
	char p[256];

	snprintf(root, sizeof root, "/tmp/lng-beneath.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(p, sizeof p, "%s/a", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/a/b", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/file", root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof p, "%s/link", root);
	symlink("a", p);
	for (int walk = 0; walk < 2; walk++) {
		const char *how = walk ? "walk" : "openat2";
		beneath_force_walk(walk);
		ok(parent("a/b/x", "x") == 0, "%s: a/b/x: the parent opens, base x", how);
		ok(parent("x", "x") == 0, "%s: x: the root itself is the parent", how);
		ok(parent("link/b/x", NULL) == -1 && errno == ELOOP,
		    "%s: a symlink on the way is refused (ELOOP)", how);
		ok(parent("link", "link") == 0, "%s: a symlink as the last component is only named", how);
		ok(parent("file/x", NULL) == -1 && errno == ENOTDIR,
		    "%s: a file on the way is refused (ENOTDIR)", how);
		ok(parent("a/../../x", NULL) == -1 && errno == EXDEV,
		    "%s: .. out of the root is refused (EXDEV)", how);
		ok(parent("a/b/..", NULL) == -1 && errno == EINVAL,
		    "%s: .. as the last component is refused (EINVAL)", how);
		ok(parent("missing/x", NULL) == -1 && errno == ENOENT,
		    "%s: a missing parent is ENOENT", how);
	}
	snprintf(p, sizeof p, "rm -rf -- '%s'", root);
	if (system(p) != 0)
		return 1;
	return tap_done();
}
