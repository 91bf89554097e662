"""env.py: the environment of one run: workspace, the processes it
started, tmpfs mounts, daemon configs, the records, the time budget, and
the teardown of everything (also after a failure or ^C)."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

from .cmd import log, run
from .measure import alive, descendants, now, read
from .profiles import DAEMONS, MARK, PROFILES
from .slaves import SlaveFarm


class Bench(SlaveFarm):
    def __init__(self, opts):
        self.opts = opts
        self.P = dict(PROFILES['quick' if opts.quick else 'full'])
        if opts.reps:
            self.P['reps'] = opts.reps
            self.P['scale_reps'] = min(self.P['scale_reps'], opts.reps)
            self.P['restart_reps'] = min(self.P['restart_reps'], opts.reps)
            self.P['indexcost_reps'] = opts.reps
            self.P['spill_reps'] = min(self.P['spill_reps'], opts.reps)
        if getattr(opts, 'restart_files', 0):
            per_top = self.P['restart_sub'] * self.P['restart_files']
            self.P['restart_top'] = max(1, round(opts.restart_files / per_top))
        self.pid = os.getpid()
        self.ws = None
        self.procs = []            # Popen objects we started (sshd, daemons, rsync)
        self.mounts = []
        self.records = []
        self.jsonl = None
        self.t_start = now()
        SlaveFarm.__init__(self)
        self.deadline = self.t_start + self.P['budget']
        self.skipped = []

    # ---- setup
    def setup(self, nslaves):
        if os.geteuid() != 0:
            sys.exit('bench/run needs root (network namespaces, a system user, sshd)')
        for name, path in DAEMONS.items():
            if not os.access(path, os.X_OK):
                sys.exit('%s not found at %s (run make first?)' % (name, path))
        self.ws = run(['mktemp', '-d', '/tmp/lng-bench.XXXXXX']).stdout.strip()
        os.chmod(self.ws, 0o755)
        self.env = dict(os.environ, LC_ALL='C')
        self.env[MARK] = self.ws
        log('workspace', self.ws)
        self.make_user()
        self.make_keys()
        # The slaves' trees live on a tmpfs: on real slaves each has a disk
        # of its own, here they would all share the master's. Written to
        # one ext4 disk, 4 x 50,000 files (and removing them again between
        # runs, which goes on in the background) measured that disk, by
        # 2x from one run to the next, not the daemons.
        self.tmpfs(os.path.join(self.ws, 's'), '8g')
        for n in range(1, nslaves + 1):
            self.make_slave(n)
        log('%d slaves up (%s.N.2, one sshd each)' % (nslaves, self.net))

    def tmpfs(self, path, size='1g'):
        os.makedirs(path, exist_ok=True)
        run(['mount', '-t', 'tmpfs', '-o', 'size=%s,nr_inodes=3m,mode=0755' % size, 'lngbench', path])
        self.mounts.append(path)

    def untmpfs(self, path):
        if run(['umount', path], check=False).returncode != 0:
            run(['umount', '-l', path], check=False)
        if path in self.mounts:
            self.mounts.remove(path)

    # ---- processes
    def stop_proc(self, p, grace=10):
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def marked_procs(self):
        out = []
        needle = ('%s=%s' % (MARK, self.ws)).encode()
        for d in os.listdir('/proc'):
            if d.isdigit() and int(d) != os.getpid():
                try:
                    with open('/proc/%s/environ' % d, 'rb') as f:
                        if needle in f.read().split(b'\0'):
                            out.append(int(d))
                except OSError:
                    pass
        return out

    # ---- teardown: everything, in any state
    def teardown(self):
        log('teardown')
        for p in list(self.procs):
            try:
                kids = descendants(p.pid)
                self.stop_proc(p, 10)
                for k in kids:
                    if alive(k):
                        os.kill(k, signal.SIGKILL)
            except Exception as e:       # keep tearing down
                log('teardown: %s' % e)
        if self.ws:
            for _ in range(3):
                left = self.marked_procs()
                for p in left:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                if not left:
                    break
                time.sleep(0.2)
        if self.user_created and self.user_is_ours():
            self.kill_user_procs(self.uid)
        for m in list(self.mounts):
            self.untmpfs(m)
        self.remove_slaves()
        if self.ws and not self.opts.keep:
            subprocess.run(['rm', '-rf', '--one-file-system', self.ws])
        elif self.ws:
            log('kept', self.ws)

    # ---- configs: the same file for both daemons
    def config(self, name, source, k, delay, extra='', sync_extra=''):
        path = os.path.join(self.ws, 'conf', name + '.lua')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        parts = ['-- %s: written by bench/run, run unchanged by lsyncd and lsyncd-ng\n' % name,
                 'settings {\n\tnodaemon = true,\n%s}\n' % extra]
        for s in self.slaves[:k]:
            parts.append('sync {\n\tdefault.rsync,\n\tsource = "%s",\n\ttarget = "%s",\n'
                         '\tdelay = %s,\n%s\trsync = { rsh = "%s" },\n}\n'
                         % (source, self.target(s), delay, sync_extra, self.rsh))
        with open(path, 'w') as f:
            f.write(''.join(parts))
        return path

    # ---- records
    def emit(self, rec):
        rec = dict(rec)
        rec.setdefault('time', datetime.datetime.now().isoformat(timespec='seconds'))
        rec['loadavg'] = (read('/proc/loadavg') or '').split()[:3]
        self.records.append(rec)
        self.jsonl.write(json.dumps(rec, sort_keys=True) + '\n')
        self.jsonl.flush()

    def budget_left(self, need):
        return now() + need < self.deadline
