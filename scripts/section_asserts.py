#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that no KUnit case ends while its task holds a mutator section.

Usage: scripts/section_asserts.py [--ktap] FILE...

A failed KUNIT_ASSERT_*() ends the case's thread at once; in the kernel
the suite's exit then runs in another thread, which can neither close a
section the ended thread held nor undo its migrate_disable()
(kmod/tests/test_heap.h says more).  Per function this follows, line by
line, the sections open (spanheap_enter()/spanheap_exit()) and the
migrate_disable() count, restoring them at the end of a block left by
return, goto, break or continue, and checks each way a case can end:

* KUNIT_ASSERT_*() only with no section open, and never in a function of
  a TEST_HEAP_SECTION suite (which starts inside the suite's section)
  unless the case has left its heap (test_leave_heap_in_section());
* SECTION_ASSERT_*(test, heap, ...) only with @heap's section open last,
  outside TEST_HEAP_SECTION suites;
* FIXTURE_ASSERT_*() only with one section open, the suite's own, and
  one migrate_disable().

A function without a section of its own (a helper such as node()) gets
the requirement of the ends in it, checked where it is called.
Line-based and heuristic: a conditional spanheap_exit() without braces,
or a section opened in one function and closed in another, is not
followed.  Exit status 1 if anything is found.
"""
import re
import sys

FN_RE = re.compile(r'^[A-Za-z_][\w \t\*]*?\b(\w+)\(([^;{]*)\)?\s*$')
TOKEN_RE = re.compile(
    r'spanheap_enter\((?P<enter>[^;]*?)\);|spanheap_exit\((?P<exit>[^;]*?)\);'
    r'|(?P<leave>test_leave_heap_in_section|test_thread_done_in_section)\b'
    r'|(?P<pin>migrate_disable)\(\)|(?P<unpin>migrate_enable)\(\)'
    r'|(?P<end>KUNIT_ASSERT|SECTION_ASSERT|FIXTURE_ASSERT)_\w+\((?P<args>[^;]*)'
    r'|\b(?P<jump>return|goto|break|continue)\b'
    r'|(?P<call>\b\w+)\(|(?P<open>\{)|(?P<close>\})|(?P<semi>;)')
COMMENT_RE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)

# A function's requirement on its caller's state.
OUTSIDE, IN_SECTION, IN_FIXTURE = 'outside any section', 'in a section', \
    "in the suite's section"


def functions(text):
    """Yields (name, params, first line number, body lines) per definition."""
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


def same_heap(a, b):
    return a.replace(' ', '') == b.replace(' ', '')


class State:
    def __init__(self, fixture):
        self.stack = ['<suite>'] if fixture else []
        self.pins = 1 if fixture else 0
        self.left = False

    def copy(self):
        s = State(False)
        s.stack, s.pins, s.left = list(self.stack), self.pins, self.left
        return s


def check_end(kind, args, st, fixture_fn, is_case, requires, suite_heap):
    """Returns a problem for an end of @kind in state @st, or None."""
    if kind == 'KUNIT_ASSERT':
        if st.left:
            return None
        if fixture_fn:
            return 'KUNIT_ASSERT in a TEST_HEAP_SECTION case: its exit would close the section again'
        if st.stack:
            return 'KUNIT_ASSERT inside the section of %s' % st.stack[-1]
        requires.add(OUTSIDE)
        return None
    if kind == 'SECTION_ASSERT':
        heap = args.split(',')[1].strip() if args.count(',') >= 1 else '?'
        if fixture_fn:
            return 'SECTION_ASSERT in a TEST_HEAP_SECTION case (FIXTURE_ASSERT ends it)'
        if not st.stack:
            if is_case:
                return 'SECTION_ASSERT outside any section'
            requires.add(IN_SECTION)
            return None
        if not same_heap(st.stack[-1], heap):
            return 'SECTION_ASSERT closes %s, but the section open is %s' % (heap, st.stack[-1])
        return None
    # FIXTURE_ASSERT
    if not fixture_fn:
        return 'FIXTURE_ASSERT outside a TEST_HEAP_SECTION suite'
    if len(st.stack) != 1 or st.stack[0] not in suite_heap or st.pins != 1:
        return ('FIXTURE_ASSERT with %d sections open and %d migrate_disable(): '
                'the suite\'s section alone is closed' % (len(st.stack), st.pins))
    return None


def check_call(req, st, fixture_fn, is_case, requires):
    if req == OUTSIDE and (st.stack or fixture_fn) and not st.left:
        return 'calls a helper that may KUNIT_ASSERT, %s' % (
            'inside a section' if st.stack else 'in a TEST_HEAP_SECTION case')
    if req == IN_SECTION and not st.stack:
        if is_case:
            return 'calls a helper that ends the case in a section, outside one'
        requires.add(IN_SECTION)
    return None


def scan(name, body, base_line, fixture_fn, is_case, reqs):
    """Follows one function; returns (problems, its requirement set)."""
    text = COMMENT_RE.sub(lambda m: '\n' * m.group(0).count('\n'), '\n'.join(body))
    st = State(fixture_fn)
    # The suite's heap: test->priv, and the locals set from it.
    suite_heap = {'<suite>', 'test->priv'} | set(
        re.findall(r'\b(\w+)\s*=\s*test->priv\b', text))
    saved = []
    jump_pending = last_jump = False
    problems, requires = [], set()
    for m in TOKEN_RE.finditer(text):
        line = base_line + text.count('\n', 0, m.start())
        g = m.lastgroup
        if m.group('enter') is not None:
            st.stack.append(m.group('enter').replace(' ', ''))
        elif m.group('exit') is not None:
            if st.stack:
                st.stack.pop()
        elif m.group('leave'):
            if m.group('leave') == 'test_leave_heap_in_section' and st.stack:
                st.stack.pop()
                st.pins -= 1
                st.left = True
        elif m.group('pin'):
            st.pins += 1
        elif m.group('unpin'):
            st.pins -= 1
        elif m.group('end'):
            p = check_end(m.group('end'), m.group('args'), st, fixture_fn, is_case,
                          requires, suite_heap)
            if p:
                problems.append((line, p))
        elif g == 'jump':
            jump_pending = True
        elif g == 'call':
            callee = m.group('call')
            for req in reqs.get(callee, ()):
                if callee == name:
                    continue
                p = check_call(req, st, fixture_fn, is_case, requires)
                if p:
                    problems.append((line, '%s: %s' % (callee, p)))
        elif g == 'open':
            saved.append(st.copy())
            last_jump = False
        elif g == 'close':
            entry = saved.pop() if saved else st
            if last_jump:
                st = entry
            last_jump = False
        elif g == 'semi':
            last_jump, jump_pending = jump_pending, False
    return problems, requires


def check(paths):
    results = []
    for path in paths:
        text = open(path).read()
        fixture_file = bool(re.search(r'test_heap_init\([^;]*(TEST_HEAP_SECTION|_HEAP\))', text)) \
            or 'TEST_HEAP_SECTION |' in text
        fns = list(functions(text))
        cases = set(re.findall(r'KUNIT_CASE\w*\((\w+)', text))

        def is_fixture_fn(name, head):
            return fixture_file and 'struct kunit *test' in head and \
                not re.search(r'(^|_)(init|exit)$', name)
        reqs = {}
        for _ in range(3):	# helpers calling helpers
            for name, head, line, body in fns:
                _, r = scan(name, body, line, is_fixture_fn(name, head), name in cases, reqs)
                if r:
                    reqs[name] = r
        problems = []
        for name, head, line, body in fns:
            p, _ = scan(name, body, line, is_fixture_fn(name, head), name in cases, reqs)
            problems += [(ln, name, what) for ln, what in p]
        results.append((path, problems))
    return results


# Two suites that break each rule, on the lines marked "bad".
SELF_TEST = [r"""
static int heap_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-x", TEST_HEAP_SECTION);
}

