"""The C test programs of tests/c/ under valgrind's memcheck: no invalid read
or write, no use of uninitialised memory, no leak (definite, indirect or
possible). They also run under AddressSanitizer (tests/test_c_*.py); valgrind
sees what ASan does not: uninitialised reads, and the core built as it ships
(no instrumentation), with -O1 so reports name lines.

"Possibly lost" is not counted: the object pools of alloc.c keep their slabs
for reuse by design and point into them only through interior pointers (the
free lists), which memcheck reports as "possibly lost" at exit."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(p.name for p in (ROOT / "tests" / "c").glob("*.c"))


@pytest.mark.parametrize("program", PROGRAMS)
def test_c_program_under_valgrind(program, tmp_path):
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed")
    scipy_openblas32 = pytest.importorskip("scipy_openblas32")
    libdir = scipy_openblas32.get_lib_dir()
    exe = tmp_path / program[:-2]
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    sources = sorted(str(p) for p in (ROOT / "csrc").glob("*.c")) + [str(ROOT / "tests" / "c" / program)]
    build = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-I", str(ROOT / "csrc"), "-I",
                            scipy_openblas32.get_include_dir(), *sources, "-o", str(exe), "-L", libdir,
                            "-l" + scipy_openblas32.get_library(), f"-Wl,-rpath,{libdir}", "-lm", "-lpthread"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    # one BLAS thread: OpenBLAS's worker threads are still alive at exit, and their
    # stacks would show as "possibly lost"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("LD_PRELOAD", None)  # never ASan's runtime under valgrind
    run = subprocess.run([valgrind, "--error-exitcode=1", "--leak-check=full",
                          "--errors-for-leak-kinds=definite,indirect", "-q", str(exe)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests passed" in run.stdout, run.stdout + run.stderr
