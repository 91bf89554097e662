"""report.py: the markdown of a run from its records: the results table
(medians), the targets, the problems, the churn and scale details."""

import os

from .profiles import A, B, ROOT
from .stats import med, ratio


def fmt(v, unit):
    if v is None:
        return '—'
    if unit == 's':
        return '%.3f s' % v if v < 10 else '%.1f s' % v
    if unit == 'ms':
        return '%.0f ms' % (v * 1000) if v >= 0.01 else '%.1f ms' % (v * 1000)
    if unit == 'us':
        return '%.1f µs' % (v * 1e6)
    if unit == 'MiB':
        return '%.1f MiB' % (v / 1024)
    if unit == '%':
        return '%.0f %%' % (v * 100)
    if unit == 'n':
        return '%d' % v
    return str(v)


def brief(rec):
    """The few figures of a run's record worth a line of the progress log."""
    out = {k: v for k, v in rec.items() if k in ('p50', 'p90', 'synced', 'newfile', 'error', 'ratio',
                                                 'lag_p50', 'lag_p99', 'not_landed_30s', 'catch_up')}
    for ph in ('create', 'rename', 'delete'):
        if isinstance(rec.get(ph), dict):
            out[ph] = rec[ph].get('time')
    for ph in ('prime', 'same', 'changed'):
        if isinstance(rec.get(ph), dict):
            out[ph] = (rec[ph].get('newfile'), rec[ph].get('synced'), rec[ph].get('cpu_total'))
    for tag in ('small', 'big'):
        if isinstance(rec.get(tag), dict):
            out[tag] = (rec[tag].get('queued'), rec[tag].get('cost'))
    return out


