/*
 * store_bench.c: LMDB vs SQLite (WAL) as lsyncd-ng's state store (issue 15).
 *
 * One run on N synthetic paths (default 1,000,000 in 1,000 directories),
 * keys as the daemon writes them (a prefix, then the path with '/' as
 * byte 1 so that key order is the order of a sorted depth-first walk) and
 * a 45-byte stat record as value. Measures: insert (one transaction per
 * 10,000 paths, walk order), update under a burst (random paths, one
 * transaction per 1,000 = one per loop cycle), start-up compare (read
 * every record in path order and compare it with a stat record), disk
 * size, and crash behaviour (a child writing big transactions is killed
 * with SIGKILL at a random moment, 20 times; the store is reopened and
 * checked: every transaction is all there or not at all).
 *
 * Build and run (not part of make bench; a one-off, see BENCHMARKS.md):
 *   cc -O2 -o /tmp/store_bench bench/store_bench.c -llmdb -lsqlite3
 *   /tmp/store_bench DIR [N]
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VALSZ 45

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, msg);
	exit(1);
}

/* Key of path number i: "i\0" + "\1d0042\1f0042017" (dirs of N/1000). */
static int
mkkey(char *buf, long i, long per)
{
	return sprintf(buf, "i%c\1d%05ld\1f%08ld", 0, i / per, i) ;
}

static void
mkval(unsigned char *v, long i, int gen)
{
	long x = i * 2654435761u + gen;

	memset(v, 0, VALSZ);
	v[0] = 1;
	memcpy(v + 1, &x, sizeof x);
	memcpy(v + 13, &gen, sizeof gen);
	memcpy(v + 21, &i, sizeof i);
}

static long long
dirsize(const char *dir, const char *a, const char *b)
{
	char p[4096];
	struct stat st;
	long long n = 0;

	snprintf(p, sizeof p, "%s/%s", dir, a);
	if (stat(p, &st) == 0) n += st.st_blocks * 512LL;
	if (b) {
		snprintf(p, sizeof p, "%s/%s", dir, b);
		if (stat(p, &st) == 0) n += st.st_blocks * 512LL;
	}
	return n;
}

/* ------------------------------------------------------------- LMDB */

static MDB_env *
l_open(const char *path, unsigned flags)
{
	MDB_env *env;
	int rc;

	mdb_env_create(&env);
	mdb_env_set_mapsize(env, 16ULL << 30);
	rc = mdb_env_open(env, path, MDB_NOSUBDIR | flags, 0600);
	if (rc) die("mdb_env_open", mdb_strerror(rc));
	return env;
}

static void
l_put_batch(MDB_env *env, long *idx, long from, long to, long per, int gen)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	char kb[64];
	unsigned char vb[VALSZ];
	long j;
	int rc;

	mdb_txn_begin(env, NULL, 0, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	for (j = from; j < to; j++) {
		long i = idx ? idx[j] : j;

		k.mv_size = mkkey(kb, i, per);
		k.mv_data = kb;
		mkval(vb, i, gen);
		v.mv_size = VALSZ;
		v.mv_data = vb;
		if ((rc = mdb_put(txn, dbi, &k, &v, 0))) die("mdb_put", mdb_strerror(rc));
	}
	if ((rc = mdb_txn_commit(txn))) die("mdb_txn_commit", mdb_strerror(rc));
}

static long
l_scan(MDB_env *env, long per)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	unsigned char want[VALSZ];
	long n = 0, differ = 0;
	int rc;

	mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	mdb_cursor_open(txn, dbi, &c);
	k.mv_size = 2;
	k.mv_data = "i";
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		mkval(want, n, 0);
		if (v.mv_size != VALSZ || memcmp(v.mv_data, want, VALSZ)) differ++;
		n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	(void)per;
	return n * 1000000 + (differ % 1000000);
}

/* ----------------------------------------------------------- SQLite */

static sqlite3 *
s_open(const char *path, const char *sync)
{
	sqlite3 *db;
	char sql[200];

	if (sqlite3_open(path, &db)) die("sqlite3_open", sqlite3_errmsg(db));
	snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
	    "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;", sync);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL)) die("sqlite", sqlite3_errmsg(db));
	return db;
}

