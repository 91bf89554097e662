/*
 * api.c: the `core` table, every C function the Lua runtime may call
 * (listed with their contracts in api.h). Bindings raise Lua errors only for
 * misuse; OS failures come back as nil, "what: strerror".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "api.h"
#include "child.h"
#include "clock.h"
#include "daemon.h"
#include "fs.h"
#include "log.h"
#include "run.h"
#include "safefile.h"
#include "store.h"
#include "loop.h"
#include "watch.h"
#include "xmalloc.h"

/* Returns nil, "what: strerror(errno)" (errno saved before any Lua call). */
static int
fail(lua_State *L, const char *what)
{
	int e = errno;

	lua_pushnil(L);
	lua_pushfstring(L, "%s: %s", what, strerror(e));
	return 2;
}

/* core.spawn(argv, stdin, opts) -> pid | nil, err */
/* argv from the array at index idx; free() the result (the strings stay
 * owned by the table). */
static char **
argv_of(lua_State *L, int idx)
{
	size_t n;
	char **argv;

	luaL_checktype(L, idx, LUA_TTABLE);
	n = lua_objlen(L, idx);
	luaL_argcheck(L, n > 0, idx, "empty argv");
	argv = xcalloc(n + 1, sizeof(*argv));
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (int)i + 1);
		if (lua_type(L, -1) == LUA_TNUMBER) {
			/* lua_tostring would make a string only this stack slot
			 * holds; store it in the table, which keeps it alive */
			lua_tostring(L, -1);                    /* argv ... "n" */
			lua_pushvalue(L, -1);                   /* argv ... "n" "n" */
			lua_rawseti(L, idx, (int)i + 1);        /* argv ... "n" */
		}
		if (lua_type(L, -1) != LUA_TSTRING) {
			free(argv);
			luaL_error(L, "argv[%d] is a %s, not a string",
			    (int)i + 1, luaL_typename(L, -1));
		}
		argv[i] = (char *)lua_tostring(L, -1);  /* kept alive by the table */
		lua_pop(L, 1);
	}
	return argv;
}

static int
l_spawn(lua_State *L)
{
	size_t inlen = 0;
	const char *in = NULL;
	char **argv;
	pid_t pid;

	double rest = 0;

	if (!lua_isnoneornil(L, 2))
		in = luaL_checklstring(L, 2, &inlen);
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		lua_getfield(L, 3, "rest");            /* ... rest */
		rest = lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
	argv = argv_of(L, 1);
	pid = child_spawn(argv, in, inlen, rest);
	free(argv);
	if (pid < 0)
		return fail(L, "spawn");
	lua_pushinteger(L, pid);
	return 1;
}

/* core.run(argv, stdin, timeout) -> status, output, timedOut | nil, err
 * Runs to completion (the operator tools; never inside the event loop). */
static int
l_run(lua_State *L)
{
	size_t inlen = 0;
	const char *in = NULL;
	double timeout = luaL_optnumber(L, 3, 30);
	struct run_result r;
	char **argv;
	int rc;

	if (!lua_isnoneornil(L, 2))
		in = luaL_checklstring(L, 2, &inlen);
	argv = argv_of(L, 1);
	rc = run_command(argv, in, inlen, timeout, &r);
	free(argv);
	if (rc < 0)
		return fail(L, "run");
	lua_pushinteger(L, r.status);
	lua_pushlstring(L, r.out, r.len);
	lua_pushboolean(L, r.timed_out);
	free(r.out);
	return 3;
}

/* core.isatty(fd) -> bool */
static int
l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

/* core.kill(pid, signo) -> ok */
static int
l_kill(lua_State *L)
{
	lua_pushboolean(L, child_kill((pid_t)luaL_checkinteger(L, 1),
	    (int)luaL_optinteger(L, 2, 15)) == 0);
	return 1;
}

/* core.now() -> monotonic seconds */
static int
l_now(lua_State *L)
{
	lua_pushnumber(L, clock_now());
	return 1;
}

