"""machine.py: what the machine and the programs under test are (the first
line of the .jsonl, the head of the table)."""

import os
import re
import subprocess

from .measure import read
from .profiles import DAEMONS, ROOT


def machine_info():
    def out(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return r.stdout.strip()
        except OSError:
            return '?'
    cpu = re.search(r'^model name\s*:\s*(.*)$', read('/proc/cpuinfo') or '', re.M)
    mem = re.search(r'^MemTotal:\s*(\d+)', read('/proc/meminfo') or '', re.M)
    rev = out(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'])
    dirty = out(['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'engine', 'lua'])
    return dict(
        cores=os.cpu_count(), cpu=cpu.group(1) if cpu else '?',
        mem_gib=round(int(mem.group(1)) / 1048576, 1) if mem else None,
        kernel=os.uname().release, loadavg_start=(read('/proc/loadavg') or '').split()[:3],
        lsyncd=out(['/usr/bin/lsyncd', '-version']).replace('Version: ', ''),
        lsyncd_ng=out([DAEMONS['lsyncd-ng'], '-version']).replace('Version: ', '')
        + (' (git %s%s)' % (rev, ', engine/lua modified' if dirty else '')
           if DAEMONS['lsyncd-ng'] == os.path.join(ROOT, 'lsyncd-ng') else ' (%s)' % DAEMONS['lsyncd-ng']),
        rsync=out(['rsync', '--version']).splitlines()[0],
        ssh=out(['ssh', '-V']),
        fs=out(['findmnt', '-n', '-o', 'FSTYPE', '-T', '/tmp']),
    )
