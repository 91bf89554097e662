"""restart.py: a daemon stopped and started again on a big tree whose K
slaves are already equal (issue 15): the time until a new change lands on
every slave and until the daemon says its startup is done, and its CPU; then
the same after 1 % of the files changed while it was stopped.

lsyncd runs its full startup transfer at every start. lsyncd-ng runs with a
state dir (settings stateDir, the only setting its config has beyond
lsyncd's, with jsonStatusFile for the "synced" moment): its first run makes
the state valid, the restarts queue only what changed."""

import json
import os
import random
import re
import time

from ..daemon import Daemon, wait_watches
from ..measure import now, read
from ..trees import arrived, make_tree, scan_tree, verify, write_file

STARTUP_DONE = re.compile(r'Startup of .* finished')
VALID = re.compile(r': state is valid: (\d+) path')
FULL = re.compile(r': full startup transfer \((.*)\)')
WALKED = re.compile(r'state: walked .* in ([\d.]+) s: (\d+) entr')
NEWSIZE = 256
STATUS_INTERVAL = 0.1        # s between lsyncd-ng's status writes: the resolution of "synced"
# delay 0: what a restart costs, not the delay. With a delay, lsyncd-ng's
# queued paths (and the new change) wait for it; lsyncd's startup
# transfer does not.
DELAY = 0


def startup_log(text):
    """What a daemon's log says about its startup: startup transfers
    finished, the paths queued for each sync whose state was valid, why
    the others got the full transfer, and each start-up walk (seconds,
    entries changed)."""
    return dict(finished=len(STARTUP_DONE.findall(text)),
                valid=[int(n) for n in VALID.findall(text)],
                full=FULL.findall(text),
                walks=[(float(a), int(b)) for a, b in WALKED.findall(text)])


def ng_synced(doc, since, k):
    """Does lsyncd-ng's JSON status doc, written at or after the wall-clock
    time `since`, say that all k slaves are synced: state ok, nothing queued,
    no transfer running?"""
    if not isinstance(doc, dict) or not isinstance(doc.get('time'), (int, float)) or doc['time'] < since:
        return False
    syncs = doc.get('syncs') or []
    return len(syncs) == k and all(
        s.get('state') == 'ok' and s.get('queue') == 0 and not s.get('processes') for s in syncs)


def change_ops(files, frac, seed, tag):
    """frac of `files` (relative paths) changed while the daemon is stopped:
    a tenth deleted, a tenth new files beside others (named for tag), the
    rest rewritten with another size. Returns (rewrites, deletes, creates)."""
    files = sorted(set(files))
    n = min(len(files), max(3, int(round(len(files) * frac))))
    pick = random.Random(seed).sample(files, n)
    nd = nc = n // 10
    creates = ['%s/%s-%d' % (os.path.dirname(p), tag, i) for i, p in enumerate(pick[n - nc:])]
    return pick[nd:n - nc], pick[:nd], creates


def apply_changes(master, ops, seed):
    rewrites, deletes, creates = ops
    rnd = random.Random(seed)
    for p in rewrites:
        full = os.path.join(master, p)
        write_file(full, rnd.randbytes(os.path.getsize(full) + 1 + rnd.randrange(100)))
    for p in deletes:
        os.unlink(os.path.join(master, p))
    for p in creates:
        write_file(os.path.join(master, p), rnd.randbytes(100 + rnd.randrange(2000)))


def make_restart_tree(b):
    """The tree on a tmpfs of its own (made once, kept for every run)."""
    P = b.P
    master = os.path.join(b.ws, 'm', 'restart')
    if not os.path.isdir(master):
        b.tmpfs(master, '8g')
        make_tree(master, P['restart_top'], P['restart_sub'], P['restart_files'], 5)
    return master


def restart_config(b, daemon, master, k, tag):
    """lsyncd's config; for lsyncd-ng the same plus a fresh state dir and
    the JSON status it says "synced" in. Returns (config, status file)."""
    if daemon != 'lsyncd-ng':
        return b.config('restart-' + tag, master, k, DELAY), None
    for d in ('state', 'status'):
        os.makedirs(os.path.join(b.ws, d), exist_ok=True)
    status = os.path.join(b.ws, 'status', tag + '.json')
    extra = ('\tstateDir = "%s",\n\tjsonStatusFile = "%s",\n\tstatusInterval = %s,\n'
             % (os.path.join(b.ws, 'state', tag), status, STATUS_INTERVAL))
    return b.config('restart-' + tag, master, k, DELAY, extra=extra), status


