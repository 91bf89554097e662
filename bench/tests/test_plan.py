import unittest

from lngbench import plan
from lngbench.profiles import PROFILES


class Interleave(unittest.TestCase):
    def test_abba(self):
        self.assertEqual([d for _, d in plan.interleave(3)],
                         ['lsyncd', 'lsyncd-ng', 'lsyncd-ng', 'lsyncd', 'lsyncd', 'lsyncd-ng'])
        self.assertEqual([r for r, _ in plan.interleave(2)], [0, 0, 1, 1])


class Build(unittest.TestCase):
    P = dict(PROFILES['quick'], reps=2, scale_reps=1)

    def names(self, only):
        return [n for n, _, _ in plan.build(self.P, only)]

    def test_latency_with_floor_after_each_pair(self):
        got = [n for n in self.names(['latency', 'floor'])
               if n.split()[0] == 'latency' or n.startswith('floor latency')]
        got = [n for n in got if ' k=1 ' in n]
        self.assertEqual(got, ['latency k=1 lsyncd r0', 'latency k=1 lsyncd-ng r0', 'floor latency k=1 r0',
                               'latency k=1 lsyncd-ng r1', 'latency k=1 lsyncd r1', 'floor latency k=1 r1'])

    def test_floor_alone_runs_no_daemon(self):
        got = plan.build(self.P, ['floor'])
        self.assertTrue(got)
        self.assertTrue(all(n.startswith('floor ') for n, _, _ in got))
        self.assertEqual({f for _, f, _ in got}, {'floor_burst', 'floor_startup'})

    def test_arguments_follow_the_name(self):
        got = plan.build(self.P, ['churn', 'scale'])
        self.assertEqual(got, [('churn rate=200 lsyncd r0', 'churn', (200, 'lsyncd', 0)),
                               ('churn rate=200 lsyncd-ng r0', 'churn', (200, 'lsyncd-ng', 0)),
                               ('scale lsyncd r0', 'scale', ('lsyncd', 0)),
                               ('scale lsyncd-ng r0', 'scale', ('lsyncd-ng', 0))])

    def test_restart_interleaved_at_k(self):
        got = plan.build(dict(self.P, restart_reps=2), ['restart'])
        self.assertEqual(got, [('restart k=4 lsyncd r0', 'restart', (4, 'lsyncd', 0)),
                               ('restart k=4 lsyncd-ng r0', 'restart', (4, 'lsyncd-ng', 0)),
                               ('restart k=4 lsyncd-ng r1', 'restart', (4, 'lsyncd-ng', 1)),
                               ('restart k=4 lsyncd r1', 'restart', (4, 'lsyncd', 1))])
        self.assertEqual(plan.estimate('restart k=4 lsyncd r0', {}, True), 150)
        self.assertEqual(plan.error_record('restart k=4 lsyncd-ng r1', RuntimeError('x'))['K'], 4)

    def test_indexcost_without_and_with_state_interleaved(self):
        got = plan.build(dict(self.P, indexcost_reps=2), ['indexcost'])
        self.assertEqual([(n, a) for n, _, a in got],
                         [('indexcost k=4 nostate r0', (4, False, 0)), ('indexcost k=4 state r0', (4, True, 0)),
                          ('indexcost k=4 state r1', (4, True, 1)), ('indexcost k=4 nostate r1', (4, False, 1))])
        self.assertEqual({f for _, f, _ in got}, {'indexcost'})

    def test_spill_as_today_then_with_state(self):
        got = plan.build(dict(self.P, spill_reps=1), ['spill'])
        self.assertEqual(got, [('spill nostate r0', 'spill', (False, 0)), ('spill state r0', 'spill', (True, 0))])

    def test_slaves_set_up_for_what_runs(self):
        self.assertEqual(plan.slaves_needed(self.P, ['restart']), 4)
        self.assertEqual(plan.slaves_needed(self.P, ['spill']), 1)
        self.assertEqual(plan.slaves_needed(self.P, ['scale', 'churn']), 4)
        self.assertEqual(plan.slaves_needed(self.P, ['floor']), 16)
        self.assertEqual(plan.slaves_needed(self.P, list(plan.GUESS)), 16)

    def test_order_of_workloads(self):
        kinds = []
        for n in self.names(['scale', 'churn', 'startup', 'burst', 'latency']):
            if n.split()[0] not in kinds:
                kinds.append(n.split()[0])
        self.assertEqual(kinds, ['latency', 'burst', 'startup', 'churn', 'scale'])


class Budget(unittest.TestCase):
    def test_first_guess_then_longest_seen(self):
        self.assertEqual(plan.estimate('burst k=4 lsyncd r0', {}, True), 20)
        self.assertEqual(plan.estimate('burst k=4 lsyncd r0', {}, False), 90)
        self.assertEqual(plan.estimate('floor burst k=4 r0', {}, False), 60)
        took = {'burst k=4': [12.0, 30.0]}
        self.assertEqual(plan.estimate('burst k=4 lsyncd-ng r1', took, False), 30.0)
        self.assertEqual(plan.estimate('burst k=1 lsyncd r0', took, False), 90)


class ErrorRecord(unittest.TestCase):
    def test_daemon_run(self):
        r = plan.error_record('burst k=4 lsyncd-ng r1', RuntimeError('boom'))
        self.assertEqual(r, dict(workload='burst', daemon='lsyncd-ng', K=4, error='RuntimeError: boom'))

    def test_floor_run(self):
        r = plan.error_record('floor startup k=4 r0', OSError('x'))
        self.assertEqual((r['workload'], r['daemon'], r['K']), ('startup', 'floor', 4))

    def test_no_k_is_one(self):
        self.assertEqual(plan.error_record('churn rate=200 lsyncd r0', ValueError())['K'], 1)
