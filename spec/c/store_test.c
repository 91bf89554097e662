/* store_test.c: the state store (store.c) on a temp tree: key encoding
 * keeps walk order and is unambiguous, the start-up walk finds new,
 * changed and vanished entries (and nothing on a second pass), bounded
 * prefix deletes keep newer generations, prefix renames, a commit that
 * never happened leaves nothing, a damaged file is reported as damaged. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char dir[64], src[128], db[128];
static char seen[64][1400];
static int nseen;

static int
note(void *ud, const char *rel, size_t len, int isdir, int how)
{
	(void)ud;
	if (nseen < 64)
		snprintf(seen[nseen++], 1400, "%c%.*s%s",
		    how == STORE_GONE ? '-' : how == STORE_SAME ? '~' : '+', (int)len, rel, isdir ? "/" : "");
	return 0;
}

static int
saw(const char *what)
{
	for (int i = 0; i < nseen; i++)
		if (!strcmp(seen[i], what))
			return 1;
	return 0;
}

static long
scan(struct store *s)
{
	long n;

	nseen = 0;
	store_begin(s);
	n = store_scan(s, "i", 1, 1, src, note, NULL);
	store_commit(s);
	return n;
}

static void
sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, fmt, arg, arg, arg);
	if (system(cmd) != 0)
		fprintf(stderr, "# failed: %s\n", cmd);
}

static int
count(struct store *s, const char *p)
{
	const void *v;
	size_t vl;
	int n = 0;
	char k[64];

	(void)v; (void)vl;
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof k, "%s%d", p, i);
		if (store_get(s, k, strlen(k), &v, &vl) == 0)
			n++;
	}
	return n;
}

int
main(void)
{
	struct store *s;
	char a[16], b[16], msg[256];
	size_t al, bl;
	int damaged, fd;

	snprintf(dir, sizeof dir, "/tmp/lng-store-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(src, sizeof src, "%s/src", dir);
	snprintf(db, sizeof db, "%s/state.mdb", dir);

	/* "a/b" and a name holding byte 1 must not share a key; "a" then its
	 * subtree then "a-b" (walk order) must be key order */
	al = store_key_path(a, "/a/b", 4);
	bl = store_key_path(b, "/a\001b", 4);
	ok(al != bl || memcmp(a, b, al), "a path and a name with byte 1 have different keys");
	al = store_key_path(a, "/a/x", 4);
	bl = store_key_path(b, "/a-b", 4);
	ok(memcmp(a, b, 4) < 0, "a directory's subtree sorts before its next sibling");
	bl = store_key_path(b, "/a\001b", 4);
	{
		char d[16];
		size_t n = store_decode_path(d, b, bl);
		ok(n == 4 && !memcmp(d, "/a\001b", 4), "decoding gives the name back");
	}

	sh("mkdir -p %s/src/d/e && echo 1 > %s/src/d/f && echo 2 > %s/src/g", dir);
	sh("ln -s target %s/src/l && mkdir %s/src/a-b && echo 3 > %s/src/d/e/h", dir);
	s = store_open(db, &damaged, msg, sizeof msg);
	ok(s != NULL, "store opens: %s", s ? "" : msg);
	ok(scan(s) == 7 && nseen == 7, "first walk: every entry is new (%d)", nseen);
	ok(saw("+/d/") && saw("+/d/e/h") && saw("+/l") && saw("+/a-b/"), "new entries reported by path");
	ok(scan(s) == 0, "second walk: nothing differs");
	sh("echo 22 > %s/src/g; rm -r %s/src/d/e; ln -sf other %s/src/l", dir);
	sh("touch %s/src/new; chmod 700 %s/src/a-b; true %s", dir);
	ok(scan(s) == 6 && saw("~/d/"), "after changes: 6 differ, the parent of the removed dir too (%d)", nseen);
	ok(saw("~/g") && saw("+/l") && saw("+/new") && saw("~/a-b/"),
	    "changed in place (same inode) and new (a symlink made anew) reported as such");
	ok(saw("-/d/e/") && !saw("-/d/e/h"), "a vanished dir reported once, not its content");
	ok(scan(s) == 0, "and then nothing");
	sh("touch -d 2001-01-01 %s/src/g; true %s %s", dir);
	ok(scan(s) == 1 && saw("~/g"), "an mtime set back is seen (ctime moved)");
	/* a directory renamed and another made under its old name: both new,
	 * with all they hold; the old name's entries below are gone */
	sh("mv %s/src/d %s/src/moved && mkdir %s/src/d", dir);
	ok(scan(s) == 4 && saw("+/d/") && saw("+/moved/") && saw("+/moved/f") && saw("-/d/f"),
	    "a dir renamed while stopped: new with its content, a new dir under the old name is new (%d)",
	    nseen);

	/* a path too long for a key: reported at every walk, never stored */
	{
		char deep[600] = "", cmd[1400];
		int i;

		for (i = 0; i < 5; i++)
			strcat(deep, "/ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
		snprintf(cmd, sizeof cmd, "mkdir -p %s/src%s && touch %s/src%s/leaf", dir, deep, dir, deep);
		if (system(cmd) != 0)
			fprintf(stderr, "# mkdir failed\n");
		snprintf(cmd, sizeof cmd, "+%s/leaf", deep);
		scan(s);
		ok(saw(cmd), "a path too long for a key is reported (%d)", nseen);
		scan(s);
		ok(saw(cmd), "and again at the next walk: never taken as unchanged");
		snprintf(cmd, sizeof cmd, "rm -rf %s/src/ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# rm failed\n");
		scan(s);
	}

	/* pending-style records: generation bounded deletes */
	store_begin(s);
	for (int i = 0; i < 10; i++) {
		char k[16], v[16];
		snprintf(k, sizeof k, "p%d", i);
		snprintf(v, sizeof v, "%d:f", i);
		store_put(s, k, strlen(k), v, strlen(v));
	}
	ok(store_del_prefix(s, "p", 1, 1, 4) == 5, "delete up to generation 4: 5 records");
	ok(count(s, "p") == 5, "the 5 newer stay");
	ok(store_rename_prefix(s, "p", 1, "q", 1) == 5 && count(s, "q") == 5 && count(s, "p") == 0,
	    "a prefix renamed");
	store_commit(s);
	store_begin(s);
	store_del_prefix(s, "q", 1, 0, 0);
	store_abort(s);
	store_begin(s);
	ok(count(s, "q") == 5, "an aborted transaction changed nothing");
	store_abort(s);
	store_close(s);

	/* a damaged file */
	fd = open(db, O_WRONLY);
	if (fd >= 0) {
		char junk[8192];
		memset(junk, 0x5a, sizeof junk);
		if (write(fd, junk, sizeof junk) < 0)
			perror("write");
		close(fd);
	}
	s = store_open(db, &damaged, msg, sizeof msg);
	ok(s == NULL && damaged, "a damaged store is refused as damaged (%s)", msg);
	store_close(s);
	sh("rm -rf %s; true %s %s", dir);
	return tap_done();
}
