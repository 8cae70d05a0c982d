#!/usr/bin/env bash
# Test of `make shell`, driven through a pseudo-terminal (no sleeps): wait for
# the guest's prompt, run `spanheapctl -e 'alloc A data 8; stats'` and `lsmod`,
# then the commands of README.md's "Try it by hand" transcript (the ```console
# block after <!-- shell-transcript -->), each of whose output lines must
# appear (numbers and hex addresses may differ), then `exit`: QEMU must exit 0
# within the time limit.
# Usage: check-shell.sh <repo> [--transcript]   TAP on stdout;
# --transcript prints the README block's commands with their real output
# instead (to refresh README.md). Env: SPANHEAP_SHELL_TIMEOUT (s, default 300,
# the whole run), SPANHEAP_SHELL_KERNEL (make shell's KERNEL=, default stock).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 <repo> [--transcript]" >&2; exit 2; }
repo=$(cd "$1" && pwd)
mkdir -p "$repo/build/vm"
exec python3 - "$repo" "${2:-}" <<'PY'
import os, pty, re, select, signal, sys, time

repo, mode = sys.argv[1], sys.argv[2]
limit = float(os.environ.get('SPANHEAP_SHELL_TIMEOUT', '300'))
deadline = time.monotonic() + limit
PS1 = re.compile(r'^guest:\S*# ')
prompt_re = re.compile(r'(^|\n)guest:[^\n]*# $')
hostlog = open(f'{repo}/build/vm/shell-check-pty.log', 'w')

# The README's transcript: "guest:~# <cmd>" lines, then the expected output.
steps, cur, on = [], None, False
for line in open(f'{repo}/README.md'):
    line = line.rstrip('\n')
    if '<!-- shell-transcript' in line:
        on = 'wait'
        continue
    if on == 'wait' and line.startswith('```'):
        on = True
        continue
    if on is True:
        if line.startswith('```'):
            break
        m = PS1.match(line)
        if m:
            cur = [line[m.end():], []]
            steps.append(cur)
        elif cur is not None:
            cur[1].append(line)
steps = [s for s in steps if s[0] != 'exit']

def norm(s):
    s = re.sub(r'0x[0-9a-f]+', 'HEX', s)
    s = re.sub(r'\d+', 'N', s)
    return ' '.join(s.split())

pid, fd = pty.fork()
if pid == 0:
    os.execvp('make', ['make', '-C', repo, '--no-print-directory', 'shell',
                       'KERNEL=' + os.environ.get('SPANHEAP_SHELL_KERNEL', 'stock')])

buf = ''
def read_until(pred):
    """Read the pty until pred(buf) or the deadline; False on EOF/timeout."""
    global buf
    while not pred(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        text = data.decode('utf-8', 'replace')
        hostlog.write(text)
        hostlog.flush()
        # Escape sequences (ash asks the cursor position: ESC [6n) may be
        # split across reads: strip them from the whole buffer.
        buf = re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', buf + text.replace('\r', ''))
    return True

def run(cmd):
    """Send one command line; return its output lines (prompt excluded)."""
    global buf
    buf = ''
    os.write(fd, (cmd + '\n').encode())
    if not read_until(lambda b: prompt_re.search(b)):
        return None
    out = prompt_re.sub('', buf)
    return out.split('\n')[:-1] if out.endswith('\n') else out.split('\n')

n = 0
results = []
def result(ok, desc, detail=()):
    global n
    n += 1
    results.append(f"{'ok' if ok else 'not ok'} {n} - shell: {desc}")
    if not ok:
        results.extend('# ' + d for d in detail)

t0 = time.monotonic()
booted = read_until(lambda b: prompt_re.search(b))
result(booted, f'make shell gives a prompt ({time.monotonic() - t0:.0f} s)',
       [] if booted else buf.split('\n')[-15:])
if booted:
    run('stty -echo')   # busybox ash then reads plain lines: no echo, no redraw
    if mode == '--transcript':
        for cmd, _ in steps:
            out = run(cmd)
            print('guest:/root# ' + cmd)
            print('\n'.join(out or ['(no prompt came back)']))
        print('guest:/root# exit')
    else:
        out = run("spanheapctl -e 'alloc A data 8; stats'") or []
        result(any(l.startswith('stats: objects') for l in out),
               "spanheapctl -e 'alloc A data 8; stats' prints the stats", out)
        out = run('lsmod') or []
        result(any(re.match(r'spanheap\s', l) for l in out), 'lsmod shows spanheap loaded', out)
        result(len(steps) > 0, f'README.md transcript has {len(steps)} commands')
        for cmd, want in steps:
            out = run(cmd)
            got = {norm(l) for l in out or []}
            miss = [w for w in want if norm(w) and norm(w) not in got]
            result(out is not None and not miss, f'README transcript: {cmd}',
                   ['missing: ' + m for m in miss] + (['got: ' + l for l in out or []] if miss else []))
    t1 = time.monotonic()
    os.write(fd, b'exit\n')
    read_until(lambda b: False)          # to EOF (QEMU gone) or the deadline
status = None
def alarm(*_):
    raise TimeoutError
signal.signal(signal.SIGALRM, alarm)
signal.alarm(max(1, int(deadline - time.monotonic())))
try:
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
except TimeoutError:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
signal.alarm(0)
if mode != '--transcript':
    if booted:
        result(status == 0, f'exit: make shell returned 0 ({time.monotonic() - t1:.0f} s)',
               [f'status {status}'] + buf.split('\n')[-10:])
    print('TAP version 13')
    print(f'1..{n}')
    print('\n'.join(results))
sys.exit(0 if status == 0 else 1)
PY
