import unittest

from lngbench.profiles import PROFILES, ROOT
from lngbench.report import Report, brief, fmt

MACHINE = dict(cores=2, cpu='Test CPU', mem_gib=1.0, kernel='6.0', fs='ext4', loadavg_start=['1', '2', '3'],
               loadavg_end=['0', '0', '0'], lsyncd='2.2.3', lsyncd_ng='0.1.0 (git abc)', rsync='rsync 3',
               ssh='OpenSSH')


def lat(daemon, k, p50, rep=0, **kw):
    return dict(workload='latency', K=k, daemon=daemon, rep=rep, p50=p50, p90=p50 * 2, max=p50 * 3, **kw)


class Formats(unittest.TestCase):
    def test_units(self):
        self.assertEqual(fmt(None, 's'), '—')
        self.assertEqual(fmt(1.23456, 's'), '1.235 s')
        self.assertEqual(fmt(12.34, 's'), '12.3 s')
        self.assertEqual(fmt(0.2, 'ms'), '200 ms')
        self.assertEqual(fmt(0.0042, 'ms'), '4.2 ms')
        self.assertEqual(fmt(2.5e-5, 'us'), '25.0 µs')
        self.assertEqual(fmt(2048, 'MiB'), '2.0 MiB')
        self.assertEqual(fmt(0.25, '%'), '25 %')
        self.assertEqual(fmt(7.0, 'n'), '7')


class Brief(unittest.TestCase):
    def test_only_the_headline_figures(self):
        rec = dict(workload='burst', p50=1, samples=[1, 2], create=dict(time=2.0, write=1.0),
                   small=dict(queued=10, cost=0.5), error='x')
        self.assertEqual(brief(rec), {'p50': 1, 'create': 2.0, 'small': (10, 0.5), 'error': 'x'})


