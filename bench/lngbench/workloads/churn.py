"""churn.py: sustained mixed churn by spec/tools/churn.py; the lag of every
operation until every slave shows it."""

import json
import os
import subprocess
import sys
import time

from ..cmd import run
from ..daemon import Daemon, warm
from ..measure import now
from ..profiles import CHURN
from ..stats import pct
from ..trees import clear_dir, scan_tree, verify, wait_trees


def op_matches(slave, check):
    """Does a slave show the state an operation of spec/tools/churn.py left
    (check = [path, size], -1: gone, -2: a directory)?"""
    path, size = check
    try:
        st = os.lstat(os.path.join(slave, path))
    except OSError:
        return size == -1
    if size == -2:
        return stat_isdir(st)
    return size >= 0 and not stat_isdir(st) and st.st_size == size


def stat_isdir(st):
    return (st.st_mode & 0o170000) == 0o040000


class Follower:
    """The operations of a churn writer (its --ops lines), each followed
    until every slave shows its result; one that a later operation changes
    again (the same path, or a directory above it renamed or deleted) is no
    longer followed."""

    def __init__(self):
        self.ops = []             # [t, check, landed or None, followed]
        self.live = {}            # path -> index of the op on it still followed

    def add(self, o):
        ops, live = self.ops, self.live
        i = len(ops)
        ops.append([o['t'], o['check'], None, True])
        touched = [o['check'][0]] + ([o['from']] if o.get('from') else [])
        for q in touched:
            j = live.pop(q, None)
            if j is not None:
                ops[j][3] = False
            if o['kind'] in ('rename-dir', 'delete-dir') or o.get('from') == q:
                pre = q + '/'
                for p in [p for p in live if p.startswith(pre)]:
                    ops[live.pop(p)][3] = False
        live[o['check'][0]] = i

    def land(self, t, shown):
        """Every followed op not landed yet whose check shown(check) is true
        landed at t."""
        for p, i in list(self.live.items()):
            if self.ops[i][2] is None and shown(self.ops[i][1]):
                self.ops[i][2] = t

    def all_landed(self):
        return all(self.ops[i][2] is not None for i in self.live.values())

    def summary(self):
        """ops, followed, not_landed_30s, lag p50/p99/max and the lag p99 per
        10 s of the writer's run (inf: an op of those 10 s never landed)."""
        ops = self.ops
        followed = [o for o in ops if o[3]]
        lags = [o[2] - o[0] for o in followed if o[2] is not None]
        rec = {}
        rec['ops'] = len(ops)
        rec['followed'] = len(followed)
        rec['not_landed_30s'] = sum(1 for o in followed if o[2] is None)
        rec['lag_p50'] = pct(lags, 0.5)
        rec['lag_p99'] = pct(lags, 0.99)
        rec['lag_max'] = max(lags) if lags else None
        # p99 of the lag per 10 s of the writer's run: flat or growing?
        t0 = ops[0][0] if ops else 0
        windows = {}
        for o in followed:
            windows.setdefault(int((o[0] - t0) // 10), []).append(
                o[2] - o[0] if o[2] is not None else float('inf'))
        rec['lag_p99_by_10s'] = [pct(windows[w_], 0.99) for w_ in sorted(windows)]
        return rec


def churn(b, rate, daemon, rep):
    """A writer doing `rate` operations a second (60 % rewrites, 20 % creates,
    10 % deletes, 10 % renames of files and dirs) for churn_seconds, K
    slaves, delay 1. Every operation is followed until every slave shows its
    result; one that a later operation changes again (same path, or a
    directory above it renamed or deleted) is no longer followed. Lag = time
    from the operation until every slave shows it."""
    P = b.P
    k = P['churn_k']
    master = os.path.join(b.ws, 'm', 'churn')
    clear_dir(master)
    run([sys.executable, CHURN, master, '--populate', str(P['churn_dirs']), str(P['churn_files'])])
    b.clear_slaves(k)
    slaves = b.slaves[:k]
    sdirs = [s['dir'] for s in slaves]
    cfg = b.config('churn-r%d' % rate, master, k, 1)
    rec = dict(workload='churn', K=k, rate=rate, daemon=daemon, rep=rep, seconds_run=P['churn_seconds'])
    d = Daemon(b, daemon, cfg, 'churn-r%d-r%d' % (rate, rep))
    opsf = os.path.join(b.ws, 'churn-ops-%s-%d.jsonl' % (daemon, rate))
    try:
        warm(b, d, master, slaves)
        done, _ = wait_trees(master, sdirs, scan_tree(master), now(), 180)
        if None in done.values():
            raise RuntimeError('%s: startup of the churn tree did not finish' % daemon)
        d.quiet()
        d.hwm_reset()
        s0 = d.snap()
        w = subprocess.Popen([sys.executable, CHURN, master, '--rate', str(rate), '--seconds',
                              str(P['churn_seconds']), '--seed', str(rep), '--ops', opsf],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=b.env)
        b.procs.append(w)
        fol = Follower()
        buf = ''
        t_stop = None
        end_follow = None
        f = None
        while True:
            if f is None and os.path.exists(opsf):
                f = open(opsf)
            if f is not None:
                buf += f.read()
                lines = buf.split('\n')
                buf = lines.pop()
                for line in lines:
                    fol.add(json.loads(line))
            fol.land(now(), lambda check: all(op_matches(sd, check) for sd in sdirs))
            if t_stop is None and w.poll() is not None:
                t_stop = now()
                end_follow = t_stop + 30
                d.check()
            if t_stop is not None and (now() >= end_follow or fol.all_landed()) and not buf:
                if f is not None:
                    buf += f.read()
                if not buf:
                    break
            time.sleep(0.01)
        out = w.stdout.read()
        w.wait()
        b.procs.remove(w)
        if f is not None:
            f.close()
        rec.update(fol.summary())
        rec['writer'] = out.strip()[-300:]
        # catch-up: from the writer's stop until every slave equals the master
        exp = scan_tree(master)
        done, _ = wait_trees(master, sdirs, exp, t_stop, 120)
        ok, late, diffs = verify(master, sdirs, 120, t_stop)
        times = [v for v in list(done.values()) + list(late.values()) if v is not None]
        rec['catch_up'] = max(times) if ok and times else None
        rec['verified'] = ok
        if not ok:
            rec['diffs'] = diffs
        d.quiet(30)
        s1 = d.snap()
        rec.update(rss_peak_kb=d.hwm(), **Daemon.delta(s0, s1))
    finally:
        d.stop()
    return rec
