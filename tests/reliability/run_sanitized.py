"""pytest in a process with AddressSanitizer's runtime preloaded.

    LD_PRELOAD=$(gcc -print-file-name=libasan.so) PYTHONMALLOC=malloc \
        python tests/reliability/run_sanitized.py [pytest arguments]

LeakSanitizer normally checks at exit, after the interpreter has finalized,
and CPython does not free everything it allocated by then: every run would
report the interpreter's own leftovers. Instead this runs the leak check while
the interpreter is still whole, so that everything Python holds is reachable
and any report is memory nobody can free, then leaves with os._exit, skipping
finalization and the check at exit. Exit status: pytest's, or 23 (LSan's) when
the tests passed but memory leaked.

Third-party modules are imported first with leak detection off: what they
allocate while importing is theirs (torch's import leaks a frame object
through CPython 3.11's frame.f_back). What they allocate later is checked,
less the entries of lsan.supp.

The processes the tests start inherit LD_PRELOAD (a child importing the
sanitized cgrad needs the runtime first) but run with detect_leaks=0: a C
compiler or a Python finalizing at exit would report leaks that are not
ours. Tests that want a child checked for leaks as this process is use
tests/reliability/sanitized.py, which finds the options in CGRAD_ASAN_OPTIONS.

The leak check runs from module level: CPython 3.11 keeps the locals of
running functions in mmap'd chunks that LeakSanitizer does not scan, so an
object held only by a live local would look leaked.
"""
import ctypes
import gc
import os
import sys

THIRD_PARTY = ("numpy", "torch")


def _lsan():
    return ctypes.CDLL(None)


def import_third_party():
    lib = _lsan()
    lib.__lsan_disable()
    try:
        for name in THIRD_PARTY:
            try:
                __import__(name)
            except ImportError:
                pass
    finally:
        lib.__lsan_enable()


def leak_check():
    """1 if LeakSanitizer found leaks (it reported them), 0 if not."""
    gc.collect()
    return _lsan().__lsan_do_recoverable_leak_check()


def main():
    if "asan" not in os.environ.get("LD_PRELOAD", ""):
        sys.exit("run_sanitized.py: start it with LD_PRELOAD=$(gcc -print-file-name=libasan.so)")
    options = os.environ.get("ASAN_OPTIONS", "")
    os.environ["CGRAD_ASAN_OPTIONS"] = options
    os.environ["ASAN_OPTIONS"] = ":".join([o for o in options.split(":") if o and not o.startswith("detect_leaks=")]
                                          + ["detect_leaks=0"])
    import_third_party()
    import pytest

    return int(pytest.main(sys.argv[1:]))


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    leaked = leak_check()
    sys.stderr.flush()
    os._exit(status if status else 23 if leaked else 0)
