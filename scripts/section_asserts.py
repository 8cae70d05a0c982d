#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that no KUnit case ends while its task holds a mutator section.

Usage: scripts/section_asserts.py [--ktap] FILE...

A failed KUNIT_ASSERT_*() (or kunit_skip()) ends the case's thread at
once; in the kernel the suite's exit then runs in another thread, which
can neither close a section the ended thread held nor undo its
migrate_disable() (kmod/tests/test_heap.h says more).  Per function this
follows the sections open (spanheap_enter()/spanheap_exit()) and the
migrate_disable() count, restoring them at the end of a block left by
return, goto, break or continue, and checks each way a case can end:

* KUNIT_ASSERT_*() and kunit_skip() only with no section open and
  nothing pinned, and never in a TEST_HEAP_SECTION suite's function
  (which starts inside the suite's section), unless the case has left
  its heap (test_leave_heap_in_section());
* SECTION_ASSERT_*(test, heap, ...) only with @heap's section open last
  and nothing pinned, PINNED_ASSERT_*() the same with one
  migrate_disable(), both outside TEST_HEAP_SECTION suites;
* FIXTURE_ASSERT_*() only with one section open, of the suite's heap,
  and one migrate_disable().

A function that ends a case outside any section of its own (a helper
such as node()) passes the requirement on to where it is called, with
the heap it names.  A block that changes the sections or the pins and
is not left by a jump is reported too (its end state is ambiguous).
Line-based and heuristic: a section opened in one function and closed in
another, or a call through a pointer, is not followed.  Exit status 1 if
anything is found, or if the self test (SELF_TEST) is not caught.
"""
import re
import sys
import tempfile

FN_RE = re.compile(r'^[A-Za-z_][\w \t\*]*?\b(\w+)\(([^;{]*)\)?\s*$')
TOKEN_RE = re.compile(
    r'spanheap_enter\((?P<enter>[^;]*?)\);|spanheap_exit\((?P<exit>[^;]*?)\);'
    r'|(?P<leave>test_leave_heap_in_section)\b'
    r'|(?P<pin>migrate_disable)\(\)|(?P<unpin>migrate_enable)\(\)'
    r'|(?P<end>KUNIT_ASSERT|SECTION_ASSERT|PINNED_ASSERT|FIXTURE_ASSERT)_\w+\((?=(?P<args>[^;]*))'
    r'|(?P<skip>kunit_skip)\('
    r'|\b(?P<jump>return|goto|break|continue)\b'
    r'|(?P<call>\b\w+)\(|(?P<open>\{)|(?P<close>\})|(?P<semi>;)')
COMMENT_RE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
SUITE = 'test->priv'


def functions(text):
    """Yields (name, head, first body line number, body lines) per definition."""
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        m = FN_RE.match(lines[i])
        if m and not lines[i].startswith((' ', '\t', '#')):
            start = i
            while i < len(lines) and not lines[i].startswith('{'):
                if lines[i].rstrip().endswith(';'):
                    break
                i += 1
            if i < len(lines) and lines[i].startswith('{'):
                head = ' '.join(lines[start:i])
                body_start = i
                while i < len(lines) and not lines[i].startswith('}'):
                    i += 1
                yield m.group(1), head, body_start + 1, lines[body_start:i + 1]
        i += 1


def fixture_file(text):
    """Whether the file's suites run inside their own section."""
    flags = {'TEST_HEAP_SECTION'}
    for name, body in re.findall(r'#\s*define\s+(\w+)\s+(.*)', text):
        if any(re.search(r'\b%s\b' % f, body) for f in list(flags)):
            flags.add(name)
    calls = re.findall(r'test_heap_(?:init|exit)\(([^;]*)\)', text)
    return any(re.search(r'\b%s\b' % f, c) for c in calls for f in flags)


class State:
    def __init__(self, fixture):
        self.stack = [SUITE] if fixture else []
        self.pins = 1 if fixture else 0
        self.left = False

    def copy(self):
        s = State(False)
        s.stack, s.pins, s.left = list(self.stack), self.pins, self.left
        return s

    def same(self, o):
        return (self.stack, self.pins) == (o.stack, o.pins)


class Scan:
    """One function: its problems, and what it asks of its callers."""

    def __init__(self, name, head, body, line, fixture_fn, is_case, reqs):
        self.name, self.fixture_fn, self.is_case = name, fixture_fn, is_case
        params = head[head.find('(') + 1:head.rfind(')')].split(',')
        self.params = [re.sub(r'.*?(\w+)\s*$', r'\1', p) for p in params]
        self.reqs = reqs
        self.problems = []
        self.requires = set()
        text = COMMENT_RE.sub(lambda m: '\n' * m.group(0).count('\n'), '\n'.join(body))
        # Locals set from test->priv, and c->heap where c is one, name the suite's heap.
        self.alias = {a: SUITE for a in re.findall(r'\b(\w+)\s*=\s*test->priv\b', text)}
        for a in list(self.alias):
            self.alias[a + '->heap'] = SUITE + '->heap'
        self.run(text, line)

    def heap(self, expr):
        e = expr.replace(' ', '').strip('()')
        return self.alias.get(e, e)

    def bad(self, line, what):
        self.problems.append((line, what))

    def end(self, line, kind, heap, st):
        """Checks a case end of @kind ('plain', 'section', 'pinned', 'fixture')."""
        top = st.stack[-1] if st.stack else None
        if kind == 'plain':
            if st.left:
                return
            if self.fixture_fn:
                return self.bad(line, 'ends a TEST_HEAP_SECTION case with KUNIT_ASSERT: '
                                'its exit would close the section again')
            if st.stack or st.pins:
                return self.bad(line, 'KUNIT_ASSERT with the section of %s open, %d pinned'
                                % (top, st.pins))
            if not self.is_case:
                self.requires.add(('plain', None))
            return
        if kind == 'fixture':
            if not self.fixture_fn:
                return self.bad(line, 'FIXTURE_ASSERT outside a TEST_HEAP_SECTION suite')
            if len(st.stack) != 1 or top not in (SUITE, SUITE + '->heap') or st.pins != 1:
                return self.bad(line, 'FIXTURE_ASSERT with %s open and %d pinned: only '
                                "the suite's section, pinned once, may be" % (st.stack, st.pins))
            return
        want_pins = 1 if kind == 'pinned' else 0
        if self.fixture_fn:
            return self.bad(line, '%s_ASSERT in a TEST_HEAP_SECTION case (FIXTURE_ASSERT '
                            'ends it)' % kind.upper())
        if not st.stack and not st.pins and not self.is_case:
            root, _, rest = heap.partition('->')
            if root in self.params:		# named by the caller's argument
                heap = (self.params.index(root), rest)
            self.requires.add((kind, heap))
            return
        if not st.stack:
            return self.bad(line, '%s_ASSERT outside any section' % kind.upper())
        if len(st.stack) != 1:
            return self.bad(line, '%s_ASSERT with %d sections open' % (kind.upper(),
                                                                       len(st.stack)))
        if top != heap:
            return self.bad(line, '%s_ASSERT closes %s, but the section open is %s'
                            % (kind.upper(), heap, top))
        if st.pins != want_pins:
            return self.bad(line, '%s_ASSERT with %d migrate_disable() (%s)' % (
                kind.upper(), st.pins, 'PINNED_ASSERT' if st.pins == 1 else 'unbalanced'))

    def run(self, text, base_line):
        st = State(self.fixture_fn)
        saved = []
        jump_pending = last_jump = False
        for m in TOKEN_RE.finditer(text):
            line = base_line + text.count('\n', 0, m.start())
            g = m.lastgroup
            if m.group('enter') is not None:
                st.stack.append(self.heap(m.group('enter')))
            elif m.group('exit') is not None:
                if st.stack:
                    st.stack.pop()
            elif g == 'leave':
                if st.stack:
                    st.stack.pop()
                st.pins -= 1
                st.left = True
            elif g == 'pin':
                st.pins += 1
            elif g == 'unpin':
                st.pins -= 1
            elif m.group('end'):
                kind = {'KUNIT': 'plain'}.get(m.group('end').split('_')[0],
                                              m.group('end').split('_')[0].lower())
                args = m.group('args').split(',')
                heap = self.heap(args[1]) if kind in ('section', 'pinned') and len(args) > 1 else None
                self.end(line, kind, heap, st)
            elif g == 'skip':
                self.end(line, 'plain', None, st)
            elif g == 'jump':
                jump_pending = True
            elif g == 'call':
                self.call(line, m.group('call'), text, m.end(), st)
            elif g == 'open':
                saved.append(st.copy())
                last_jump = False
            elif g == 'close':
                entry = saved.pop() if saved else st
                if last_jump:
                    st = entry
                elif saved and not st.same(entry):
                    self.bad(line, 'a block changes the sections or pins without leaving '
                             'by a jump')
                    st = entry	# read on as if it had not run
                last_jump = False
            elif g == 'semi':
                last_jump, jump_pending = jump_pending, False

    def call(self, line, callee, text, pos, st):
        if callee == self.name or callee not in self.reqs:
            return
        # The callee's heap, in the caller's terms.
        args = text[pos:text.find(';', pos)].split(',')
        for kind, heap in self.reqs[callee]:
            if isinstance(heap, tuple):
                arg = self.heap(args[heap[0]]) if heap[0] < len(args) else '?'
                heap = self.heap(arg + ('->' + heap[1] if heap[1] else ''))
            what = '%s() ends the case' % callee
            before = len(self.problems)
            self.end(line, kind, heap, st)
            for i in range(before, len(self.problems)):
                ln, p = self.problems[i]
                self.problems[i] = (ln, '%s: %s' % (what, p))


def check(paths):
    results = []
    for path in paths:
        text = open(path).read()
        fixture = fixture_file(text)
        fns = list(functions(text))
        cases = set(re.findall(r'KUNIT_CASE\w*\((\w+)', text))

        def scan(name, head, line, body, reqs):
            fixture_fn = fixture and 'struct kunit *test' in head and \
                not re.search(r'(^|_)(init|exit)$', name)
            return Scan(name, head, body, line, fixture_fn, name in cases, reqs)
        reqs = {}
        for _ in range(3):	# helpers calling helpers
            for name, head, line, body in fns:
                s = scan(name, head, line, body, reqs)
                if s.requires:
                    reqs[name] = s.requires
                if fixture and name not in cases and s.fixture_fn and \
                        re.search(r'FIXTURE_ASSERT', '\n'.join(body)):
                    reqs.setdefault(name, set()).add(('fixture', None))
        problems = []
        for name, head, line, body in fns:
            s = scan(name, head, line, body, reqs)
            problems += [(ln, name, what) for ln, what in s.problems]
        results.append((path, sorted(set(problems))))
    return results


# Suites that break each rule, on the lines marked "bad".
SELF_TEST = [r"""
#define X_HEAP	(TEST_HEAP_SECTION|TEST_HEAP_CHECK)

static int heap_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-x", X_HEAP);
}

static void *alloc(struct kunit *test)
{
	void *p = spanheap_alloc(test->priv, 8, 0);

	FIXTURE_ASSERT_NOT_NULL(test, p);
	return p;
}

static void fixture_case(struct kunit *test)
{
	struct spanheap *heap = test->priv;

	FIXTURE_ASSERT_NOT_NULL(test, heap);
	alloc(test);
	KUNIT_ASSERT_NOT_NULL(test, heap);	/* bad */
	kunit_skip(test, "no");	/* bad */
	migrate_enable();
	spanheap_exit(heap);
	FIXTURE_ASSERT_NOT_NULL(test, heap);	/* bad */
	alloc(test);	/* bad */
	if (!heap) {
		spanheap_enter(heap);
		spanheap_exit(heap);
		return;
	}
	spanheap_enter(heap);
	alloc(test);	/* bad */
	migrate_disable();
	FIXTURE_ASSERT_NOT_NULL(test, heap);
}

static struct kunit_case cases[] = {
	KUNIT_CASE(fixture_case),
	{}
};
""", r"""
static void *mk(struct kunit *test, struct spanheap *heap)
{
	void *p = spanheap_alloc(heap, 8, 0);

	SECTION_ASSERT_NOT_NULL(test, heap, p);
	return p;
}

static void *node(struct kunit *test)
{
	void *p = spanheap_alloc(test->priv, 8, 0);

	SECTION_ASSERT_NOT_NULL(test, test->priv, p);
	return p;
}

static void plain_case(struct kunit *test)
{
	struct spanheap *heap = test->priv, *other = test_heap_new("o");
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, heap);
	mk(test, heap);	/* bad */
	spanheap_enter(heap);
	p = mk(test, heap);
	if (!p) {
		spanheap_exit(heap);
		return;
	}
	if (p) {
		spanheap_exit(heap);
	}	/* bad */
	SECTION_ASSERT_NOT_NULL(test, heap, p);
	SECTION_ASSERT_NOT_NULL(test, other, p);	/* bad */
	KUNIT_ASSERT_NOT_NULL(test, p);	/* bad */
	migrate_disable();
	SECTION_ASSERT_NOT_NULL(test, heap, p);	/* bad */
	PINNED_ASSERT_NOT_NULL(test, heap, p);
	mk(test, heap);	/* bad */
	migrate_enable();
	PINNED_ASSERT_NOT_NULL(test, heap, p);	/* bad */
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, p);
	spanheap_enter(other);
	node(test);	/* bad */
	mk(test, other);
	spanheap_exit(other);
}

static struct kunit_case cases[] = {
	KUNIT_CASE(plain_case),
	{}
};
"""]


def self_test():
    """The lines of SELF_TEST found or missed wrongly (none if right)."""
    wrong = set()
    for n, text in enumerate(SELF_TEST):
        with tempfile.NamedTemporaryFile('w', suffix='.c') as f:
            f.write(text)
            f.flush()
            found = {ln for ln, _, _ in check([f.name])[0][1]}
        want = {i + 1 for i, l in enumerate(text.split('\n')) if '/* bad */' in l}
        wrong |= {(n, ln) for ln in found ^ want}
    return sorted(wrong)


def main(argv):
    ktap = '--ktap' in argv
    paths = [a for a in argv if a != '--ktap']
    results = check(paths)
    wrong = self_test()
    pre = '    # ' if ktap else ''
    if ktap:
        print('KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: section_asserts')
        print('    1..%d' % (len(results) + 1))
    bad = 0
    for i, (path, problems) in enumerate(results, 1):
        for ln, fn, what in problems:
            print('%s%s:%d: %s(): %s' % (pre, path, ln, fn, what))
        bad += bool(problems)
        if ktap:
            print('    %s %d %s' % ('not ok' if problems else 'ok', i,
                                    path.rsplit('/', 1)[-1].replace('.c', '')))
    if wrong:
        print('%sself test: (sample, line) found or missed wrongly: %s' % (pre, wrong))
    bad += bool(wrong)
    if ktap:
        print('    %s %d self_test' % ('not ok' if wrong else 'ok', len(results) + 1))
        print('%s 1 section_asserts' % ('not ok' if bad else 'ok'))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
