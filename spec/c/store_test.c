/* store_test.c: the state store (store.c) on a temp tree: key encoding
 * keeps walk order and is unambiguous, the start-up walk finds new,
 * changed and vanished entries (and nothing on a second pass), tells each
 * directory's absolute path before it reads it (the watches), bounded
 * prefix deletes keep newer generations, prefix renames, a commit that
 * never happened leaves nothing, a damaged file is reported as damaged. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char dir[64], src[128], db[128];
static char seen[64][1400];
static int nseen;
static int threads = 1;         /* of the walks scan() does */

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

/* ondir of a walk: notes the directory, and writes a file into dir/d when
 * it is told about it (as if made right after its watch was added) */
static char dirs[16][256];
static int ndirs;

static void
entered(void *ud, const char *abs)
{
	if (ndirs < 16)
		snprintf(dirs[ndirs++], sizeof dirs[0], "%s", abs + strlen(src));
	if (!strcmp(abs + strlen(src), "/d")) {
		char p[256];
		FILE *f;

		snprintf(p, sizeof p, "%s/late", abs);
		if ((f = fopen(p, "w")))
			fclose(f);
	}
	(*(int *)ud)++;
}

static long
scan(struct store *s)
{
	long n;

	nseen = 0;
	store_begin(s);
	struct store_scan_hooks h = { note, NULL, NULL, NULL, threads };

	n = store_scan(s, "i", 1, 1, src, &h);
	store_commit(s);
	return n;
}

/* scan() with at most fds file descriptors open (RLIMIT_NOFILE's soft
 * limit), the limit restored after */
