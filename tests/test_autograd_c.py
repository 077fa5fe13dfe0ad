"""Builds the C core with tests/c/test_autograd.c (custom Function nodes, hooks,
hook handles, anomaly mode) under AddressSanitizer, LeakSanitizer and UBSan,
and runs it: any sanitizer report fails the test."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_autograd_callbacks_under_sanitizers(tmp_path):
    scipy_openblas32 = pytest.importorskip("scipy_openblas32")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this machine")
    libdir = scipy_openblas32.get_lib_dir()
    exe = tmp_path / "test_autograd"
    sources = sorted(str(p) for p in (ROOT / "csrc").glob("*.c")) + [str(ROOT / "tests" / "c" / "test_autograd.c")]
    cmd = [cc, "-std=gnu11", "-O0", "-g", "-fno-omit-frame-pointer", "-Wall",
           "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-I", str(ROOT / "csrc"), "-I", scipy_openblas32.get_include_dir(), *sources, "-o", str(exe),
           "-L", libdir, "-l" + scipy_openblas32.get_library(), f"-Wl,-rpath,{libdir}", "-lm", "-lpthread"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "ERROR: AddressSanitizer" not in report and "runtime error" not in report, report
    assert "all autograd C tests passed" in run.stdout
