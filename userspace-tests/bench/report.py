#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the benchmark report: build/bench/report.md and its gnuplot plots.

Usage: report.py [-o OUTDIR] [--vm VMLOG] [--date D] [--load L] [--commit C]
                 [--repo DIR] BENCHLOG

BENCHLOG is the stdout of `make bench` (run.sh: the BENCH lines, then its
"# ... = x.xx (bar <= y)" ratio lines); VMLOG that of `make bench-vm`.
Either may be a saved copy: nothing is run but gnuplot.  Bars and their
verdicts are read from the ratio lines, so run.sh and bench-vm.sh stay the
one place a bar is set: a bar is not met when the line says
"** above bar **" (judged there before rounding; older logs without the
mark are compared here, at the printed two decimals).  Writes OUTDIR/report.md (default build/bench) and OUTDIR/plots/
*.png and *.svg, linked from the report by relative paths.  Exits 1 when
BENCHLOG has no BENCH line or gnuplot fails.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time
from collections import OrderedDict

BENCH_RE = re.compile(r'^BENCH (\S+) (\S+) (\S+) (\S+)(?: (.*))?$')
# "# <lhs> = <x> (bar <= <bar>[; ...])[  ** above bar **]", "(no bar)" or nothing
RATIO_RE = re.compile(r'^# (.+?) = (-?[0-9.]+)(?: \((.*?)\))?(  \*\* above bar \*\*)?\s*$')
MISSING_RE = re.compile(r'^# (.+): missing figures$')

# Groups, in report order: (title, what, test on the benchmark name).
GROUPS = [
    ('Allocation and free', 'explicit malloc+free (spanheap_alloc+spanheap_free) pairs '
     'of n bytes, no collector; ns per pair', lambda b: b.startswith('alloc_free_')),
    ('Allocation with the collector', 'n-byte objects allocated and dropped at once, '
     'the collector reclaims them (the garbage-collected peers\' shape); ns per allocation',
     lambda b: re.fullmatch(r'alloc_\d+', b) is not None),
    ('Large objects and the scavenger', '16 MiB of 64 KiB objects allocated, freed and '
     'given back by the scavenger', lambda b: b.startswith('large_burst_')),
    ('Finalizers, cleanups and weak handles', 'registering on 1M live objects (ns each); '
     'a cycle finding 1M dead objects and running all their finalizers or cleanups (ms)',
     lambda b: b in ('finalizer_register_1m', 'cleanup_register_1m', 'weak_make_1m',
                     'gc_dead_fin_1m', 'gc_dead_cleanup_1m')),
    ('Collection of a live heap', 'full collections of rooted lists (with a finalizer or '
     'weak handle on every node) and of a wide tree; ms per collection, ns per node',
     lambda b: b.startswith('gc_live_') or b.startswith('gc_pause_')),
    ('In-kernel allocation (bench-vm)', 'in the stock kernel under QEMU TCG: only '
     'comparable within one run', lambda b: b.startswith('kalloc_')),
    ('In-kernel page map (bench-vm)', 'span lookup by address against the kernel\'s '
     'xarray and maple tree', lambda b: b.startswith('pagemap_')),
    ('ioctl path (bench-vm)', '/dev/spanheap from a guest program', lambda b:
     b.startswith('ioctl_') or b.startswith('events_')),
]
OTHER = ('Other figures', '', lambda b: True)

# Implementations, in column and legend order; others follow as met.
IMPL_ORDER = ['spanheap', 'spanheap_nozero', 'spanheap_1w', 'spanheap_2w', 'glibc',
              'glibc_calloc', 'jemalloc', 'tcmalloc', 'mimalloc', 'boehm', 'go',
              'slub', 'xarray', 'xarray_xas', 'maple', 'maple_mas']


def impl_key(i):
    return (IMPL_ORDER.index(i) if i in IMPL_ORDER else len(IMPL_ORDER), i)


def size_of(b, prefix):
    m = re.fullmatch(prefix + r'(\d+)', b)
    return int(m.group(1)) if m else None


