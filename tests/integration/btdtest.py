"""btdtest: the small shared helper of btd's integration tests.

Python 3 standard library only (tests import libtorrent themselves), so it
runs under Debian's /usr/bin/python3.

- TAP output: ``t = Tap()``, ``t.ok(cond, name)``, or a test function run by
  ``t.run(fn)`` where any exception makes a ``not ok`` with its traceback as
  a diagnostic; ``t.done()`` prints the plan ``1..N`` and returns the exit
  status for ``sys.exit``.
- ``tempdir()``: a fresh directory, removed at exit.
- ``run(cmd, timeout=...)``: a command to completion, output captured, with
  a time limit (the process group is killed when it is exceeded).
- ``start(cmd)`` / ``stop(proc)``: long-running processes. Every process
  started is stopped by its PID (SIGTERM, then SIGKILL after a bound) in an
  atexit path and on SIGTERM/SIGINT, so a failing test leaves nothing
  running.
"""

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback

_procs = []
_dirs = []


def _cleanup():
    for proc in list(_procs):
        stop(proc)
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)
    _dirs.clear()


def _on_signal(signum, frame):
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


class Tap:
    """TAP producer: one point per check, the plan printed last."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def ok(self, cond, name, diag=None):
        self.count += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.count, name), flush=True)
        if not cond and diag is not None:
            self.diag(diag)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def run(self, fn, *args):
        """Runs fn(self, *args); an exception is one failed point named after fn."""
        try:
            fn(self, *args)
        except Exception:  # noqa: BLE001 - any failure is a test failure
            self.ok(False, "%s raised" % fn.__name__, traceback.format_exc())

    def done(self):
        print("1..%d" % self.count, flush=True)
        return 1 if self.failed or self.count == 0 else 0


def tempdir(prefix="btdtest-"):
    """A fresh directory, removed when the test exits."""
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd, timeout=60, input=None, env=None, cwd=None):
    """Runs cmd to completion; a CompletedProcess with text stdout/stderr.

    On time-out the command's process group is killed and TimeoutExpired
    is raised.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            start_new_session=True, text=True, errors="replace")
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """In the child: a SIGKILL when the test process dies, even by SIGKILL (no atexit then)."""
    os.setsid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def start(cmd, env=None, cwd=None, stdout=None, stderr=None):
    """Starts a long-running process in its own process group; stop() ends it.

    The process is also killed if this test process dies without cleaning up.
    """
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=stdout if stdout is not None else subprocess.DEVNULL,
                            stderr=stderr if stderr is not None else subprocess.DEVNULL,
                            env=env, cwd=cwd, preexec_fn=_die_with_parent)
    _procs.append(proc)
    return proc


def stop(proc, timeout=10):
    """SIGTERM by PID, then SIGKILL if it has not exited within timeout. Returns the status."""
    if proc.poll() is None:
        _kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, signal.SIGKILL)
            proc.wait(timeout=timeout)
    if proc in _procs:
        _procs.remove(proc)
    return proc.returncode


def env_path(name):
    """The path in environment variable name; exits with a TAP bail-out if unset."""
    value = os.environ.get(name)
    if not value:
        print("Bail out! %s is not set (run through meson test)" % name, flush=True)
        sys.exit(1)
    return value
