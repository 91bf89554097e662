/*
 * log.c: lsyncd's log categories and line formats, and the sinks they go to.
 * The logfile is opened once and opened again when logrotate (or anyone) has
 * moved or removed it, so rotation needs no copytruncate and no signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
static int              logfd = -1;       /* open on logfile, O_APPEND */
static dev_t            logdev;           /* what logfd is, to see a rotation */
static ino_t            logino;
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
	char *c;

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
	/* log.c allocates on its own (xmalloc's failure path logs through
	 * here): without memory the category stays off */
	if ((c = strdup(cat)))
		cats[ncats++] = c;
}

/* Chooses where lines go from now on. */
void
log_set_phase(enum log_phase p)
{
	phase = p;
}

/*
 * Tells whether the symlink at path may be followed: a link root made in a
 * directory only root can change (/dev/stdout, /dev/null). A link anyone else
 * could have planted is refused, so root's log writes cannot be redirected.
 */
static int
trusted_link(const char *path)
{
	struct stat st;
	char *dir, *slash;
	int ok;

	if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode) || st.st_uid != 0)
		return 0;
	if (!(dir = strdup(path)))
		return 0;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	ok = stat(dir, &st) == 0 && st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH));
	free(dir);
	return ok;
}

/*
 * Opens path for appending, O_NOFOLLOW unless the link is trusted_link().
 * Returns the fd or -1 with errno set. A regular file opened directly is
 * remembered by device and inode so logfile_follow() can see it moved.
 */
static int
logfile_open(const char *path, dev_t *dev, ino_t *ino)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC;
	struct stat st;
	int fd;

	*ino = 0;	/* a device, pipe or trusted link: not rotated */
	fd = open(path, flags | O_NOFOLLOW, 0640);
	if (fd < 0 && errno == ELOOP) {
		if (trusted_link(path))
			fd = open(path, flags, 0640);
		else
			errno = ELOOP;	/* the reason to report, whatever the check met */
	} else if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	return fd;
}

/* Makes every line also (or, when daemonized, only) go to path. */
int
log_set_file(const char *path)
{
	dev_t dev = 0;
	ino_t ino = 0;
	int fd = -1;
	char *copy = NULL;

	/* (log.c allocates on its own: xmalloc's failure path logs here) */
	if (path && !(copy = strdup(path)))
		return -1;                      /* errno ENOMEM */
	if (path && (fd = logfile_open(path, &dev, &ino)) < 0) {
		int e = errno;
		free(copy);
		errno = e;
		return -1;
	}
	if (logfd >= 0)
		close(logfd);
	free(logfile);
	logfile = copy;
	logfd = fd;
	logdev = dev;
	logino = ino;
	return 0;
}

/*
 * Opens the logfile again when its path no longer names the file we hold
 * (renamed by logrotate, or deleted). One lstat per line: cheap next to the
 * write, and the first line after a rotation lands in the new file. When the
 * new file cannot be opened the line goes to the old one rather than nowhere.
 */
static void
logfile_follow(void)
{
	struct stat st;
	dev_t dev;
	ino_t ino;
	int fd;

	if (!logino)
		return;
	if (lstat(logfile, &st) == 0 && st.st_dev == logdev && st.st_ino == logino)
		return;
	if ((fd = logfile_open(logfile, &dev, &ino)) < 0)
		return;
	close(logfd);
	logfd = fd;
	logdev = dev;
	logino = ino;
}

/* Appends "stamp cat: msg\n" to the logfile with one writev (one O_APPEND write). */
static void
logfile_write(const char *stamp, const char *cat, const char *msg)
{
	struct iovec iov[6] = {
		{ (void *)stamp, strlen(stamp) }, { (void *)" ", 1 },
		{ (void *)cat, strlen(cat) }, { (void *)": ", 2 },
		{ (void *)msg, strlen(msg) }, { (void *)"\n", 1 },
	};

	logfile_follow();
	if (writev(logfd, iov, 6) < 0) {
		/* nowhere left to report it; the console/syslog sinks still get the line */
	}
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

/* True when fd is the stream systemd's journal reads ($JOURNAL_STREAM is
 * "DEV:INODE" of it): lines then carry a <N> priority prefix, which the
 * journal takes as the line's priority (journalctl -p err), and no time
 * stamp (the journal has its own). */
static int
to_journal(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
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
		char *ct = ctime_r(&now, stamp), *nl;
		if (ct && (nl = strchr(ct, '\n')))
			*nl = 0;
		logfile_write(ct ? ct : "", cat, msg);
	}
	switch (phase) {
	case LOG_PHASE_STARTUP:
		if (to_journal(STDERR_FILENO))
			fprintf(stderr, "<%d>", priority(cat));
		fprintf(stderr, "%s: %s\n", cat, msg);
		break;
	case LOG_PHASE_CONSOLE: {
		struct tm tm;
		FILE *out = strcmp(cat, "Error") ? stdout : stderr;
		static int journal[2] = { -1, -1 };
		int j = out == stderr;
		if (journal[j] < 0)
			journal[j] = to_journal(fileno(out));
		if (journal[j]) {
			fprintf(out, "<%d>%s: %s\n", priority(cat), cat, msg);
		} else {
			strftime(stamp, sizeof(stamp), "%T", localtime_r(&now, &tm));
			fprintf(out, "%s %s: %s\n", stamp, cat, msg);
		}
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
