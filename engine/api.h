/*
 * api.h: the whole interface between the C engine and the Lua runtime,
 * both directions, in one place.  C owns the OS; Lua owns the policy.
 *
 * ---- C -> Lua: entry points of lua/runner.lua (luahost.c calls them) ----
 *   runner.initialize(args)              args: argv[1..] as an array of strings
 *   runner.inotifyBatch(batch)           the events of one read, in order:
 *                                        { etype, isdir, path, path2|false,
 *                                          renamed, ... } (5 slots an event);
 *                                        etype: Create Modify Attrib Delete Move
 *                                        Overflow; absolute paths; renamed: see
 *                                        struct watch_event (lua/watchtree.lua)
 *   runner.collect(pid, code, signo)     a child exited (signo ~= 0: killed)
 *   runner.childOutput(pid, stream, line)  1 = stdout, 2 = stderr
 *   runner.signal(name)                  "TERM" "INT" "HUP" "USR1"
 *   runner.cycle(now)                    do what is due at monotonic time now
 *   runner.getAlarm()           -> t     monotonic time of the next wake-up,
 *                                        true = at once, false/nil = none
 *
 * ---- Lua -> C: the `core` table (api.c registers it) ----
 *   core.spawn(argv, stdin, opts) -> pid | nil, err  argv: array; stdin: string|nil;
 *                                        opts.rest: s a progress display ('\r'
 *                                        lines) rests between reads (child.h)
 *   core.run(argv, stdin, timeout) -> status, output, timedOut | nil, err
 *                                        runs to completion (operator tools only)
 *   core.isatty(fd)         -> bool
 *   core.kill(pid, signo)   -> ok                signals the child's group
 *   core.now()              -> seconds           CLOCK_MONOTONIC, double
 *   core.time()             -> seconds           wall clock (time(2))
 *   core.log(cat, msg); core.logEnable(cat); core.logEnabled(cat) -> bool
 *   core.logSetup{phase=, logfile=, syslog=bool, ident=, facility=} -> ok | nil, err
 *   core.watchInit(mode)    -> ok | nil, err     mode: 0 CloseWrite 1 Modify 2 both
 *   core.watchDir(path, all) -> { name, isdir, ... }, known | nil, err, errno
 *                                        one watch, then the dir's entries (all)
 *                                        or subdirs; known: watched already
 *   core.unwatch(path)
 *   core.watchCount()       -> watched, unwatched
 *   core.watchList()        -> { {wd, path}, ... }
 *   core.readdir(path)      -> { name = isdir } | nil, err
 *   core.lstat(path)        -> { type=, size=, mtime=, mode= } | nil, err
 *   core.realpath(path)     -> abs | nil, err
 *   core.daemonize()        -> ok | nil, err     double fork, setsid, chdir /
 *   core.pidfile(path)      -> ok | nil, err     written, locked, removed at exit
 *   core.rundir(path)       -> ok | nil, err     private 0700 dir, removed at exit
 *   core.mkdir(path, mode)  -> ok | nil, err     mode default 0755
 *   core.writeFile(path, text, mode) -> ok | nil, err  mkstemp + rename, no symlink followed
 *   core.getpid()           -> pid, euid
 *   core.childCount()       -> n
 *   core.terminate(code)                         records code and unwinds Lua (an
 *                                        error pcall must pass on: lua/exit.lua);
 *                                        main stops the children and returns code
 *   core.exiting()          -> code | nil        the code terminate recorded
 *   core.notify(text)       -> ok                sd_notify-style, if NOTIFY_SOCKET
 *   core.version            string
 *
 * ---- helper process (not a Lua call) ----
 *   lsyncd-ng __lng_fsop copy|remove|move ARGS... [-- FALLBACK ARGV...]
 *   default.direct's path operations beneath a root, spawned like any
 *   child as /proc/self/exe (fsops.c, main.c)
 */
#ifndef LNG_API_H
#define LNG_API_H

#include <lua.h>
#include <sys/types.h>

#include "watch.h"

/*
 * Calls go one way: main.c -> luahost.c -> api.c -> the OS modules. What
 * Lua asks of the engine as a whole (terminate) is recorded here
 * and read by main.c after each call into Lua (scripts/callgraph checks
 * that no file calls back up).
 */

/* api.c */
void   api_register(lua_State *L);     /* sets global `core` */
int    api_exit_code(void);            /* core.terminate's code, -1 = none */

/* luahost.c; after a Lua error or core.terminate every host_* call is a
 * no-op and host_exit_code() tells the code main returns. */
int  host_start(int argc, char **argv); /* 0 ok, -1 failed */
int  host_exit_code(void);             /* -1: running; else the exit code */
void host_events(const struct watch_event *evs, size_t n);
void host_collect(pid_t pid, int code, int signo);
void host_child_output(pid_t pid, int stream, const char *line);
void host_signal(const char *name);
void host_cycle(double now);
double host_get_alarm(void);           /* <0 none, else monotonic time */

#endif
