/*
 * child.h: starting and reaping child processes, never through a shell.
 *
 * child_spawn runs argv[0] (PATH lookup) with posix_spawnp: an empty signal
 * mask and default dispositions in the child, its own process group, every
 * fd above 2 closed, PR_SET_PDEATHSIG(SIGKILL)-equivalent protection so a
 * child does not outlive a kill -9'd daemon, stdin fed from text through a
 * non-blocking pipe (or /dev/null), stdout and stderr collected through
 * pipes and handed to the output callback line by line (linebuf.h), a
 * progress display read in gulps if asked (rest). The exit is noticed
 * through a pidfd in the loop and reported once through the exit callback.
 */
#ifndef LNG_CHILD_H
#define LNG_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* status: exit code (0..255) when signo == 0; otherwise the killing signal. */
typedef void child_exit_fn(pid_t pid, int status, int signo, void *ud);
/* One line of output (no newline), stream 1 = stdout, 2 = stderr. */
typedef void child_output_fn(pid_t pid, int stream, const char *line, void *ud);

void  child_init(child_exit_fn *on_exit, child_output_fn *on_output, void *ud);
/* Returns the pid, or -1 with errno set (e.g. ENOENT for a missing binary).
 * stdin_text may be NULL (stdin is /dev/null) and may contain NUL bytes.
 * rest > 0: once a stream shows a progress display (a line ended by a bare
 * '\r', see linebuf.h), each read of it is followed by rest seconds in which
 * it is left unread (its pipe enlarged), so a display that rewrites its
 * line per file costs a wake-up per rest, not per line; 0: read as it comes. */
pid_t child_spawn(char *const argv[], const char *stdin_text, size_t stdin_len, double rest);
int   child_kill(pid_t pid, int signo);   /* signals the child's process group */
int   child_count(void);                  /* children spawned and not yet reported */
int   child_pending(void);                /* 1 if an exited child awaits its report */
void  child_kill_all(int signo);
/* Reaps whatever has exited (SIGCHLD fallback); safe to call any time. */
void  child_reap(void);
/* Children are started through self_exe ("__lng_exec" trampoline, which
 * sets PR_SET_PDEATHSIG) when set; NULL starts them directly. */
void  child_set_trampoline(const char *self_exe);
/* main() runs this first thing when argv[1] is "__lng_exec"; it never
 * returns. argv: self "__lng_exec" daemon-pid resolved-path child-argv... */
int   child_trampoline(int argc, char **argv);

/* child-exec.c, for child.c and run.c: posix_spawn of argv with stdin from in_r
 * (-1: /dev/null), stdout/stderr to out_w/err_w; pid, or -1 with errno. */
pid_t child_exec(char *const argv[], int in_r, int out_w, int err_w);

#endif
