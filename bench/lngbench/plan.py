"""plan.py: which runs a benchmark makes and in what order (the daemons
interleaved, a floor run after each pair), how long one is guessed to take,
and the record of a run that failed."""

import re

from .profiles import A, B

# first guesses of a run's length in s (quick, full), replaced by what the
# runs of that kind took
GUESS = {'latency': (15, 40), 'burst': (20, 90), 'floor': (15, 60), 'startup': (20, 80),
         'scale': (60, 200), 'churn': (90, 240), 'restart': (150, 900), 'indexcost': (30, 90), 'spill': (120, 900)}


def interleave(reps):
    """A B B A A B ...: the daemons interleaved, each reps times, as (rep, daemon)."""
    out = []
    for r in range(reps):
        out += [(r, A), (r, B)] if r % 2 == 0 else [(r, B), (r, A)]
    return out


def build(P, only):
    """The runs of a benchmark with profile P and the workloads in `only`,
    as (name, function name, arguments after the Bench), the most important
    first. A floor run follows the second daemon of each rep."""
    plan = []

    def after_pair(dmn, rep):
        return 'floor' in only and dmn == (A if rep % 2 else B)
    if 'latency' in only:
        for k in P['lat_ks']:
            for rep, dmn in interleave(P['reps']):
                plan.append(('latency k=%d %s r%d' % (k, dmn, rep), 'latency', (k, dmn, rep)))
                if after_pair(dmn, rep):
                    plan.append(('floor latency k=%d r%d' % (k, rep), 'floor_latency', (k, rep)))
    if 'burst' in only or 'floor' in only:
        for k in P['burst_ks']:
            for rep, dmn in interleave(P['reps']):
                if 'burst' in only:
                    plan.append(('burst k=%d %s r%d' % (k, dmn, rep), 'burst', (k, dmn, rep)))
                if after_pair(dmn, rep):
                    plan.append(('floor burst k=%d r%d' % (k, rep), 'floor_burst', (k, rep)))
    if 'startup' in only or 'floor' in only:
        k = P['start_k']
        for rep, dmn in interleave(P['reps']):
            if 'startup' in only:
                plan.append(('startup k=%d %s r%d' % (k, dmn, rep), 'startup', (k, dmn, rep)))
            if after_pair(dmn, rep):
                plan.append(('floor startup k=%d r%d' % (k, rep), 'floor_startup', (k, rep)))
    if 'churn' in only:
        for rate in P['churn_rates']:
            for rep, dmn in interleave(P['churn_reps']):
                plan.append(('churn rate=%d %s r%d' % (rate, dmn, rep), 'churn', (rate, dmn, rep)))
    if 'scale' in only:
        for rep, dmn in interleave(P['scale_reps']):
            plan.append(('scale %s r%d' % (dmn, rep), 'scale', (dmn, rep)))
    if 'restart' in only:
        k = P['restart_k']
        for rep, dmn in interleave(P['restart_reps']):
            plan.append(('restart k=%d %s r%d' % (k, dmn, rep), 'restart', (k, dmn, rep)))
    if 'indexcost' in only:
        k = P['indexcost_k']
        for rep, dmn in interleave(P['indexcost_reps']):
            st = dmn == B            # lsyncd-ng without, then with a state dir
            plan.append(('indexcost k=%d %s r%d' % (k, 'state' if st else 'nostate', rep), 'indexcost',
                         (k, st, rep)))
    if 'spill' in only:
        for rep, dmn in interleave(P['spill_reps']):
            st = dmn == B            # lsyncd-ng as today, then with a state dir and a small maxQueueMemory
            plan.append(('spill %s r%d' % ('state' if st else 'nostate', rep), 'spill', (st, rep)))
    return plan


def slaves_needed(P, only):
    """How many slaves the workloads in `only` use at most (no more are set up)."""
    ks = [1]
    if 'latency' in only or 'floor' in only:
        ks += list(P['lat_ks'])
    if 'burst' in only or 'floor' in only:
        ks += list(P['burst_ks'])
    if 'startup' in only or 'floor' in only:
        ks.append(P['start_k'])
    for w in ('churn', 'restart', 'indexcost'):
        if w in only:
            ks.append(P[w + '_k'])
    return max(ks)


def kind(name):
    """Runs of one kind take about as long: 'latency k=4', 'floor burst', ..."""
    return ' '.join(name.split()[:2])


def estimate(name, took, quick):
    """Seconds the run `name` will take: the longest of its kind so far
    (took: {kind: [seconds]}), else the first guess."""
    if took.get(kind(name)):
        return max(took[kind(name)])
    return GUESS[name.split()[0]][0 if quick else 1]


def error_record(name, e):
    """The record of a run that raised e."""
    parts = name.split()
    rec = dict(workload=parts[0] if parts[0] != 'floor' else parts[1],
               daemon='floor' if parts[0] == 'floor' else parts[2],
               error='%s: %s' % (type(e).__name__, e))
    m = re.search(r'k=(\d+)', name)
    rec['K'] = int(m.group(1)) if m else 1
    return rec
