/*
 * log.c: lsyncd's log categories and line formats, and the sinks they go to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MAX_CATS 64

static char            *cats[MAX_CATS];   /* extra enabled categories */
static int              ncats;
static int              all_on;           /* -log all */
static int              scarce;           /* -log scarce: Warn and Error only */
static enum log_phase   phase = LOG_PHASE_STARTUP;
static char            *logfile;
static int              use_syslog;

/* Tells whether lines of category cat are written. */
int
log_enabled(const char *cat)
{
	if (all_on)
		return 1;
	if (!strcmp(cat, "Error") || !strcmp(cat, "Warn"))
		return 1;
	if (!strcmp(cat, "Normal"))
		return !scarce;
	for (int i = 0; i < ncats; i++)
		if (!strcmp(cats[i], cat))
			return 1;
	return 0;
}

/* Turns on a category, or "all", or "scarce". */
void
log_enable(const char *cat)
{
	if (!strcmp(cat, "all")) {
		all_on = 1;
		return;
	}
	if (!strcmp(cat, "scarce")) {
		scarce = 1;
		return;
	}
	if (log_enabled(cat) || ncats == MAX_CATS)
		return;
	cats[ncats++] = strdup(cat);
}

/* Chooses where lines go from now on. */
void
log_set_phase(enum log_phase p)
{
	phase = p;
}

/* Makes every line also (or, when daemonized, only) go to path. */
int
log_set_file(const char *path)
{
	FILE *f;

	free(logfile);
	logfile = NULL;
	if (!path)
		return 0;
	if (!(f = fopen(path, "a")))
		return -1;
	fclose(f);
	logfile = strdup(path);
	return 0;
}

static const struct { const char *name; int code; } facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
	{ "daemon", LOG_DAEMON }, { "ftp", LOG_FTP }, { "kern", LOG_KERN },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }, { "lpr", LOG_LPR },
	{ "mail", LOG_MAIL }, { "news", LOG_NEWS }, { "syslog", LOG_SYSLOG },
	{ "user", LOG_USER }, { "uucp", LOG_UUCP },
};

/* Opens syslog with ident and a facility given by name or number. */
int
log_set_syslog(const char *ident, const char *facility)
{
	static char identbuf[64];
	int fac = -1;

	if (!facility)
		facility = "user";
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcasecmp(facilities[i].name, facility))
			fac = facilities[i].code;
	if (fac < 0) {
		char *end;
		long n = strtol(facility, &end, 10);
		if (*facility && !*end && n >= 0 && n < 24)
			fac = (int)n << 3;
	}
	if (fac < 0)
		return -1;
	snprintf(identbuf, sizeof(identbuf), "%s", ident ? ident : "lsyncd");
	closelog();
	openlog(identbuf, LOG_PID, fac);
	use_syslog = 1;
	return 0;
}

/* Maps a category to a syslog priority. */
static int
priority(const char *cat)
{
	if (!strcmp(cat, "Error"))
		return LOG_ERR;
	if (!strcmp(cat, "Warn"))
		return LOG_WARNING;
	if (!strcmp(cat, "Normal"))
		return LOG_NOTICE;
	return LOG_INFO;
}

/* msg with every control character written as an escape (\n, \t, \x1b,
 * ...), so that a name holding a newline cannot start a line of its own:
 * one message is one line. NULL when msg has none (or out of memory);
 * free() the result. */
static char *
log_escape(const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	char *out, *o;
	size_t n = 0;

	for (p = (const unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			n++;
	if (n == 0 || !(out = malloc(strlen(msg) + 3 * n + 1)))
		return NULL;
	for (p = (const unsigned char *)msg, o = out; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			*o++ = (char)*p;
			continue;
		}
		*o++ = '\\';
		switch (*p) {
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'x';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = 0;
	return out;
}

/* Writes msg in category cat to every sink of the current phase. */
void
log_str(const char *cat, const char *msg)
{
	int saved = errno;
	time_t now;
	char stamp[64];
	char *escaped;

	if (!log_enabled(cat))
		return;
	if ((escaped = log_escape(msg)))
		msg = escaped;
	now = time(NULL);
	if (logfile) {
		FILE *f = fopen(logfile, "ae");
		if (f) {
			char *ct = ctime_r(&now, stamp), *nl;
			if (ct && (nl = strchr(ct, '\n')))
				*nl = 0;
			fprintf(f, "%s %s: %s\n", ct ? ct : "", cat, msg);
			fclose(f);
		}
	}
	switch (phase) {
	case LOG_PHASE_STARTUP:
		fprintf(stderr, "%s: %s\n", cat, msg);
		break;
	case LOG_PHASE_CONSOLE: {
		struct tm tm;
		FILE *out = strcmp(cat, "Error") ? stdout : stderr;
		strftime(stamp, sizeof(stamp), "%T", localtime_r(&now, &tm));
		fprintf(out, "%s %s: %s\n", stamp, cat, msg);
		fflush(out);
		break;
	}
	case LOG_PHASE_DAEMON:
		if (use_syslog && !logfile)
			syslog(priority(cat), "%s, %s", cat, msg);
		break;
	}
	free(escaped);
	errno = saved;
}

/* printf-style front end of log_str. */
void
log_msg(const char *cat, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	if (!log_enabled(cat))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_str(cat, buf);
}

/* Logs an Error line and exits with status 255. */
void
fatal(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_str("Error", buf);
	exit(255);
}