def bench_key(b):
    """Sort key: by name with the number (size, 100k/1m/4m) compared as a number."""
    def num(m):
        v = float(m.group(1))
        return '%012.0f' % (v * {'': 1, 'k': 1e3, 'm': 1e6}[m.group(2)])
    return re.sub(r'(\d+)([km]?)(?=_|$)', num, b)


class Figures:
    def __init__(self):
        self.fig = OrderedDict()   # (bench, impl) -> (value, unit, note)
        self.ratios = []           # dicts: text, value, bar, met (None: no bar), source
        self.notes = []            # other "# ..." lines worth keeping
        self.probes = []           # run.sh's per-CPU speed probes

    def read(self, path, source):
        n = 0
        with open(path, errors='replace') as f:
            for line in f:
                line = line.rstrip('\n')
                m = BENCH_RE.match(line)
                if m:
                    b, i, v, u, note = m.groups()
                    try:
                        val = float(v)
                    except ValueError:
                        continue
                    note = (note or '').strip()
                    if note.startswith('(') and note.endswith(')'):
                        note = note[1:-1]
                    self.fig[(b, i)] = (val, u, note, v)
                    n += 1
                    continue
                m = MISSING_RE.match(line)
                if m:
                    self.ratios.append(dict(text=m.group(1), value=None, bar=None,
                                            met=False, source=source, missing=True))
                    continue
                m = RATIO_RE.match(line)
                if m:
                    lhs, x, paren, above = m.groups()
                    bar = None
                    if paren:
                        bm = re.match(r'bar <= ([0-9.]+)(.*)', paren)
                        if bm:
                            bar = float(bm.group(1))
                            extra = bm.group(2).lstrip('; ').strip()
                            if extra:
                                lhs += ' (%s)' % extra
                        elif paren != 'no bar':
                            lhs += ' (%s)' % paren
                    met = None
                    if bar is not None:
                        # run.sh and bench-vm.sh mark a miss; older logs do not.
                        met = not above and float(x) <= bar
                    self.ratios.append(dict(text=lhs, value=float(x), bar=bar, met=met,
                                            source=source, missing=False))
                    continue
                m = re.match(r'^# cpu probe \((\w+)\): (.*)$', line)
                if m:
                    self.probes.append('%s: %s' % m.groups())
                    continue
                if re.match(r'^# \S+ .*(costs|in \d+ of \d+ runs|round \d+ of \d+:)', line):
                    self.notes.append(line[2:])
        return n

    def benches(self):
        return sorted({b for b, _ in self.fig}, key=bench_key)

    def impls(self, benches):
        return sorted({i for (b, i) in self.fig if b in benches}, key=impl_key)

    def get(self, b, i):
        v = self.fig.get((b, i))
        return v[0] if v else None


def group_of(b):
    for g in GROUPS:
        if g[2](b):
            return g
    return OTHER



def md_escape(s):
    return s.replace('|', '\\|')


# ---- plots ----------------------------------------------------------

STYLE = {  # impl -> (colour, point type); a fixed look across plots
    'spanheap': ('#d62728', 7), 'spanheap_nozero': ('#ff9896', 6), 'glibc': ('#1f77b4', 5),
    'glibc_calloc': ('#6baed6', 4), 'jemalloc': ('#2ca02c', 9), 'tcmalloc': ('#9467bd', 11),
    'mimalloc': ('#8c564b', 13), 'boehm': ('#ff7f0e', 5), 'go': ('#17becf', 9),
}


def style(impl, k):
    c, pt = STYLE.get(impl, (None, 1 + k))
    return ('lc rgb "%s" ' % c if c else 'lc %d ' % (k + 1)) + 'pt %d' % pt


