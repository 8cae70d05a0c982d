#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Which core file calls which, and the call loops among them.

Usage: scripts/callgraph.py [--ktap] [--max-loop N] [DIR]

Reads DIR/*.c (default kmod/), finds each file's non-static function
definitions, and draws an edge A -> B when A names a function B defines
(a call, or a function pointer handed on: a work function, a callback).
Prints the edges, then every loop (strongly connected set of files).
Exits 1 if a loop spans more than N files (default 3).

With --ktap, prints the result as KTAP for the test tiers instead.  The
map of the core (the comment at the top of DIR/internal.h) lists the
files top down; three cases: no loop spans more than N files, the map
names every file, and every call goes to a file on the caller's line of
the map or below it, or stays inside a loop.
"""
import os
import re
import sys

DEF_RE = re.compile(r'^(?!static\b)(?:[A-Za-z_][\w ]*?[\s\*]+)(\w+)\s*\(', re.M)
IDENT_RE = re.compile(r'\b[A-Za-z_]\w*\b')


def strip(text):
    """Drops comments, strings and preprocessor lines."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])*'", "''", text)
    return re.sub(r'^\s*#[^\n]*(?:\\\n[^\n]*)*', ' ', text, flags=re.M)


def definitions(text):
    """Non-static functions defined (a body follows the prototype)."""
    names = set()
    for m in DEF_RE.finditer(text):
        rest = text[m.end():]
        depth, i = 1, 0
        while i < len(rest) and depth:
            depth += {'(': 1, ')': -1}.get(rest[i], 0)
            i += 1
        if rest[i:].lstrip().startswith('{'):
            names.add(m.group(1))
    return names


def loops(files, edges):
    """Tarjan's strongly connected components with more than one file."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in files:
        if v not in index:
            visit(v)
    return out


def map_ranks(top):
    """File -> line of the map at the top of internal.h (0 is the top)."""
    with open(os.path.join(top, 'internal.h')) as f:
        head = f.read().split('#ifndef', 1)[0]
    ranks = {}
    for n, line in enumerate(head.splitlines()):
        m = re.match(r'^ \*   ((?:[\w.]+\.c ?)+)\s', line)
        for name in m.group(1).split() if m else ():
            ranks.setdefault(name, n)
    return ranks


def ktap(top, texts, edges, max_loop):
    comps = loops(list(texts), edges)
    big = [c for c in comps if len(c) > max_loop]
    ranks = map_ranks(top)
    missing = [name for name in texts if name not in ranks]
    loop_of = {name: i for i, c in enumerate(comps) for name in c}
    up = [(a, b) for a in texts for b in sorted(edges[a])
          if a in ranks and b in ranks and ranks[b] < ranks[a] and
          (a not in loop_of or loop_of.get(b) != loop_of[a])]
    print('KTAP version 1')
    print('1..3')
    for c in comps:
        print('# loop (%d files): %s' % (len(c), ' '.join(c)))
    print('%s 1 core_call_loops_at_most_%d_files' % ('not ok' if big else 'ok', max_loop))
    for name in missing:
        print('# not in the map of the core: %s' % name)
    print('%s 2 core_map_names_every_file' % ('not ok' if missing else 'ok'))
    for a, b in up:
        print('# %s calls %s, above it in the map' % (a, b))
    print('%s 3 core_calls_go_down_the_map' % ('not ok' if up else 'ok'))
    return 1 if big or missing or up else 0


def main(argv):
    max_loop = 3
    as_ktap = False
    while argv and argv[0].startswith('--'):
        if argv[0] == '--ktap':
            as_ktap = True
            argv = argv[1:]
        elif argv[0] == '--max-loop' and len(argv) > 1:
            max_loop = int(argv[1])
            argv = argv[2:]
        else:
            sys.exit(__doc__)
    top = argv[0] if argv else 'kmod'
    texts = {}
    for name in sorted(os.listdir(top)):
        if name.endswith('.c'):
            with open(os.path.join(top, name)) as f:
                texts[name] = strip(f.read())
    owner = {}
    for name, text in texts.items():
        for fn in definitions(text):
            owner.setdefault(fn, name)
    edges = {name: set() for name in texts}
    for name, text in texts.items():
        for ident in set(IDENT_RE.findall(text)):
            dst = owner.get(ident)
            if dst and dst != name:
                edges[name].add(dst)
    if as_ktap:
        return ktap(top, texts, edges, max_loop)
    for name in texts:
        print('%-20s -> %s' % (name, ' '.join(sorted(edges[name])) or '-'))
    bad = 0
    for comp in loops(list(texts), edges):
        print('loop (%d files): %s' % (len(comp), ' '.join(comp)))
        bad |= len(comp) > max_loop
    if bad:
        print('a loop spans more than %d files' % max_loop)
    return bad


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