def is_synced(d, status, k):
    """The daemon says every slave is synced: lsyncd-ng's JSON status, or
    lsyncd's log line per slave that its startup transfer finished."""
    if status is None:
        return startup_log(read(d.logpath, ''))['finished'] >= k
    try:
        doc = json.loads(read(status, '') or 'null')
    except ValueError:
        return False
    return ng_synced(doc, d.wall0, k)


def one_start(b, d, status, master, sdirs, ndirs, newname, timeout):
    """Daemon d was just started: the time until it holds its watches, until
    a file written then (newname; None: none) is on every slave, until it
    says all is synced; its CPU and peak RSS until then; then the slaves
    compared with the master by checksum."""
    t0 = d.t0
    ph = dict(watched=wait_watches(d, ndirs, t0))
    if newname:
        write_file(os.path.join(master, newname), b'n' * NEWSIZE)
        ph['newfile_written'] = now() - t0
    synced = newfile = None
    end = t0 + timeout
    while now() < end and (synced is None or (newname and newfile is None)):
        d.check()
        if synced is None and is_synced(d, status, len(sdirs)):
            synced = now() - t0
        if newname and newfile is None and arrived(sdirs, newname, NEWSIZE):
            newfile = now() - t0
        time.sleep(0.01)
    d.quiet(60)
    s1 = d.snap()
    ph.update(synced=synced, newfile=newfile, cpu_self=s1['self'],
              cpu_children=s1['reaped'] + sum(s1['live'].values()), rss_peak_kb=d.hwm(),
              log=startup_log(read(d.logpath, '')))
    ph['cpu_total'] = ph['cpu_self'] + ph['cpu_children']
    return compared(ph, master, sdirs, 60)


def compared(ph, master, sdirs, timeout):
    """ph with the slaves compared with the master by checksum: verified,
    and the seconds a late one took or the differences."""
    ok, late, diffs = verify(master, sdirs, timeout, now())
    ph['verified'] = ok
    if late:
        ph['late'] = late
    if not ok:
        ph['diffs'] = diffs
    return ph


def restart(b, k, daemon, rep):
    """Three starts of one daemon on the same config: the first fills K empty
    slaves (lsyncd-ng's state becomes valid), the second finds them equal,
    the third after 1 % of the files changed while the daemon was stopped."""
    P = b.P
    master = make_restart_tree(b)
    for name in os.listdir(master):
        if name.startswith('restart-new'):
            os.unlink(os.path.join(master, name))
    exp = scan_tree(master)
    files = [(rel + '/' if rel else '') + n for rel, ents in exp.items()
             for n, (t, _) in ents.items() if t == 'f']
    b.clear_slaves(k)
    sdirs = [s['dir'] for s in b.slaves[:k]]
    tag = '%s-r%d' % (daemon, rep)
    cfg, status = restart_config(b, daemon, master, k, tag)
    timeout = 900 if not b.opts.quick else 300
    rec = dict(workload='restart', K=k, daemon=daemon, rep=rep, files=len(files), dirs=len(exp))
    for phase, newname in (('prime', None), ('same', 'restart-new-same'),
                           ('changed', 'restart-new-changed')):
        if phase == 'changed':
            ops = change_ops(files, P['restart_changed'], rep, 'c' + tag)
            t = now()
            apply_changes(master, ops, rep)
            rec['changes'] = dict(rewrites=len(ops[0]), deletes=len(ops[1]), creates=len(ops[2]),
                                  seconds=round(now() - t, 2))
        if status and os.path.exists(status):
            os.unlink(status)
        d = Daemon(b, daemon, cfg, 'restart-%s-%s' % (tag, phase))
        d.wall0 = time.time()
        try:
            rec[phase] = one_start(b, d, status, master, sdirs, len(exp), newname, timeout)
        finally:
            d.stop()
        if rec[phase]['synced'] is None or not rec[phase]['verified']:
            break
    return rec
