"""cli.py: bench/run's arguments and its main loop: set up, run the plan
within the time budget, tear down (also on failure, ^C, SIGTERM, SIGHUP),
write the .md table and the .jsonl lines."""

import argparse
import datetime
import json
import os
import signal
import sys

from . import plan as planner
from .cmd import log
from .env import Bench
from .machine import machine_info
from .measure import now, read
from .profiles import DAEMONS, HERE, ROOT, WORKLOADS
from .report import Report, brief
from .workloads import burst, churn, indexcost, latency, restart, scale, spill, startup

RUNS = {
    'latency': latency.latency, 'floor_latency': latency.floor_latency,
    'burst': burst.burst, 'floor_burst': burst.floor_burst,
    'startup': startup.startup, 'floor_startup': startup.floor_startup,
    'churn': churn.churn, 'scale': scale.scale, 'restart': restart.restart,
    'indexcost': indexcost.indexcost, 'spill': spill.spill,
}


def parse_args(argv):
    """(options, the workloads to run); exits with a message on an unknown one."""
    ap = argparse.ArgumentParser(description='lsyncd-ng vs lsyncd benchmark')
    ap.add_argument('--quick', action='store_true', help='a few minutes: fewer samples, smaller trees')
    ap.add_argument('--only', default='', help='comma-separated subset of: ' + ' '.join(WORKLOADS))
    ap.add_argument('--reps', type=int, default=0, help='runs per daemon (default 3, quick 2)')
    ap.add_argument('--keep', action='store_true', help='keep the workspace')
    ap.add_argument('--out', default=os.path.join(HERE, 'results'), help='results directory')
    ap.add_argument('--ng', default=DAEMONS['lsyncd-ng'], help='the lsyncd-ng binary to run (default ./lsyncd-ng)')
    ap.add_argument('--restart-files', type=int, default=0,
                    help='files in the restart tree (rounded to whole top dirs of 1,000; default: the profile)')
    opts = ap.parse_args(argv)
    opts.ng = os.path.abspath(opts.ng)
    only = [w for w in opts.only.split(',') if w] or list(WORKLOADS)
    for w in only:
        if w not in WORKLOADS:
            sys.exit('unknown workload %s (known: %s)' % (w, ' '.join(WORKLOADS)))
    return opts, only


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    opts, only = parse_args(argv)
    DAEMONS['lsyncd-ng'] = opts.ng

    b = Bench(opts)
    started = datetime.datetime.now()
    stamp = started.strftime('%Y-%m-%d-%H%M%S') + ('-quick' if opts.quick else '')
    os.makedirs(opts.out, exist_ok=True)
    b.jsonl = open(os.path.join(opts.out, stamp + '.jsonl'), 'w')

    def on_signal(signo, _frame):
        raise SystemExit(128 + signo)
    for sg in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sg, on_signal)

    machine = machine_info()
    b.emit(dict(kind='machine', profile='quick' if opts.quick else 'full', argv=sys.argv, **machine))
    rc = 0
    try:
        b.setup(planner.slaves_needed(b.P, only))
        plan = planner.build(b.P, only)
        took = {}
        for i, (name, fn, args) in enumerate(plan):
            if not b.budget_left(planner.estimate(name, took, opts.quick)):
                b.skipped.append(name)
                log('SKIP (time budget)', name)
                continue
            log('[%d/%d] %s' % (i + 1, len(plan), name))
            t0 = now()
            try:
                rec = RUNS[fn](b, *args)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as e:
                rec = planner.error_record(name, e)
                log('ERROR', name, rec['error'][:2000])
            rec['seconds'] = round(now() - t0, 2)
            took.setdefault(planner.kind(name), []).append(now() - t0)
            b.emit(rec)
            log('    %.1fs %s' % (now() - t0, json.dumps(brief(rec), default=str)[:400]))
    except KeyboardInterrupt:
        rc = 130
        log('interrupted')
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
        log('stopped (%s)' % e.code)
    except Exception as e:
        rc = 1
        log('FAILED: %s: %s' % (type(e).__name__, e))
    finally:
        try:
            b.teardown()
        except Exception as e:
            log('teardown failed: %s' % e)
            rc = rc or 1
    machine['loadavg_end'] = (read('/proc/loadavg') or '').split()[:3]
    elapsed = now() - b.t_start
    md = Report(b.records, b.P, opts.quick, b.skipped, b.jsonl.name).markdown(
        machine, started.strftime('%Y-%m-%d %H:%M'), ['bench/run'] + argv, elapsed)
    path = os.path.join(opts.out, stamp + '.md')
    with open(path, 'w') as f:
        f.write(md)
    b.jsonl.close()
    print(md)
    log('wrote %s (%.1f min)' % (os.path.relpath(path, ROOT), elapsed / 60))
    return rc
