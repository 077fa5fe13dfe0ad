"""Running test code in a child process, where a crash, a hang or a reduced
stack limit cannot take the test run down with it.

The child imports the same cgrad as the test process. Under the sanitized run
(tests/reliability/run_sanitized.py, docs/reliability.md) the child runs with
AddressSanitizer too and checks for leaks before it exits, as that script does.
"""
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import cgrad

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent

# True when this process runs under AddressSanitizer (run_sanitized.py).
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")

# Longer runs of the slow tests: CGRAD_RELIABILITY_LONG=1 (docs/reliability.md).
LONG = os.environ.get("CGRAD_RELIABILITY_LONG") == "1"

_PROLOGUE = """\
import ctypes, gc, os, sys
_lsan = ctypes.CDLL(None) if {sanitized} else None
if _lsan is not None:  # third-party imports with leak detection off, as run_sanitized.py
    _lsan.__lsan_disable()
    import numpy
    {import_torch}
    _lsan.__lsan_enable()
import cgrad
"""

_EPILOGUE = """
sys.stdout.flush()
sys.stderr.flush()
if _lsan is not None and {leak_check}:
    gc.collect()
    if _lsan.__lsan_do_recoverable_leak_check():
        sys.stderr.flush()
        os._exit(23)
os._exit(0)
"""


def child_env():
    env = dict(os.environ)
    pkg_parent = str(Path(cgrad.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, str(TESTS), env.get("PYTHONPATH")) if p)
    if SANITIZED and "CGRAD_ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env["CGRAD_ASAN_OPTIONS"]
    return env


def _limits(stack_kb):
    def apply():
        # a shell runs background jobs with SIGINT ignored, and a child inherits
        # that: Python then installs no KeyboardInterrupt handler
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if stack_kb is not None:
            resource.setrlimit(resource.RLIMIT_STACK, (stack_kb * 1024, stack_kb * 1024))
    return apply


def script(code, torch=False, leak_check=True):
    """The child program: code between the prologue and the epilogue."""
    prologue = _PROLOGUE.format(sanitized=SANITIZED, import_torch="import torch" if torch else "")
    return prologue + code + _EPILOGUE.format(leak_check=leak_check)


def start(code, torch=False, stack_kb=None, leak_check=True, **kwargs):
    """A running child (Popen) executing code; stdout and stderr are pipes."""
    return subprocess.Popen([sys.executable, "-c", script(code, torch, leak_check)], env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_limits(stack_kb), **kwargs)


def run(code, timeout=120, torch=False, stack_kb=None, leak_check=True):
    """Runs code in a child; returns (returncode, stdout, stderr)."""
    proc = start(code, torch=torch, stack_kb=stack_kb, leak_check=leak_check)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return "timeout", out, err
    return proc.returncode, out, err


def describe(rc, out, err):
    """Why a child did not succeed, for an assertion message."""
    if rc == "timeout":
        how = "timed out"
    elif isinstance(rc, int) and rc < 0:
        how = f"killed by {signal.Signals(-rc).name}"
    else:
        how = f"exited with {rc}"
    return f"the child {how}\n--- stdout\n{out[-4000:]}\n--- stderr\n{err[-8000:]}"


def check_ok(code, timeout=120, torch=False, stack_kb=None):
    """Runs code in a child and asserts that it succeeded; returns its stdout."""
    rc, out, err = run(code, timeout=timeout, torch=torch, stack_kb=stack_kb)
    assert rc == 0, describe(rc, out, err)
    return out


# ---- many small cases in one child ---------------------------------------------

_CASE_RUNNER = """
import json, math, time, numpy as np
import {lib} as lib
cases = json.loads({cases!r})
env = {{"L": lib, "np": np, "math": math, "nan": float("nan"), "inf": float("inf")}}
exec({setup!r}, env)

def summary(value):
    if isinstance(value, (tuple, list)):
        return [summary(v) for v in value]
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "detach"):
        arr = np.asarray(value.detach().float() if str(value.dtype).endswith("bfloat16") else value.detach())
        return {{"shape": list(arr.shape), "dtype": str(value.dtype).split(".")[-1],
                 "values": arr.astype(float).ravel()[:64].tolist() if arr.size else []}}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return type(value).__name__

for name, code in cases:
    print("START " + name, flush=True)
    began = time.perf_counter()
    try:
        try:
            compiled, statements = compile(code, name, "eval"), False
        except SyntaxError:  # statements: the result is the variable `out`
            compiled, statements = compile(code, name, "exec"), True
        scope = dict(env)
        value = eval(compiled, scope)
        result = {{"ok": summary(scope.get("out") if statements else value)}}
    except BaseException as e:
        kinds = [k.__name__ for k in type(e).__mro__ if k.__module__ == "builtins"]
        result = {{"raised": kinds[0], "type": type(e).__name__, "message": str(e)[:2000]}}
    result["seconds"] = round(time.perf_counter() - began, 3)
    print("RESULT " + json.dumps([name, result]), flush=True)
"""


def run_cases(cases, lib="cgrad", setup="", timeout=300):
    """Runs each (name, code) case in a child with L bound to lib ("cgrad" or
    "torch") and returns {name: result}. A result is {"ok": summary}, or
    {"raised": builtin exception type, "type": ..., "message": ...}, or
    {"crashed": description} for the case a child died in; the remaining
    cases then go on in a new child."""
    results = {}
    todo = list(cases)
    while todo:
        code = _CASE_RUNNER.format(lib=lib, cases=json.dumps(todo), setup=setup)
        # no leak check in these children: CPython 3.11 leaks the frame object a
        # traceback takes over from eval'd code that raised (seen with
        # fast_unwind_on_malloc=0: _PyFrame_Clear -> take_ownership), and the
        # fast unwinder cannot tell that frame from any other Python object.
        # ASan still checks every memory access; the cases' C paths are
        # leak-checked in the test process itself by the other suites.
        rc, out, err = run(code, timeout=timeout, torch=lib == "torch", leak_check=False)
        started = None
        for line in out.splitlines():
            if line.startswith("START "):
                started = line[6:]
            elif line.startswith("RESULT "):
                name, result = json.loads(line[7:])
                results[name] = result
                started = None
        done = {n for n, _ in todo if n in results}
        if rc == 0 and len(done) == len(todo):
            break
        if started is None:  # died between cases (at exit: a leak report, ...)
            raise AssertionError(describe(rc, out, err))
        results[started] = {"crashed": describe(rc, out, err)}
        todo = [(n, c) for n, c in todo if n not in results]
    return results


def rss_mb():
    """This process's resident set size in MB, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
