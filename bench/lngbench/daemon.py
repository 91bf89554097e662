"""daemon.py: one daemon under test: started on a config, sampled (CPU of
itself and its children, peak RSS), waited for, stopped with all it started."""

import os
import signal
import subprocess
import time

from .measure import (TICK, alive, cmdline, cpu_ticks_full, descendants, inotify_watches, now, self_cpu,
                      stat_fields, status_kb)
from .profiles import DAEMONS
from .trees import write_file


class Daemon:
    def __init__(self, bench, name, cfg, tag):
        self.b = bench
        self.name = name
        self.logpath = os.path.join(bench.ws, 'logs', '%s-%s.log' % (tag, name))
        os.makedirs(os.path.dirname(self.logpath), exist_ok=True)
        self.logf = open(self.logpath, 'w')
        self.t0 = now()
        self.p = subprocess.Popen([DAEMONS[name], cfg], stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT, env=bench.env, cwd=bench.ws)
        bench.procs.append(self.p)
        self.pid = self.p.pid

    def running(self):
        return self.p.poll() is None

    def check(self):
        if not self.running():
            raise RuntimeError('%s exited with %s; log %s:\n%s' % (
                self.name, self.p.returncode, self.logpath, self.tail()))

    def tail(self, n=15):
        try:
            with open(self.logpath, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def kids_cpu(self):
        """CPU of children: reaped ones (cutime+cstime) and every live
        descendant (its own time plus what it reaped)."""
        f = stat_fields(self.pid)
        reaped = (int(f[13]) + int(f[14])) / TICK if f else 0.0
        live = {}
        for k in descendants(self.pid):
            live[k] = cpu_ticks_full(k)
        return reaped, live

    def snap(self):
        reaped, live = self.kids_cpu()
        return dict(t=now(), self=self_cpu(self.pid), reaped=reaped, live=live)

    @staticmethod
    def delta(a, b):
        ch = (b['reaped'] - a['reaped']) + sum(b['live'].values()) - sum(
            v for p, v in a['live'].items())
        return dict(wall=b['t'] - a['t'], cpu_self=b['self'] - a['self'], cpu_children=max(0.0, ch))

    def hwm_reset(self):
        try:
            with open('/proc/%d/clear_refs' % self.pid, 'w') as f:
                f.write('5')
        except OSError:
            pass

    def hwm(self):
        return status_kb(self.pid, 'VmHWM')

    def quiet(self, timeout=20):
        """Waits until no transfer runs (no child but an ssh ControlMaster)."""
        end = now() + timeout
        while now() < end:
            busy = [k for k in descendants(self.pid) if 'ControlMaster=yes' not in cmdline(k)]
            if not busy:
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        kids = descendants(self.pid)
        self.b.stop_proc(self.p, 30)
        for k in kids:
            if alive(k):
                try:
                    os.kill(k, signal.SIGKILL)
                except OSError:
                    pass
        self.logf.close()


def warm(b, d, master, slaves, name='.bench-warm', timeout=120):
    """Startup done and events flowing: a file written now arrives everywhere."""
    path = os.path.join(master, name)
    write_file(path, b'warm\n')
    end = now() + timeout
    while now() < end:
        d.check()
        if all(os.path.exists(os.path.join(s['dir'], name)) for s in slaves):
            return True
        time.sleep(0.02)
    raise RuntimeError('%s: startup/warm-up did not reach every slave in %ds:\n%s'
                       % (d.name, timeout, d.tail()))


def wait_watches(d, ndirs, t0, timeout=300, interval=0.02, idle=0.5, every=1.0):
    """Waits until daemon d holds a watch on each of ndirs directories (or
    its count stood still for 2 s); returns the seconds since t0.

    The count is read from the inotify fd's fdinfo, which the kernel writes
    holding the inotify instance's lock, one line per watch: at 20,000
    watches each read takes milliseconds in which the daemon cannot add a
    watch (its threads spin on that lock, CPU counted as the daemon's). So
    it is read only while the daemon is not busy (its own CPU grew by less
    than `idle` of the time since the last look: done with its walk, or
    waiting) and at least every `every` s; the daemon's CPU is looked at
    every `interval` s."""
    last, stable_since = -1, now()
    cpu, at = self_cpu(d.pid), now()
    read_at = at
    while now() - t0 < timeout:
        d.check()
        time.sleep(interval)
        c, t = self_cpu(d.pid), now()
        busy = c - cpu > idle * (t - at)
        cpu, at = c, t
        if busy and t - read_at < every:
            continue
        read_at = t
        w = inotify_watches(d.pid) or 0
        if w >= ndirs:
            break
        if w != last:
            last, stable_since = w, now()
        elif w > 0 and now() - stable_since > 2:
            break
    return now() - t0
