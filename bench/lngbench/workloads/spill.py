"""spill.py: a slave down while many paths change (issue 15): lsyncd-ng as
today (every queued path in RAM) and with a state dir and a small
settings maxQueueMemory (beyond it the paths wait in the state store): peak
RSS and daemon CPU per event while the queue fills.

As in scale.py, delay = 3600: nothing becomes due while the queue fills.
With a short delay lsyncd-ng retried the dead slave ~100 times a second
while events kept arriving (3,431 rsyncs in 35 s, each logging the whole list:
55 MB of log), so the figure would be that of the retries.

The catch-up: with delay = 3600 a slave that returns to the running daemon
waits an hour for the queue's delay, so the daemon is stopped (TERM), the
slave brought back, and the daemon started again on the same config (plus a
JSON status file, for the moment it says it is synced): with a state dir
its pending set (the paths the slave lacks, durable) is queued at once, in
pages; as today (no state) a restart means the full startup transfer. The
time from that start until the daemon says synced, then the slave compared
with the master by checksum (exactly equal, or the run is marked bad)."""

import json
import os
import time

from ..daemon import Daemon
from ..measure import now, read, self_cpu, status_kb
from ..trees import write_file
from .restart import compared, ng_synced
from .scale import settle, warm_then_down

MAX_QUEUE_MEMORY = 8 * 1024 * 1024      # bytes per slave: ~7,600 paths at lsyncd-ng's ~1.1 KB


def spill_config(b, master, state, tag, status=None):
    """One slave, delay 3600; with state: a fresh state dir and
    MAX_QUEUE_MEMORY; status: a JSON status file written every 0.1 s."""
    extra = ''
    if status:
        extra += '\tjsonStatusFile = "%s",\n\tstatusInterval = 0.1,\n' % status
    if state:
        os.makedirs(os.path.join(b.ws, 'state'), exist_ok=True)
        extra += '\tstateDir = "%s",\n\tmaxQueueMemory = %d,\n' % (os.path.join(b.ws, 'state', tag),
                                                                   MAX_QUEUE_MEMORY)
    return b.config(tag, master, 1, 3600, extra=extra, sync_extra='\tmaxDelays = 100000000,\n')


def fill(d, master, n, chunk=1000):
    """Writes n empty files (1,000 to a directory), a chunk at a time, each
    chunk digested before the next (the kernel's event queue never
    overflows). Returns the daemon's CPU meanwhile."""
    cpu = 0.0
    i = 0
    while i < n:
        d.check()
        c0 = self_cpu(d.pid)
        for _ in range(min(chunk, n - i)):
            write_file(os.path.join(master, 'f%04d' % (i // 1000), 'x%06d' % i), b'')
            i += 1
        settle(d, 0.0, 60, window=0.05, need=2)
        cpu += self_cpu(d.pid) - c0
    return cpu


def spill(b, state, rep):
    n = b.P['spill_paths']
    master = os.path.join(b.ws, 'm', 'spill')
    b.tmpfs(master, '2g')
    for i in range((n + 999) // 1000):
        os.mkdir(os.path.join(master, 'f%04d' % i))
    s = b.slaves[0]
    b.clear_slaves(1)
    tag = 'spill-%s-r%d' % ('state' if state else 'nostate', rep)
    cfg = spill_config(b, master, state, tag)
    rec = dict(workload='spill', K=1, daemon='lsyncd-ng', state=state, rep=rep, paths=n)
    d = Daemon(b, 'lsyncd-ng', cfg, tag)
    try:
        warm_then_down(b, d, master, s)
        d.hwm_reset()
        t0 = now()
        cpu = fill(d, master, n)
        # RSS counts the pages of the state store the daemon has mapped
        # (LMDB): RssFile, page cache, vs its own memory: RssAnon
        rec.update(fill_time=now() - t0, cpu_per_event=cpu / n, rss_peak_kb=d.hwm(),
                   rss_anon_kb=status_kb(d.pid, 'RssAnon'), rss_file_kb=status_kb(d.pid, 'RssFile'),
                   spilled='wait in the state store' in (read(d.logpath) or ''))
        t = now()
        d.stop()
        rec['stop_time'] = now() - t
        b.slave_up(s)
        c = rec['catchup'] = catch_up(b, master, state, tag, s)
        rec.update(catchup_synced=c['synced'], catchup_cpu=c['cpu_self'] + c['cpu_children'])
    finally:
        d.stop()
        if s.get('down'):
            b.slave_up(s)
        b.untmpfs(master)
    return rec


def catch_up(b, master, state, tag, s, timeout=1800):
    """The slave is back: the daemon started again on the same config (the
    state file is named for its path) with a JSON status file; the time
    until it says synced, its CPU and peak RSS, then the slave compared
    with the master by checksum."""
    status = os.path.join(b.ws, 'status', tag + '.json')
    os.makedirs(os.path.dirname(status), exist_ok=True)
    if os.path.exists(status):
        os.unlink(status)
    spill_config(b, master, state, tag, status)
    d = Daemon(b, 'lsyncd-ng', os.path.join(b.ws, 'conf', tag + '.lua'), tag + '-catchup')
    wall0 = time.time()
    try:
        synced = None
        while now() - d.t0 < timeout:
            d.check()
            try:
                doc = json.loads(read(status, '') or 'null')
            except ValueError:
                doc = None
            if ng_synced(doc, wall0, 1):
                synced = now() - d.t0
                break
            time.sleep(0.2)
        d.quiet(60)
        sn = d.snap()
        log = read(d.logpath, '') or ''
        ph = dict(synced=synced, cpu_self=sn['self'], cpu_children=sn['reaped'] + sum(sn['live'].values()),
                  rss_peak_kb=d.hwm(), state_valid=': state is valid' in log)
    finally:
        d.stop()
    return compared(ph, master, [s['dir']], 120)