static void fixture_case(struct kunit *test)
{
	struct spanheap *heap = test->priv;

	FIXTURE_ASSERT_NOT_NULL(test, heap);
	KUNIT_ASSERT_NOT_NULL(test, heap);	/* bad */
	migrate_enable();
	spanheap_exit(heap);
	FIXTURE_ASSERT_NOT_NULL(test, heap);	/* bad */
	if (!heap) {
		spanheap_enter(heap);
		spanheap_exit(heap);
		return;
	}
	spanheap_enter(heap);
	migrate_disable();
	FIXTURE_ASSERT_NOT_NULL(test, heap);
}
""", r"""
static void *mk(struct kunit *test, struct spanheap *heap)
{
	void *p = spanheap_alloc(heap, 8, 0);

	SECTION_ASSERT_NOT_NULL(test, heap, p);
	return p;
}

static void plain_case(struct kunit *test)
{
	struct spanheap *heap = test->priv, *other = test->priv;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, heap);
	mk(test, heap);	/* bad */
	spanheap_enter(heap);
	p = mk(test, heap);
	if (!p) {
		spanheap_exit(heap);
		return;
	}
	SECTION_ASSERT_NOT_NULL(test, heap, p);
	SECTION_ASSERT_NOT_NULL(test, other, p);	/* bad */
	KUNIT_ASSERT_NOT_NULL(test, p);	/* bad */
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, p);
}

static struct kunit_case cases[] = {
	KUNIT_CASE(plain_case),
	{}
};
"""]


def self_test():
    """Whether the checker finds exactly the bad lines of SELF_TEST."""
    import tempfile
    wrong = set()
    for n, text in enumerate(SELF_TEST):
        with tempfile.NamedTemporaryFile('w', suffix='.c') as f:
            f.write(text)
            f.flush()
            found = {ln for ln, _, _ in check([f.name])[0][1]}
        want = {i + 1 for i, l in enumerate(text.split('\n')) if '/* bad */' in l}
        wrong |= {(n, ln) for ln in found ^ want}
    return not wrong, wrong


def main(argv):
    ktap = '--ktap' in argv
    paths = [a for a in argv if a != '--ktap']
    results = check(paths)
    ok, wrong = self_test()
    if not ok:
        print('%sself test: lines found or missed wrongly: %s' %
              ('    # ' if ktap else '', sorted(wrong)))
    bad = 0
    if ktap:
        print('KTAP version 1')
        print('1..1')
        print('    KTAP version 1')
        print('    # Subtest: section_asserts')
        print('    1..%d' % (len(results) + 1))
    for i, (path, problems) in enumerate(results, 1):
        for ln, fn, what in problems:
            print('%s%s:%d: %s(): %s' % ('    # ' if ktap else '', path, ln, fn, what))
        bad += bool(problems)
        if ktap:
            print('    %s %d %s' % ('not ok' if problems else 'ok', i,
                                    path.rsplit('/', 1)[-1].replace('.c', '')))
    bad += not ok
    if ktap:
        print('    %s %d self_test' % ('ok' if ok else 'not ok', len(results) + 1))
        print('%s 1 section_asserts' % ('not ok' if bad else 'ok'))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