static void
s_put_batch(sqlite3 *db, long *idx, long from, long to, long per, int gen)
{
	sqlite3_stmt *st;
	char kb[64];
	unsigned char vb[VALSZ];
	long j;

	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES(?,?)", -1, &st, NULL);
	for (j = from; j < to; j++) {
		long i = idx ? idx[j] : j;
		int kl = mkkey(kb, i, per);

		mkval(vb, i, gen);
		sqlite3_bind_blob(st, 1, kb, kl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, vb, VALSZ, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) die("sqlite insert", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) die("commit", sqlite3_errmsg(db));
}

static long
s_scan(sqlite3 *db)
{
	sqlite3_stmt *st;
	unsigned char want[VALSZ];
	long n = 0, differ = 0;

	sqlite3_prepare_v2(db, "SELECT k, v FROM kv WHERE k >= x'6900' ORDER BY k", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(st, 1);

		mkval(want, n, 0);
		if (sqlite3_column_bytes(st, 1) != VALSZ || memcmp(v, want, VALSZ)) differ++;
		n++;
	}
	sqlite3_finalize(st);
	return n * 1000000 + (differ % 1000000);
}

/* ------------------------------------------------------------ crash */

/*
 * The child writes transactions of 5,000 keys "c<gen>-<j>" plus a key
 * "last" = gen, forever; it is killed at a random moment. After reopen:
 * the count of "c<last>-*" must be 5,000 and of "c<last+1>-*" 0.
 */
#define CRASH_BATCH 5000

static void
crash_child(const char *path, int lmdb)
{
	MDB_env *env = NULL;
	sqlite3 *db = NULL;
	char kb[64];
	int gen;

	if (lmdb) env = l_open(path, MDB_NOMETASYNC);
	else db = s_open(path, "NORMAL");
	for (gen = 1;; gen++) {
		int j;

		if (lmdb) {
			MDB_txn *txn;
			MDB_dbi dbi;
			MDB_val k, v;

			mdb_txn_begin(env, NULL, 0, &txn);
			mdb_dbi_open(txn, NULL, 0, &dbi);
			for (j = 0; j < CRASH_BATCH; j++) {
				k.mv_size = sprintf(kb, "c%d-%d", gen, j);
				k.mv_data = kb;
				v.mv_size = sizeof gen;
				v.mv_data = &gen;
				mdb_put(txn, dbi, &k, &v, 0);
			}
			k.mv_size = 4; k.mv_data = "last";
			v.mv_size = sizeof gen; v.mv_data = &gen;
			mdb_put(txn, dbi, &k, &v, 0);
			mdb_txn_commit(txn);
		} else {
			sqlite3_stmt *st;

			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
			sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES(?,?)", -1, &st, NULL);
			for (j = 0; j <= CRASH_BATCH; j++) {
				int kl = j < CRASH_BATCH ? sprintf(kb, "c%d-%d", gen, j) : sprintf(kb, "last");

				sqlite3_bind_blob(st, 1, kb, kl, SQLITE_TRANSIENT);
				sqlite3_bind_blob(st, 2, &gen, sizeof gen, SQLITE_TRANSIENT);
				sqlite3_step(st);
				sqlite3_reset(st);
			}
			sqlite3_finalize(st);
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		}
	}
}

static int
count_prefix_l(MDB_env *env, const char *pfx)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v;
	size_t pl = strlen(pfx);
	int n = 0, rc;

	mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	mdb_dbi_open(txn, NULL, 0, &dbi);
	mdb_cursor_open(txn, dbi, &c);
	k.mv_size = pl; k.mv_data = (void *)pfx;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && k.mv_size >= pl &&
	    memcmp(k.mv_data, pfx, pl) == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		n++;
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return n;
}

