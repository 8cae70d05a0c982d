#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Sort the KCSAN reports of a console log into ours and the core kernel's.

Usage: kcsan_split.py <console log> <dir>

A report runs from "BUG: KCSAN: ..." to its closing "====" line.  It is
ours (<dir>/kcsan-ours.txt) when a frame is in spanheap ("[spanheap]" or a
function shp_*/spanheap_*/uheap_*), unless it is a known-benign race inside
a core-kernel primitive (KNOWN_BENIGN below: every racing access's own frame
is that primitive, whoever called it).  The rest, and the known-benign ones
with the reason on a "# known benign:" line, go to <dir>/kcsan-core.txt.
<dir>/console-nokcsan.log is the console without the reports, for the splat
check.  Prints "<ours> <core>" (report counts).
"""
import re
import sys

# Races the core kernel has by design, keyed by the function doing the
# racing access, with the exact shape of its access line: percpu-rwsem's
# only benign race is a task's plain 4-byte read of an unsigned int
# read_count of unknown origin.  An 8-byte read in the same function
# (sem->read_count itself, the waiters list: spanheap's struct spanheap
# rewritten under a stopping writer) or any write is not it.
PCPU_SUM = (re.compile(r'race at unknown origin, with read to 0x[0-9a-f]+ '
                       r'of 4 bytes by task \d+ on cpu \d+:$'),
            'per_cpu_sum() of read_count races this_cpu_inc/dec by design '
            '(percpu-rwsem.c)')
# The mutex's optimistic-spin queue (kernel/locking/osq_lock.c, 6.1):
# osq_unlock() reads a node's next with a plain load while a new waiter's
# osq_lock() links itself in with a marked store; the lock word itself is
# an atomic, and upstream later annotated these accesses.  Seen under two
# fuzzer threads contending for one file's mutex.
OSQ = 'unannotated node link of the mutex spin queue (osq_lock.c)'
OSQ_LINK = (re.compile(r'^(write \(marked\)|read) to 0x[0-9a-f]+ of 8 bytes '
                       r'by task \d+ on cpu \d+:$'), OSQ)
KNOWN_BENIGN = {
    # percpu-rwsem's writer sums the per-CPU read_count with plain reads
    # (per_cpu_sum() in kernel/locking/percpu-rwsem.c) while readers
    # change it with this_cpu_inc/dec, which KCSAN does not see; the
    # modular sum is only trusted once it reads zero with sem->block set.
    # stop_world() is a percpu_down_write(), so every stop can trip it.
    'percpu_down_write': PCPU_SUM,
    'readers_active_check': PCPU_SUM,
    'osq_lock': OSQ_LINK,
    'osq_unlock': OSQ_LINK,
}

TS = re.compile(r'^\[ *\d+\.\d+\] ?')
OURS = re.compile(r'\[spanheap\]|(^|[\s/])(shp_|spanheap_|uheap_)\w*(\+0x|\s|$)')
ACCESS = re.compile(r'^(race at unknown origin, with )?'
                    r'(read|write|read-write|assert no writes|assert no accesses)'
                    r'( \((marked|reordered|marked, reordered)\))? to 0x[0-9a-f]+ '
                    r'of \d+ bytes by (task -?\d+|interrupt) on cpu \d+:$')
# Every line KCSAN's print_report() can print (6.1, !KCSAN_VERBOSE).  A
# block with any other line has something interleaved (another CPU's
# WARNING, an Oops after a lost footer): it is never waved through.
KCSAN_LINE = re.compile(r'^(=+|BUG: KCSAN: .*|' + ACCESS.pattern[1:-1] +
                        r'| [\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+( \[[^\]]+\])?'
                        r'| *\|| *\+-> reordered to: .*'
                        r'|value changed: .*| bits changed: .*'
                        r'|Reported by Kernel Concurrency Sanitizer on:'
                        r'|CPU: \d+ PID: .*|Hardware name: .*|Workqueue: .*|)$')
FRAME = re.compile(r'^\s*(?:\|\s*)?(?:\+-> reordered to: )?([\w.]+)\+0x')


def access_sites(body_lines):
    """(access line, function) for each racing access: the frame after it."""
    sites, want = [], None
    for body in body_lines:
        if ACCESS.match(body):
            want = body
            continue
        f = FRAME.match(body)
        if want and f:
            sites.append((want, f.group(1).split('.')[0]))
            want = None
    return sites


def benign_reason(body_lines):
    if not all(KCSAN_LINE.match(b) for b in body_lines):
        return None
    sites = access_sites(body_lines)
    if not sites:
        return None
    reasons = set()
    for line, fn in sites:
        known = KNOWN_BENIGN.get(fn)
        if not known or not known[0].match(line):
            return None
        reasons.add(f'{fn}: {known[1]}')
    return '; '.join(sorted(reasons))


def split(log):
    ours, core, rest = [], [], []
    blk = None

    def close(b):
        bodies = [TS.sub('', l) for l in b]
        rest.extend(l for l, x in zip(b, bodies) if not KCSAN_LINE.match(x))
        reason = benign_reason(bodies)
        if reason:
            core.append([f'# known benign: {reason}'] + b)
        elif any(OURS.search(x) for x in bodies if 'Comm:' not in x):
            ours.append(b)
        else:
            core.append(b)

    for raw in open(log, errors='replace'):
        line = raw.rstrip('\n')
        body = TS.sub('', line)
        if blk is None:
            if 'BUG: KCSAN:' in body:
                blk = [line]
            else:
                rest.append(line)
            continue
        if not TS.match(line):          # user-space output interleaved
            rest.append(line)
            continue
        blk.append(line)
        if body.startswith('=========='):
            close(blk)
            blk = None
    if blk:                             # unterminated (crash, timeout)
        close(blk)
    return ours, core, rest


def main():
    log, out = sys.argv[1], sys.argv[2]
    ours, core, rest = split(log)
    for name, blks in (('kcsan-ours.txt', ours), ('kcsan-core.txt', core)):
        with open(f'{out}/{name}', 'w') as f:
            for b in blks:
                f.write('\n'.join(b) + '\n')
    with open(f'{out}/console-nokcsan.log', 'w') as f:
        f.write('\n'.join(rest) + '\n')
    print(len(ours), len(core))


if __name__ == '__main__':
    main()