/* core.time() -> wall-clock seconds */
static int
l_time(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

/* core.log(category, message) */
static int
l_log(lua_State *L)
{
	const char *cat = luaL_checkstring(L, 1);

	if (log_enabled(cat))
		log_str(cat, luaL_checkstring(L, 2));
	return 0;
}

/* core.logEnable(category) */
static int
l_log_enable(lua_State *L)
{
	log_enable(luaL_checkstring(L, 1));
	return 0;
}

/* core.logEnabled(category) -> bool */
static int
l_log_enabled(lua_State *L)
{
	lua_pushboolean(L, log_enabled(luaL_checkstring(L, 1)));
	return 1;
}

/* core.logSetup{phase=, logfile=, syslog=, ident=, facility=} -> ok | nil, err */
static int
l_log_setup(lua_State *L)
{
	const char *phase, *logfile, *ident, *facility;
	int use_syslog;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "phase");
	lua_getfield(L, 1, "logfile");
	lua_getfield(L, 1, "syslog");
	lua_getfield(L, 1, "ident");
	lua_getfield(L, 1, "facility");
	phase = lua_tostring(L, -5);
	logfile = lua_tostring(L, -4);
	use_syslog = lua_toboolean(L, -3);
	ident = lua_tostring(L, -2);
	facility = lua_tostring(L, -1);
	if (!lua_isnil(L, -4) && log_set_file(logfile) < 0) {
		int e = errno;	/* saved before the Lua API can change it */
		lua_pushnil(L);
		lua_pushfstring(L, "Cannot open logfile [%s]: %s", logfile, strerror(e));
		return 2;
	}
	if (use_syslog && log_set_syslog(ident, facility) < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "Logging facility '%s' unknown.", facility);
		return 2;
	}
	if (phase && !strcmp(phase, "console"))
		log_set_phase(LOG_PHASE_CONSOLE);
	else if (phase && !strcmp(phase, "daemon"))
		log_set_phase(LOG_PHASE_DAEMON);
	else if (phase && !strcmp(phase, "startup"))
		log_set_phase(LOG_PHASE_STARTUP);
	lua_pushboolean(L, 1);
	return 1;
}

static void
on_watch_readable(int fd, int mask, void *ud)
{
	watch_process();
}

/* core.watchInit(mode) -> ok | nil, err */
static int
l_watch_init(lua_State *L)
{
	int fd = watch_init((enum watch_mode)luaL_optinteger(L, 1, 0));

	if (fd < 0)
		return fail(L, "inotify");
	loop_watch_fd(fd, LOOP_READ, on_watch_readable, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

static void
push_entry(const char *name, int isdir, void *ud)
{
	lua_State *L = ud;
	int n = (int)lua_objlen(L, -1);

	lua_pushstring(L, name);
	lua_rawseti(L, -2, n + 1);
	lua_pushboolean(L, isdir);
	lua_rawseti(L, -2, n + 2);
}

/* core.watchDir(path, all) -> { name, isdir, ... }, known | nil, err, errno:
 * watches one directory and lists it (every entry, or its subdirs). */
static int
l_watch_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int rc;

	lua_newtable(L);
	if ((rc = watch_dir(path, lua_toboolean(L, 2), push_entry, L)) < 0) {
		int e = errno;
		fail(L, path);
		lua_pushinteger(L, e);
		return 3;
	}
	lua_pushboolean(L, rc);
	return 2;
}

/* core.unwatch(path) */
static int
l_unwatch(lua_State *L)
{
	watch_remove(luaL_checkstring(L, 1));
	return 0;
}

/* core.watchCount() -> watched, unwatched */
static int
l_watch_count(lua_State *L)
{
	lua_pushinteger(L, watch_count());
	lua_pushinteger(L, watch_unwatched());
	return 2;
}

static void
list_one(int wd, const char *path, void *ud)
{
	lua_State *L = ud;
	int n = (int)lua_objlen(L, -1);

	lua_createtable(L, 2, 0);
	lua_pushinteger(L, wd);
	lua_rawseti(L, -2, 1);
	lua_pushstring(L, path);
	lua_rawseti(L, -2, 2);
	lua_rawseti(L, -2, n + 1);
}

/* core.watchList() -> { {wd, path}, ... } */
static int
l_watch_list(lua_State *L)
{
	lua_newtable(L);
	watch_foreach(list_one, L);
	return 1;
}

static void
set_entry(const char *name, int isdir, void *ud)
{
	lua_State *L = ud;

	lua_pushboolean(L, isdir);
	lua_setfield(L, -2, name);
}

/* core.readdir(path) -> { name = isdir } | nil, err */
static int
l_readdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	lua_newtable(L);
	if (fs_list(path, 1, set_entry, L) < 0)
		return fail(L, path);
	return 1;
}

/* core.lstat(path) -> { type=, size=, mtime=, mode= } | nil, err */
static int
l_lstat(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;
	const char *type = "other";

	if (lstat(path, &st) < 0)
		return fail(L, path);
	if (S_ISREG(st.st_mode))
		type = "file";
	else if (S_ISDIR(st.st_mode))
		type = "directory";
	else if (S_ISLNK(st.st_mode))
		type = "link";
	lua_createtable(L, 0, 4);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "type");
	lua_pushnumber(L, (lua_Number)st.st_size);
	lua_setfield(L, -2, "size");
	lua_pushnumber(L, st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
	lua_setfield(L, -2, "mtime");
	lua_pushinteger(L, st.st_mode & 07777);
	lua_setfield(L, -2, "mode");
	return 1;
}