class Report:
    """records: every record of the run (the machine line is skipped); P: the
    profile; quick: a quick run; skipped: names of runs left out for time;
    jsonl: the path of the raw lines."""

    def __init__(self, records, P, quick, skipped, jsonl):
        self.P = P
        self.quick = quick
        self.skipped = skipped
        self.jsonl = jsonl
        self.recs = [r for r in records if r.get('workload')]

    def get(self, workload, k, daemon):
        return [r for r in self.recs if r['workload'] == workload and r['K'] == k
                and r['daemon'] == daemon and not r.get('error')]

    def m(self, workload, k, daemon, f):
        return med([f(r) for r in self.get(workload, k, daemon)])

    def rows(self):
        P = self.P
        rows = []       # (section, label, lsyncd, ng, floor, unit, n)

        def n_of(workload, k):
            return '%d/%d' % (len(self.get(workload, k, A)), len(self.get(workload, k, B)))
        for k in P['lat_ks']:
            for q in ('p50', 'p90', 'max'):
                rows.append(('latency', 'K=%d %s' % (k, q), self.m('latency', k, A, lambda r: r[q]),
                             self.m('latency', k, B, lambda r: r[q]),
                             self.m('latency', k, 'floor', lambda r: r[q]), 'ms', n_of('latency', k)))
        for k in P['burst_ks']:
            for ph in ('create', 'rename', 'delete'):
                g = lambda r, ph=ph: r.get(ph, {}).get('time')
                rows.append(('burst', 'K=%d %s' % (k, ph), self.m('burst', k, A, g),
                             self.m('burst', k, B, g), self.m('burst', k, 'floor', g), 's',
                             n_of('burst', k)))
            g = lambda r: r.get('create', {}).get('write')
            rows.append(('burst', 'K=%d create: of it, writing the files' % k, self.m('burst', k, A, g),
                         self.m('burst', k, B, g), None, 's', n_of('burst', k)))
            g = lambda r: r.get('create', {}).get('cpu_self')
            rows.append(('burst', 'K=%d create: daemon CPU' % k, self.m('burst', k, A, g),
                         self.m('burst', k, B, g), None, 's', n_of('burst', k)))
            g = lambda r: r.get('create', {}).get('cpu_children')
            rows.append(('burst', 'K=%d create: children CPU' % k, self.m('burst', k, A, g),
                         self.m('burst', k, B, g), self.m('burst', k, 'floor', g), 's',
                         n_of('burst', k)))
            g = lambda r: r.get('create', {}).get('rss_peak_kb')
            rows.append(('burst', 'K=%d create: peak RSS' % k, self.m('burst', k, A, g),
                         self.m('burst', k, B, g), None, 'MiB', n_of('burst', k)))
            for ph in ('rename', 'delete'):
                g = lambda r, ph=ph: r.get(ph, {}).get('cpu_self')
                rows.append(('burst', 'K=%d %s: daemon CPU' % (k, ph), self.m('burst', k, A, g),
                             self.m('burst', k, B, g), None, 's', n_of('burst', k)))
        k = P['start_k']
        for label, f, unit in (('to fully synced', lambda r: r.get('synced'), 's'),
                               ('new file arrived', lambda r: r.get('newfile'), 's'),
                               ('watches in place', lambda r: r.get('watched'), 's'),
                               ('daemon CPU', lambda r: r.get('cpu_self'), 's'),
                               ('children CPU', lambda r: r.get('cpu_children'), 's'),
                               ('peak RSS', lambda r: r.get('rss_peak_kb'), 'MiB'),
                               ('inotify watches', lambda r: r.get('watches'), 'n')):
            fl = self.m('startup', k, 'floor', f) if label in ('to fully synced', 'children CPU') else None
            rows.append(('startup', 'K=%d %s' % (k, label), self.m('startup', k, A, f),
                         self.m('startup', k, B, f), fl, unit, n_of('startup', k)))
        for tag in ('small', 'big'):
            rows.append(('scale', 'queued (%s)' % tag,
                         self.m('scale', 1, A, lambda r: r.get(tag, {}).get('queued')),
                         self.m('scale', 1, B, lambda r: r.get(tag, {}).get('queued')), None, 'n',
                         n_of('scale', 1)))
            rows.append(('scale', 'CPU per event (%s)' % tag,
                         self.m('scale', 1, A, lambda r: r.get(tag, {}).get('cost')),
                         self.m('scale', 1, B, lambda r: r.get(tag, {}).get('cost')), None, 'us',
                         n_of('scale', 1)))
            rows.append(('scale', 'idle CPU, slave down (%s)' % tag,
                         self.m('scale', 1, A, lambda r: r.get(tag, {}).get('idle_cpu')),
                         self.m('scale', 1, B, lambda r: r.get(tag, {}).get('idle_cpu')), None, '%',
                         n_of('scale', 1)))
        for rate in P['churn_rates']:
            def cm(daemon, f, rate=rate):
                return med([f(r) for r in self.recs if r['workload'] == 'churn' and r.get('rate') == rate
                            and r['daemon'] == daemon and not r.get('error')])
            nn = '%d/%d' % tuple(len([r for r in self.recs if r['workload'] == 'churn' and r.get('rate') == rate
                                      and r['daemon'] == dm and not r.get('error')]) for dm in (A, B))
            for label, key, unit in (('lag p50', 'lag_p50', 's'), ('lag p99', 'lag_p99', 's'),
                                     ('lag max', 'lag_max', 's'),
                                     ('ops followed', 'followed', 'n'),
                                     ('not on every slave 30 s after the writer', 'not_landed_30s', 'n'),
                                     ('catch-up after the writer stopped', 'catch_up', 's'),
                                     ('daemon CPU', 'cpu_self', 's'), ('children CPU', 'cpu_children', 's'),
                                     ('peak RSS', 'rss_peak_kb', 'MiB')):
                rows.append(('churn', 'R=%d/s %s' % (rate, label), cm(A, lambda r, key=key: r.get(key)),
                             cm(B, lambda r, key=key: r.get(key)), None, unit, nn))
        k = P['restart_k']
        for ph, what in (('prime', 'first start, empty slaves'), ('same', 'restart, slaves equal'),
                         ('changed', 'restart, %g %% changed while stopped' % (P['restart_changed'] * 100))):
            for label, key, unit in (('new change on every slave', 'newfile', 's'),
                                     ('synced (the daemon says)', 'synced', 's'),
                                     ('daemon + children CPU', 'cpu_total', 's'),
                                     ('daemon CPU', 'cpu_self', 's'), ('peak RSS', 'rss_peak_kb', 'MiB')):
                if ph == 'prime' and key in ('newfile', 'cpu_self', 'rss_peak_kb'):
                    continue
                g = lambda r, ph=ph, key=key: r.get(ph, {}).get(key)
                rows.append(('restart', 'K=%d %s: %s' % (k, what, label), self.m('restart', k, A, g),
                             self.m('restart', k, B, g), None, unit, n_of('restart', k)))
        rows.append(('scale', 'fill: CPU per event (avg)',
                     self.m('scale', 1, A, lambda r: r.get('fill_cpu_per_event')),
                     self.m('scale', 1, B, lambda r: r.get('fill_cpu_per_event')), None, 'us',
                     n_of('scale', 1)))
        rows.append(('scale', 'peak RSS (big queue)',
                     self.m('scale', 1, A, lambda r: r.get('rss_peak_kb')),
                     self.m('scale', 1, B, lambda r: r.get('rss_peak_kb')), None, 'MiB',
                     n_of('scale', 1)))
        return rows

    def targets(self):
        P = self.P
        k = 4
        lat = lambda d, kk: self.m('latency', kk, d, lambda r: r['p50'])
        bt = lambda d, ph: self.m('burst', k, d, lambda r: r.get(ph, {}).get('time'))
        bc = lambda d, key: self.m('burst', k, d, lambda r: r.get('create', {}).get(key))
        st = lambda d: self.m('startup', P['start_k'], d, lambda r: r.get('synced'))
        sc = lambda d, t: self.m('scale', 1, d, lambda r: r.get(t, {}).get('cost'))
        big_q = self.m('scale', 1, B, lambda r: r.get('big', {}).get('queued'))
        out = [
            ('latency p50, K=4 ≤ 0.15× lsyncd', ratio(lat(B, 4), lat(A, 4)), 0.15, 'ng/lsyncd'),
            ('burst %d files, K=4 ≤ 1.1× plain-rsync floor' % (P['burst_dirs'] * P['burst_files']),
             ratio(bt(B, 'create'), bt('floor', 'create')), 1.1, 'ng/floor'),
            ('(lsyncd in the same burst, for reference)', ratio(bt(A, 'create'), bt('floor', 'create')),
             None, 'lsyncd/floor'),
            ('%d dir renames ≤ 0.1× lsyncd' % P['renames'], ratio(bt(B, 'rename'), bt(A, 'rename')),
             0.1, 'ng/lsyncd'),
            ('%d deletes ≤ 0.2× lsyncd' % P['deletes'], ratio(bt(B, 'delete'), bt(A, 'delete')),
             0.2, 'ng/lsyncd'),
            ('startup to fully synced ≤ 0.7× lsyncd', ratio(st(B), st(A)), 0.7, 'ng/lsyncd'),
            ('daemon CPU in the burst ≤ 0.1× lsyncd', ratio(bc(B, 'cpu_self'), bc(A, 'cpu_self')),
             0.1, 'ng/lsyncd'),
            ('peak RSS in the burst ≤ 0.25× lsyncd', ratio(bc(B, 'rss_peak_kb'), bc(A, 'rss_peak_kb')),
             0.25, 'ng/lsyncd'),
            ('per-event cost at %s queued ≤ 2× at 1,000' % ('{:,}'.format(int(big_q)) if big_q else '?'),
             ratio(sc(B, 'big'), sc(B, 'small')), 2.0, 'ng big/small'),
            ('latency with 16 slaves ≤ 2× with 1 (p50)', ratio(lat(B, 16), lat(B, 1)), 2.0, 'ng K16/K1'),
            ('(lsyncd: 16 slaves vs 1)', ratio(lat(A, 16), lat(A, 1)), None, 'lsyncd K16/K1'),
        ]
        def ch(daemon, rate, key):
            return med([r.get(key) for r in self.recs if r['workload'] == 'churn' and r.get('rate') == rate
                        and r['daemon'] == daemon and not r.get('error')])
        rs = lambda d, ph, key: self.m('restart', P['restart_k'], d, lambda r: r.get(ph, {}).get(key))
        for ph, what in (('same', 'slaves equal'), ('changed', '%g %% changed' % (P['restart_changed'] * 100))):
            for label, key in (('new change landed', 'newfile'), ('synced', 'synced'),
                               ('daemon + children CPU', 'cpu_total')):
                out.append(('restart, %s: %s ≤ 0.1× lsyncd (issue 15)' % (what, label),
                            ratio(rs(B, ph, key), rs(A, ph, key)), 0.1, 'ng/lsyncd'))
        ic = self.by_state('indexcost', 'cpu_self')
        out.append(('index kept in the %d-file burst: daemon CPU ≤ 1.3× without (issue 15)'
                    % (P['burst_dirs'] * P['burst_files']), ratio(ic[1], ic[0]), 1.3, 'state/none'))
        sp = self.by_state('spill', 'rss_peak_kb')
        out.append(('slave down, %s paths: peak RSS ≤ 100 MiB with stateDir (issue 15; value in MiB)'
                    % '{:,}'.format(P['spill_paths']), sp[1] / 1024 if sp[1] else None, 100, 'ng MiB'))
        cp = self.by_state('spill', 'cpu_per_event')
        out.append(('slave down: per-event CPU with stateDir ≤ 1.2× without (issue 15)', ratio(cp[1], cp[0]),
                    1.2, 'state/none'))
        if 200 in P['churn_rates']:
            out.append(('churn R=200: lag p99 ≤ 0.3× lsyncd (issue 18)',
                        ratio(ch(B, 200, 'lag_p99'), ch(A, 200, 'lag_p99')), 0.3, 'ng/lsyncd'))
        if 500 in P['churn_rates']:
            p99 = ch(B, 500, 'lag_p99')
            out.append(('churn R=500: lag p99 ≤ 5 s (issue 18; value in s)', p99, 5.0, 'ng s'))
            out.append(('churn R=500: ops not landed 30 s after the writer = 0 (value)',
                        ch(B, 500, 'not_landed_30s'), 0, 'ng ops'))
        return out

    def by_state(self, workload, key):
        """Medians of key in lsyncd-ng's runs of workload: (without a state dir, with)."""
        return tuple(med([r.get(key) for r in self.recs if r['workload'] == workload
                          and r.get('state') == st and not r.get('error')]) for st in (False, True))

    def markdown(self, machine, started, argv, elapsed):
        L = []
        mode = 'quick' if self.quick else 'full'
        L.append('# lsyncd-ng vs lsyncd: %s (%s run)\n' % (started, mode))
        L.append('Command: `%s` — %.1f min. Medians over runs; the daemons interleaved '
                 '(A B B A …); identical config files (`default.rsync`, one `sync{}` per slave, '
                 '`rsync.rsh = "/usr/bin/ssh …"`).\n' % (' '.join(argv), elapsed / 60))
        L.append('| machine | |\n|---|---|')
        for k in ('cores', 'cpu', 'mem_gib', 'kernel', 'fs', 'loadavg_start', 'loadavg_end', 'lsyncd',
                  'lsyncd_ng', 'rsync', 'ssh'):
            v = machine.get(k)
            if isinstance(v, list):
                v = ' '.join(v)
            L.append('| %s | %s |' % (k, v))
        L.append('')
        L.append('## Results\n')
        L.append('Times are from the first write until every slave equals the master. '
                 '"floor" = plain `rsync -a --delete` over the same ssh, in parallel to the K slaves, '
                 'started after the writes (no writing time, no delay); for latency, one `rsync` of the '
                 'file per slave in parallel over an ssh connection already open (ControlMaster), '
                 'from the write until every rsync exited. n = runs lsyncd/lsyncd-ng.\n')
        L.append('| workload | measure | lsyncd | lsyncd-ng | ng / lsyncd | floor | ng / floor | n |')
        L.append('|---|---|---:|---:|---:|---:|---:|---|')
        for sec, label, a, bb, fl, unit, n in self.rows():
            r = ratio(bb, a)
            rf = ratio(bb, fl)
            L.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
                sec, label, fmt(a, unit), fmt(bb, unit), '%.2f' % r if r is not None else '—',
                fmt(fl, unit) if fl is not None else '', '%.2f' % rf if rf is not None else '', n))
        L.append('')
        L.append('## Targets (issues 7, 15, 18)\n')
        L.append('| target | ratio | met |')
        L.append('|---|---:|---|')
        for label, v, lim, what in self.targets():
            met = '' if lim is None else ('—' if v is None else ('yes' if v <= lim else '**no**'))
            L.append('| %s | %s | %s |' % (label, '%.2f (%s)' % (v, what) if v is not None else '—', met))
        L.append('')
        errs = [r for r in self.recs if r.get('error')]
        bad = [r for r in self.recs if r.get('verified') is False or any(
            isinstance(r.get(p), dict) and r[p].get('verified') is False
            for p in ('create', 'rename', 'delete', 'prime', 'same', 'changed', 'catchup'))]
        if errs or bad or self.skipped:
            L.append('## Problems in this run\n')
            for r in errs:
                L.append('- %s K=%s %s rep %s: %s' % (r['workload'], r.get('K'), r['daemon'], r.get('rep'),
                                                      r['error'].splitlines()[0][:300]))
            for r in bad:
                L.append('- %s K=%s %s rep %s: a slave was not equal to the master at the end'
                         % (r['workload'], r.get('K'), r['daemon'], r.get('rep')))
            for s in self.skipped:
                L.append('- skipped (time budget): %s' % s)
            L.append('')
        for wl, head, rows in (
                ('indexcost', 'Index cost (lsyncd-ng without / with stateDir, the burst\'s create phase)',
                 (('to every slave equal', 'time', 's'), ('daemon CPU', 'cpu_self', 's'),
                  ('children CPU', 'cpu_children', 's'), ('peak RSS', 'rss_peak_kb', 'MiB'))),
                ('spill', 'A slave down while %s paths change (lsyncd-ng as today / with stateDir and a '
                 'small maxQueueMemory)' % '{:,}'.format(self.P['spill_paths']),
                 (('peak RSS', 'rss_peak_kb', 'MiB'), ('RSS at the end: anonymous', 'rss_anon_kb', 'MiB'),
                  ('RSS at the end: mapped files (the state store)', 'rss_file_kb', 'MiB'),
                  ('daemon CPU per event', 'cpu_per_event', 'us'),
                  ('catch-up (restarted, slave back): to synced', 'catchup_synced', 's'),
                  ('catch-up: daemon + children CPU', 'catchup_cpu', 's')))):
            if not any(r['workload'] == wl for r in self.recs):
                continue
            L.append('## %s\n' % head)
            L.append('| measure | without | with stateDir | with / without |')
            L.append('|---|---:|---:|---:|')
            for label, key, unit in rows:
                a, bb = self.by_state(wl, key)
                r = ratio(bb, a)
                L.append('| %s | %s | %s | %s |' % (label, fmt(a, unit), fmt(bb, unit),
                                                   '%.2f' % r if r is not None else '—'))
            L.append('')
        cr = [r for r in self.recs if r['workload'] == 'churn' and not r.get('error')]
        if cr:
            L.append('## Churn runs (lag p99 per 10 s of the writer\'s run: flat or growing?)\n')
            for r in cr:
                L.append('- R=%d %s rep %s: %s; writer: %s' % (
                    r['rate'], r['daemon'], r['rep'],
                    ' '.join(fmt(x, 's') if x != float('inf') else '∞' for x in r.get('lag_p99_by_10s') or []),
                    r.get('writer', '').replace('\n', ' ')))
            L.append('')
        sc = [r for r in self.recs if r['workload'] == 'scale']
        if sc:
            L.append('## Scale runs\n')
            for r in sc:
                L.append('- %s rep %s: reached %s queued in %.0f s (cap %d s%s); per-event CPU %s at %s, %s at %s'
                         % (r['daemon'], r['rep'], r.get('reached'), r.get('fill_time') or 0,
                            self.P['scale_fill_cap'],
                            '; stopped early: ' + r['gave_up'] if r.get('gave_up') else '',
                            fmt(r.get('small', {}).get('cost'), 'us'), r.get('small', {}).get('queued'),
                            fmt(r.get('big', {}).get('cost'), 'us'), r.get('big', {}).get('queued')))
            L.append('')
        L.append('Raw JSON lines: `%s`.' % os.path.relpath(self.jsonl, ROOT))
        return '\n'.join(L) + '\n'