class Plotter:
    def __init__(self, outdir):
        self.dir = os.path.join(outdir, 'plots')
        os.makedirs(self.dir, exist_ok=True)
        self.made = []   # (file stem, title, alt)

    def run(self, stem, script, title):
        """Render @script to stem.png and stem.svg; False if gnuplot failed."""
        gp = os.path.join(self.dir, stem + '.gp')
        with open(gp, 'w') as f:
            f.write(script)
        for term, ext in (('pngcairo size 960,680 font "sans,11" noenhanced', 'png'),
                          ('svg size 960,680 font "sans,11" noenhanced', 'svg')):
            out = os.path.join(self.dir, stem + '.' + ext)
            cmd = 'set terminal %s; set output "%s"; load "%s"; unset output' % (
                term, out, gp)
            r = subprocess.run(['gnuplot', '-e', cmd], capture_output=True, text=True)
            if r.returncode or not os.path.getsize(out):
                sys.stderr.write('report.py: gnuplot failed on %s:\n%s' % (gp, r.stderr))
                return False
        self.made.append((stem, title))
        return True

    def data(self, stem, rows):
        path = os.path.join(self.dir, stem + '.dat')
        with open(path, 'w') as f:
            for r in rows:
                f.write(' '.join(str(x) for x in r) + '\n')
        return path


def lines_plot(p, stem, title, xlabel, ylabel, series, logy=True, xtics=None):
    """series: [(label, impl, [(x, y)], dashed)]; empty ones left out."""
    series = [s for s in series if s[2]]
    if not series:
        return None
    plots = []
    for k, (label, impl, pts, dashed) in enumerate(series):
        dat = p.data('%s-%d' % (stem, k), sorted(pts))
        plots.append('"%s" using 1:2 with linespoints lw 2 ps 1.2 %s %s title "%s"' % (
            dat, style(impl, k), 'dt 2' if dashed else 'dt 1', label))
    xs = sorted({x for s in series for x, _ in s[2]})
    ys = [y for s in series for _, y in s[2] if y > 0]
    lo, hi = min(ys), max(ys)
    # The trailing newline keeps the key (below) off the x label.
    script = ['set title "%s"' % title, 'set xlabel "%s\\n"' % xlabel,
              'set ylabel "%s"' % ylabel, 'set logscale x 2', 'set grid xtics ytics mytics',
              'set key outside below center horizontal box', 'set border 3',
              'set tics nomirror',
              'set xrange [%g:%g]' % (xs[0] / 1.4, xs[-1] * 1.4)]
    if logy:
        script += ['set logscale y 10',
                   'set yrange [%g:%g]' % (10 ** math.floor(math.log10(lo)),
                                           10 ** math.ceil(math.log10(hi))),
                   'set format y "%g"']
    else:
        script += ['set yrange [0:%g]' % (hi * 1.1)]
    if xtics:
        script.append('set xtics (%s)' % ', '.join('"%s" %g' % (t, x) for x, t in xtics))
    script.append('plot ' + ', \\\n     '.join(plots))
    return p.run(stem, '\n'.join(script) + '\n', title)


