import os
import shutil
import tempfile
import unittest

from lngbench.profiles import PROFILES
from lngbench.workloads.burst import burst_ops, do_creates, do_deletes, do_renames, make_base
from lngbench.workloads.churn import Follower, op_matches


class BurstOps(unittest.TestCase):
    P = PROFILES['quick']

    def test_counts(self):
        creates, renames, deletes = burst_ops(self.P)
        self.assertEqual(len(creates), self.P['burst_dirs'])
        self.assertEqual(sum(len(f) for _, f in creates), self.P['burst_dirs'] * self.P['burst_files'])
        self.assertEqual(len(renames), self.P['renames'])
        self.assertEqual(len(deletes), self.P['deletes'])
        self.assertEqual(len(set(deletes)), len(deletes))

    def test_renames_every_new_dir_then_base_dirs(self):
        _, renames, _ = burst_ops(self.P)
        nd = self.P['burst_dirs']
        self.assertEqual(renames[0], ('new/b000', 'new/r000'))
        self.assertEqual(renames[nd], ('base/b000', 'base/r000'))
        self.assertTrue(all(a.startswith('base/') for a, _ in renames[nd:]))

    def test_the_phases_apply_in_order(self):
        P = dict(self.P, burst_dirs=3, burst_files=4, renames=4, deletes=6, base_dirs=2, base_files=2)
        ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, ws)
        make_base(ws, P['base_dirs'], P['base_files'], 7)
        creates, renames, deletes = burst_ops(P)
        do_creates(ws, creates, 11)
        self.assertEqual(sorted(os.listdir(os.path.join(ws, 'new'))), ['b000', 'b001', 'b002'])
        self.assertEqual(os.path.getsize(os.path.join(ws, 'new', 'b002', 'f003')), 1024)
        do_renames(ws, renames)
        self.assertEqual(sorted(os.listdir(os.path.join(ws, 'new'))), ['r000', 'r001', 'r002'])
        self.assertEqual(sorted(os.listdir(os.path.join(ws, 'base'))), ['b001', 'r000'])
        do_deletes(ws, deletes)
        left = sum(len(os.listdir(os.path.join(ws, 'new', d))) for d in os.listdir(os.path.join(ws, 'new')))
        self.assertEqual(left, 12 - 6)


def op(t, kind, path, size, frm=None):
    o = dict(t=t, kind=kind, check=[path, size])
    if frm:
        o['from'] = frm
    return o


class Follow(unittest.TestCase):
    def test_a_later_op_on_the_path_ends_following(self):
        f = Follower()
        f.add(op(0.0, 'create', 'd/a', 10))
        f.add(op(1.0, 'rewrite', 'd/a', 20))
        f.land(3.0, lambda c: c == ['d/a', 20])
        s = f.summary()
        self.assertEqual((s['ops'], s['followed'], s['not_landed_30s']), (2, 1, 0))
        self.assertEqual(s['lag_p50'], 2.0)

    def test_a_rename_or_delete_of_a_dir_ends_following_below_it(self):
        f = Follower()
        f.add(op(0.0, 'create', 'd/a', 1))
        f.add(op(0.0, 'create', 'dd/b', 1))
        f.add(op(0.5, 'rename-dir', 'e', -2, frm='d'))
        f.add(op(0.6, 'delete-dir', 'dd', -1))
        self.assertEqual(sorted(f.live), ['dd', 'e'])
        self.assertEqual(f.summary()['followed'], 2)

    def test_a_file_rename_ends_following_its_origin(self):
        f = Follower()
        f.add(op(0.0, 'create', 'a', 1))
        f.add(op(0.1, 'rename', 'b', 1, frm='a'))
        self.assertEqual(list(f.live), ['b'])

    def test_landing_and_the_lag_per_10s(self):
        f = Follower()
        f.add(op(100.0, 'create', 'a', 1))
        f.add(op(105.0, 'create', 'b', 1))
        f.add(op(112.0, 'create', 'c', 1))
        f.land(101.0, lambda c: c[0] == 'a')
        self.assertFalse(f.all_landed())
        f.land(108.0, lambda c: c[0] == 'b')
        f.land(200.0, lambda c: True)
        f.land(300.0, lambda c: True)            # a landed op keeps its time
        self.assertTrue(f.all_landed())
        s = f.summary()
        self.assertEqual((s['lag_p50'], s['lag_p99'], s['lag_max']), (3.0, 88.0, 88.0))
        self.assertEqual(s['lag_p99_by_10s'], [3.0, 88.0])

    def test_not_landed_counts_and_is_inf_in_its_window(self):
        f = Follower()
        f.add(op(0.0, 'create', 'a', 1))
        f.add(op(1.0, 'create', 'b', 1))
        f.land(2.0, lambda c: c[0] == 'a')
        s = f.summary()
        self.assertEqual(s['not_landed_30s'], 1)
        self.assertEqual(s['lag_max'], 2.0)
        self.assertEqual(s['lag_p99_by_10s'], [float('inf')])

    def test_nothing(self):
        s = Follower().summary()
        self.assertEqual((s['ops'], s['lag_p50'], s['lag_max'], s['lag_p99_by_10s']), (0, None, None, []))


class OpMatches(unittest.TestCase):
    def test_checks(self):
        ws = tempfile.mkdtemp(prefix='lng-bench-test.')
        self.addCleanup(shutil.rmtree, ws)
        os.mkdir(os.path.join(ws, 'd'))
        with open(os.path.join(ws, 'd', 'f'), 'wb') as fh:
            fh.write(b'12345')
        self.assertTrue(op_matches(ws, ['d/f', 5]))
        self.assertFalse(op_matches(ws, ['d/f', 4]))
        self.assertFalse(op_matches(ws, ['d/f', -1]))
        self.assertFalse(op_matches(ws, ['d/f', -2]))
        self.assertTrue(op_matches(ws, ['d', -2]))
        self.assertFalse(op_matches(ws, ['d', 0]))
        self.assertTrue(op_matches(ws, ['gone', -1]))
        self.assertFalse(op_matches(ws, ['gone', 0]))
