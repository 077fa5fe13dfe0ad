"""The C test programs of tests/c/ under valgrind's memcheck: no invalid read
or write, no use of uninitialised memory, no leak (definite, indirect or
possible). They also run under AddressSanitizer (tests/test_c_programs.py); valgrind
sees what ASan does not: uninitialised reads, and the core built as it ships
(no instrumentation), with -O1 so reports name lines.

"Possibly lost" is not counted: the object pools of alloc.c keep their slabs
for reuse by design and point into them only through interior pointers (the
free lists), which memcheck reports as "possibly lost" at exit."""
import os
import shutil
import subprocess

import pytest

from helpers import C_PROGRAMS, build_c_program


@pytest.mark.parametrize("program", C_PROGRAMS)
def test_c_program_under_valgrind(program, tmp_path):
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed")
    exe = build_c_program(program, tmp_path, ["-O1"])
    # one BLAS thread: OpenBLAS's worker threads are still alive at exit, and their
    # stacks would show as "possibly lost"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("LD_PRELOAD", None)  # never ASan's runtime under valgrind
    run = subprocess.run([valgrind, "--error-exitcode=1", "--leak-check=full",
                          "--errors-for-leak-kinds=definite,indirect", "-q", str(exe)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests passed" in run.stdout, run.stdout + run.stderr