def size_label(n):
    return '%dK' % (n // 1024) if n >= 1024 and n % 1024 == 0 else str(n)


def plot_alloc(p, F):
    made = []
    for stem, prefix, title, ylabel in (
            ('alloc_free_by_size', 'alloc_free_',
             'malloc+free pair cost by size (explicit free, no collector)', 'ns per alloc+free pair'),
            ('alloc_gc_by_size', 'alloc_',
             'Allocation cost by size with the collector reclaiming (garbage)',
             'ns per allocation (collection included)')):
        series = []
        sizes = set()
        impls = sorted({i for (b, i) in F.fig if size_of(b, prefix) is not None}, key=impl_key)
        for k, impl in enumerate(impls):
            pts = [(size_of(b, prefix), v[0]) for (b, i), v in F.fig.items()
                   if i == impl and size_of(b, prefix) is not None and v[0] > 0]
            sizes |= {x for x, _ in pts}
            series.append((impl, impl, pts, impl in ('glibc_calloc', 'spanheap_nozero')))
        if not sizes:
            continue
        tics = [(s, size_label(s)) for s in sorted(sizes)]
        if lines_plot(p, stem, title, 'object size (bytes, log scale)', ylabel + ', log scale',
                      series, xtics=tics):
            made.append(stem)
    return made


LIVE_N = {'100k': 100000, '1m': 1000000, '4m': 4000000}


def plot_live(p, F):
    made = []
    for stem, suffix, title, ylabel, logy in (
            ('gc_live_by_heap', '', 'Full collection time against live heap size',
             'ms per collection, log scale', True),
            ('gc_live_per_object', '_per_object', 'Collection cost per live object',
             'ns per live object', False)):
        series = []
        for kind, what in (('list', 'list'), ('fin', 'list, finalizer on every node')):
            for impl in sorted({i for (b, i) in F.fig}, key=impl_key):
                pts = []
                for tag, n in LIVE_N.items():
                    v = F.get('gc_live_%s_%s%s' % (kind, tag, suffix), impl)
                    if v is not None and v > 0:
                        pts.append((n, v))
                if pts:
                    series.append(('%s: %s' % (impl, what), impl, pts, kind == 'fin'))
        tics = [(n, t.upper()) for t, n in LIVE_N.items()]
        if lines_plot(p, stem, title, 'live objects (32-byte list nodes), log scale', ylabel,
                      series, logy=logy, xtics=tics):
            made.append(stem)
    return made


def plot_fin(p, F):
    """Throughput bars: million objects/s, register and collect+run phases."""
    phases = [('register', {'finalizer': 'finalizer_register_1m', 'cleanup': 'cleanup_register_1m'},
               lambda v: 1e3 / v),
              ('collect + run 1M dead', {'finalizer': 'gc_dead_fin_1m', 'cleanup': 'gc_dead_cleanup_1m'},
               lambda v: 1e3 / v)]
    cols = []
    for impl in sorted({i for (b, i) in F.fig}, key=impl_key):
        for kind in ('finalizer', 'cleanup'):
            if any(F.get(ph[1][kind], impl) for ph in phases):
                cols.append((impl, kind))
    if not cols:
        return []
    rows = []
    top = 0
    for name, benches, conv in phases:
        row = ['"%s"' % name]
        for impl, kind in cols:
            v = F.get(benches[kind], impl)
            y = conv(v) if v else float('nan')
            top = max(top, y if y == y else 0)
            row.append('%.3f' % y if y == y else 'NaN')
        rows.append(row)
    dat = p.data('fin_throughput', rows)
    plots = []
    n = len(cols)
    width = 0.8 / n
    for k, (impl, kind) in enumerate(cols):
        c = STYLE.get(impl, ('#777777', 0))[0]
        fs = 'fs solid 0.85' if kind == 'finalizer' else 'fs pattern 4'
        off = (k - (n - 1) / 2.0) * width
        plots.append('"%s" using ($0+%g):%d:(%g) with boxes %s lc rgb "%s" title "%s %s"' % (
            dat, off, k + 2, width * 0.95, fs, c, impl, kind))
        plots.append('"" using ($0+%g):%d:(sprintf("%%.1f", column(%d))) with labels '
                     'offset 0,0.7 font ",9" notitle' % (off, k + 2, k + 2))
    script = '\n'.join([
        'set title "Finalizer and cleanup throughput (1M objects)"',
        'set ylabel "million objects per second (higher is better)"',
        'set xlabel "phase: registering on live objects; the cycle finding them dead and running them all"',
        'set style fill solid border -1', 'set boxwidth %g' % width,
        'set yrange [0:%g]' % (top * 1.25), 'set xrange [-0.6:%g]' % (len(phases) - 0.4),
        'set xtics (%s)' % ', '.join('"%s" %d' % (ph[0], k) for k, ph in enumerate(phases)),
        'set grid ytics', 'set key top right box opaque', 'set border 3', 'set tics nomirror',
        'plot ' + ', \\\n     '.join(plots)]) + '\n'
    return ['fin_throughput'] if p.run('fin_throughput', script,
                                       'Finalizer and cleanup throughput (1M objects)') else []


# ---- report ---------------------------------------------------------

def machine(args):
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    load = args.load
    if not load:
        with open('/proc/loadavg') as f:
            load = ' '.join(f.read().split()[:3]) + ' (when the report was written)'
    return cpu, os.cpu_count(), load


def commit(args):
    if args.commit:
        return args.commit
    try:
        c = subprocess.run(['git', '-C', args.repo, 'rev-parse', '--short=12', 'HEAD'],
                           capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', args.repo, 'status', '--porcelain',
                                '--untracked-files=no'], capture_output=True, text=True).stdout
        s = subprocess.run(['git', '-C', args.repo, 'log', '-1', '--format=%s'],
                           capture_output=True, text=True).stdout.strip()
        return '%s%s (%s)' % (c, ' + uncommitted changes' if dirty.strip() else '', s[:72])
    except (OSError, subprocess.CalledProcessError):
        return 'unknown (not a git checkout)'


