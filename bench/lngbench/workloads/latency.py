"""latency.py: one small file written, the time until every slave has it;
and its floor (one rsync per slave over an open ssh connection)."""

import os
import random
import subprocess
import time

from ..daemon import Daemon, warm
from ..measure import now
from ..profiles import USER
from ..stats import pct
from ..trees import clear_dir, verify, write_file


def latency(b, k, daemon, rep):
    n = b.P['lat_samples'][k]
    master = os.path.join(b.ws, 'm', 'lat')
    clear_dir(master)
    b.clear_slaves(k)
    slaves = b.slaves[:k]
    cfg = b.config('latency-k%d' % k, master, k, 0)
    d = Daemon(b, daemon, cfg, 'latency-k%d-r%d' % (k, rep))
    rec = dict(workload='latency', K=k, daemon=daemon, rep=rep)
    try:
        warm(b, d, master, slaves)
        d.quiet()
        d.hwm_reset()
        s0 = d.snap()
        lat = []
        fails = 0
        rnd = random.Random(rep)
        for i in range(n):
            name = 'lat-%03d' % i
            data = rnd.randbytes(256)
            paths = [os.path.join(s['dir'], name) for s in slaves]
            seen = {}
            t0 = now()
            write_file(os.path.join(master, name), data)
            end = t0 + 30
            while len(seen) < k and now() < end:
                for j, p in enumerate(paths):
                    if j not in seen:
                        try:
                            if os.stat(p).st_size == 256:
                                seen[j] = now() - t0
                        except OSError:
                            pass
                if len(seen) < k:
                    time.sleep(0.002)
            if len(seen) < k:
                fails += 1
                lat.append(None)
                d.check()
                if fails >= 2:
                    break
            else:
                lat.append(max(seen.values()))
            d.quiet(10)
            time.sleep(0.1 + rnd.random() * 0.1)
        s1 = d.snap()
        good = [x for x in lat if x is not None]
        rec.update(samples=lat, p50=pct(good, 0.5), p90=pct(good, 0.9),
                   max=max(good) if good else None, timeouts=lat.count(None),
                   rss_peak_kb=d.hwm(), **Daemon.delta(s0, s1))
        ok, late, diffs = verify(master, [s['dir'] for s in slaves], 20, now())
        rec['verified'] = ok
        if not ok:
            rec['diffs'] = diffs
    finally:
        d.stop()
    return rec


def floor_latency(b, k, rep):
    """The cost no daemon avoids: after one write, one rsync per slave in
    parallel over an ssh connection already open (a ControlMaster per
    slave, as lsyncd-ng keeps), timed until every rsync exited."""
    n = b.P['lat_samples'][k]
    master = os.path.join(b.ws, 'm', 'latfloor')
    clear_dir(master)
    b.clear_slaves(k)
    slaves = b.slaves[:k]
    cdir = os.path.join(b.ws, 'cm')
    os.makedirs(cdir, exist_ok=True)
    masters, rshs = [], []
    for j, s in enumerate(slaves):
        path = os.path.join(cdir, 'floor-%d' % j)
        rsh = b.rsh + ' -o ControlPath=' + path
        p = subprocess.Popen(rsh.split() + ['-o', 'ControlMaster=yes', '-N', '%s@%s' % (USER, s['ip'])],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=b.env)
        b.procs.append(p)
        masters.append(p)
        rshs.append(rsh)
    try:
        for path in [os.path.join(cdir, 'floor-%d' % j) for j in range(k)]:
            end = now() + 20
            while not os.path.exists(path) and now() < end:
                time.sleep(0.01)
        lat = []
        rnd = random.Random(rep)
        for i in range(n):
            name = 'lat-%03d' % i
            t0 = now()
            write_file(os.path.join(master, name), rnd.randbytes(256))
            ps = [subprocess.Popen(['rsync', '-lpt', '-e', rshs[j], os.path.join(master, name),
                                    b.target(s)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=b.env)
                  for j, s in enumerate(slaves)]
            codes = [p.wait() for p in ps]
            lat.append(now() - t0 if not any(codes) else None)
            time.sleep(0.1 + rnd.random() * 0.1)
        good = [x for x in lat if x is not None]
        return dict(workload='latency', K=k, daemon='floor', rep=rep, samples=lat,
                    p50=pct(good, 0.5), p90=pct(good, 0.9), max=max(good) if good else None,
                    timeouts=lat.count(None))
    finally:
        for p in masters:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            b.procs.remove(p)
