"""burst.py: many files created, directories renamed, files deleted, each
phase timed until every slave equals the master; and its floor."""

import os
import random

from ..daemon import Daemon, warm
from ..floor import parallel_rsync
from ..measure import now
from ..trees import clear_dir, scan_tree, verify, wait_trees, write_file


def make_base(master, dirs, files, seed):
    rnd = random.Random(seed)
    for i in range(dirs):
        dd = os.path.join(master, 'base', 'b%03d' % i)
        os.makedirs(dd)
        for j in range(files):
            write_file(os.path.join(dd, 'f%03d' % j), rnd.randbytes(1024))


def burst_ops(P):
    """The three phases as lists of operations on a master (relative paths)."""
    creates = [('b%03d' % i, ['f%03d' % j for j in range(P['burst_files'])])
               for i in range(P['burst_dirs'])]
    nb = P['renames'] - P['burst_dirs']
    renames = [('new/b%03d' % i, 'new/r%03d' % i) for i in range(P['burst_dirs'])]
    renames += [('base/b%03d' % i, 'base/r%03d' % i) for i in range(nb)]
    per = max(1, P['deletes'] // P['burst_dirs'])
    deletes = []
    for i in range(P['burst_dirs']):
        for j in range(per):
            if len(deletes) < P['deletes']:
                deletes.append('new/r%03d/f%03d' % (i, j * 7 % P['burst_files']))
    return creates, renames, deletes


def do_creates(master, creates, seed):
    rnd = random.Random(seed)
    blob = rnd.randbytes(1024 * 1024 + 1024)
    top = os.path.join(master, 'new')
    os.makedirs(top, exist_ok=True)
    n = 0
    for dname, files in creates:
        dd = os.path.join(top, dname)
        os.mkdir(dd)
        for f in files:
            off = (n * 1031) % (1024 * 1024)
            write_file(os.path.join(dd, f), blob[off:off + 1024])
            n += 1


def do_renames(master, renames):
    for a, z in renames:
        os.rename(os.path.join(master, a), os.path.join(master, z))


def do_deletes(master, deletes):
    for p in deletes:
        os.unlink(os.path.join(master, p))


def prepare(b, k, name):
    """A master m/NAME holding the base tree and an empty new/, K empty slaves."""
    master = os.path.join(b.ws, 'm', name)
    clear_dir(master)
    make_base(master, b.P['base_dirs'], b.P['base_files'], 7)
    os.makedirs(os.path.join(master, 'new'))
    b.clear_slaves(k)
    slaves = b.slaves[:k]
    return master, slaves, [s['dir'] for s in slaves]


def phases(master, creates, renames, deletes):
    return [('create', lambda: do_creates(master, creates, 11)),
            ('rename', lambda: do_renames(master, renames)),
            ('delete', lambda: do_deletes(master, deletes))]


def burst(b, k, daemon, rep):
    master, slaves, sdirs = prepare(b, k, 'burst')
    cfg = b.config('burst-k%d' % k, master, k, 1)
    creates, renames, deletes = burst_ops(b.P)
    rec = dict(workload='burst', K=k, daemon=daemon, rep=rep, files=sum(len(f) for _, f in creates),
               renames=len(renames), deletes=len(deletes))
    d = Daemon(b, daemon, cfg, 'burst-k%d-r%d' % (k, rep))
    try:
        warm(b, d, master, slaves)
        exp = scan_tree(master)
        done, _ = wait_trees(master, sdirs, exp, now(), 120)
        if None in done.values():
            raise RuntimeError('%s: startup of the base tree did not finish' % daemon)
        d.quiet()
        timeout = 300 if not b.opts.quick else 150
        for ph, op in phases(master, creates, renames, deletes):
            d.check()
            d.hwm_reset()
            s0 = d.snap()
            t0 = now()
            op()
            t_write = now() - t0
            exp = scan_tree(master)
            done, interval = wait_trees(master, sdirs, exp, t0, timeout)
            t = None if None in done.values() else max(done.values())
            ok, late, diffs = verify(master, sdirs, timeout, t0)
            if late:
                t = max([t or 0] + list(late.values()))
            d.quiet(60)
            s2 = d.snap()      # CPU until the last transfer of the phase ended
            rec[ph] = dict(time=t, write=t_write, poll=interval, verified=ok,
                           per_slave=[done[s] for s in sdirs], rss_peak_kb=d.hwm(),
                           **Daemon.delta(s0, s2))
            if not ok:
                rec[ph]['diffs'] = diffs
                break
    finally:
        d.stop()
    return rec


def floor_burst(b, k, rep):
    """Plain `rsync -a --delete` over the same ssh, in parallel to K slaves,
    for the same trees as the burst's three phases (no writing time)."""
    master, slaves, sdirs = prepare(b, k, 'floor')
    t, codes, _ = parallel_rsync(b, master, slaves)      # slaves hold the base tree
    creates, renames, deletes = burst_ops(b.P)
    rec = dict(workload='burst', K=k, daemon='floor', rep=rep, files=sum(len(f) for _, f in creates))
    for ph, op in phases(master, creates, renames, deletes):
        op()
        t, codes, cpu = parallel_rsync(b, master, slaves)
        ok, _, diffs = verify(master, sdirs, 30, now())
        rec[ph] = dict(time=t, codes=codes, verified=ok, cpu_children=cpu)
    return rec
