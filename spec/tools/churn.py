#!/usr/bin/env python3
"""churn.py: a writer of sustained mixed churn on a directory tree, as busy
upload dirs, build outputs and mail spools see it: R operations per second
for S seconds (files named spare* are left alone), 60 % rewrites of an existing file, 20 % creates, 10 % deletes
and 10 % renames (files and directories, onto existing files, chains of
renames, rewrites of just-renamed files). Used by spec/e2e/churn_test.sh and
bench/run's churn workload.

  churn.py DIR --populate DIRS FILES      make the starting tree
  churn.py DIR --rate R --seconds S [--seed N] [--ops FILE]

--ops FILE writes one JSON line per operation: {"t": monotonic time,
"kind": ..., "check": [path, size, or -1 for gone, -2 for a directory],
"from": a rename's origin}: what a slave must show for the operation to
have landed (a rename: the destination with its size).
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

BIG = 300 * 1024


class Tree:
    def __init__(self, root, rnd):
        self.root = root
        self.rnd = rnd
        self.files = {}        # relative path -> size
        self.dirs = []         # relative paths of directories ('' is the root)
        self.last_renamed = None
        self.origin = None      # the origin of the last rename
        self.n = 0
        for d, subdirs, names in os.walk(root):
            rel = os.path.relpath(d, root)
            rel = '' if rel == '.' else rel
            self.dirs.append(rel)
            for name in names:
                if name.startswith('spare'):
                    continue                    # the caller's, not the writer's
                p = os.path.join(rel, name)
                self.files[p] = os.lstat(os.path.join(root, p)).st_size
        self.dirs.sort()
        self.keys = sorted(self.files)

    def abspath(self, rel):
        return os.path.join(self.root, rel)

    def size(self):
        return BIG if self.rnd.random() < 0.03 else self.rnd.randint(100, 2000)

    def write(self, rel, size):
        data = self.rnd.randbytes(size)
        with open(self.abspath(rel), 'wb') as f:
            f.write(data)
        if rel not in self.files:
            self.keys.append(rel)
        self.files[rel] = size

    def forget(self, rel):
        del self.files[rel]
        self.keys.remove(rel)

    def new_name(self, d):
        self.n += 1
        return os.path.join(d, 'n%d-%d' % (os.getpid() % 1000, self.n))

    def pick_file(self):
        return self.rnd.choice(self.keys) if self.keys else None

    # each operation returns (kind, path to check, size or -1)
    def rewrite(self):
        p = self.pick_file()
        if p is None:
            return self.create()
        s = self.size()
        self.write(p, s)
        return 'rewrite', p, s

    def create(self):
        d = self.rnd.choice(self.dirs)
        if self.rnd.random() < 0.1:
            nd = self.new_name(d)
            os.mkdir(self.abspath(nd))
            self.dirs.append(nd)
            d = nd
        p = self.new_name(d)
        s = self.size()
        self.write(p, s)
        return 'create', p, s

    def delete(self):
        subdirs = [d for d in self.dirs if d]
        if self.rnd.random() < 0.05 and len(subdirs) > 5:
            d = self.rnd.choice(subdirs)
            shutil.rmtree(self.abspath(d))
            self.dirs = [x for x in self.dirs if x != d and not x.startswith(d + '/')]
            for p in [p for p in self.keys if p.startswith(d + '/')]:
                self.forget(p)
            return 'delete-dir', d, -1
        p = self.pick_file()
        if p is None:
            return self.create()
        os.unlink(self.abspath(p))
        self.forget(p)
        return 'delete', p, -1

    def move_file(self, a, b):
        os.rename(self.abspath(a), self.abspath(b))
        s = self.files[a]
        self.forget(a)
        if b in self.files:
            self.forget(b)
        self.keys.append(b)
        self.files[b] = s
        self.last_renamed = b
        return s

    def rename(self):
        r = self.rnd.random()
        subdirs = [d for d in self.dirs if d]
        if r < 0.1 and subdirs:
            d = self.rnd.choice(subdirs)
            nd = self.new_name(os.path.dirname(d))
            os.rename(self.abspath(d), self.abspath(nd))
            self.dirs = sorted(nd + x[len(d):] if (x == d or x.startswith(d + '/')) else x
                               for x in self.dirs)
            for p in [p for p in self.keys if p.startswith(d + '/')]:
                s = self.files[p]
                self.forget(p)
                q = nd + p[len(d):]
                self.keys.append(q)
                self.files[q] = s
            self.origin = d
            return 'rename-dir', nd, -2
        a = self.pick_file()
        if a is None:
            return self.create()
        if r < 0.25 and self.last_renamed in self.files:
            a = self.last_renamed                     # a chain of renames
        if r < 0.4 and len(self.keys) > 1:
            b = self.pick_file()                      # onto an existing file
            if b == a:
                b = self.new_name(self.rnd.choice(self.dirs))
        else:
            b = self.new_name(self.rnd.choice(self.dirs))
        s = self.move_file(a, b)
        self.origin = a
        if r > 0.9:
            s = self.size()                           # rewritten right after
            self.write(b, s)
            return 'rename-rewrite', b, s
        return 'rename', b, s

    def op(self):
        r = self.rnd.random()
        if r < 0.6:
            return self.rewrite()
        if r < 0.8:
            return self.create()
        if r < 0.9:
            return self.delete()
        return self.rename()


def populate(root, dirs, files, rnd):
    for i in range(dirs):
        d = os.path.join(root, 'd%03d' % i)
        os.makedirs(d, exist_ok=True)
        for j in range(files):
            with open(os.path.join(d, 'f%03d' % j), 'wb') as f:
                f.write(rnd.randbytes(rnd.randint(100, 2000)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--populate', nargs=2, type=int, metavar=('DIRS', 'FILES'))
    ap.add_argument('--rate', type=float, default=100)
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--ops')
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    if a.populate:
        populate(a.dir, a.populate[0], a.populate[1], rnd)
        return 0
    tree = Tree(a.dir, rnd)
    out = open(a.ops, 'w') if a.ops else None
    t0 = time.monotonic()
    n = int(a.rate * a.seconds)
    counts = {}
    for i in range(n):
        due = t0 + i / a.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        tree.origin = None
        kind, path, size = tree.op()
        counts[kind] = counts.get(kind, 0) + 1
        if out:
            rec = {'t': time.monotonic(), 'kind': kind, 'check': [path, size]}
            if tree.origin:
                rec['from'] = tree.origin
            out.write(json.dumps(rec) + '\n')
    if out:
        out.close()
    took = time.monotonic() - t0
    print('churn: %d operations in %.1f s (%s)' % (n, took, ', '.join(
        '%s %d' % kv for kv in sorted(counts.items()))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
