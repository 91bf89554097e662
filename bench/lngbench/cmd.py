"""cmd.py: running a command to its end, and the progress log."""

import subprocess
import time


def log(*a):
    print('[bench %s]' % time.strftime('%H:%M:%S'), *a, flush=True)


def run(argv, check=True, **kw):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)
