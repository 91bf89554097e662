"""floor.py: plain `rsync -a --delete` over the same ssh to K slaves in
parallel: the floor the burst and startup figures are compared with."""

import os
import subprocess

from .measure import now


def parallel_rsync(b, src, slaves):
    t0 = now()
    ps = []
    for s in slaves:
        p = subprocess.Popen(['rsync', '-a', '--delete', '-e', b.rsh, src + '/', b.target(s)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=b.env)
        b.procs.append(p)
        ps.append(p)
    codes = []
    cpu = 0.0
    for p in ps:
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        codes.append(p.returncode)
        cpu += ru.ru_utime + ru.ru_stime
        b.procs.remove(p)
    return now() - t0, codes, cpu
