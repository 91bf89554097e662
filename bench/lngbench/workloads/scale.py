"""scale.py: per-event CPU of the daemon with few and with very many paths
queued for a slave that is down."""

import os
import statistics
import time

from ..daemon import Daemon, warm
from ..measure import now, self_cpu, status_kb
from ..trees import write_file


def settle(d, base_rate, timeout, window=0.1, need=3):
    """Waits until the daemon's own CPU use falls back to its idle rate;
    returns (time, cpu) at that moment."""
    thresh = window * max(0.03, 1.5 * base_rate)
    quiet = 0
    c = self_cpu(d.pid)
    end = now() + timeout
    while now() < end:
        time.sleep(window)
        c2 = self_cpu(d.pid)
        quiet = quiet + 1 if c2 - c < thresh else 0
        c = c2
        if quiet >= need:
            break
    # the quiet windows were idle: the work ended where they began
    t = now() - (quiet * window if quiet >= need else 0)
    return t, c, quiet >= need


def idle_rate(d, secs):
    c0, t0 = self_cpu(d.pid), now()
    time.sleep(secs)
    return (self_cpu(d.pid) - c0) / (now() - t0)


def warm_then_down(b, d, master, s):
    """Daemon d's startup done and quiet, then slave s down (s['down'] set),
    a file written and 3 s for the daemon to notice."""
    warm(b, d, master, [s])
    d.quiet()
    b.slave_down(s)
    write_file(os.path.join(master, 'trigger'), b'x')
    time.sleep(3)
    d.check()


def scale(b, daemon, rep):
    """Per-event CPU of the daemon with ~1,000 and with ~1,000,000 distinct
    paths queued for a slave that is down (pre-made directories, so only
    file events; 1,000-file probes; the daemon's idle CPU is subtracted)."""
    P = b.P
    # on a tmpfs of our own: a million files are made and removed in seconds
    # there (on this ext4, removing them takes minutes of disk I/O), and the
    # measure is the daemons' CPU, not the disk's
    master = os.path.join(b.ws, 'm', 'scale')
    b.tmpfs(master)
    big, small, probe = P['scale_big'], P['scale_small'], P['scale_probe']
    ndirs = (big + 999) // 1000
    for i in range(ndirs):
        os.mkdir(os.path.join(master, 'f%04d' % i))
    for i in range(6):
        os.mkdir(os.path.join(master, 'p%d' % i))
    s = b.slaves[0]
    b.clear_slaves(1)
    # delay = 3600 and maxDelays raised: nothing becomes due while we measure,
    # so the cost is that of taking an event into the queue (read, match,
    # collapse check, index), not of retrying the dead slave (lsyncd retries
    # with the whole queue as its filter list every `delay` seconds, and in a
    # tight loop once the queue is over maxDelays)
    cfg = b.config('scale', master, 1, 3600, sync_extra='\tmaxDelays = 100000000,\n')
    rec = dict(workload='scale', K=1, daemon=daemon, rep=rep, target_small=small, target_big=big,
               probe=probe)
    d = Daemon(b, daemon, cfg, 'scale-r%d' % rep)
    try:
        warm_then_down(b, d, master, s)
        filled = [0]
        cpu_fill = [0.0]

        def fill(upto, cap):
            t_start = now()
            t_end = t_start + cap
            chunk = 1000
            q0 = filled[0]
            while filled[0] < upto and now() < t_end:
                # the same rule for both daemons: once its intake rate says
                # the target would take more than 10x the cap, stop early
                el = now() - t_start
                if el > 20 and filled[0] > q0:
                    rate = (filled[0] - q0) / el
                    if (upto - filled[0]) / rate > 10 * cap:
                        rec['gave_up'] = 'intake %.0f events/s at %d queued' % (rate, filled[0])
                        break
                d.check()
                c0, t0 = self_cpu(d.pid), now()
                n = min(chunk, upto - filled[0])
                for _ in range(n):
                    i = filled[0]
                    # an empty file: IN_CREATE + IN_CLOSE_WRITE, no page on the tmpfs
                    write_file(os.path.join(master, 'f%04d' % (i // 1000), 'x%06d' % i), b'')
                    filled[0] += 1
                # pace: at most one chunk (2 events a file) waits in the
                # kernel queue, below its 16384 limit (an overflow would make
                # both daemons rescan instead of queueing)
                settle(d, 0.0, max(2.0, t_end - now()), window=0.05, need=2)
                cpu_fill[0] += self_cpu(d.pid) - c0
                # a slow daemon gets finer steps, so that little is left
                # to digest when the cap is reached; a fast one bigger ones
                if now() - t0 > 2 and chunk > 100:
                    chunk //= 2
                elif now() - t0 < 0.5 and chunk < 5000:
                    chunk *= 2
            # whatever is still in the kernel queue or being worked on
            c0 = self_cpu(d.pid)
            _, _, ok = settle(d, 0.0, 90 if not b.opts.quick else 45)
            cpu_fill[0] += self_cpu(d.pid) - c0
            return ok

        def probes(tag, first, settled):
            if not settled:
                rec[tag] = dict(queued=filled[0], settled=False, cost=None,
                                rss_kb=status_kb(d.pid, 'VmRSS'))
                return
            costs = []
            base = idle_rate(d, 1.5)
            t_probes = now()
            for j in range(3):
                if j and now() - t_probes > 20:
                    break               # a slow daemon: fewer probes
                d.check()
                c0, t0 = self_cpu(d.pid), now()
                dd = os.path.join(master, 'p%d' % (first + j))
                for i in range(probe):
                    write_file(os.path.join(dd, 'y%05d' % i), b'')
                t1, c1, ok = settle(d, base, 60)
                costs.append(max(0.0, (c1 - c0) - base * (t1 - t0)) / probe if ok else None)
                if not ok or t1 - t0 > 15:
                    break               # a slow daemon: one probe must do
            good = [c for c in costs if c is not None]
            rec[tag] = dict(queued=filled[0], idle_cpu=base, costs=costs,
                            cost=statistics.median(good) if good else None,
                            settled=len(good) == len(costs), rss_kb=status_kb(d.pid, 'VmRSS'))

        t0 = now()
        ok = fill(small, 60)
        probes('small', 0, ok)
        filled[0] += 3 * probe
        cap = P['scale_fill_cap']
        ok = fill(big, cap)
        rec['fill_time'] = now() - t0
        rec['fill_cpu_per_event'] = cpu_fill[0] / max(1, filled[0] - 3 * probe)
        rec['reached'] = filled[0]
        probes('big', 3, ok)
        rec['rss_peak_kb'] = d.hwm()
        sm, bg = rec['small'].get('cost'), rec['big'].get('cost')
        rec['ratio'] = bg / sm if sm and bg else None
    finally:
        t = now()
        d.stop()
        rec['stop_time'] = now() - t
        if s.get('down'):
            b.slave_up(s)
        b.untmpfs(master)
    return rec
