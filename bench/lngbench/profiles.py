"""profiles.py: what a full and a quick run measure, the workloads, the daemons."""

import os

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # bench/
ROOT = os.path.dirname(HERE)
USER = 'lngbench'                               # the slaves' login, made and removed by the run
GECOS = 'lsyncd-ng benchmark slave (temporary)'
MARK = 'LNG_BENCH_RUN'                          # environment marker of every process the run starts

DAEMONS = {'lsyncd': '/usr/bin/lsyncd', 'lsyncd-ng': os.path.join(ROOT, 'lsyncd-ng')}
A, B = 'lsyncd', 'lsyncd-ng'

PROFILES = {
    'full': dict(
        reps=3,
        lat_ks=(1, 4, 16), lat_samples={1: 20, 4: 20, 16: 10},
        base_dirs=100, base_files=10,              # present before the burst
        burst_dirs=100, burst_files=100,           # 10,000 x 1 KiB in 100 new dirs
        renames=200, deletes=1000, burst_ks=(1, 4),
        start_top=100, start_sub=100, start_files=5,   # 50,000 files / 10,000 dirs
        start_k=4,
        scale_small=1000, scale_big=1000000, scale_probe=1000, scale_reps=3,
        scale_fill_cap=120,                        # s of filling per run, at most
        churn_rates=(200, 500), churn_seconds=60, churn_reps=1, churn_k=4,
        churn_dirs=100, churn_files=50,            # 5,000 files before the writer starts
        restart_top=200, restart_sub=100, restart_files=10,   # 200,000 files / 20,000 dirs
        restart_k=4, restart_reps=1, restart_changed=0.01,
        indexcost_k=4, indexcost_reps=2,           # the burst's create phase, with and without stateDir
        spill_paths=1000000, spill_reps=1,         # paths changed while the slave is down
        budget=70 * 60,
    ),
    'quick': dict(
        reps=2,
        lat_ks=(1, 4, 16), lat_samples={1: 10, 4: 10, 16: 6},
        base_dirs=20, base_files=10,
        burst_dirs=20, burst_files=100,            # 2,000 files
        renames=40, deletes=200, burst_ks=(1, 4),
        start_top=20, start_sub=100, start_files=5,    # 10,000 files / 2,000 dirs
        start_k=4,
        scale_small=1000, scale_big=100000, scale_probe=300, scale_reps=1,
        scale_fill_cap=25,
        churn_rates=(200,), churn_seconds=20, churn_reps=1, churn_k=4,
        churn_dirs=20, churn_files=50,
        restart_top=20, restart_sub=100, restart_files=10,    # 20,000 files / 2,000 dirs
        restart_k=4, restart_reps=1, restart_changed=0.01,
        indexcost_k=4, indexcost_reps=1,
        spill_paths=50000, spill_reps=1,
        budget=12 * 60,
    ),
}
WORKLOADS = ('latency', 'burst', 'floor', 'startup', 'scale', 'churn', 'restart', 'indexcost', 'spill')
TOOLS = os.path.join(ROOT, 'spec', 'tools')
CHURN = os.path.join(TOOLS, 'churn.py')
NETNS_SLAVE = os.path.join(TOOLS, 'netns-slave')
TREE_DIFF = os.path.join(TOOLS, 'tree-diff')
