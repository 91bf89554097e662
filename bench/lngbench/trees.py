"""trees.py: writing, listing and comparing trees: the timed poll of listings
(names, types, sizes) and the full check (spec/tools/tree-diff, shared with
the e2e tests)."""

import os
import random
import subprocess
import time

from .cmd import run
from .measure import now
from .profiles import TREE_DIFF


def scan_tree(root):
    """{reldir: {name: (type, size)}} of a tree ('' is the root)."""
    out = {}
    todo = ['']
    while todo:
        rel = todo.pop()
        ents = {}
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    ents[e.name] = ('d', 0)
                    todo.append(rel + '/' + e.name if rel else e.name)
                elif e.is_symlink():
                    ents[e.name] = ('l', 0)
                else:
                    ents[e.name] = ('f', e.stat(follow_symlinks=False).st_size)
        out[rel] = ents
    return out


def dir_matches(root, rel, ents, optional=()):
    try:
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            got = {e.name: e for e in it}
    except OSError:
        return False
    for o in optional:
        if o not in ents:
            got.pop(o, None)
    if len(got) != len(ents) or got.keys() != ents.keys():
        return False
    for name, (t, size) in ents.items():
        e = got[name]
        try:
            if t == 'd':
                if not e.is_dir(follow_symlinks=False):
                    return False
            elif t == 'l':
                if not e.is_symlink():
                    return False
            elif not e.is_file(follow_symlinks=False) or e.stat(follow_symlinks=False).st_size != size:
                return False
        except OSError:
            return False
    return True


def tree_diff(src, dst, limit=20):
    """Differences (rsync itemize lines, see spec/tools/tree-diff) between
    two trees, [] when equal; the first `limit` of them (0: all)."""
    r = run([TREE_DIFF, src, dst], check=False)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l]
    return lines[:limit] if limit else lines


def wait_trees(master, slaves, expected, t0, timeout, optional=(), extra=None):
    """Polls until every slave's listings equal `expected`; returns
    ({slave: seconds since t0 or None}, poll interval used at the end).
    extra(slave) -> bool: an additional condition per slave."""
    pending = {s: set(expected) for s in slaves}
    done = {}
    interval = 0.01
    deadline = t0 + timeout
    while pending and now() < deadline:
        for s in list(pending):
            left = pending[s]
            for rel in sorted(left, key=len):
                if dir_matches(s, rel, expected[rel], optional):
                    left.discard(rel)
                elif rel and not os.path.isdir(os.path.join(s, rel)):
                    break          # parents first: nothing below exists yet
            if not left and (extra is None or extra(s)):
                done[s] = now() - t0
                del pending[s]
        if pending:
            interval = min(0.1, 0.01 + (now() - t0) * 0.01)
            time.sleep(interval)
    for s in pending:
        done[s] = None
    return done, interval


def verify(master, slaves, timeout, t0):
    """Full check after the timed poll; if a slave is not yet equal (the poll
    only compares names, types and sizes), keep checking until it is.
    Returns (all_equal, {slave: extra seconds since t0 or None}, diffs)."""
    late = {}
    diffs = {}
    ok = True
    for s in slaves:
        d = tree_diff(master, s)
        while d and now() - t0 < timeout:
            time.sleep(0.2)
            d = tree_diff(master, s)
            if not d:
                late[s] = now() - t0
        if d:
            ok = False
            diffs[s] = d
    return ok, late, diffs


def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def clear_dir(path, owner=None):
    if os.path.isdir(path):
        r = subprocess.run(['rm', '-rf', '--one-file-system', path])
        if r.returncode != 0:
            raise RuntimeError('could not remove ' + path)
    os.makedirs(path)
    if owner:
        os.chown(path, owner[0], owner[1])


def make_tree(master, top, sub, files, seed):
    """master/tTTT/sSSS/fF: top x sub directories of `files` files each,
    200 to 3,199 bytes (cut from one random MiB)."""
    rnd = random.Random(seed)
    blob = rnd.randbytes(1 << 20)
    n = 0
    for i in range(top):
        for j in range(sub):
            dd = os.path.join(master, 't%03d' % i, 's%03d' % j)
            os.makedirs(dd)
            for f in range(files):
                off = (n * 4099) % ((1 << 20) - 4096)
                size = 200 + (n * 37) % 3000
                write_file(os.path.join(dd, 'f%d' % f), blob[off:off + size])
                n += 1


def arrived(slaves, name, size):
    """Does every slave hold the file `name` with `size` bytes?"""
    for s in slaves:
        try:
            if os.stat(os.path.join(s, name)).st_size != size:
                return False
        except OSError:
            return False
    return True
