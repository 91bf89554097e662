"""indexcost.py: what keeping lsyncd-ng's state (issue 15: the source index
and the slaves' pending sets, settings stateDir) costs while events flow:
the burst's create phase (burst.py: 10,000 files in 100 new directories,
K slaves), lsyncd-ng with a state dir and without, daemon CPU until every
slave equals the master."""

import os

from ..daemon import Daemon, warm
from ..measure import now
from ..trees import scan_tree, verify, wait_trees
from .burst import burst_ops, do_creates, prepare


def indexcost(b, k, state, rep):
    master, slaves, sdirs = prepare(b, k, 'indexcost')
    tag = 'indexcost-k%d-%s-r%d' % (k, 'state' if state else 'nostate', rep)
    extra = ''
    if state:
        os.makedirs(os.path.join(b.ws, 'state'), exist_ok=True)
        extra = '\tstateDir = "%s",\n' % os.path.join(b.ws, 'state', tag)
    cfg = b.config(tag, master, k, 1, extra=extra)
    creates, _, _ = burst_ops(b.P)
    rec = dict(workload='indexcost', K=k, daemon='lsyncd-ng', state=state, rep=rep,
               files=sum(len(f) for _, f in creates))
    d = Daemon(b, 'lsyncd-ng', cfg, tag)
    try:
        warm(b, d, master, slaves)
        done, _ = wait_trees(master, sdirs, scan_tree(master), now(), 120)
        if None in done.values():
            raise RuntimeError('lsyncd-ng: startup of the base tree did not finish')
        d.quiet()
        s0 = d.snap()
        t0 = now()
        do_creates(master, creates, 11)
        done, _ = wait_trees(master, sdirs, scan_tree(master), t0, 300 if not b.opts.quick else 150)
        t = None if None in done.values() else max(done.values())
        ok, late, diffs = verify(master, sdirs, 120, t0)
        if late:
            t = max([t or 0] + list(late.values()))
        d.quiet(60)
        rec.update(time=t, verified=ok, rss_peak_kb=d.hwm(), **Daemon.delta(s0, d.snap()))
        if not ok:
            rec['diffs'] = diffs
    finally:
        d.stop()
    return rec
