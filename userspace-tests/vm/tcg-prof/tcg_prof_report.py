#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-function guest instructions of a tcg-prof.sh run, less a baseline.

Usage: tcg_prof_report.py --map KERNEL.syms --units N [--top K] [--ko KO]
       BASE.blocks BASE.ksyms RUN.blocks RUN.ksyms
KERNEL.syms holds the kernel's text symbols (/proc/kallsyms lines); a
.blocks file "<vaddr hex> <insns> <executions>" lines (the QEMU
plugin's); a .ksyms file the module's /proc/kallsyms lines of that boot.
Prints instructions per unit (object, call or event) by function, the
run's less the baseline's, largest first, then the total; with --ko (the
module the guest ran, with debug info), also by source line of the
module (addr2line), largest first.
"""
import argparse
import bisect
import subprocess
from collections import Counter


def load_symbols(path, module_only=False):
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in 'tTwW':
                continue
            name = parts[2] + (' [spanheap]' if module_only else '')
            syms.append((int(parts[0], 16), name))
    return syms


def counts(blocks, ksyms, core):
    syms = sorted(core + load_symbols(ksyms, True))
    addrs = [a for a, _ in syms]
    c = Counter()
    with open(blocks) as f:
        for line in f:
            va, insns, n = line.split()
            i = bisect.bisect_right(addrs, int(va, 16)) - 1
            c[syms[i][1] if i >= 0 else '?'] += int(insns) * int(n)
    return c


def module_lines(ko, runs, units, top):
    """Per-line instructions of the module: runs is [(sign, blocks)]."""
    # Offsets of the functions in .text (addr2line's addresses), by name.
    dump = subprocess.run(['objdump', '-t', ko], capture_output=True, text=True,
                          check=True).stdout
    offs = {p[-1]: int(p[0], 16) for p in (l.split() for l in dump.splitlines())
            if len(p) >= 6 and p[-3] == '.text' and p[-4] == 'F'}
    bases = Counter()
    for sign, blocks, syms in runs:
        for addr, name in load_symbols(syms):
            if name in offs:
                base = addr - offs[name]
                break
        with open(blocks) as f:
            for line in f:
                va, insns, n = line.split()
                off = int(va, 16) - base
                if 0 <= off < 1 << 24:
                    bases[off] += sign * int(insns) * int(n)
    addrs = sorted(bases)
    out = subprocess.run(['addr2line', '-f', '-e', ko] + [hex(a) for a in addrs],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    lines = Counter()
    for i, a in enumerate(addrs):
        fn, where = out[2 * i], out[2 * i + 1].split('/')[-1]
        lines[f'{where} ({fn})'] += bases[a] / units
    print('# by source line of the module')
    for where, v in lines.most_common(top):
        print(f'{v:10.1f}  {where}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--map', required=True)
    ap.add_argument('--units', type=int, required=True)
    ap.add_argument('--top', type=int, default=40)
    ap.add_argument('--ko')
    ap.add_argument('files', nargs=4)
    a = ap.parse_args()
    core = load_symbols(a.map)
    base = counts(a.files[0], a.files[1], core)
    run = counts(a.files[2], a.files[3], core)
    diff = {k: (run[k] - base.get(k, 0)) / a.units for k in run}
    total = sum(diff.values())
    print(f'# guest kernel instructions per unit ({a.units} units), run less baseline')
    for name, v in sorted(diff.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f'{v:10.1f} {100 * v / total:5.1f}%  {name}')
    print(f'{total:10.1f} total')
    if a.ko:
        module_lines(a.ko, [(-1, a.files[0], a.files[1]), (1, a.files[2], a.files[3])],
                     a.units, a.top)


if __name__ == '__main__':
    main()
