#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Which core file calls which, and the call loops among them.

Usage: scripts/callgraph.py [--ktap] [--max-loop N] [DIR]

Reads DIR/*.c and DIR/*.h (default kmod/), finds each .c file's
non-static function definitions, and draws an edge A -> B when A names a
function B defines: a call, or a function handed on by name (a work
function).  A static inline function or a macro of a header, or a macro
of A itself, counts as A's own code, so a call hidden in one is A's call.
Calls through pointers (callbacks) are not edges.  Prints the edges, then
every loop (strongly connected set of files).  Exits 1 if a loop spans
more than N files (default 3).

With --ktap, prints KTAP for the test tiers instead.  The map of the core
(the comment at the top of DIR/internal.h) lists the files top down and
names its allowed loops ("Allowed loop: a.c b.c"); three cases: every
loop is an allowed one of at most N files, the map names every file,
and every call goes to a file on the caller's line of the map or below
it, or stays inside an allowed loop.
"""
import os
import re
import sys

DEF_RE = re.compile(r'^(?!static\b)(?:[A-Za-z_][\w ]*?[\s\*]+)(\w+)\s*\(', re.M)
INLINE_RE = re.compile(r'^static\s+(?:__always_)?inline\b[^;{]*?\b(\w+)\s*\(', re.M)
MACRO_RE = re.compile(r'^[ \t]*#[ \t]*define[ \t]+(\w+)((?:[^\n\\]|\\.)*(?:\\\n(?:[^\n\\]|\\.)*)*)', re.M)
IDENT_RE = re.compile(r'\b[A-Za-z_]\w*\b')
LEXEME_RE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def strip(text):
    """Drops comments and the contents of string and character literals."""
    def blank(m):
        s = m.group(0)
        if s.startswith('/'):
            return ' ' if s.startswith('//') else ' ' + '\n' * s.count('\n')
        return s[0] * 2
    return LEXEME_RE.sub(blank, text)


def body_after(text, pos):
    """The braced body starting at the first '{' after pos, or ''."""
    start = text.find('{', pos)
    if start < 0:
        return ''
    depth = 0
    for i in range(start, len(text)):
        depth += {'{': 1, '}': -1}.get(text[i], 0)
        if not depth:
            return text[start:i + 1]
    return text[start:]


def definitions(code):
    """Non-static functions defined in @code (a body follows the prototype)."""
    names = set()
    for m in DEF_RE.finditer(code):
        rest = code[m.end():]
        depth, i = 1, 0
        while i < len(rest) and depth:
            depth += {'(': 1, ')': -1}.get(rest[i], 0)
            i += 1
        if rest[i:].lstrip().startswith('{'):
            names.add(m.group(1))
    return names


def expansions(text, with_inlines):
    """Name -> identifiers of its body, for macros (and header inlines)."""
    out = {m.group(1): set(IDENT_RE.findall(m.group(2))) for m in MACRO_RE.finditer(text)}
    if with_inlines:
        for m in INLINE_RE.finditer(text):
            out[m.group(1)] = set(IDENT_RE.findall(body_after(text, m.end())))
    return out


def code_only(text):
    """The text without preprocessor lines (macro bodies are expansions)."""
    return re.sub(r'^[ \t]*#(?:[^\n\\]|\\.)*(?:\\\n(?:[^\n\\]|\\.)*)*', ' ', text, flags=re.M)


def names_used(code, local, shared):
    """Identifiers @code names, through the macros and inlines it uses."""
    seen, todo = set(), set(IDENT_RE.findall(code))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= local.get(name, set()) | shared.get(name, set())
    return seen


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


def read_map(top):
    """The map at the top of internal.h: file -> line (0 is the top), and
    the allowed loops."""
    with open(os.path.join(top, 'internal.h')) as f:
        head = f.read().split('#ifndef', 1)[0]
    ranks, allowed = {}, []
    for n, line in enumerate(head.splitlines()):
        m = re.match(r'^ \*\s+Allowed loop:\s+((?:[\w.]+\.c\s*)+)', line)
        if m:
            allowed.append(sorted(m.group(1).split()))
            continue
        m = re.match(r'^ \*   ((?:[\w.]+\.c ?)+)\s', line)
        for name in m.group(1).split() if m else ():
            ranks.setdefault(name, n)
    return ranks, allowed


def ktap(top, texts, edges, max_loop):
    comps = loops(list(texts), edges)
    ranks, allowed = read_map(top)
    bad = [c for c in comps if c not in allowed or len(c) > max_loop]
    missing = [name for name in texts if name not in ranks]
    loop_of = {name: i for i, c in enumerate(comps) if c not in bad for name in c}
    up = [(a, b) for a in texts for b in sorted(edges[a])
          if a in ranks and b in ranks and ranks[b] < ranks[a] and
          (a not in loop_of or loop_of.get(b) != loop_of[a])]
    print('KTAP version 1')
    print('1..3')
    for c in comps:
        print('# loop (%d files)%s: %s' % (len(c), ' NOT ALLOWED' if c in bad else '',
                                          ' '.join(c)))
    print('%s 1 core_call_loops_allowed_at_most_%d_files' %
          ('not ok' if bad else 'ok', max_loop))
    for name in missing:
        print('# not in the map of the core: %s' % name)
    print('%s 2 core_map_names_every_file' % ('not ok' if missing else 'ok'))
    for a, b in up:
        print('# %s calls %s, above it in the map' % (a, b))
    print('%s 3 core_calls_go_down_the_map' % ('not ok' if up else 'ok'))
    return 1 if bad or missing or up else 0


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
    texts, shared = {}, {}
    for name in sorted(os.listdir(top)):
        path = os.path.join(top, name)
        if name.endswith('.c'):
            with open(path) as f:
                texts[name] = strip(f.read())
        elif name.endswith('.h'):
            with open(path) as f:
                shared.update(expansions(strip(f.read()), True))
    owners = {}
    for name, text in texts.items():
        for fn in definitions(code_only(text)):
            owners.setdefault(fn, set()).add(name)
    edges = {name: set() for name in texts}
    for name, text in texts.items():
        local = expansions(text, False)
        for ident in names_used(code_only(text), local, shared):
            if name not in owners.get(ident, {name}):
                edges[name] |= owners[ident]
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
