"""measure.py: the clock and what /proc tells about a process: CPU, RSS,
descendants, inotify watches."""

import os
import re
import time

TICK = os.sysconf('SC_CLK_TCK')


def now():
    return time.monotonic()


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def stat_fields_of(path):
    """The fields of a /proc stat file after the command's name (field 3 on)."""
    s = read(path)
    if not s:
        return None
    return s[s.rindex(')') + 2:].split()


def stat_fields(pid):
    return stat_fields_of('/proc/%d/stat' % pid)


def proc_table():
    """{pid: (ppid, state)} of every process."""
    t = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            f = stat_fields(int(d))
            if f:
                t[int(d)] = (int(f[1]), f[0])
    return t


def descendants(pid, table=None):
    table = table or proc_table()
    kids = {}
    for p, (pp, _) in table.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def cmdline(pid):
    return (read('/proc/%d/cmdline' % pid) or '').replace('\0', ' ').strip()


def alive(pid):
    f = stat_fields(pid)
    return bool(f) and f[0] not in ('Z', 'X')


def cpu_ticks_full(pid):
    """utime+stime+cutime+cstime in seconds (the process and its reaped children)."""
    f = stat_fields(pid)
    if not f:
        return 0.0
    return sum(int(x) for x in f[11:15]) / TICK


def self_cpu(pid):
    """CPU time of the process itself in seconds: its live threads' (schedstat,
    ns precision) plus what its ended threads used. The latter only
    /proc/PID/stat knows (utime+stime count every thread, also the ended
    ones, in clock ticks): that minus the live threads' own. A thread that
    was joined (lsyncd-ng's start-up walk runs in threads) is no longer in
    /proc/PID/task."""
    live_ns = live_ticks = 0
    try:
        for t in os.listdir('/proc/%d/task' % pid):
            s = read('/proc/%d/task/%s/schedstat' % (pid, t))
            f = stat_fields_of('/proc/%d/task/%s/stat' % (pid, t))
            if s and f:
                live_ns += int(s.split()[0])
                live_ticks += int(f[11]) + int(f[12])
    except OSError:
        pass
    f = stat_fields(pid)
    ended = max(0, int(f[11]) + int(f[12]) - live_ticks) if f else 0
    return live_ns / 1e9 + ended / TICK


def status_kb(pid, key):
    s = read('/proc/%d/status' % pid) or ''
    m = re.search(r'^%s:\s+(\d+) kB' % key, s, re.M)
    return int(m.group(1)) if m else None


def inotify_watches(pid):
    n = 0
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) != 'anon_inode:inotify':
                continue
        except OSError:
            continue
        info = read('/proc/%d/fdinfo/%s' % (pid, fd)) or ''
        n += info.count('inotify wd:')
    return n
