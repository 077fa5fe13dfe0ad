"""Builds the C core with each C test program of tests/c/ (the core, the math
ops, the autograd callbacks: custom Function nodes, hooks, anomaly mode) under
AddressSanitizer, LeakSanitizer and UBSan, and runs it with no Python in the
process: any sanitizer report fails the test. tests/reliability/test_valgrind.py
runs the same programs under valgrind."""
import os
import subprocess

import pytest

from helpers import C_PROGRAMS, build_c_program


@pytest.mark.parametrize("program", C_PROGRAMS)
def test_c_program_under_sanitizers(program, tmp_path):
    # -O0: the build is most of this test's time, and the sanitizers need no optimiser
    exe = build_c_program(program, tmp_path, ["-O0", "-fno-omit-frame-pointer", "-Wall", "-fsanitize=address,undefined",
                                              "-fno-sanitize-recover=undefined"])
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "ERROR: AddressSanitizer" not in report and "runtime error" not in report, report
    assert "tests passed" in run.stdout, report
