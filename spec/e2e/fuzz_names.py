# fuzz_names.py SEED ROUNDS DIR...: the name fuzzer of security_test.sh.
# Run as the unprivileged owner of the source trees. Names are random bytes
# (anything but NUL and '/'); each round does the same operation in every
# DIR (one source tree per mode): create a file, rename one entry over
# another, turn a name into a directory (with a file in it) or a symlink
# (to another random name), delete. Nothing is ever executed.
import os
import random
import sys

seed, rounds, dirs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
rnd = random.Random(seed)
BYTES = [b for b in range(1, 256) if b != 0x2f]


def name():
    while True:
        n = bytes(rnd.choice(BYTES) for _ in range(rnd.randint(1, 24)))
        if n not in (b'.', b'..'):
            return n


def entries(d):
    try:
        return os.listdir(d)
    except OSError:
        return []


def remove(p):
    if os.path.islink(p) or not os.path.isdir(p):
        os.unlink(p)
        return
    for e in os.listdir(p):
        remove(os.path.join(p, e))
    os.rmdir(p)


names = [name() for _ in range(12)]
for r in range(rounds):
    op = rnd.choice(['create', 'create', 'rename', 'rename', 'dir', 'link', 'delete'])
    a, b = rnd.choice(names), rnd.choice(names)
    data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
    if rnd.random() < 0.2:
        names[rnd.randrange(len(names))] = name()
    for d in dirs:
        root = os.fsencode(os.path.join(d, 'fz'))
        os.makedirs(root, exist_ok=True)
        pa, pb = os.path.join(root, a), os.path.join(root, b)
        try:
            if op == 'create':
                if os.path.lexists(pa) and (os.path.islink(pa) or os.path.isdir(pa)):
                    remove(pa)
                with open(pa, 'wb') as f:
                    f.write(data)
            elif op == 'rename' and os.path.lexists(pa) and a != b:
                if os.path.lexists(pb) and os.path.isdir(pb) and not os.path.islink(pb):
                    remove(pb)
                os.rename(pa, pb)
            elif op == 'dir':
                if os.path.lexists(pa):
                    remove(pa)
                os.mkdir(pa)
                with open(os.path.join(pa, b), 'wb') as f:
                    f.write(data)
            elif op == 'link':
                if os.path.lexists(pa):
                    remove(pa)
                os.symlink(b, pa)
            elif op == 'delete' and os.path.lexists(pa):
                remove(pa)
        except OSError as e:
            print('# round %d %s: %s' % (r, op, e), file=sys.stderr)
print('# fuzzer: seed %d, %d rounds' % (seed, rounds))
