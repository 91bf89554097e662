/* daemon.h: detaching from the terminal, the pid file, sd_notify. */
#ifndef LNG_DAEMON_H
#define LNG_DAEMON_H
int  daemon_detach(void);               /* double fork + setsid + chdir("/"); 0 ok */
int  daemon_pidfile(const char *path);  /* write "<pid>\n", lock it; 0 ok, -1 errno */
void daemon_remove_pidfile(void);
int  daemon_notify(const char *text);   /* to $NOTIFY_SOCKET; 0 sent, 1 no socket, -1 error */
#endif
