import contextlib
import io
import os
import unittest

from lngbench.cli import parse_args
from lngbench.profiles import HERE, ROOT, WORKLOADS


class Arguments(unittest.TestCase):
    def test_defaults_run_everything(self):
        opts, only = parse_args([])
        self.assertEqual(only, list(WORKLOADS))
        self.assertFalse(opts.quick)
        self.assertFalse(opts.keep)
        self.assertEqual(opts.reps, 0)
        self.assertEqual(opts.out, os.path.join(HERE, 'results'))
        self.assertEqual(opts.ng, os.path.join(ROOT, 'lsyncd-ng'))
        self.assertEqual(opts.restart_files, 0)

    def test_another_lsyncd_ng_and_restart_size(self):
        opts, only = parse_args(['--only', 'restart', '--ng', 'x/lsyncd-ng', '--restart-files', '100000'])
        self.assertEqual(only, ['restart'])
        self.assertEqual(opts.ng, os.path.abspath('x/lsyncd-ng'))
        self.assertEqual(opts.restart_files, 100000)

    def test_only_a_subset(self):
        opts, only = parse_args(['--quick', '--only', 'latency,churn', '--reps', '1', '--keep',
                                 '--out', '/tmp/x'])
        self.assertEqual(only, ['latency', 'churn'])
        self.assertTrue(opts.quick)
        self.assertTrue(opts.keep)
        self.assertEqual(opts.reps, 1)
        self.assertEqual(opts.out, '/tmp/x')

    def test_empty_items_are_ignored(self):
        _, only = parse_args(['--only', 'burst,,'])
        self.assertEqual(only, ['burst'])

    def test_unknown_workload_exits_with_the_known_ones(self):
        with self.assertRaises(SystemExit) as e:
            parse_args(['--only', 'latency,bogus'])
        self.assertIn('unknown workload bogus', str(e.exception.code))
        self.assertIn('churn', str(e.exception.code))

    def test_reps_must_be_a_number(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            parse_args(['--reps', 'many'])

    def test_workloads(self):
        self.assertEqual(WORKLOADS, ('latency', 'burst', 'floor', 'startup', 'scale', 'churn', 'restart',
                                     'indexcost', 'spill'))
