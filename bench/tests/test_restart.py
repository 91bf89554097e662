import os
import shutil
import tempfile
import unittest

from lngbench.profiles import PROFILES
from lngbench.trees import arrived, make_tree, scan_tree
from lngbench.workloads.restart import apply_changes, change_ops, ng_synced, startup_log

NG_LOG = '''07:45:16 Normal: state: walked /m/restart in 0.16 s: 240 entries changed since the index was written
07:45:16 Normal: Sync1: state is valid: 197 path(s) queued instead of the full startup transfer
07:45:16 Normal: Sync2: state is valid: 0 path(s) queued instead of the full startup transfer
07:45:16 Normal: Sync3: full startup transfer (its definition changed)
07:45:19 Normal: Startup of /m/restart/ -> lngbench@10.215.3.2:/s/3/ finished.
'''
LSYNCD_LOG = '''Normal: --- Startup ---
07:43:22 Normal: Startup of /m/restart/ -> lngbench@10.215.4.2:/s/4/ finished.
07:43:22 Normal: Calling rsync with filter-list of new/modified files/dirs
07:43:22 Normal: Startup of /m/restart/ -> lngbench@10.215.3.2:/s/3/ finished.
'''


class StartupLog(unittest.TestCase):
    def test_lsyncd_ng_valid_full_and_walk(self):
        self.assertEqual(startup_log(NG_LOG), dict(finished=1, valid=[197, 0], full=['its definition changed'],
                                                   walks=[(0.16, 240)]))

    def test_lsyncd_counts_finished_startups(self):
        self.assertEqual(startup_log(LSYNCD_LOG), dict(finished=2, valid=[], full=[], walks=[]))

    def test_nothing_yet(self):
        self.assertEqual(startup_log(''), dict(finished=0, valid=[], full=[], walks=[]))


def sync(state='ok', queue=0, processes=0):
    return dict(name='S', state=state, queue=queue, processes=processes)


class NgSynced(unittest.TestCase):
    def test_every_slave_ok_nothing_queued_nothing_running(self):
        self.assertTrue(ng_synced(dict(time=100.5, syncs=[sync(), sync()]), 100.0, 2))

    def test_a_status_from_before_the_start_says_nothing(self):
        self.assertFalse(ng_synced(dict(time=99.0, syncs=[sync(), sync()]), 100.0, 2))
        self.assertFalse(ng_synced(dict(syncs=[sync(), sync()]), 100.0, 2))
        self.assertFalse(ng_synced(None, 100.0, 2))

    def test_one_slave_not_done(self):
        for other in (sync(state='startup'), sync(queue=3), sync(processes=1), sync(state='retrying')):
            self.assertFalse(ng_synced(dict(time=101, syncs=[sync(), other]), 100.0, 2), other)

    def test_every_slave_must_be_there(self):
        self.assertFalse(ng_synced(dict(time=101, syncs=[sync()]), 100.0, 2))


class Changes(unittest.TestCase):
    files = ['t%03d/s%03d/f%d' % (i, j, f) for i in range(2) for j in range(10) for f in range(10)]

    def test_one_percent_split_and_distinct(self):
        rw, de, cr = change_ops(self.files * 5, 0.05, 1, 'x')   # a path named twice counts once
        self.assertEqual((len(rw), len(de), len(cr)), (8, 1, 1))
        self.assertEqual(len(set(rw)), 8)
        self.assertFalse(set(rw) & set(de))
        self.assertTrue(all(os.path.basename(c).startswith('x-') for c in cr))
        self.assertTrue(all(os.path.dirname(c) in {os.path.dirname(f) for f in self.files} for c in cr))

    def test_same_seed_same_changes_other_seed_others(self):
        a = change_ops(self.files, 0.05, 3, 't')
        self.assertEqual(a, change_ops(list(reversed(self.files)), 0.05, 3, 't'))
        self.assertNotEqual(a, change_ops(self.files, 0.05, 4, 't'))

    def test_at_least_three(self):
        self.assertEqual(sum(len(x) for x in change_ops(self.files[:10], 0.01, 1, 't')), 3)

    def test_applied_to_a_tree(self):
        ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, ws)
        make_tree(ws, 2, 3, 4, 5)
        before = scan_tree(ws)
        files = [r + '/' + n for r, ents in before.items() for n, (t, _) in ents.items() if t == 'f']
        self.assertEqual(len(files), 24)
        ops = change_ops(files, 0.5, 1, 'new')
        apply_changes(ws, ops, 1)
        after = scan_tree(ws)
        for p in ops[0]:
            d, n = os.path.split(p)
            self.assertGreater(after[d][n][1], before[d][n][1])      # another size: the listing sees it
        for p in ops[1]:
            self.assertFalse(os.path.exists(os.path.join(ws, p)))
        for p in ops[2]:
            self.assertTrue(os.path.isfile(os.path.join(ws, p)))


class Trees(unittest.TestCase):
    def test_make_tree_and_arrived(self):
        ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, ws)
        make_tree(os.path.join(ws, 'm'), 2, 2, 3, 5)
        exp = scan_tree(os.path.join(ws, 'm'))
        self.assertEqual(len(exp), 1 + 2 + 4)
        sizes = [s for ents in exp.values() for t, s in ents.values() if t == 'f']
        self.assertEqual(len(sizes), 12)
        self.assertTrue(all(200 <= s < 3200 for s in sizes))
        a, b = os.path.join(ws, 'a'), os.path.join(ws, 'b')
        os.mkdir(a)
        os.mkdir(b)
        with open(os.path.join(a, 'n'), 'wb') as f:
            f.write(b'x' * 5)
        self.assertFalse(arrived([a, b], 'n', 5))
        with open(os.path.join(b, 'n'), 'wb') as f:
            f.write(b'x' * 4)
        self.assertFalse(arrived([a, b], 'n', 5))
        with open(os.path.join(b, 'n'), 'wb') as f:
            f.write(b'x' * 5)
        self.assertTrue(arrived([a, b], 'n', 5))


class Profiles(unittest.TestCase):
    def test_full_restart_tree_is_at_least_200000_files_in_20000_dirs(self):
        P = PROFILES['full']
        self.assertGreaterEqual(P['restart_top'] * P['restart_sub'] * P['restart_files'], 200000)
        self.assertGreaterEqual(P['restart_top'] * P['restart_sub'], 20000)
        self.assertEqual(P['restart_k'], 4)
        Q = PROFILES['quick']
        self.assertLess(Q['restart_top'] * Q['restart_sub'] * Q['restart_files'],
                        P['restart_top'] * P['restart_sub'] * P['restart_files'])