/* core.realpath(path) -> absolute path | nil, err */
static int
l_realpath(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char *r = realpath(path, NULL);

	if (!r)
		return fail(L, path);
	lua_pushstring(L, r);
	free(r);
	return 1;
}

/* core.daemonize() -> ok | nil, err */
static int
l_daemonize(lua_State *L)
{
	if (daemon_detach() < 0 || loop_reopen_signals() < 0)
		return fail(L, "daemonize");
	lua_pushboolean(L, 1);
	return 1;
}

/* core.pidfile(path) -> ok | nil, err */
static int
l_pidfile(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (daemon_pidfile(path) < 0) {
		if (errno == EAGAIN || errno == EACCES) {
			lua_pushnil(L);
			lua_pushfstring(L, "Cannot lock pidfile [%s]: another instance runs", path);
			return 2;
		}
		return fail(L, path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.writeFile(path, text[, mode]) -> ok | nil, err: atomically, by a
 * mkstemp temporary renamed over path (never through a symlink). */
static int
l_write_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *text = luaL_checklstring(L, 2, &len);
	mode_t mode = (mode_t)luaL_optinteger(L, 3, 0644);

	if (safefile_write(path, text, len, mode) < 0)
		return fail(L, path);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.childCount() -> n */
static int
l_child_count(lua_State *L)
{
	lua_pushinteger(L, child_count());
	return 1;
}

/* core.terminate's code, -1 = none yet; main.c reads it after every call. */
static int exit_code = -1;

/*
 * core.terminate(code): ends the daemon. The code is recorded (the first
 * one counts, as the first terminate of lsyncd ends the process) and the
 * Lua stack unwinds with an error; main.c stops the children and returns
 * the code. Lua code that calls pcall around code that may terminate
 * passes the result through lua/exit.lua, which lets the unwinding go on.
 */
static int
l_terminate(lua_State *L)
{
	if (exit_code < 0)
		exit_code = (int)luaL_optinteger(L, 1, 0) & 0xff;
	lua_pushliteral(L, "core.terminate");
	return lua_error(L);
}

/* core.exiting() -> code | nil: the code core.terminate recorded. */
static int
l_exiting(lua_State *L)
{
	if (exit_code < 0)
		return 0;
	lua_pushinteger(L, exit_code);
	return 1;
}

/* The code core.terminate recorded, or -1. */
int
api_exit_code(void)
{
	return exit_code;
}

/* core.rundir(path) -> ok | nil, err: a private (0700) directory, removed at exit. */
static int
l_rundir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int rc = fs_rundir(path);

	if (rc == -1)
		return fail(L, path);
	if (rc == -2) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: not a private directory of ours", path);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.mkdir(path[, mode]) -> ok | nil, err (default 0755; existing is fine) */
static int
l_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	mode_t mode = (mode_t)luaL_optinteger(L, 2, 0755);

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return fail(L, path);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.getpid() -> pid, euid */
static int
l_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	lua_pushinteger(L, geteuid());
	return 2;
}

/* core.notify(text) -> sent */
static int
l_notify(lua_State *L)
{
	lua_pushboolean(L, daemon_notify(luaL_checkstring(L, 1)) == 0);
	return 1;
}

static const luaL_Reg core_funcs[] = {
	{ "childCount",  l_child_count },
	{ "daemonize",   l_daemonize },
	{ "exiting",     l_exiting },
	{ "getpid",      l_getpid },
	{ "isatty",      l_isatty },
	{ "kill",        l_kill },
	{ "log",         l_log },
	{ "logEnable",   l_log_enable },
	{ "logEnabled",  l_log_enabled },
	{ "logSetup",    l_log_setup },
	{ "lstat",       l_lstat },
	{ "mkdir",       l_mkdir },
	{ "notify",      l_notify },
	{ "now",         l_now },
	{ "pidfile",     l_pidfile },
	{ "readdir",     l_readdir },
	{ "realpath",    l_realpath },
	{ "rundir",      l_rundir },
	{ "run",         l_run },
	{ "spawn",       l_spawn },
	{ "terminate",   l_terminate },
	{ "time",        l_time },
	{ "unwatch",     l_unwatch },
	{ "watchCount",  l_watch_count },
	{ "watchDir",    l_watch_dir },
	{ "watchInit",   l_watch_init },
	{ "watchList",   l_watch_list },
	{ "writeFile",   l_write_file },
	{ NULL, NULL }
};

/* Sets the global `core` table. */
void
api_register(lua_State *L)
{
	lua_newtable(L);
	luaL_register(L, NULL, core_funcs);
	api_store_register(L);
	lua_pushstring(L, LNG_VERSION);
	lua_setfield(L, -2, "version");
	lua_setglobal(L, "core");
}
