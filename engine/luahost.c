/*
 * luahost.c: the LuaJIT state, the bundled runtime modules, and every call
 * from C into the runner's entry points, each through one protected call.
 * A Lua error or core.terminate ends the calls: from then on every entry
 * point is a no-op and host_exit_code() tells main.c the code to return.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "api.h"
#include "log.h"
#include "luabundle.h"

static lua_State *L;
static int runner_ref = LUA_NOREF;
static int failed;                     /* a Lua error ended the runner */

/* Adds a traceback to an error message (message handler of docall). */
static int
traceback(lua_State *l)
{
	const char *msg = lua_tostring(l, 1);

	if (!msg) {
		if (luaL_callmeta(l, 1, "__tostring") && lua_isstring(l, -1))
			return 1;
		msg = lua_pushfstring(l, "(error object is a %s value)",
		    luaL_typename(l, 1));
	}
	luaL_traceback(l, l, msg, 1);
	return 1;
}

/* The code main.c returns: -1 while the runner runs. */
int
host_exit_code(void)
{
	if (failed)
		return 255;
	return api_exit_code();
}

/*
 * Calls the function below nargs arguments on the stack, protected; 0 ok,
 * -1 when it raised (nothing is left on the stack then). A runtime error
 * inside the runner is fatal, as in lsyncd: it is logged with its
 * traceback and the daemon exits 255. The error core.terminate raises to
 * unwind is no error: the code it recorded counts.
 */
static int
docall(int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;      /* function index */

	lua_pushcfunction(L, traceback);
	lua_insert(L, base);                   /* put it under function and args */
	if (lua_pcall(L, nargs, nresults, base) != 0) {
		if (api_exit_code() < 0) {
			const char *msg = lua_tostring(L, -1);
			log_msg("Error", "in Lua: %s", msg ? msg : "(no message)");
			failed = 1;
		}
		lua_settop(L, base - 1);       /* drop the message and the handler */
		return -1;
	}
	lua_remove(L, base);                   /* remove the handler */
	return 0;
}

/* Pushes runner[name] and returns 1, or returns 0 once the runner ended. */
static int
push_entry(const char *name)
{
	if (!L || runner_ref == LUA_NOREF || host_exit_code() >= 0)
		return 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, runner_ref);
	lua_getfield(L, -1, name);
	lua_remove(L, -2);                     /* drop the runner table */
	return 1;
}

/* package.preload loader for a bundled module (upvalue: its index). */
static int
load_bundled(lua_State *l)
{
	const struct lua_module *m = &lua_modules[lua_tointeger(l, lua_upvalueindex(1))];
	char chunk[128];

	snprintf(chunk, sizeof(chunk), "=%s.lua", m->name);
	if (luaL_loadbuffer(l, m->code, m->size, chunk) != 0)
		return lua_error(l);
	lua_pushstring(l, m->name);
	lua_call(l, 1, 1);
	return 1;
}

/* Registers every bundled module in package.preload. */
static void
preload_modules(void)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");        /* package preload */
	for (int i = 0; lua_modules[i].name; i++) {
		lua_pushinteger(L, i);
		lua_pushcclosure(L, load_bundled, 1);
		lua_setfield(L, -2, lua_modules[i].name);
	}
	lua_pop(L, 2);                         /* preload package */
}

/* Creates the state, loads the runner and calls runner.initialize. */
int
host_start(int argc, char **argv)
{
	failed = 0;
	if (!(L = luaL_newstate())) {
		log_msg("Error", "cannot create the Lua state");
		failed = 1;
		return -1;
	}
	luaL_openlibs(L);
	api_register(L);
	preload_modules();

	lua_getglobal(L, "require");
	lua_pushstring(L, "runner");
	if (docall(1, 1) < 0)
		return -1;
	if (!lua_istable(L, -1)) {
		log_msg("Error", "the runtime module 'runner' did not load");
		lua_pop(L, 1);
		failed = 1;
		return -1;
	}
	runner_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	push_entry("initialize");
	lua_createtable(L, argc, 0);
	for (int i = 1; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i);
	}
	return docall(1, 0);
}

/* Hands the events of one read to the runner, in one call. */
void
host_events(const struct watch_event *evs, size_t n)
{
	if (!push_entry("inotifyBatch"))
		return;
	lua_createtable(L, (int)(n * 5), 0);   /* fn batch */
	for (size_t i = 0; i < n; i++) {
		int k = (int)(i * 5);
		lua_pushstring(L, watch_etype_name(evs[i].type));
		lua_rawseti(L, -2, k + 1);
		lua_pushboolean(L, evs[i].isdir);
		lua_rawseti(L, -2, k + 2);
		lua_pushstring(L, evs[i].path);
		lua_rawseti(L, -2, k + 3);
		if (evs[i].path2)
			lua_pushstring(L, evs[i].path2);
		else
			lua_pushboolean(L, 0);
		lua_rawseti(L, -2, k + 4);
		lua_pushinteger(L, evs[i].renamed);
		lua_rawseti(L, -2, k + 5);
	}
	docall(1, 0);
}

/* Tells the runner that a child exited. */
void
host_collect(pid_t pid, int code, int signo)
{
	if (!push_entry("collect"))
		return;
	lua_pushinteger(L, pid);
	lua_pushinteger(L, code);
	lua_pushinteger(L, signo);
	docall(3, 0);
}

/* Hands one line of a child's output to the runner. */
void
host_child_output(pid_t pid, int stream, const char *line)
{
	if (!push_entry("childOutput"))
		return;
	lua_pushinteger(L, pid);
	lua_pushinteger(L, stream);
	lua_pushstring(L, line);
	docall(3, 0);
}

/* Tells the runner about TERM, INT, HUP or USR1. */
void
host_signal(const char *name)
{
	if (!push_entry("signal"))
		return;
	lua_pushstring(L, name);
	docall(1, 0);
}

/* Lets the runner do whatever is due at monotonic time now. */
void
host_cycle(double now)
{
	if (!push_entry("cycle"))
		return;
	lua_pushnumber(L, now);
	docall(1, 0);
}

/* Asks the runner when it wants to be woken next (<0: not by the clock). */
double
host_get_alarm(void)
{
	double t = -1;

	if (!push_entry("getAlarm") || docall(0, 1) < 0)
		return -1;
	if (lua_isnumber(L, -1))
		t = lua_tonumber(L, -1);
	else if (lua_toboolean(L, -1))
		t = 0;                         /* true: at once */
	lua_pop(L, 1);
	return t;
}