class Markdown(unittest.TestCase):
    P = dict(PROFILES['quick'])

    def render(self, recs, skipped=(), quick=True):
        return Report([dict(kind='machine')] + recs, self.P, quick, list(skipped),
                      ROOT + '/bench/results/x.jsonl').markdown(MACHINE, '2026-01-01 00:00',
                                                               ['bench/run', '--quick'], 90)

    def test_head_and_machine(self):
        md = self.render([])
        self.assertTrue(md.startswith('# lsyncd-ng vs lsyncd: 2026-01-01 00:00 (quick run)\n'))
        self.assertIn('Command: `bench/run --quick` — 1.5 min.', md)
        self.assertIn('| cpu | Test CPU |', md)
        self.assertIn('| loadavg_start | 1 2 3 |', md)
        self.assertTrue(md.endswith('Raw JSON lines: `bench/results/x.jsonl`.\n'))

    def test_medians_ratios_and_counts(self):
        recs = [lat('lsyncd', 1, 0.3), lat('lsyncd', 1, 0.5, rep=1), lat('lsyncd-ng', 1, 0.1),
                lat('lsyncd-ng', 1, 0.1, rep=1), lat('floor', 1, 0.2)]
        md = self.render(recs)
        self.assertIn('| latency | K=1 p50 | 400 ms | 100 ms | 0.25 | 200 ms | 0.50 | 2/2 |', md)
        self.assertIn('| latency | K=4 p50 | — | — | — |  |  | 0/0 |', md)

    def test_failed_runs_do_not_count_and_are_listed(self):
        recs = [lat('lsyncd', 1, 0.3), lat('lsyncd-ng', 1, 0.1),
                dict(workload='latency', K=1, daemon='lsyncd-ng', rep=1, error='RuntimeError: boom\nmore')]
        md = self.render(recs, skipped=['scale lsyncd r0'])
        self.assertIn('| latency | K=1 p50 | 300 ms | 100 ms | 0.33 |', md)
        self.assertIn('| 1/1 |', md)
        self.assertIn('## Problems in this run', md)
        self.assertIn('- latency K=1 lsyncd-ng rep 1: RuntimeError: boom\n', md)
        self.assertIn('- skipped (time budget): scale lsyncd r0', md)

    def test_unverified_run_is_a_problem(self):
        md = self.render([lat('lsyncd', 1, 0.3, verified=False)])
        self.assertIn('- latency K=1 lsyncd rep 0: a slave was not equal to the master at the end', md)
        self.assertNotIn('## Problems', self.render([lat('lsyncd', 1, 0.3, verified=True)]))

    def test_targets_met_or_not(self):
        recs = [lat('lsyncd', 4, 1.0), lat('lsyncd-ng', 4, 0.1)]
        self.assertIn('| latency p50, K=4 ≤ 0.15× lsyncd | 0.10 (ng/lsyncd) | yes |', self.render(recs))
        recs = [lat('lsyncd', 4, 1.0), lat('lsyncd-ng', 4, 0.5)]
        self.assertIn('| latency p50, K=4 ≤ 0.15× lsyncd | 0.50 (ng/lsyncd) | **no** |', self.render(recs))
        self.assertIn('| latency p50, K=4 ≤ 0.15× lsyncd | — | — |', self.render([]))

    def test_churn_lines(self):
        r = dict(workload='churn', K=4, rate=200, daemon='lsyncd-ng', rep=0, lag_p50=1.0, lag_p99=2.0,
                 lag_p99_by_10s=[1.5, float('inf')], writer='4000 ops\nin 20 s')
        md = self.render([r, dict(r, daemon='lsyncd', lag_p99=8.0)])
        self.assertIn('| churn | R=200/s lag p99 | 8.000 s | 2.000 s | 0.25 |', md)
        self.assertIn('- R=200 lsyncd-ng rep 0: 1.500 s ∞; writer: 4000 ops in 20 s', md)
        self.assertIn('| churn R=200: lag p99 ≤ 0.3× lsyncd (issue 18) | 0.25 (ng/lsyncd) | yes |', md)

    def test_restart_rows_targets_and_problems(self):
        def rs(daemon, same, changed, **kw):
            return dict(workload='restart', K=4, daemon=daemon, rep=0,
                        prime=dict(synced=50.0, cpu_total=40.0, verified=True),
                        same=dict(newfile=same, synced=same, cpu_total=same, cpu_self=0.1, rss_peak_kb=4096,
                                  verified=True),
                        changed=dict(newfile=changed, synced=changed, cpu_total=changed, verified=True), **kw)
        md = self.render([rs('lsyncd', 20.0, 22.0), rs('lsyncd-ng', 1.0, 4.4)])
        self.assertIn('| restart | K=4 restart, slaves equal: synced (the daemon says) | 20.0 s | 1.000 s | 0.05 |', md)
        self.assertIn('| restart | K=4 restart, 1 % changed while stopped: daemon + children CPU | 22.0 s | 4.400 s '
                      '| 0.20 |', md)
        self.assertIn('| restart | K=4 first start, empty slaves: synced (the daemon says) | 50.0 s | 50.0 s | 1.00 |', md)
        self.assertNotIn('first start, empty slaves: new change', md)
        self.assertIn('| restart, slaves equal: synced ≤ 0.1× lsyncd (issue 15) | 0.05 (ng/lsyncd) | yes |', md)
        self.assertIn('| restart, 1 % changed: new change landed ≤ 0.1× lsyncd (issue 15) | 0.20 (ng/lsyncd) | **no** |',
                      md)
        bad = rs('lsyncd-ng', 1.0, 4.4)
        bad['changed']['verified'] = False
        self.assertIn('- restart K=4 lsyncd-ng rep 0: a slave was not equal to the master at the end',
                      self.render([bad]))

    def test_restart_brief(self):
        rec = dict(workload='restart', same=dict(newfile=1.0, synced=2.0, cpu_total=3.0, log={}))
        self.assertEqual(brief(rec), {'same': (1.0, 2.0, 3.0)})

    def test_indexcost_section_and_target(self):
        def ic(state, cpu, rep=0):
            return dict(workload='indexcost', K=4, daemon='lsyncd-ng', state=state, rep=rep, time=5.0,
                        cpu_self=cpu, cpu_children=10.0, rss_peak_kb=2048)
        md = self.render([ic(False, 0.5), ic(False, 0.7, 1), ic(True, 0.9), ic(True, 0.9, 1)])
        self.assertIn('| daemon CPU | 0.600 s | 0.900 s | 1.50 |', md)
        self.assertIn('| index kept in the 2000-file burst: daemon CPU ≤ 1.3× without (issue 15) | 1.50 (state/none) '
                      '| **no** |', md)
        self.assertNotIn('## Index cost', self.render([]))

    def test_spill_section_and_targets(self):
        def sp(state, rss, cpu):
            return dict(workload='spill', K=1, daemon='lsyncd-ng', state=state, rep=0, rss_peak_kb=rss,
                        cpu_per_event=cpu)
        md = self.render([sp(False, 1024 * 300, 20e-6), sp(True, 1024 * 40, 22e-6)])
        self.assertIn('| peak RSS | 300.0 MiB | 40.0 MiB | 0.13 |', md)
        self.assertIn('| daemon CPU per event | 20.0 µs | 22.0 µs | 1.10 |', md)
        self.assertIn('peak RSS ≤ 100 MiB with stateDir (issue 15; value in MiB) | 40.00 (ng MiB) | yes |', md)
        self.assertIn('| slave down: per-event CPU with stateDir ≤ 1.2× without (issue 15) | 1.10 (state/none) | yes |',
                      md)