def verdict(r):
    if r['missing']:
        return '**missing figures**'
    if r['met'] is None:
        return 'no bar'
    return 'met' if r['met'] else '**not met**'


def ratio_table(rs):
    out = ['| ratio | value | bar | verdict |', '|---|---:|---:|---|']
    for r in rs:
        out.append('| %s | %s | %s | %s |' % (
            md_escape(r['text']), '' if r['value'] is None else '%.2f' % r['value'],
            '' if r['bar'] is None else '<= %g' % r['bar'], verdict(r)))
    return out


def figure_table(F, benches):
    impls = F.impls(set(benches))
    peers = [i for i in impls if not i.startswith('spanheap')]
    has_sh = any(F.get(b, 'spanheap') is not None for b in benches)
    head = ['figure', 'unit'] + impls
    if has_sh and peers:
        head.append('spanheap / best peer')
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '---|' * 2 + '---:|' * (len(head) - 2)]
    for b in benches:
        unit = next(F.fig[(b, i)][1] for i in impls if (b, i) in F.fig)
        notes = {F.fig[(b, i)][2] for i in impls if (b, i) in F.fig and F.fig[(b, i)][2]}
        row = [b + (' (%s)' % ', '.join(sorted(notes)) if notes else ''), unit]
        # As the bench printed them: no rounding of our own.
        row += [F.fig[(b, i)][3] if (b, i) in F.fig else '' for i in impls]
        if has_sh and peers:
            sh = F.get(b, 'spanheap')
            pv = [(F.get(b, i), i) for i in peers if F.get(b, i)]
            # Smaller is better for every unit here except none; say which peer.
            if sh is not None and pv:
                best = min(pv)
                row.append('%.2f (%s)' % (sh / best[0], best[1]))
            else:
                row.append('')
        out.append('| ' + ' | '.join(md_escape(c) for c in row) + ' |')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('bench', help='saved stdout of make bench')
    ap.add_argument('--vm', help='saved stdout of make bench-vm')
    ap.add_argument('-o', '--outdir', default=None)
    ap.add_argument('--repo', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   '..', '..'))
    ap.add_argument('--date', help='when the bench started (default: now)')
    ap.add_argument('--load', help='load average when the bench started')
    ap.add_argument('--commit', help='commit benchmarked (default: the repo\'s HEAD)')
    args = ap.parse_args()
    args.repo = os.path.abspath(args.repo)
    outdir = args.outdir or os.path.join(args.repo, 'build', 'bench')
    os.makedirs(outdir, exist_ok=True)

    F = Figures()
    if not F.read(args.bench, 'bench'):
        sys.stderr.write('report.py: no BENCH line in %s\n' % args.bench)
        return 1
    if args.vm and not F.read(args.vm, 'bench-vm'):
        sys.stderr.write('report.py: no BENCH line in %s\n' % args.vm)
        return 1

    p = Plotter(outdir)
    for old in os.listdir(p.dir):
        os.unlink(os.path.join(p.dir, old))
    plots = OrderedDict()
    plots['alloc'] = plot_alloc(p, F)
    plots['live'] = plot_live(p, F)
    plots['fin'] = plot_fin(p, F)
    if len(p.made) != sum(len(v) for v in plots.values()):
        return 1
    titles = dict(p.made)

    cpu, ncpu, load = machine(args)
    date = args.date or time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    bars = [r for r in F.ratios if r['bar'] is not None or r['missing']]
    unmet = [r for r in bars if not r['met']]
    md = ['# spanheap benchmark report', '',
          '| | |', '|---|---|',
          '| date | %s |' % date,
          '| commit | %s |' % md_escape(commit(args)),
          '| machine | %s CPUs, %s |' % (ncpu, md_escape(cpu)),
          '| load average at start | %s |' % load,
          '| per-CPU probe (same loop on each CPU) | %s |' % (
              md_escape('; '.join(F.probes)) if F.probes else 'not in the log'),
          '| bench-vm | %s |' % ('ran (in-kernel figures below)' if args.vm
                                 else 'not run (make bench-report BENCH_VM=1 runs it)'),
          '| inputs | %s |' % ', '.join(os.path.basename(x) for x in (args.bench, args.vm) if x),
          '',
          'Timings of one run on a shared machine: compare figures of the same run '
          '(a ratio against a peer), not absolute values across machines. Lower is '
          'better for every figure except the plotted throughputs.', '',
          '## Bars', '',
          '%d bars: %d met, %d not met.' % (len(bars), len(bars) - len(unmet), len(unmet)), '']
    if unmet:
        md += ['Not met:', ''] + ratio_table(unmet) + ['']
    md += ['Every ratio, with its group, is under the group\'s heading below.', '']

    md += ['## Plots', '']
    for key, what in (('alloc', 'Allocation cost by size'),
                      ('live', 'Collection time against live heap size'),
                      ('fin', 'Finalizer and cleanup throughput')):
        if not plots[key]:
            md += ['%s: no figures in this run.' % what, '']
        for stem in plots[key]:
            md += ['### %s' % titles[stem], '',
                   '![%s](plots/%s.png)' % (titles[stem], stem), '',
                   '[SVG](plots/%s.svg), [gnuplot script](plots/%s.gp)' % (stem, stem), '']

    md += ['## Figures', '',
           'Each table: one row per benchmark, one column per implementation (median of '
           'the bench\'s runs). "spanheap / best peer" is spanheap\'s figure over the '
           'lowest of the other implementations\' (spanheap_* columns are spanheap '
           'variants, not peers).', '']
    by_group = OrderedDict()
    for b in F.benches():
        by_group.setdefault(group_of(b), []).append(b)
    seen = set()
    for g in GROUPS + [OTHER]:
        if g not in by_group:
            continue
        benches = by_group[g]
        md += ['### %s' % g[0], '']
        if g[1]:
            md += [g[1][0].upper() + g[1][1:] + '.', '']
        md += figure_table(F, benches) + ['']
        rs = []
        for k, r in enumerate(F.ratios):
            first = r['text'].split()[0]
            if k not in seen and (first in benches or group_of(first) is g):
                rs.append(r)
                seen.add(k)
        if rs:
            md += ratio_table(rs) + ['']
        notes = [n for n in F.notes if n.split()[0] in benches]
        if notes:
            md += ['- ' + md_escape(n) for n in notes] + ['']
    left = [r for k, r in enumerate(F.ratios) if k not in seen]
    if left:
        md += ['### Other ratios', ''] + ratio_table(left) + ['']
    with open(os.path.join(outdir, 'report.md'), 'w') as f:
        f.write('\n'.join(md))
    print('report.py: wrote %s (%d figures, %d bars, %d not met; %d plots)' % (
        os.path.join(outdir, 'report.md'), len(F.fig), len(bars), len(unmet), len(p.made)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
