/*
 * log.h: the daemon's one logging gate.
 *
 * Lines follow lsyncd's categories and formats: "Category: message" on stderr
 * before the daemon runs, "HH:MM:SS Category: message" on the console with
 * -nodaemon, ctime-stamped lines in the logfile, syslog when daemonized.
 * Which categories are shown is decided by the Lua side (log_enable); C code
 * only asks log_enabled() before formatting something expensive.
 */
#ifndef LNG_LOG_H
#define LNG_LOG_H

#include <stdarg.h>

enum log_phase { LOG_PHASE_STARTUP, LOG_PHASE_CONSOLE, LOG_PHASE_DAEMON };

/* Writes one line in category cat (e.g. "Normal", "Error", "Inotify"). */
void log_msg(const char *cat, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, message given whole (may contain newlines; written as-is). */
void log_str(const char *cat, const char *msg);
/* 1 if lines of this category are written. Normal, Warn, Error are on by default. */
int  log_enabled(const char *cat);
/* Turns a category on; "all" turns every category on, "scarce" only Warn+Error. */
void log_enable(const char *cat);
/* Where lines go from now on. logfile may be NULL. */
void log_set_phase(enum log_phase phase);
int  log_set_file(const char *path);           /* 0 ok, -1 cannot open */
int  log_set_syslog(const char *ident, const char *facility); /* -1 bad facility */
/* Dies: logs an Error line and exits 255 (or code). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