static int
crash_check(const char *path, int lmdb, int *lastp)
{
	char p1[32], p2[32];
	int last = 0, n1, n2;

	if (lmdb) {
		MDB_env *env = l_open(path, 0);
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val k, v;

		mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
		mdb_dbi_open(txn, NULL, 0, &dbi);
		k.mv_size = 4; k.mv_data = "last";
		if (mdb_get(txn, dbi, &k, &v) == 0) memcpy(&last, v.mv_data, sizeof last);
		mdb_txn_abort(txn);
		snprintf(p1, sizeof p1, "c%d-", last);
		snprintf(p2, sizeof p2, "c%d-", last + 1);
		n1 = last ? count_prefix_l(env, p1) : CRASH_BATCH;
		n2 = count_prefix_l(env, p2);
		mdb_env_close(env);
	} else {
		sqlite3 *db = s_open(path, "NORMAL");
		sqlite3_stmt *st;
		char sql[200];

		if (sqlite3_exec(db, "PRAGMA integrity_check", NULL, NULL, NULL)) return -1;
		sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = x'6c617374'", -1, &st, NULL);
		if (sqlite3_step(st) == SQLITE_ROW) memcpy(&last, sqlite3_column_blob(st, 0), sizeof last);
		sqlite3_finalize(st);
		n1 = n2 = 0;
		snprintf(sql, sizeof sql, "SELECT count(*) FROM kv WHERE substr(k,1,%d) = CAST('c%d-' AS BLOB)",
		    (int)snprintf(p1, sizeof p1, "c%d-", last), last);
		sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		if (sqlite3_step(st) == SQLITE_ROW) n1 = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (!last) n1 = CRASH_BATCH;
		snprintf(sql, sizeof sql, "SELECT count(*) FROM kv WHERE substr(k,1,%d) = CAST('c%d-' AS BLOB)",
		    (int)snprintf(p2, sizeof p2, "c%d-", last + 1), last + 1);
		sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		if (sqlite3_step(st) == SQLITE_ROW) n2 = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	*lastp = last;
	return n1 == CRASH_BATCH && n2 == 0 ? 0 : -1;
}

static void
crash_test(const char *dir, int lmdb)
{
	char path[4096];
	int round, bad = 0, lasts = 0;
	double t0 = now_s();

	snprintf(path, sizeof path, "%s/crash.%s", dir, lmdb ? "mdb" : "sqlite");
	for (round = 0; round < 20; round++) {
		pid_t pid;
		int last = 0;
		char side[4200];

		/* a fresh store each round (gen counts from 1 again) */
		unlink(path);
		snprintf(side, sizeof side, "%s-wal", path); unlink(side);
		snprintf(side, sizeof side, "%s-shm", path); unlink(side);
		snprintf(side, sizeof side, "%s-lock", path); unlink(side);
		pid = fork();

		if (pid == 0) crash_child(path, lmdb);
		usleep(50000 + rand() % 400000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (crash_check(path, lmdb, &last) != 0) bad++;
		lasts = last;
	}
	printf("%-7s crash: 20 kill -9 mid-transaction, %d damaged/partial after reopen "
	    "(last committed transaction %d, %.1f s)\n", lmdb ? "LMDB" : "SQLite", bad, lasts, now_s() - t0);
}

/* ------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/store_bench";
	long n = argc > 2 ? atol(argv[2]) : 1000000, per = n / 1000, burst = n / 10, j;
	long *idx = malloc(sizeof(long) * burst);
	char path[4096];
	double t;
	int lmdb;

	mkdir(dir, 0700);
	srand(42);
	for (j = 0; j < burst; j++) idx[j] = ((long)rand() * RAND_MAX + rand()) % n;
	for (lmdb = 1; lmdb >= 0; lmdb--) {
		const char *name = lmdb ? "LMDB" : "SQLite";
		MDB_env *env = NULL;
		sqlite3 *db = NULL;
		long r;

		snprintf(path, sizeof path, "%s/bench.%s", dir, lmdb ? "mdb" : "sqlite");
		unlink(path);
		if (lmdb) env = l_open(path, MDB_NOMETASYNC);
		else db = s_open(path, "NORMAL");
		t = now_s();
		for (j = 0; j < n; j += 10000) {
			if (lmdb) l_put_batch(env, NULL, j, j + 10000 < n ? j + 10000 : n, per, 0);
			else s_put_batch(db, NULL, j, j + 10000 < n ? j + 10000 : n, per, 0);
		}
		t = now_s() - t;
		printf("%-7s insert %ld paths, 10,000 per transaction: %.2f s (%.0f/s)\n", name, n, t, n / t);
		t = now_s();
		for (j = 0; j < burst; j += 1000) {
			if (lmdb) l_put_batch(env, idx, j, j + 1000, per, 1);
			else s_put_batch(db, idx, j, j + 1000, per, 1);
		}
		t = now_s() - t;
		printf("%-7s update burst %ld random paths, 1,000 per transaction (committed each): "
		    "%.2f s (%.0f/s)\n", name, burst, t, burst / t);
		t = now_s();
		r = lmdb ? l_scan(env, per) : s_scan(db);
		t = now_s() - t;
		printf("%-7s compare walk in path order: %ld records (%ld differ) in %.2f s\n", name,
		    r / 1000000, r % 1000000, t);
		if (lmdb) {
			mdb_env_close(env);
			printf("%-7s disk: %.1f MiB\n", name, dirsize(dir, "bench.mdb", NULL) / 1048576.0);
		} else {
			sqlite3_close(db);
			printf("%-7s disk: %.1f MiB (after close: WAL checkpointed)\n", name,
			    dirsize(dir, "bench.sqlite", "bench.sqlite-wal") / 1048576.0);
		}
		fflush(stdout);
		crash_test(dir, lmdb);
		fflush(stdout);
	}
	free(idx);
	return 0;
}
