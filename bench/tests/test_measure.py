import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from lngbench import daemon as dmod
from lngbench.measure import now, self_cpu

# A child that burns CPU for BUSY s, then watches DIRS directories with
# inotify and waits: a daemon's walk, then its watches, in miniature.
CHILD = r'''
import ctypes, os, sys, time
busy, dirs = float(sys.argv[1]), sys.argv[2:]
end = time.monotonic() + busy
while time.monotonic() < end:
    pass
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
for d in dirs:
    libc.inotify_add_watch(fd, d.encode(), 0x100)
sys.stdout.write('watched\n'); sys.stdout.flush()
time.sleep(30)
'''


def burn(secs):
    end = time.thread_time() + secs
    while time.thread_time() < end:
        pass


class SelfCpu(unittest.TestCase):
    def test_counts_a_thread_that_ended(self):
        before = self_cpu(os.getpid())
        t = threading.Thread(target=burn, args=(0.3,))
        t.start()
        t.join()
        # the main thread slept in join: the 0.3 s are the ended thread's
        self.assertGreaterEqual(self_cpu(os.getpid()) - before, 0.25)


class FakeDaemon:
    def __init__(self, p):
        self.p, self.pid = p, p.pid

    def check(self):
        if self.p.poll() is not None:
            raise RuntimeError('child ended')


class WaitWatches(unittest.TestCase):
    BUSY = 0.7

    def setUp(self):
        self.ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, self.ws)
        self.dirs = []
        for i in range(5):
            self.dirs.append(os.path.join(self.ws, 'd%d' % i))
            os.mkdir(self.dirs[-1])
        self.p = subprocess.Popen([sys.executable, '-c', CHILD, str(self.BUSY)] + self.dirs,
                                  stdout=subprocess.PIPE)
        self.addCleanup(self.p.wait)
        self.addCleanup(self.p.kill)
        self.reads = []
        real = dmod.inotify_watches

        def counted(pid):
            self.reads.append(now())
            return real(pid)
        dmod.inotify_watches = counted
        self.addCleanup(setattr, dmod, 'inotify_watches', real)
        # the child's CPU as a daemon's would grow: with the wall clock
        # while it is busy, not at all after (its real CPU depends on how
        # loaded the machine is: on a busy one it may get less than the
        # `idle` share and look idle)
        start = now()

        def cpu(pid):
            self.assertEqual(pid, self.p.pid)
            return min(now() - start, self.BUSY)
        self.addCleanup(setattr, dmod, 'self_cpu', dmod.self_cpu)
        dmod.self_cpu = cpu

    def test_counts_only_once_the_daemon_is_not_busy(self):
        t0 = now()
        took = dmod.wait_watches(FakeDaemon(self.p), len(self.dirs), t0, timeout=20)
        self.assertEqual(self.p.stdout.readline(), b'watched\n')
        self.assertGreaterEqual(took, self.BUSY * 0.9)
        self.assertLess(took, self.BUSY + 1.5)
        # none while it burned CPU (the first look that may come anyway is
        # a second after the start)
        early = [r - t0 for r in self.reads if r - t0 < self.BUSY * 0.8]
        self.assertEqual(early, [])


if __name__ == '__main__':
    unittest.main()
