"""startup.py: a daemon started on a big tree, timed until every slave
equals it (and a file written once the watches are in place arrived); and
its floor."""

import os
import time

from ..daemon import Daemon, wait_watches
from ..floor import parallel_rsync
from ..measure import inotify_watches, now
from ..trees import make_tree, scan_tree, verify, wait_trees, write_file


def make_start_tree(b):
    P = b.P
    master = os.path.join(b.ws, 'm', 'start')
    if not os.path.isdir(master):
        make_tree(master, P['start_top'], P['start_sub'], P['start_files'], 3)
    return master


def startup(b, k, daemon, rep):
    master = make_start_tree(b)
    b.clear_slaves(k)
    slaves = b.slaves[:k]
    sdirs = [s['dir'] for s in slaves]
    exp = scan_tree(master)
    ndirs = len(exp)
    nfiles = sum(1 for ents in exp.values() for t, _ in ents.values() if t == 'f')
    cfg = b.config('startup-k%d' % k, master, k, 1)
    newname = 'new-after-start'
    newpath = os.path.join(master, newname)
    if os.path.exists(newpath):
        os.unlink(newpath)
    rec = dict(workload='startup', K=k, daemon=daemon, rep=rep, files=nfiles, dirs=ndirs)
    t0 = now()
    d = Daemon(b, daemon, cfg, 'startup-k%d-r%d' % (k, rep))
    try:
        # the new file is written once the daemon holds all its watches
        t_watched = wait_watches(d, ndirs, t0)
        write_file(newpath, b'n' * 256)
        t_newwrite = now() - t0
        newarrived = {}

        def newfile(sdir):
            p = os.path.join(sdir, newname)
            try:
                if os.stat(p).st_size == 256:
                    newarrived.setdefault(sdir, now() - t0)
                    return True
            except OSError:
                pass
            return False

        done, interval = wait_trees(master, sdirs, exp, t0, 600 if not b.opts.quick else 240,
                                    optional=(newname,))
        # the tree is there; the new file may or may not have come along
        end = now() + 120
        while now() < end and not all(newfile(s) for s in sdirs):
            time.sleep(0.01)
        tree_t = None if None in done.values() else max(done.values())
        new_t = max(newarrived.values()) if len(newarrived) == len(sdirs) else None
        s1 = d.snap()
        ok, late, diffs = verify(master, sdirs, 120, t0)
        rec.update(synced=tree_t, newfile=new_t, newfile_written=t_newwrite, watched=t_watched,
                   all_done=max(x for x in (tree_t, new_t) if x is not None) if tree_t and new_t else None,
                   poll=interval, verified=ok, cpu_self=s1['self'],
                   cpu_children=s1['reaped'] + sum(s1['live'].values()),
                   rss_peak_kb=d.hwm(), watches=inotify_watches(d.pid))
        if not ok:
            rec['diffs'] = diffs
    finally:
        d.stop()
        if os.path.exists(newpath):
            os.unlink(newpath)
    return rec


def floor_startup(b, k, rep):
    master = make_start_tree(b)
    b.clear_slaves(k)
    t, codes, cpu = parallel_rsync(b, master, b.slaves[:k])
    ok, _, _ = verify(master, [s['dir'] for s in b.slaves[:k]], 30, now())
    return dict(workload='startup', K=k, daemon='floor', rep=rep, synced=t, codes=codes,
                verified=ok, cpu_children=cpu)