static long
scan_with_fds(struct store *s, rlim_t fds)
{
	struct rlimit was, low;
	long n;

	getrlimit(RLIMIT_NOFILE, &was);
	low = was;
	low.rlim_cur = fds;
	setrlimit(RLIMIT_NOFILE, &low);
	n = scan(s);
	setrlimit(RLIMIT_NOFILE, &was);
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

static int
tally(void *ud, const char *k, size_t kl, const char *v, size_t vl)
{
	(void)k; (void)kl; (void)v; (void)vl;
	++*(int *)ud;
	return 0;
}

/* How many records have keys starting with p. */
static int
under(struct store *s, const char *p)
{
	int n = 0;

	store_each(s, p, strlen(p), NULL, 0, tally, &n);
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

	/* with ondir: every directory's absolute path, the root first, each
	 * before it is read (a file made at that moment is found) */
	{
		int calls = 0;
		long n;

		sh("mkdir -p %s/src/d/e %s/src/d/e2; true %s", dir);
		scan(s);
		nseen = ndirs = 0;
		store_begin(s);
		struct store_scan_hooks h = { note, NULL, entered, &calls, 1 };

		n = store_scan(s, "i", 1, 1, src, &h);
		store_commit(s);
		ok(calls == 6 && ndirs == 6, "ondir: once per directory (%d)", calls);
		ok(!strcmp(dirs[0], "") && !strcmp(dirs[1], "/a-b") && !strcmp(dirs[2], "/d") &&
		    !strcmp(dirs[3], "/d/e") && !strcmp(dirs[4], "/d/e2") && !strcmp(dirs[5], "/moved"),
		    "ondir: absolute paths, the root first, in walk order (%s %s %s %s %s %s)",
		    dirs[0], dirs[1], dirs[2], dirs[3], dirs[4], dirs[5]);
		ok(n == 1 && saw("+/d/late"),
		    "ondir comes before the directory is read: the file made then is found (%ld)", n);
		ok(scan(s) == 1 && saw("~/d/") && scan(s) == 0,
		    "d's own entry was compared before: the next walk sees its new mtime, then nothing");
	}

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

	/* the walk in threads (the root's directories shared out): the same
	 * reports and index as one thread's */
	sh("rm -rf %s/src; mkdir -p %s/src/p1/q %s/src/p2/q", dir);
	sh("mkdir -p %s/src/p3/q %s/src/p4; echo 1 > %s/src/p1/q/f", dir);
	sh("echo 2 > %s/src/p2/q/f; echo 3 > %s/src/p3/f; echo 4 > %s/src/top", dir);
	scan(s);
	threads = 2;
	ok(scan(s) == 0, "threads: an unchanged tree, nothing differs");
	sh("echo 11 > %s/src/p1/q/f; rm -r %s/src/p2/q; echo n > %s/src/p3/new", dir);
	sh("rm -r %s/src/p4; echo file > %s/src/p4; echo 5 > %s/src/top", dir);
	ok(scan(s) == 7 && nseen == 7, "threads: changes in every subtree (%d)", nseen);
	ok(saw("~/p1/q/f") && saw("-/p2/q/") && saw("~/p2/") && saw("+/p3/new") && saw("~/p3/"),
	    "threads: changed, vanished and new entries below the root's directories");
	ok(saw("+/p4") && saw("~/top"), "threads: the root's own entries (a dir become a file is new)");
	ok(scan(s) == 0, "threads: then nothing");
	threads = 1;
	ok(scan(s) == 0, "and one thread agrees: the index was updated");
	sh("rm -rf %s/src/p1 %s/src/p3; mkdir %s/src/p1", dir);
	threads = 2;
	ok(scan(s) == 3 && saw("-/p3/") && (saw("+/p1/") || saw("~/p1/")) && saw("-/p1/q/"),
	    "threads: a directory gone with its content, another emptied (%d)", nseen);
	threads = 1;
	ok(scan(s) == 0, "and one thread agrees again");

	/* a tree under one top directory: the level below it is shared out */
	sh("rm -rf %s/src; mkdir -p %s/src/one/p1/q %s/src/one/p2", dir);
	sh("echo 1 > %s/src/one/p1/q/f; echo 2 > %s/src/one/p2/f; echo 3 > %s/src/one/g", dir);
	threads = 1;
	scan(s);
	threads = 2;
	ok(scan(s) == 0, "one top dir, threads: an unchanged tree, nothing differs");
	sh("echo 11 > %s/src/one/p1/q/f; rm %s/src/one/p2/f; echo n > %s/src/one/new", dir);
	ok(scan(s) == 5 && saw("~/one/p1/q/f") && saw("-/one/p2/f") && saw("~/one/p2/") &&
	    saw("+/one/new") && saw("~/one/"), "one top dir, threads: the changes below it (%d)", nseen);
	ok(scan(s) == 0, "one top dir, threads: then nothing");
	threads = 1;
	ok(scan(s) == 0, "and one thread agrees");

	/* a directory that cannot be opened (here: no file descriptor left
	 * below the second level) keeps its entries in the index as they
	 * were: not reported gone, not dropped */
	{
		int lowest = dup(0);

		close(lowest);
		/* the root and one level below */
		long n = scan_with_fds(s, (rlim_t)lowest + 2);
		ok(n == 0 && !saw("-/one/p1/q/f") && !saw("-/one/p1/q/"),
		    "an unopenable directory's entries are not reported gone (%ld)", n);
		ok(scan(s) == 0, "and are still indexed: nothing differs after");
		/* the same for a directory a thread of the pool walks (the root
		 * and the shared-out level) */
		threads = 2;
		n = scan_with_fds(s, (rlim_t)lowest + 2);
		ok(n == 0 && !saw("-/one/p1/q/f") && !saw("-/one/p2/"),
		    "threads: an unopenable directory's entries are not reported gone (%ld)", n);
		ok(scan(s) == 0, "threads: and are still indexed");
		threads = 1;
		/* the root itself (no file descriptor left at all) */
		n = scan_with_fds(s, (rlim_t)lowest);
		ok(n == 0 && !saw("-/one/") && !saw("-/one/g"),
		    "an unopenable root's entries are not reported gone (%ld)", n);
		ok(scan(s) == 0, "and are still indexed: nothing differs after");
	}

	/* a directory bigger than one getdents64 read (32 KiB): every entry is
	 * listed, not only the first read's (the last one, gone, is seen) */
	sh("rm -rf %s/src; mkdir -p %s/src/big; true %s", dir);
	sh("cd %s/src/big && seq -f 'a-name-long-enough-that-3000-fill-several-reads-%%05g' 1 3000 |"
	    " xargs touch; true %s %s", dir);
	threads = 1;
	scan(s);
	ok(scan(s) == 0, "a directory of 3,000 entries: indexed, then nothing differs");
	sh("cd %s/src/big && rm a-name-long-enough-that-3000-fill-several-reads-03000 "
	    "a-name-long-enough-that-3000-fill-several-reads-00007; true %s %s", dir);
	ok(scan(s) == 3 && saw("-/big/a-name-long-enough-that-3000-fill-several-reads-03000") &&
	    saw("-/big/a-name-long-enough-that-3000-fill-several-reads-00007") && saw("~/big/"),
	    "its first and last entries removed: both seen gone (%d)", nseen);

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
	ok(store_del_upto(s, "p7", 2, 6, 0) == 0 && count(s, "p") == 5,
	    "one record newer than the bound is kept");
	ok(store_del_upto(s, "p7", 2, 7, 'd') == 0 && count(s, "p") == 4 &&
	    store_del_upto(s, "p7", 2, 7, 0) == 0, "deleted at its generation; absent is no error");
	store_put(s, "p7", 2, "7:d", 3);
	ok(store_del_upto(s, "p7", 2, 7, 'd') == 0 && count(s, "p") == 5 &&
	    store_del_upto(s, "p7", 2, 7, 0) == 0 && count(s, "p") == 4,
	    "a record of the kind kept stays; without keepkind it goes");
	store_put(s, "p7", 2, "7:f", 3);
	/* many pages: every other record old, neighbours on both sides */
	store_put(s, "m", 1, "1:f", 3);
	store_put(s, "o", 1, "1:f", 3);
	for (int i = 0; i < 20000; i++) {
		char k[32], v[16];
		snprintf(k, sizeof k, "n/%05d/a-longer-name", i);
		snprintf(v, sizeof v, "%d:f", i % 2 ? 9 : 1);
		store_put(s, k, strlen(k), v, strlen(v));
	}
	ok(store_del_prefix(s, "n/", 2, 1, 5) == 10000 && under(s, "n/") == 10000,
	    "many pages: the 10000 old of 20000 deleted, the new kept");
	ok(store_del_prefix(s, "n/", 2, 0, 0) == 10000 && under(s, "n/") == 0 &&
	    under(s, "m") == 1 && under(s, "o") == 1, "then all, and no neighbour");
	store_del(s, "m", 1);
	store_del(s, "o", 1);
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
